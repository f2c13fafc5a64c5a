"""``memdyn verify --scheduler``: the claims as Dask tasks on a real 2-worker cluster give the serial
run's report -- same rows, numbers and verdicts, same LaTeX, figures and checkpoint -- and resume
from a checkpoint; bad input is one line before any cluster starts; a failed task is an
inconclusive row with its reason, not checkpointed."""

from __future__ import annotations

import json

import pytest

# two cheap claims (tiny budget: ~0.2 s and ~2.5 s serial), given out of catalogue order: the
# report keeps the order asked for, as the serial run does
CLAIMS = "collapse,diffusion-empirical-memorizes"
ARGV = ("verify", "--claims", CLAIMS, "--budget", "tiny", "--seed", "3")


def _claims(out: str) -> list[dict]:
    """The claims of a ``verify --json`` output without their run times (all that may differ)."""
    claims = json.loads(out)["claims"]
    for c in claims:
        c.pop("seconds")
    return claims


def _checkpoint(path) -> dict:
    data = json.loads(path.read_text())
    for c in data["claims"].values():
        c.pop("seconds")
    return data


def test_parallel_equals_serial(memdyn, cluster_client, tmp_path):
    address = cluster_client.scheduler.address
    serial = memdyn(
        *ARGV,
        "--json",
        "--checkpoint",
        tmp_path / "s.json",
        "--latex",
        tmp_path / "s.tex",
        "--figures",
        tmp_path / "sf",
    )
    parallel = memdyn(
        *ARGV,
        "--json",
        "--scheduler",
        address,
        "--checkpoint",
        tmp_path / "p.json",
        "--latex",
        tmp_path / "p.tex",
        "--figures",
        tmp_path / "pf",
    )
    assert serial.code == parallel.code == 0, (serial.err, parallel.err)
    s, p = _claims(serial.out), _claims(parallel.out)
    assert [c["id"] for c in p] == ["collapse", "diffusion-empirical-memorizes"]
    assert p == s  # rows, numbers (bit for bit), intervals, verdicts, messages
    assert all(c["verdict"] == "pass" and c["comparisons"] for c in p)
    assert (tmp_path / "p.tex").read_text() == (tmp_path / "s.tex").read_text()
    assert sorted(f.name for f in (tmp_path / "pf").iterdir()) == sorted(f.name for f in (tmp_path / "sf").iterdir())
    cp_s, cp_p = _checkpoint(tmp_path / "s.json"), _checkpoint(tmp_path / "p.json")
    assert cp_p == cp_s and all(c["figure_data"] is not None for c in cp_p["claims"].values())

    # the terminal table: the same rows, every one of them (--details), run times aside (the last line)
    table_s = memdyn(*ARGV, "--checkpoint", tmp_path / "s.json", "--resume", "--details").out
    table_p = memdyn(*ARGV, "--scheduler", address, "--checkpoint", tmp_path / "p.json", "--resume", "--details").out
    assert "collapse" in table_s and table_p.rstrip().rsplit("\n\n", 1)[0] == table_s.rstrip().rsplit("\n\n", 1)[0]

    # resume: the first claim from the checkpoint (its stored run time kept), only the other one runs
    data = json.loads((tmp_path / "p.json").read_text())
    kept = data["claims"].pop("diffusion-empirical-memorizes")
    (tmp_path / "p.json").write_text(json.dumps(data))
    resumed = memdyn(*ARGV, "--json", "--scheduler", address, "--checkpoint", tmp_path / "p.json", "--resume")
    assert resumed.code == 0, resumed.err
    claims = json.loads(resumed.out)["claims"]
    assert claims[0]["seconds"] == data["claims"]["collapse"]["seconds"]  # not run again
    assert _claims(resumed.out) == s
    assert set(json.loads((tmp_path / "p.json").read_text())["claims"]) == {"collapse", kept["id"]}


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (("--scheduler", "nowhere"), ["--scheduler", "local"]),
        (("--scheduler-file", "missing-scheduler.json"), ["scheduler file", "not found"]),
        (("--workers", "2", "--scheduler", "tcp://127.0.0.1:1"), ["--workers", "local cluster"]),
        (("--scheduler", "tcp://127.0.0.1:1", "--scheduler-file", "x.json"), ["not both"]),
        (("--workers", "0"), ["--workers", ">= 1"]),
        (("--workers", "2", "--claims", "no-such-claim"), ["unknown claim", "no-such-claim"]),
        (("--workers", "2", "--resume"), ["--resume needs --checkpoint"]),
    ],
)
def test_bad_input_before_any_cluster(memdyn, extra, words):
    memdyn("verify", "--budget", "tiny", *extra).error_line(*words)


def test_failed_task_is_an_inconclusive_row(memdyn, monkeypatch, tmp_path):
    """A task that failed on its worker (here: faked, no cluster) is reported, not checkpointed."""
    import numerics.cli.sweep as sweep_pkg
    from numerics.cli.sweep import TaskRecord

    def fake_run_tasks(tasks, *, store=None, **kw):
        recs = [TaskRecord(dict(t.params), t.seed, "failed", None, "KilledWorker: died twice", 0.0, "k") for t in tasks]
        for r, t in zip(recs, tasks):
            store.save(r, t)
        return recs

    monkeypatch.setattr(sweep_pkg, "run_tasks", fake_run_tasks)
    run = memdyn("verify", "--claims", "collapse", "--budget", "tiny", "--workers", "2", "--checkpoint", tmp_path / "c")
    assert run.code == 4, run.err  # inconclusive: rerun it
    assert "INCONCLUSIVE" in run.out and "its task failed (KilledWorker: died twice)" in run.out
    assert json.loads((tmp_path / "c").read_text())["claims"] == {}
