"""Emergent time scales (paper section 2.2): Hessian gap and split, coordinate influence, the
``[timescales]`` text, and ``memdyn timescales``.

Closed forms used: for F = a x^2/2 the SGD chain x' = (1 - eta a) x + eta zeta (zeta ~ N(0, 1),
docs/theory.md section 0) is Gaussian AR(1) with stationary variance eta / (a (2 - eta a)),
so E|d_x F| = a sqrt(2/pi) sqrt(eta / (a (2 - eta a))). The quadratic's law *is* its
linearisation's, so the Monte Carlo interval must cover this value.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from analysis import InputError, ModelError, load_model, model
from analysis._emergent import emergent_timescales, spectral_split, timescales_section
from numerics.experiments._timescales import run_timescales

ETA = 0.05
A, B = 4.0, 0.25  # curvatures of the fast x and the slow y
QUAD_TOML = """name = "two-curvature quadratic"
variables = ["x", "y"]
[loss]
expr = "2*x**2 + y**2/8"
[noise]
kind = "gaussian"
covariance = "1"
[domain]
bounds = [[-1, 1], [-1, 1]]
"""


def _influence(a, eta=ETA):
    """E|a x| under the stationary law of x' = (1 - eta a) x + eta N(0, 1)."""
    return a * math.sqrt(2 / math.pi) * math.sqrt(eta / (a * (2 - eta * a)))


# ---------------------------------------------------------------- exact part
def test_quadratic_spectrum_gap_and_split_exact():
    # Hessian diag(10, 0.1, 8): spectrum (0.1, 8, 10); the largest gap 8/0.1 = 80 puts y alone on the slow side
    m = model(variables=["x", "y", "z"], loss="5*x**2 + y**2/20 + 4*z**2", covariance="1", bounds=[[-1, 1]] * 3)
    r = emergent_timescales(m)
    assert r.converged and len(r.minima) == 1
    s = r.splits[0]
    np.testing.assert_allclose(s.eigenvalues, [0.1, 8.0, 10.0], rtol=1e-12)
    assert s.slow_count == 1 and s.gap_ratio == pytest.approx(80.0, rel=1e-12)
    assert (s.slow_coordinates, s.fast_coordinates) == (("y",), ("x", "z"))
    assert r.proposed_slow == ("y",)
    # planted: splitting at the other gap (10/8 = 1.25) would make (y, z) slow; the largest gap does not
    assert r.proposed_slow != ("y", "z") and s.gap_ratio != pytest.approx(1.25)


def test_rotated_quadratic_directions_not_coordinates():
    # H = [[3, 2], [2, 3]]: eigenvalues 1 (direction (1, -1)/sqrt 2) and 5; each coordinate is half slow
    s = spectral_split([[3.0, 2.0], [2.0, 3.0]], ["x", "y"])
    np.testing.assert_allclose(s.eigenvalues, [1.0, 5.0], rtol=1e-12)
    assert s.gap_ratio == pytest.approx(5.0)
    np.testing.assert_allclose(np.abs(s.slow_directions[:, 0]), [2**-0.5, 2**-0.5], rtol=1e-12)
    np.testing.assert_allclose(s.slow_weights, [0.5, 0.5], rtol=1e-12)
    assert not s.aligned and s.slow_coordinates == () and "mix" in s.message
    # a weak gap (ratio 2) is aligned but proposes nothing; min_gap = 1.5 lets it through
    weak = model(variables=["x", "y"], loss="x**2 + y**2/2", covariance="1", bounds=[[-1, 1], [-1, 1]])
    r = emergent_timescales(weak)
    assert not r.converged and r.proposed_slow == () and r.section == "" and "largest gap 2 < 10" in r.message
    assert emergent_timescales(weak, min_gap=1.5).proposed_slow == ("y",)
    none = spectral_split(np.eye(2), ["x", "y"])
    assert not none.converged and none.slow_count == 0 and "no spectral gap" in none.message


def test_builtin_two_scale_model_recovers_its_declared_split():
    # F = (x^2-1)^2/4 + eps (x-y)^2/2: at (1, 1) the Hessian is [[2+eps, -eps], [-eps, eps]]
    m = load_model("two-scale")
    r = emergent_timescales(m)
    eps = 0.05
    lam = np.linalg.eigvalsh([[2 + eps, -eps], [-eps, eps]])
    for s in r.splits:
        np.testing.assert_allclose(s.eigenvalues, lam, rtol=1e-9)
    assert r.proposed_slow == tuple(str(v) for v in m.timescales.slow) == ("y",)


