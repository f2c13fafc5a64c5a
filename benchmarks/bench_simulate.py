"""Speed of the Monte Carlo engine against a C program doing the same recursion.

Recursion: x_{n+1} = x_n + eta (x - x^3 + sigma(x) xi), sigma^2 = (1 + x^2)/4 (1-D quartic loss,
state-dependent Gaussian noise). Both use the same counter-based SplitMix64 + Box-Muller
generator and the same per-step work (divergence test, histogram, basin table lookup with
4096 cells, occupation and batch counts, transitions). Same chain-steps, one thread each;
the engine also on 2 threads. Compile time is excluded on both sides (engine: numba's
cached machine code, timed kernel calls only; C: cc -O2).

Run: python benchmarks/bench_simulate.py [--chains 8] [--steps 2000000]
Target: the engine on 1 thread reaches >= 80% of the C program's chain-steps per second.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--chains", type=int, default=8)
    ap.add_argument("--steps", type=int, default=2_000_000)
    ap.add_argument("--eta", type=float, default=0.05)
    args = ap.parse_args()

    from analysis import model
    from numerics.sgd._simulate import simulate

    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise SystemExit("no C compiler (cc) found")
    here = Path(__file__).resolve().parent
    with tempfile.TemporaryDirectory() as tmp:
        exe = Path(tmp) / "sgd_quartic"
        subprocess.run([cc, "-O2", "-o", str(exe), str(here / "sgd_quartic.c"), "-lm"], check=True)
        out = subprocess.run(
            [str(exe), str(args.chains), str(args.steps), str(args.eta), "1"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
    c_rate = float(out[0])

    m = model(
        variables=["x"], loss="x**4/4 - x**2/2", covariance="(1 + x**2)/4", bounds=[[-2.5, 2.5]], name="bench quartic"
    )
    nt = 4096
    centres = -2.5 + (np.arange(nt) + 0.5) * 5.0 / nt
    table = SimpleNamespace(
        minima=np.array([[-1.0], [1.0]]),
        lo=np.array([-2.5]),
        hi=np.array([2.5]),
        shape=(nt,),
        labels=(centres >= 0).astype(np.int32),
    )
    rates = {}
    for threads in (1, 2):
        r = simulate(
            m,
            eta=args.eta,
            steps=args.steps,
            chains=args.chains,
            seed=1,
            threads=threads,
            basins=table,
            chunk_steps=args.steps,
            progress=False,
        )
        rates[threads] = r.chain_steps_per_second
    print(f"chain-steps: {args.chains} x {args.steps} = {args.chains * args.steps:.3g}")
    print(f"C (cc -O2, 1 thread):     {c_rate:.4g} chain-steps/s")
    print(f"engine, 1 thread:         {rates[1]:.4g} chain-steps/s  ({rates[1] / c_rate:.0%} of C)")
    print(f"engine, 2 threads:        {rates[2]:.4g} chain-steps/s  ({rates[2] / rates[1]:.2f}x 1 thread)")


if __name__ == "__main__":
    main()
