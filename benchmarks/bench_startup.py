"""Startup time of the command line: ``memdyn --help`` and the fixed cost of ``memdyn simulate``.

Each command runs in a fresh interpreter (``python -m numerics.cli``, as the ``memdyn`` script does)
``--repeat`` times; the table gives the median and the fastest wall time and the median CPU time of
the child (user + system). For ``simulate`` the *fixed cost* is the wall time minus the engine's
kernel time (chains x steps / chain-steps per second, from the JSON it prints): what the command
spends before and after simulating. Three states of the cache (a fresh ``MEMDYN_CACHE_DIR``):

* cold   -- empty cache: derive the model, build the basin table, generate and compile the kernel;
* model  -- compiled kernel on disk, no prepared model: derive again, load the machine code;
* warm   -- both on disk: no sympy, no basin flow, numba loads the cached machine code. Only runs that
  read the entry count (an edit of a memdyn module while measuring makes entries stale: rebuilt).

``--baseline DIR`` runs the same commands from another checkout (e.g. ``git archive HEAD``) first.
The machine's load average is printed: on a shared machine the numbers move with it.

Run: python benchmarks/bench_startup.py [--repeat 5] [--baseline /tmp/memdyn-head]
Targets: ``memdyn --help`` < 0.3 s; warm ``simulate`` fixed cost < 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIMULATE = ["simulate", "double-well-2d", "--eta", "0.05", "--steps", "1000", "--chains", "2", "--seed", "1", "--json"]


# the floor under any numba program: a fresh interpreter importing numpy and numba and loading one
# cached parallel function (what is left of a warm ``simulate`` is mostly this)
_FLOOR = """import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True)
def total(x):
    s = 0.0
    for i in prange(len(x)):
        s += x[i]
    return s


total(np.ones(3))
"""


def _run(root: Path, argv, cache: Path, *, module=("-m", "numerics.cli")) -> tuple[float, float, str]:
    """(wall seconds, child CPU seconds, stdout) of ``memdyn ARGV`` from checkout ``root``."""
    env = dict(os.environ, PYTHONPATH=str(root), MEMDYN_CACHE_DIR=str(cache), NUMBA_NUM_THREADS="2")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    # cwd outside any checkout: ``python -m`` puts the working directory first on sys.path
    run = subprocess.run([sys.executable, *module, *argv], capture_output=True, text=True, env=env, cwd=cache.parent)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if run.returncode not in (0, 2):  # --help exits 0; a bare command prints help and exits 2
        raise SystemExit(f"memdyn {' '.join(argv)} failed:\n{run.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, run.stdout


def _entries(cache: Path) -> dict:
    """The prepared-model entries and their inodes (a rebuilt entry is a new file, renamed into place)."""
    folder = cache / "models"
    return {p.name: p.stat().st_ino for p in folder.iterdir()} if folder.is_dir() else {}


def _fixed(wall: float, out: str) -> float:
    data = json.loads(out)
    kernel = data["chains"] * (data["completed_steps"] + data["burn_in"]) / data["chain_steps_per_second"]
    return wall - kernel


def _row(label, samples, fixed=None):
    walls, cpus = [w for w, _ in samples], [c for _, c in samples]
    cells = [label, f"{statistics.median(walls):.3f}", f"{min(walls):.3f}", f"{statistics.median(cpus):.3f}"]
    cells.append("" if fixed is None else f"{statistics.median(fixed):.3f}")
    return cells


def measure(root: Path, repeat: int) -> list:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        for label, argv in (("memdyn --help", ["--help"]), ("memdyn simulate --help", ["simulate", "--help"])):
            rows.append(_row(label, [_run(root, argv, cache)[:2] for _ in range(repeat)]))
        wall, cpu, out = _run(root, SIMULATE, cache)  # empty cache: everything from scratch
        rows.append(_row("simulate, cold cache", [(wall, cpu)], [_fixed(wall, out)]))
        samples, fixed = [], []
        for _ in range(repeat):  # kernels compiled, prepared model removed
            shutil.rmtree(cache / "models", ignore_errors=True)
            wall, cpu, out = _run(root, SIMULATE, cache)
            samples.append((wall, cpu))
            fixed.append(_fixed(wall, out))
        rows.append(_row("simulate, kernel cached", samples, fixed))
        samples, fixed, hits = [], [], 0
        for _ in range(repeat):
            before = _entries(cache)
            wall, cpu, out = _run(root, SIMULATE, cache)
            if before and _entries(cache) == before:  # the entry was read, not rebuilt
                hits += 1
                samples.append((wall, cpu))
                fixed.append(_fixed(wall, out))
        if samples:
            rows.append(_row(f"simulate, warm ({hits}/{repeat} hits)", samples, fixed))
        else:  # a checkout without the model cache, or one edited while measuring (entries go stale)
            rows.append(["simulate, warm: no cache hit", "", "", "", ""])
        floor = Path(tmp) / "numba_floor.py"
        floor.write_text(_FLOOR)
        _run(root, [], cache, module=(str(floor),))  # compiles and caches
        rows.append(
            _row(
                "numba floor (numpy + numba + 1 cached kernel)",
                [_run(root, [], cache, module=(str(floor),))[:2] for _ in range(repeat)],
            )
        )
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="runs per command (median reported)")
    ap.add_argument("--baseline", type=Path, default=None, help="another checkout to measure first")
    args = ap.parse_args()
    here = Path(__file__).resolve().parents[1]
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} (1 min)")
    print(f"simulate: memdyn {' '.join(SIMULATE)}")
    header = ["command", "wall median (s)", "wall min (s)", "CPU median (s)", "fixed cost (s)"]
    for name, root in (("baseline", args.baseline), ("this checkout", here)):
        if root is None:
            continue
        rows = measure(root.resolve(), args.repeat)
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
        print(f"\n{name} ({root}):")
        for r in [header, *rows]:
            print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
    print(f"\nload average after: {os.getloadavg()[0]:.2f} (1 min)")


if __name__ == "__main__":
    main()
