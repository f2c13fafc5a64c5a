"""Benchmark of the sweep engine (``memdyn sweep`` / :func:`numerics.cli.sweep.sweep`) on Dask.

1. Speed-up: a 24-task ``memorize`` sweep (fold model, eta x epsilon grid x 2 seeds) on a fresh
   LocalCluster of 1 and of 2 single-threaded worker processes (the embedded cluster's settings),
   each timed end to end (cluster start, worker imports, tasks, store writes, table). Goal: 2
   workers >= 1.8x faster than 1. The two sweeps must give the same numbers (bit for bit). The
   CPU time the workers got, as a share of their cores, tells a busy machine (other processes
   taking a core) from a slow engine: below 90% the speed-up is not a measurement of memdyn.
2. Engine overhead per task: 48 tiny ``collapse`` runs (distinct seeds, a few ms each) on a running
   1-worker cluster against the same runs called in-process one after the other
   (:func:`run_cli_json`, the code a worker runs): (sweep time - serial time) / 48. Goal: < 50 ms.
   Both sides are warmed up first (imports, numba); the cluster's start-up is a fixed cost,
   reported on its own line.

Run ``NUMBA_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_sweep.py`` on an otherwise idle
machine with >= 2 cores (``--quick`` for a smaller grid: 8 memorize tasks, 16 tiny tasks).
The serial baselines use one numba thread, as each worker does.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

ETAS = [0.1, 0.2, 0.4]
EPSILONS = [0.0025, 0.005, 0.01, 0.02]
SEEDS = 2  # 3 x 4 x 2 = 24 tasks
TINY = ("collapse", "--rounds", "2", "--replicates", "20", "--samples", "5")


def _cluster(n: int):
    import logging

    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=n,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.ERROR,
        env={"NUMBA_NUM_THREADS": "1"},
    )
    return cluster, Client(cluster)


def _worker_cpu(client) -> float:
    """CPU seconds used so far by all worker processes (to tell a busy machine from a slow engine)."""
    return sum(client.run(time.process_time).values())


def speedup(etas, epsilons, seeds) -> dict:
    """Time the memorize sweep on 1 and 2 workers (a fresh cluster each, start-up included)."""
    import numpy as np

    from numerics.cli.sweep import sweep

    grid = {"eta": etas, "epsilon": epsilons}
    out, frames = {}, {}
    for n in (1, 2):
        with tempfile.TemporaryDirectory() as store:
            t0 = time.perf_counter()
            cluster, client = _cluster(n)
            try:
                t1, cpu0 = time.perf_counter(), _worker_cpu(client)
                df = sweep("memorize", grid=grid, seeds=seeds, client=client, store=store, progress=False)
                t2, cpu1 = time.perf_counter(), _worker_cpu(client)
            finally:
                client.close()
                cluster.close()
            out[n] = t2 - t0
            # share of the n cores the workers actually got while the tasks ran (1.0: an idle machine)
            out[f"cpu_share_{n}"] = (cpu1 - cpu0) / (n * (t2 - t1))
        assert len(df.attrs["failed"]) == 0, df.attrs["failed"]
        frames[n] = df
    cols = ["memorized_fraction", "mean_episode_steps", "predicted_memorized_fraction"]
    a, b = (frames[n][cols].to_numpy(float) for n in (1, 2))
    out["identical"] = bool(np.array_equal(a, b, equal_nan=True))
    out["tasks"] = len(frames[1])
    out["task_seconds"] = float(frames[1]["seconds"].mean()) if "seconds" in frames[1] else float("nan")
    return out


def overhead(n_tasks: int) -> dict:
    """Engine overhead per task on a running 1-worker cluster, against in-process serial runs."""
    from numerics.cli.sweep import Task, run_cli_json, run_tasks

    tasks = [Task((*TINY, "--seed", str(k)), {}, k) for k in range(n_tasks)]
    run_cli_json([*TINY, "--seed", "999999"])  # warm-up: imports, numba
    t0 = time.perf_counter()
    for t in tasks:
        assert run_cli_json(t.argv)["code"] == 0
    serial = time.perf_counter() - t0

    t0 = time.perf_counter()
    cluster, client = _cluster(1)
    start = time.perf_counter() - t0
    try:
        t0 = time.perf_counter()
        run_tasks([Task((*TINY, "--seed", "999999"), {}, 999999)], client=client, progress=False)  # warm-up
        warm = time.perf_counter() - t0
        with tempfile.TemporaryDirectory() as store:
            t0 = time.perf_counter()
            recs = run_tasks(tasks, client=client, store=store, progress=False)
            swept = time.perf_counter() - t0
        assert recs.failed == 0 and recs.ran == n_tasks
    finally:
        client.close()
        cluster.close()
    return {
        "tasks": n_tasks,
        "serial": serial,
        "sweep": swept,
        "per_task_ms": 1000 * (swept - serial) / n_tasks,
        "cluster_start": start,
        "worker_warmup": warm,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="8 memorize tasks and 16 tiny tasks (a smoke run)")
    args = p.parse_args(argv)
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    etas, epsilons, seeds, n_tiny = (ETAS, EPSILONS, SEEDS, 48) if not args.quick else (ETAS[:2], EPSILONS[:2], 2, 16)
    print(f"cores: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.2f}", flush=True)
    s = speedup(etas, epsilons, seeds)
    o = overhead(n_tiny)
    ratio = s[1] / s[2]
    rows = [
        (f"memorize sweep, {s['tasks']} tasks, 1 worker", f"{s[1]:.1f} s", ""),
        (f"memorize sweep, {s['tasks']} tasks, 2 workers", f"{s[2]:.1f} s", ""),
        ("speed-up 2 vs 1 worker", f"{ratio:.2f}x", "PASS" if ratio >= 1.8 else "FAIL (goal >= 1.8x)"),
        ("mean memorize task (on a worker)", f"{s['task_seconds']:.2f} s", ""),
        (
            "CPU the workers got (1 / 2 workers)",
            f"{s['cpu_share_1']:.0%} / {s['cpu_share_2']:.0%}",
            "" if min(s["cpu_share_1"], s["cpu_share_2"]) > 0.9 else "BUSY MACHINE: speed-up not measurable",
        ),
        ("1 and 2 workers: same numbers", str(s["identical"]), "PASS" if s["identical"] else "FAIL"),
        (f"{o['tasks']} tiny tasks in-process (serial)", f"{o['serial']:.2f} s", ""),
        (f"{o['tasks']} tiny tasks, running 1-worker cluster", f"{o['sweep']:.2f} s", ""),
        (
            "engine overhead per task",
            f"{o['per_task_ms']:.1f} ms",
            "PASS" if o["per_task_ms"] < 50 else "FAIL (goal < 50 ms)",
        ),
        ("LocalCluster start (1 worker, fixed cost)", f"{o['cluster_start']:.2f} s", ""),
        ("first task on a fresh worker (imports)", f"{o['worker_warmup']:.2f} s", ""),
    ]
    w = max(len(r[0]) for r in rows)
    for name, value, verdict in rows:
        print(f"{name:<{w}}  {value:>10}  {verdict}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0 if (ratio >= 1.8 and o["per_task_ms"] < 50 and s["identical"]) else 1


if __name__ == "__main__":
    sys.exit(main())
