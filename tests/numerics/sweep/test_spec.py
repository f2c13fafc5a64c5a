"""Grid specs, NAME resolution and the sweep's bad input (nothing runs: no cluster here)."""

from __future__ import annotations

import pytest

from analysis import InputError
from numerics.cli.sweep import GridAxis, parse_grid, parse_spec, plan_sweep, resolve_axes


def test_list_linear_and_log_specs():
    assert parse_spec("0.05,0.1,0.2") == [0.05, 0.1, 0.2]
    assert parse_spec("0.05:0.3:6") == [0.05, 0.1, 0.15, 0.2, 0.25, 0.3]  # inclusive, 6 points, no 0.15000000000000002
    assert parse_spec("log:1e-3:1e-1:5") == [0.001, 0.00316227766017, 0.01, 0.0316227766017, 0.1]
    assert parse_spec("2:2:1") == [2.0]
    assert parse_spec("0.3:0.1:3") == [0.3, 0.2, 0.1]  # descending ranges keep their order


def test_integer_options_stay_integers():
    assert parse_spec("100,200", kind="int") == [100, 200]
    assert all(type(v) is int for v in parse_spec("log:100:10000:5", kind="int"))
    assert parse_spec("log:100:10000:5", kind="int") == [100, 316, 1000, 3162, 10000]
    assert parse_spec("1:3:5", kind="int") == [1, 2, 3]  # rounded, repeats dropped
    with pytest.raises(InputError, match="not a whole number"):
        parse_spec("1.5", kind="int")


def test_words_and_switches():
    assert parse_spec("gaussian,bayes", kind="str") == ["gaussian", "bayes"]
    assert parse_spec("true,false", kind="bool") == [True, False]
    assert GridAxis("feedback", "--feedback", "bool").args(False) == ["--no-feedback"]


@pytest.mark.parametrize(
    "spec, words",
    [
        ("0.1:0.2", "START:STOP:N"),
        ("log:0:1:3", "START > 0"),
        ("0.1:0.2:x", "whole number"),
        ("0.1:0.2:0", ">= 1"),
        ("a,b", "not a number"),
        ("0.1,,0.2", "empty"),
        ("nan", "not finite"),
        ("", "no values"),
    ],
)
def test_bad_spec_is_one_input_error(spec, words):
    with pytest.raises(InputError, match=words) as e:
        parse_spec(spec)
    assert "\n" not in str(e.value) and repr(spec) in str(e.value)


def test_parse_grid():
    assert parse_grid(["eta=0.1,0.2", "steps=100:300:3"], kinds={"steps": "int"}) == {
        "eta": [0.1, 0.2],
        "steps": [100, 200, 300],
    }
    with pytest.raises(InputError, match="NAME=SPEC"):
        parse_grid(["eta"])
    with pytest.raises(InputError, match="twice"):
        parse_grid(["eta=0.1", "eta=0.2"])


def test_name_resolution_option_then_model_parameter():
    ax = resolve_axes("diffusion", ["train_size", "eta", "score"])
    assert [(a.option, a.kind) for a in ax.values()] == [
        ("--train-size", "int"),
        ("--eta", "float"),
        ("--score", "str"),
    ]
    ax = resolve_axes("simulate", ["eta", "a"], model="tilted-double-well")
    assert ax["eta"].option == "--eta" and ax["a"].option == "--set" and ax["a"].args(0.2) == ["--set", "a=0.2"]
    with pytest.raises(InputError, match=r"zz.*parameters: a, c, s0"):
        resolve_axes("simulate", ["zz"], model="tilted-double-well")
    with pytest.raises(InputError, match="no option --zz .and takes no --set"):
        resolve_axes("collapse", ["zz"])
    with pytest.raises(InputError, match="--seeds"):
        resolve_axes("memorize", ["seed"])


