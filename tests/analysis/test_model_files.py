"""Every bad model file or argument gets one clear line and exit status 2 from ``memdyn derive``."""

from __future__ import annotations

import pytest

from numerics.cli import main

GOOD_NOISE = '[noise]\ncovariance = "1"\n'

# (file name, TOML text, words the one-line message must contain)
BAD_FILES = [
    ("malformed", 'variables = ["x"\n[loss]\nexpr = "x"\n', ["malformed TOML", "line 2"]),
    ("unknown_symbol", 'variables = ["x"]\n[loss]\nexpr = "x**2 + q*x"\n' + GOOD_NOISE, ["unknown symbol q", "[loss]"]),
    (
        "unknown_symbol_drift",
        'variables = ["x", "y"]\n[drift]\nexpr = ["-x", "-y + kappa"]\n' + GOOD_NOISE,
        ["unknown symbol kappa", "[drift]"],
    ),
    (
        "unknown_symbol_noise",
        'variables = ["x"]\n[loss]\nexpr = "x**2"\n[noise]\ncovariance = "1 + s*x**2"\n',
        ["unknown symbol s", "covariance"],
    ),
    ("unknown_function", 'variables = ["x"]\n[loss]\nexpr = "foo(x)"\n' + GOOD_NOISE, ["unknown function foo"]),
    (
        "wrong_shape",
        'variables = ["x", "y"]\n[loss]\nexpr = "x**2 + y**2"\n[noise]\n'
        'covariance = [["1", "0", "0"], ["0", "1", "0"], ["0", "0", "1"]]\n',
        ["shape 3x3", "2 variable"],
    ),
    (
        "ragged",
        'variables = ["x", "y"]\n[loss]\nexpr = "x**2 + y**2"\n[noise]\ncovariance = [["1", "0"], ["0"]]\n',
        ["square"],
    ),
    (
        "not_psd",
        'variables = ["x"]\n[loss]\nexpr = "x**2"\n[noise]\ncovariance = "x"\n[domain]\nbounds = [[-1, 1]]\n',
        ["not positive semi-definite"],
    ),
    (
        "not_psd_matrix",
        'variables = ["x", "y"]\n[loss]\nexpr = "x**2 + y**2"\n[noise]\ncovariance = [["1", "2"], ["2", "1"]]\n',
        ["not positive semi-definite"],
    ),
    (
        "non_symmetric",
        'variables = ["x", "y"]\n[loss]\nexpr = "x**2 + y**2"\n[noise]\ncovariance = [["1", "1/2"], ["0", "1"]]\n',
        ["not symmetric"],
    ),
    (
        "both",
        'variables = ["x"]\n[loss]\nexpr = "x**2"\n[drift]\nexpr = ["-x"]\n' + GOOD_NOISE,
        ["[loss]", "[drift]", "both"],
    ),
    ("neither", 'variables = ["x"]\n' + GOOD_NOISE, ["[loss]", "[drift]", "neither"]),
    (
        "minibatch_without_samples",
        'variables = ["x"]\n[loss]\nexpr = "x**2"\n[noise]\nkind = "minibatch"\n',
        ["minibatch", "samples"],
    ),
    (
        "minibatch_empty_samples",
        'variables = ["x"]\n[noise]\nkind = "minibatch"\nsamples = []\n',
        ["minibatch", "samples"],
    ),
    ("drift_length", 'variables = ["x"]\n[drift]\nexpr = ["-x", "-x"]\n' + GOOD_NOISE, ["2 component", "1 variable"]),
    ("syntax", 'variables = ["x"]\n[loss]\nexpr = "x**2 +"\n' + GOOD_NOISE, ["cannot parse", "[loss]"]),
    ("no_noise", 'variables = ["x"]\n[loss]\nexpr = "x**2"\n', ["[noise]"]),
    (
        "slow_unknown",
        'variables = ["x", "y"]\n[loss]\nexpr = "x**2 + y**2"\n'
        + GOOD_NOISE
        + '[timescales]\nslow = ["z"]\nepsilon = "eps"\n',
        ["slow", "z"],
    ),
    (
        "bad_bounds",
        'variables = ["x"]\n[loss]\nexpr = "x**2"\n' + GOOD_NOISE + "[domain]\nbounds = [[1, -1]]\n",
        ["bounds"],
    ),
]


def _one_error_line(capsys, rc, words):
    out, err = capsys.readouterr()
    assert rc == 2
    assert "Traceback" not in err and "Traceback" not in out
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("memdyn: error: ")
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


@pytest.mark.parametrize("name,text,words", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_model_file(tmp_path, capsys, name, text, words):
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    _one_error_line(capsys, main(["derive", str(path)]), words)


def test_missing_file(tmp_path, capsys):
    _one_error_line(capsys, main(["derive", str(tmp_path / "absent.toml")]), ["not found", "absent.toml"])


def test_unknown_builtin(capsys):
    line = _one_error_line(capsys, main(["derive", "no-such-model"]), ["no-such-model"])
    assert "tilted-double-well" in line  # the message lists the built-in names


def test_set_unknown_parameter(capsys):
    _one_error_line(capsys, main(["derive", "tilted-double-well", "--set", "zz=1"]), ["unknown parameter zz", "a"])


def test_set_bad_syntax(capsys):
    _one_error_line(capsys, main(["derive", "tilted-double-well", "--set", "a1"]), ["NAME=VALUE", "a1"])


def test_set_bad_value(capsys):
    _one_error_line(capsys, main(["derive", "tilted-double-well", "--set", "a=abc"]), ["abc"])


def test_set_makes_covariance_not_psd(capsys):
    # s0 = -1 turns Sigma = s0 exp(-c x) negative everywhere: the override is re-validated
    _one_error_line(capsys, main(["derive", "tilted-double-well", "--set", "s0=-1"]), ["positive semi-definite"])


def test_unknown_symbol_that_is_a_sympy_name(tmp_path, capsys):
    path = tmp_path / "gamma.toml"
    path.write_text('variables = ["x"]\n[loss]\nexpr = "gamma*x**2"\n' + GOOD_NOISE)
    _one_error_line(capsys, main(["derive", str(path)]), ["unknown symbol gamma"])


def test_complex_loss_rejected(tmp_path, capsys):
    path = tmp_path / "complex.toml"
    path.write_text('variables = ["x"]\n[loss]\nexpr = "x**2 + I*x"\n' + GOOD_NOISE)
    _one_error_line(capsys, main(["derive", str(path)]), ["real"])


def test_good_file_exits_zero(tmp_path, capsys):
    # control: the same machinery accepts a correct file, so the failures above are specific
    path = tmp_path / "good.toml"
    path.write_text('variables = ["x"]\n[loss]\nexpr = "(x**2 - 1)**2/4"\n' + GOOD_NOISE)
    assert main(["derive", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "minimum" in out and err == ""
