"""The digits memorization study at full size (run by hand; numbers for the README).

Memorized fraction of a denoiser score network trained by constant-step SGD on N images of the
scikit-learn 8x8 digits, against N and the step eta, at equal training time eta * steps and at equal
step counts, with 95% t intervals over independent training-set draws (numerics/experiments/
diffusion/_study.py; notebooks/digits.ipynb runs the same at small size).

    PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/bench_digits.py --out digits_study.json

The same grid through the sweep engine, one schedule at a time (intervals across --seeds in the
aggregated table; not paired differences):

    memdyn sweep diffusion --data digits --score denoiser --samples 300 --training-time 3000 \\
        --grid train_size=4,8,16,64,256 --grid eta=0.1,0.3,1 --seeds 5 --out digits_time.csv
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--train-sizes", default="4,8,16,64,256")
    p.add_argument("--etas", default="0.1,0.3,1")
    p.add_argument("--training-time", type=float, default=3000.0)
    p.add_argument("--equal-steps", type=int, default=10000)
    p.add_argument("--replicates", type=int, default=5)
    p.add_argument("--samples", type=int, default=300)
    p.add_argument("--data", default="digits")
    p.add_argument("--out", default=None, help="JSON file of the study (cells and runs)")
    args = p.parse_args(argv)

    from analysis._format import dumps
    from numerics.experiments.diffusion._study import memorization_study

    load = os.getloadavg()
    wall, cpu = time.perf_counter(), time.process_time()
    study = memorization_study(
        args.data,
        train_sizes=[int(n) for n in args.train_sizes.split(",")],
        etas=[float(e) for e in args.etas.split(",")],
        training_time=args.training_time,
        equal_steps=args.equal_steps,
        replicates=args.replicates,
        samples=args.samples,
        progress=lambda line: print(f"  {time.perf_counter() - wall:7.1f} s  {line}", file=sys.stderr, flush=True),
    )
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(study.table())
    print(study.message or "every SGD run converged")
    print(f"wall {wall:.0f} s, CPU {cpu:.0f} s; load average at start {load[0]:.2f} (2 cores shared)")
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(dumps({**study.to_dict(), "wall_seconds": wall, "cpu_seconds": cpu, "load_start": load[0]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