def test_plan_argv_order_and_seeds():
    p = plan_sweep("memorize", grid={"eta": [0.1, 0.2], "steps": "100,200"}, seeds=2, options={"chains": 2})
    assert len(p.tasks) == 8
    t = p.tasks[3]
    assert t.argv == ("memorize", "--chains", "2", "--eta", "0.1", "--steps", "200", "--seed", "1")
    assert t.params == {"eta": 0.1, "steps": 200} and t.seed == 1
    p = plan_sweep("verify:collapse", grid=["budget=tiny,quick"])
    assert p.tasks[0].argv == ("verify", "--claims", "collapse", "--budget", "tiny") and p.tasks[0].seed is None


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(task="nope", grid=["eta=0.1"]), "unknown sweep task 'nope'"),
        (dict(task="verify:nope", grid=["budget=tiny"]), "unknown claim 'nope'"),
        (dict(task="energy", model="hwang", grid=["eta=0.1"], seeds=2), "takes no --seed"),
        (dict(task="memorize", grid=["zeta=0.1"]), "no option --zeta"),
        (dict(task="memorize", grid=["eta=0.1:0.2"]), "bad SPEC"),
        (dict(task="memorize", grid=[]), "nothing to sweep"),
        (dict(task="memorize", grid=["eta=-0.1"]), "--eta must be a finite number > 0"),
        (dict(task="memorize", grid=["eta=0.1"], options=["--bogus"]), "unrecognized arguments: --bogus"),
        (dict(task="simulate", grid=["eta=0.1"]), "needs a MODEL"),
        (dict(task="collapse", model="hwang", grid=["samples=5"]), "takes no MODEL"),
        (dict(task="memorize", grid=["eta=0.1"], seeds=2, options=["--seed", "3"]), "not both"),
        (dict(task="stationary", model="hwang", grid=["eta=0.1"], options=["--eta", "0.2"]), "also given"),
        (dict(task="simulate", model="hwang", grid=["eta=0.1"], options=["--checkpoint", "c.npz"]), "one run"),
        (dict(task="verify:collapse", grid=["budget=tiny"], options=["--claims", "hwang"]), "no --claims"),
    ],
)
def test_plan_bad_input(kwargs, words):
    with pytest.raises(InputError, match=words.replace("(", r"\(").replace(")", r"\)")):
        plan_sweep(**kwargs)


@pytest.mark.parametrize(
    "argv, words",
    [
        (["sweep", "memorize", "--grid", "zeta=0.1"], ["--grid zeta", "no option --zeta"]),
        (["sweep", "memorize", "--grid", "eta=log:0:1:3"], ["bad SPEC", "log:0:1:3"]),
        (["sweep", "energy", "hwang", "--grid", "eta=0.1", "--seeds", "2"], ["--seeds", "takes no --seed"]),
        (["sweep", "frobnicate", "--grid", "eta=0.1"], ["unknown sweep task 'frobnicate'"]),
        (["sweep", "memorize", "--grid", "eta=0.1", "--frob"], ["unrecognized arguments: --frob"]),
        (["sweep", "memorize", "--grid", "eta=0.1", "--out", "x.txt"], ["--out", ".csv or .parquet"]),
        (["sweep", "memorize", "--grid", "eta=0.1", "--plot", "p.png"], ["--plot", "has 0"]),
        (["sweep", "memorize", "--grid", "eta=0.1", "--steps", "0"], ["--steps must be a whole number >= 1"]),
        (["sweep", "memorize", "--grid", "eta=0.1", "--seeds", "x"], ["--seeds must be a whole number >= 1"]),
    ],
)
def test_cli_bad_input_one_line_before_anything_runs(memdyn, argv, words, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    memdyn(*argv).error_line(*words)
    assert not (tmp_path / ".memdyn-sweep").exists()


def test_model_file_made_absolute(tmp_path, monkeypatch):
    """Workers may run elsewhere (a batch cluster): a relative model file is passed absolute."""

    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.toml").write_text("x")
    p = plan_sweep("stationary", "m.toml", ["eta=0.1"])
    assert p.tasks[0].argv[1] == str(tmp_path / "m.toml")


def test_sweep_options_mix_with_task_options():
    """`--schedule` (memorize) is not taken for an abbreviation of `--scheduler` (sweep)."""
    from numerics.cli import build_parser
    from numerics.cli._sweep import _split

    args = build_parser().parse_args(
        ["sweep", "memorize", "--schedule", "decreasing", "--grid", "eta=0.1", "--seeds", "2"]
    )
    ns, extras = _split(args)
    assert ns.grid == ["eta=0.1"] and ns.seeds == 2 and ns.scheduler is None
    assert extras == ["--schedule", "decreasing"]
