"""``memdyn quasipotential``: limit cycles as sources, the search option, closed forms, bad input."""

import json

import pytest

CYCLE_MODEL = """
name = "cycle"
variables = ["x", "y"]

[drift]
expr = ["-x*(x**2 + y**2 - 1) - y", "-y*(x**2 + y**2 - 1) + x"]

[noise]
kind = "gaussian"
covariance = "1"

[domain]
bounds = [[-2, 2], [-2, 2]]
"""


@pytest.fixture
def cycle_file(tmp_path):
    path = tmp_path / "cycle.toml"
    path.write_text(CYCLE_MODEL)
    return path


def test_from_a_limit_cycle(memdyn, cycle_file):
    # docs/theory.md section 1.4: V = U = (r^2 - 1)^2 / 2 from the unit circle; U(0.3) = 0.41405
    run = memdyn("quasipotential", cycle_file, "--from", "cycle:0.9,0.1", "--to", "0.3,0", "--json")
    assert run.code == 0, run.err
    data = json.loads(run.out)
    assert data["action"] == pytest.approx(0.91**2 / 2, rel=1e-6)
    assert data["source"].startswith("limit cycle") and data["converged"]
    assert len(data["candidates"]) == 4 and {"path", "action"} <= set(data["candidates"][0])


def test_text_output_names_the_search(memdyn):
    run = memdyn("quasipotential", "maier-stein", "--set", "beta=3", "--from", "-1,0", "--to", "0,0")
    assert run.code == 0, run.err
    assert "global minimum vouched" in run.out and "source" in run.out


def test_closed_form_with_singular_noise(memdyn, tmp_path):
    # dx = v dt, dv = (-gamma v - x) dt + sigma dW, Sigma = diag(0, sigma^2) singular: the linear closed
    # form V = 2 gamma (x^2/2 + v^2/2) / sigma^2 (gamma = 1/2, sigma^2 = 1/4) at (0.4, -0.2): 0.8
    path = tmp_path / "oscillator.toml"
    path.write_text(
        'name = "oscillator"\nvariables = ["x", "v"]\n[drift]\nexpr = ["v", "-v/2 - x"]\n'
        '[noise]\nkind = "gaussian"\ncovariance = [["0", "0"], ["0", "1/4"]]\n'
    )
    run = memdyn("quasipotential", path, "--from", "0,0", "--to", "0.4,-0.2", "--json")
    assert run.code == 0, run.err
    data = json.loads(run.out)
    assert data["method"] == "closed-form" and data["converged"] and data["global_minimum_vouched"]
    assert data["action"] == pytest.approx(2 * 0.5 * (0.4**2 / 2 + 0.2**2 / 2) / 0.25, rel=1e-12)


@pytest.mark.parametrize(
    "args, words",
    [
        (("--from", "cycle:0.9", "--to", "0.3,0"), ("--from cycle:", "1 coordinate")),
        (("--from", "cycle:a,b", "--to", "0.3,0"), ("--from cycle:", "comma-separated numbers")),
        (("--from", "cycle:0,0", "--to", "0.3,0"), ("reaches an equilibrium",)),
    ],
)
def test_bad_cycle_sources(memdyn, cycle_file, args, words):
    memdyn("quasipotential", cycle_file, *args).error_line(*words)


def test_unknown_search(memdyn):
    run = memdyn("quasipotential", "maier-stein", "--from", "-1,0", "--to", "0,0", "--search", "all")
    assert run.code == 2 and "invalid choice" in run.err
