"""``memdyn diffusion``: train a diffusion model's score by SGD, sample, measure memorization."""

from __future__ import annotations

from numerics.cli._args import count_type, positive_float_type, seed_type


def add_parser(sub):
    p = sub.add_parser(
        "diffusion",
        help="diffusion model: score learning by SGD and measured memorization",
        description="Train the score of a diffusion model with constant-step SGD on the "
        "denoising score-matching loss (paper (2.3)), sample the reverse SDE and "
        "measure memorization (nearest / second-nearest ratio test, 1/3).",
    )
    p.add_argument(
        "--data",
        default="mixture2d",
        help="built-in data set (gaussian1d, mixture1d, gaussian2d, mixture2d, ring), digits (the 8x8 digit "
        "images of scikit-learn, pixels scaled to [-1, 1]; digits:3 or digits:0,1 for some classes; needs "
        "memdyn[data]) or a CSV file of points",
    )
    p.add_argument("--train-size", type=count_type("--train-size"), default=16, help="number of training points N")
    p.add_argument(
        "--score",
        default="empirical",
        choices=["empirical", "linear", "mlp", "kernel", "denoiser"],
        help="empirical: exact memorizing optimum; linear: random Fourier features; mlp: two-layer "
        "network; kernel: training set smoothed with a learned bandwidth; denoiser: two-layer network "
        "predicting the clean image with a skip connection (for digits)",
    )
    p.add_argument(
        "--hidden", type=count_type("--hidden"), default=None, help="hidden units of mlp (default 64) or denoiser (256)"
    )
    p.add_argument("--eta", type=positive_float_type("--eta"), default=0.01, help="constant SGD step (default 0.01)")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--steps", type=count_type("--steps"), default=None, help="SGD steps (default 2000)")
    length.add_argument(
        "--training-time",
        type=positive_float_type("--training-time"),
        default=None,
        metavar="T",
        help="train for round(T / eta) steps: equal training time eta * steps across step sizes",
    )
    p.add_argument("--batch", type=count_type("--batch"), default=64, help="minibatch size")
    p.add_argument("--samples", type=count_type("--samples"), default=500, help="generated samples")
    p.add_argument("--t-min", type=positive_float_type("--t-min"), default=1e-3, help="sampler cut-off time t_min > 0")
    p.add_argument("--seed", type=seed_type(), default=0)
    p.add_argument("--checkpoint", default=None, help="npz file: training state saved every 1000 steps")
    p.add_argument("--resume", action="store_true", help="continue the training saved in --checkpoint")
    p.add_argument("--json", action="store_true", help="print the measurements as JSON")
    p.add_argument(
        "--plot",
        default=None,
        metavar="FILE",
        help="PNG: generated samples beside their nearest training images (digits) or points (2-D data)",
    )
    p.set_defaults(run=run)


def run(args) -> int:
    from analysis import InputError
    from numerics.experiments.diffusion import diffusion_experiment
    from numerics.report import dumps, text_table

    if args.resume and not args.checkpoint:
        raise InputError("--resume needs --checkpoint FILE")
    if args.plot is not None:
        import numpy as np

        from numerics.experiments.diffusion._data import resolve_data
        from numerics.experiments.diffusion._plot import check_plottable

        if not str(args.plot).lower().endswith(".png"):
            raise InputError(f"--plot must end in .png, got {args.plot!r}")
        data = resolve_data(args.data)
        check_plottable(data.dim if hasattr(data, "dim") else np.shape(data)[1])  # before any training
    if args.hidden is not None and args.score not in ("mlp", "denoiser"):
        raise InputError(f"--hidden sizes the mlp and denoiser networks, not --score {args.score}")
    res = diffusion_experiment(
        args.data,
        train_size=args.train_size,
        score=args.score,
        eta=args.eta,
        steps=args.steps,
        training_time=args.training_time,
        samples=args.samples,
        seed=args.seed,
        batch=args.batch,
        t_min=args.t_min,
        checkpoint=args.checkpoint,
        resume=args.resume,
        model_options=None if args.hidden is None else {"hidden": args.hidden},
    )
    if args.plot is not None:
        from numerics.experiments.diffusion._plot import plot_samples

        plot_samples(res, args.plot)
    out = res.to_dict()
    if args.json:
        print(dumps(out, indent=2))
        return 0
    lo, hi = out["ci95"]
    rows = [
        ("memorized fraction", f"{out['memorized_fraction']:.3f} [{lo:.3f}, {hi:.3f}]"),
        ("chance level (fresh data)", out["fresh_memorized_fraction"]),
        ("mean distance to training set", out["distance_to_data"]),
        ("energy distance to fresh data", out["energy_distance"]),
        ("sliced Wasserstein to fresh data", out["sliced_wasserstein"]),
        ("DSM loss of the score", out["final_loss"]),
        ("DSM loss of the memorizing optimum", out["optimal_loss"]),
    ]
    print(
        f"data {out['data']} (d={out['dim']}, N={out['train_size']}), score {out['score']}"
        + (
            f", eta={out['eta']}, {out['steps']} steps (training time {out['training_time']:g})"
            if out["eta"] is not None
            else ""
        )
    )
    print(text_table(["quantity", "value"], rows))
    return 0
