"""``memdyn sweep`` and ``sweep()`` end to end on the shared 2-worker cluster (``--scheduler``)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from numerics.cli.sweep import run_cli_json, sweep

COLLAPSE = ["--rounds", "3", "--replicates", "40"]


def test_cli_json_tables_plot_and_rerun_from_store(memdyn, cluster_client, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    addr = cluster_client.scheduler.address
    argv = ["sweep", "collapse", "--grid", "samples=5,8", "--seeds", "2", *COLLAPSE, "--scheduler", addr]
    r = memdyn(*argv, "--out", "t.csv", "--plot", "p.png", "--json")
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert out["failed"] == 0 and len(out["tasks"]) == 4 and len(out["rows"]) == 2
    t = out["tasks"][3]
    assert (t["params"], t["seed"], t["status"]) == ({"samples": 8}, 1, "done")
    serial = run_cli_json(["collapse", *COLLAPSE, "--samples", "8", "--seed", "1"])
    assert t["result"] == serial["result"]  # the task's own JSON, unchanged
    tidy, agg = pd.read_csv("t.csv"), pd.read_csv("t.agg.csv")
    assert len(tidy) == 4 and list(tidy.columns[:3]) == ["samples", "seed", "status"]
    assert agg["n"].tolist() == [2, 2] and {"mean_sigma.3", "mean_sigma.3.low", "mean_sigma.3.high"} <= set(agg)
    assert (tmp_path / "p.png").stat().st_size > 1000
    assert (tmp_path / ".memdyn-sweep").is_dir() and len(list((tmp_path / ".memdyn-sweep").glob("*.json"))) == 4
    # the rerun takes everything from the store and prints the same table
    r2 = memdyn(*argv, "--out", "t.csv")
    assert r2.code == 0 and "0 computed, 4 from the store, 0 failed" in r2.out
    assert "samples" in r2.out and "mean_sigma.3" in r2.out
    assert pd.read_csv("t.agg.csv").equals(agg)


def test_cli_failed_point_exit_1_named_on_stderr(memdyn, cluster_client, tmp_path):
    addr = cluster_client.scheduler.address
    r = memdyn(
        "sweep", "collapse", "--grid", "fresh=0,1.5", *COLLAPSE, "--scheduler", addr, "--store", tmp_path, "--json"
    )
    assert r.code == 1
    out = json.loads(r.out)
    assert out["failed"] == 1 and [t["status"] for t in out["tasks"]] == ["done", "failed"]
    assert "fresh=1.5 failed: exit status 2: memdyn: error: the fresh-data fraction" in r.err


def test_python_sweep_dataframe_and_parquet(cluster_client, tmp_path):
    df = sweep(
        "collapse",
        grid={"samples": [5, 8]},
        seeds=3,
        options={"rounds": 3, "replicates": 40},
        client=cluster_client,
        store=tmp_path / "store",
        progress=False,
    )
    assert df[["samples", "seed"]].values.tolist() == [[5, 0], [5, 1], [5, 2], [8, 0], [8, 1], [8, 2]]
    assert (df["status"] == "done").all() and df.attrs["failed"].empty
    agg = df.attrs["aggregated"]
    assert agg["n"].tolist() == [3, 3]
    from numerics.stats import mean_interval

    ci = mean_interval(df[df.samples == 8]["mean_sigma.3"])  # the one interval implementation, across seeds
    assert (agg["mean_sigma.3"][1], agg["mean_sigma.3.low"][1], agg["mean_sigma.3.high"][1]) == ci_tuple(ci)
    from numerics.cli.sweep._table import write_table

    write_table(df, tmp_path / "t.parquet")
    back = pd.read_parquet(tmp_path / "t.parquet")
    assert back["mean_sigma.3"].tolist() == df["mean_sigma.3"].tolist()


def ci_tuple(ci):
    return (ci.estimate, ci.low, ci.high)


@pytest.mark.parametrize("two", [False, True])
def test_plot_line_and_heat_map(two, tmp_path):
    from numerics.cli.sweep._plot import plot_sweep

    rows = [
        {"eta": e, "eps": s, "n": 2, "q": e * s, "q.low": e * s - 0.1, "q.high": e * s + 0.1, "predicted_q": e * s}
        for e in (0.1, 0.2, 0.4)
        for s in ((1.0, 2.0) if two else (1.0,))
    ]
    fig = plot_sweep(pd.DataFrame(rows), ["eta", "eps"], "q", tmp_path / "p.png")
    assert (tmp_path / "p.png").exists()
    assert fig.axes[0].get_xlabel() == "eta" and fig.axes[0].get_ylabel() == ("eps" if two else "q")
