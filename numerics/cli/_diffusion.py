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
        help="built-in data set (gaussian1d, mixture1d, gaussian2d, mixture2d, ring) or a CSV file of points",
    )
    p.add_argument("--train-size", type=count_type("--train-size"), default=16, help="number of training points N")
    p.add_argument(
        "--score",
        default="empirical",
        choices=["empirical", "linear", "mlp", "kernel"],
        help="empirical: exact memorizing optimum; linear: random Fourier features; mlp: two-layer "
        "network; kernel: training set smoothed with a learned bandwidth",
    )
    p.add_argument("--eta", type=positive_float_type("--eta"), default=0.01, help="constant SGD step (default 0.01)")
    p.add_argument("--steps", type=count_type("--steps"), default=2000, help="SGD steps")
    p.add_argument("--batch", type=count_type("--batch"), default=64, help="minibatch size")
    p.add_argument("--samples", type=count_type("--samples"), default=500, help="generated samples")
    p.add_argument("--t-min", type=positive_float_type("--t-min"), default=1e-3, help="sampler cut-off time t_min > 0")
    p.add_argument("--seed", type=seed_type(), default=0)
    p.add_argument("--checkpoint", default=None, help="npz file: training state saved every 1000 steps")
    p.add_argument("--resume", action="store_true", help="continue the training saved in --checkpoint")
    p.add_argument("--json", action="store_true", help="print the measurements as JSON")
    p.set_defaults(run=run)


def run(args) -> int:
    from analysis import InputError
    from numerics.experiments.diffusion import diffusion_experiment
    from numerics.report import dumps, text_table

    if args.resume and not args.checkpoint:
        raise InputError("--resume needs --checkpoint FILE")
    if args.steps < 1 and args.score != "empirical":
        raise InputError(f"--steps must be >= 1, got {args.steps}")
    res = diffusion_experiment(
        args.data,
        train_size=args.train_size,
        score=args.score,
        eta=args.eta,
        steps=args.steps,
        samples=args.samples,
        seed=args.seed,
        batch=args.batch,
        t_min=args.t_min,
        checkpoint=args.checkpoint,
        resume=args.resume,
    )
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
        + (f", eta={out['eta']}, {out['steps']} steps" if out["eta"] is not None else "")
    )
    print(text_table(["quantity", "value"], rows))
    return 0