def test_section_round_trip_through_the_model_file(tmp_path):
    r = emergent_timescales(load_model(_write(tmp_path)))
    path = tmp_path / "with_split.toml"
    path.write_text(QUAD_TOML + "\n" + r.section + "\n")
    m = load_model(path)
    assert tuple(str(v) for v in m.timescales.slow) == ("y",)
    assert m.timescales.mechanism == "weak-coupling" and m.timescales.epsilon is None
    assert "spectral gap 16" in r.section  # 4 / 0.25
    with pytest.raises(InputError, match="at least one slow"):
        timescales_section([])


# ---------------------------------------------------------------- Monte Carlo part
def _write(tmp_path):
    path = tmp_path / "quad.toml"
    path.write_text(QUAD_TOML)
    return path


def test_influence_matches_the_gaussian_stationary_law(tmp_path):
    m = load_model(_write(tmp_path))
    r = run_timescales(m, eta=ETA, steps=4000, chains=16, seed=0, top=1, snapshots=3)
    assert r.converged, r.message
    ix, iy = r.influence
    assert ix.contains(_influence(A)) and iy.contains(_influence(B))
    # planted: the continuous-time (Langevin) variance eta/(2a) misses the O(eta a) correction
    assert not ix.contains(A * math.sqrt(2 / math.pi) * math.sqrt(ETA / (2 * A)))
    # influence concentrates on the fast coordinate: sqrt(a/b) = 4 times larger
    assert r.ranking == ("x", "y")
    share = _influence(A) / (_influence(A) + _influence(B))
    assert r.top_share.contains(share) and share > 0.8
    # spectra along the trajectory: the Hessian is constant, so every snapshot shows (B, A) and gap 16
    assert len(r.snapshot_spectra) == 3
    np.testing.assert_allclose(r.snapshot_spectra, [[B, A]] * 3, rtol=1e-12)
    np.testing.assert_allclose(r.snapshot_gaps, 16.0)
    assert r.static.proposed_slow == ("y",)


def test_bad_arguments_raise_one_line_errors():
    well = model(variables=["x", "y"], loss="x**2 + y**2/10", covariance="1", bounds=[[-1, 1], [-1, 1]])
    with pytest.raises(InputError, match="top must be at most"):
        run_timescales(well, eta=0.1, steps=10, chains=2, top=3)
    with pytest.raises(InputError, match="chains must be at least 2"):
        run_timescales(well, eta=0.1, steps=10, chains=1)
    with pytest.raises(InputError, match="eta must be"):
        run_timescales(well, eta=float("nan"), steps=10, chains=2)
    with pytest.raises(ModelError, match="has a drift"):
        run_timescales(load_model("maier-stein"), eta=0.1, steps=10, chains=2)
    with pytest.raises(InputError, match="2 x 2"):
        spectral_split(np.eye(3), ["x", "y"])


# ---------------------------------------------------------------- command line
@pytest.fixture
def main(monkeypatch):
    import numerics.cli as cli

    monkeypatch.setitem(cli.COMMANDS, "timescales", "_timescales")  # until the lead registers it
    return cli.main


def test_cli_json(main, tmp_path, capsys):
    code = main(["timescales", str(_write(tmp_path)), "--steps", "1000", "--chains", "4", "--seed", "3", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["converged"]
    assert out["static"]["proposed_slow"] == ["y"] and out["ranking"] == ["x", "y"]
    assert out["section"].startswith('[timescales]\nslow = ["y"]')
    assert out["influence"][0]["low"] <= out["influence"][0]["estimate"] <= out["influence"][0]["high"]
    assert out["static"]["splits"][0]["gap_ratio"] == pytest.approx(16.0)


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["maier-stein"], "has a drift"),
        (["QUAD", "--top", "3"], "top must be at most"),
        (["QUAD", "--chains", "1"], "--chains"),
        (["QUAD", "--eta", "-1"], "--eta"),
        (["no-such-model"], "no-such-model"),
    ],
)
def test_cli_bad_input(main, tmp_path, capsys, extra, words):
    argv = ["timescales"] + [str(_write(tmp_path)) if a == "QUAD" else a for a in extra] + ["--steps", "10"]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse refuses the flag
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and words in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
