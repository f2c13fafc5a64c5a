"""Notebook views of the numeric results (issue 15): one table row per attractor, basin or
eigenvalue, numbers with their intervals, the status word and, when not converged, the reason.

Every result is produced by the library from a cheap run (no hand-made instances), once per module.
"""

import math

import numpy as np
import pytest

from analysis import Result, load_model, model
from analysis._format import format_number
from analysis._result import markdown_table, markdown_value


def poly():
    return model(variables=["x"], loss="x**4/4 - x**2/2", covariance="1", bounds=[[-2.5, 2.5]], name="poly")


@pytest.fixture(scope="module")
def results():
    """One cheap instance of every numeric result class whose view this issue adds (by class name)."""
    from numerics.experiments import builtin_memorize_model, markov_sgd, run_collapse, run_memorize
    from numerics.largedev import find_cycle, predict, quasi_potential, transition_costs
    from numerics.largedev._methods import METHODS, MethodOptions
    from numerics.sgd import AR1Noise, basin_map, simulate_markov
    from numerics.sgd._simulate import simulate
    from numerics.stationary import stationary_distribution
    from numerics.stationary._hitting import mean_exit_time

    tilted = load_model("tilted-double-well")
    energy = predict(tilted, eta=0.05)
    atts = [a.point for a in energy.attractors]
    cycle_field = model(variables=["x", "y"], drift=["-x*(x**2+y**2-1) - y", "-y*(x**2+y**2-1) + x"], covariance="1")
    gmam = METHODS["gmam"](load_model("maier-stein"), MethodOptions(max_iterations=1))
    bent = np.linspace([-1.0, 0.0], [0.0, 0.0], 17) + np.sin(np.linspace(0, np.pi, 17))[:, None] * [0, 0.2]
    unit = model(variables=["x"], loss="x**2/2", covariance="1", bounds=[[-3, 3]])
    sim = simulate(poly(), eta=0.3, steps=2000, chains=4, seed=5, progress=False)
    lost = simulate(poly(), eta=0.45, steps=3000, chains=16, seed=1, init=[0.0], progress=False)
    out = {
        "EnergyResult": energy,
        "TransitionCosts": transition_costs(tilted),
        "QuasiPotentialResult": quasi_potential(tilted, atts[0], energy.saddles[0].point, method="exact"),
        "LimitCycle": find_cycle(cycle_field, [0.8, 0.1]),
        "PathSolution": gmam.solve_level(bent),
        "StationaryResult": stationary_distribution(tilted, eta=0.3),
        "HittingResult": mean_exit_time(
            unit, 0.1, source=[0.0], target=lambda X: X[:, 0] > 0.5, bounds=[[-1.5, 1.5]], n=400
        ),
        "SimulationResult": sim,
        "SimulationResult with divergences": lost,
        "Divergence": lost.diverged[0] if lost.diverged else None,
        "BasinMap": basin_map(poly(), resolution=64),
        "MarkovResult": simulate_markov(AR1Noise(dim=2), theta0=[0.0, 0.0], eta=0.1, steps=50, chains=3, seed=1),
        "CollapseResult": run_collapse(fit="gaussian", samples=5, rounds=3, replicates=4, seed=0),
        "CollapseResult (atoms)": run_collapse(fit="empirical", samples=5, rounds=2, replicates=4, support=[0.5, 0.5]),
        "MemorizeResult": run_memorize(builtin_memorize_model("fold"), eta=0.2, epsilon=0.005, steps=400, chains=2),
        "GradientRun": markov_sgd(estimator="pathwise", iterations=10, chains=4, seed=1, hold=2),
    }
    assert out["Divergence"] is not None, "eta = 0.45 on the quartic loses chains within 3000 steps"
    return out


def test_energy_view_one_row_per_attractor(results, mdt):
    r = results["EnergyResult"]
    md = r._repr_markdown_()
    rows = mdt.table_after(md, "**Attractors**")
    assert len(rows) == len(r.attractors) == 2
    # the tilted double well's ground state is the higher minimum of F (index 1, not 0)
    assert r.ground_state == 1 and rows[1][0] == "1 (ground state)" and rows[0][0] == "0"
    assert [row[4] for row in rows] == [format_number(w, 6) for w in r.weights]
    assert "| ground-state shift | yes |" in md
    costs = mdt.table_after(md, "**Transition costs**")
    assert len(costs) == 2 and costs[0][1] == "-" and costs[0][2].startswith(format_number(r.costs[0, 1], 6))


def test_transition_cost_matrix_is_a_table(results, mdt):
    tc = results["TransitionCosts"]
    md = tc._repr_markdown_()
    rows = mdt.table_after(md, "**Transition costs**")
    assert len(rows) == len(tc.attractors) and all(len(r) == len(tc.attractors) + 1 for r in rows)
    # B[1][0] is in row 1, column 0: the transposed matrix (the nearest wrong table) would differ here
    assert rows[1][1] == f"{format_number(tc.costs[1, 0], 6)} (saddle 0)" and tc.costs[1, 0] != tc.costs[0, 1]
    assert len(mdt.table_after(md, "Checks against the closed form")) == len(tc.checks)


def test_quasi_potential_view_says_method_and_endpoints(results, mdt):
    r = results["QuasiPotentialResult"]
    md = r._repr_markdown_()
    assert md.startswith("**QuasiPotentialResult** (converged)") and "| method | exact |" in md
    assert mdt.quantity(md, "from") == "(" + format_number(r.path[0][0], 6) + ")"
    assert mdt.quantity(md, "global minimum vouched").startswith("yes")


def test_not_converged_path_level_says_so(results, mdt):
    p = results["PathSolution"]  # one Newton iteration cannot meet the stopping rule
    md = p._repr_markdown_()
    assert not p.converged and md.startswith(f"**PathSolution** (NOT converged): {p.message}")
    assert mdt.quantity(md, "nodes") == "17"


def test_simulation_view_basin_occupations_with_intervals(results, mdt):
    r = results["SimulationResult"]
    md = r._repr_markdown_()
    rows = mdt.table_after(md, "**Basin occupations**")
    assert len(rows) == len(r.minima) == 2
    for row, f, (lo, hi) in zip(rows, r.fractions, r.ci95):
        assert row[2] == format_number(f) and row[3] == f"[{format_number(lo)}, {format_number(hi)}]"
    lost = results["SimulationResult with divergences"]
    md = lost._repr_markdown_()
    assert mdt.quantity(md, "diverged chains") == str(len(lost.diverged)) and lost.diverged[0].message in md


def test_divergence_and_stationary_and_hitting_views(results, mdt):
    dv = results["Divergence"]
    assert dv._repr_markdown_().startswith(f"**Divergence** (NOT converged): {dv.message}")
    st = results["StationaryResult"]
    masses = [r for r in mdt.tables(st._repr_markdown_())[0][1:] if r[0].startswith("mass at")]
    assert len(masses) == len(st.basins) == 2
    h = results["HittingResult"]
    assert (
        mdt.quantity(h._repr_markdown_(), "mean hitting steps")
        == f"{format_number(h.time, 6)} ± {format_number(h.error, 2)}"
    )


def test_cycle_collapse_memorize_gradient_markov_views(results, mdt):
    c = results["LimitCycle"]
    assert mdt.quantity(c._repr_markdown_(), "period T") == format_number(2 * math.pi, 6)  # the unit circle at speed 1
    col = results["CollapseResult"]
    rows = mdt.table_after(col._repr_markdown_(), "**By round**")
    assert [r[0] for r in rows] == ["0", "1", "2", "3"]  # rounds 0..K, K = 3
    atoms = results["CollapseResult (atoms)"]._repr_markdown_()
    assert "E H_k (heterozygosity)" in atoms and len(mdt.table_after(atoms, "**By round**")) == 3
    assert "| memorized fraction |" in results["MemorizeResult"]._repr_markdown_()
    assert "| mean Polyak average |" in results["GradientRun"]._repr_markdown_()
    assert "| chains alive | 3 of 3 |" in results["MarkovResult"]._repr_markdown_()
    bm = results["BasinMap"]
    assert len(mdt.table_after(bm._repr_markdown_(), "**Attractors**")) == len(bm.minima) == 2


def test_generic_view_of_a_simulation_shows_every_field(results):
    # the base class's rows: small arrays as values, large ones summarised, nested results as headlines
    lost = results["SimulationResult with divergences"]
    rows = dict(Result._summary(lost))
    assert markdown_value(rows["fractions"]).startswith("(") and markdown_value(rows["minima"]).startswith("$")
    assert markdown_value(rows["histogram"]).startswith(f"array 1 × {lost.histogram.shape[1]}, min ")
    assert markdown_value(rows["diverged"]).startswith(f"Divergence (NOT converged): {lost.diverged[0].message}")
    assert "schedule" not in rows and "**schedule**" in "\n".join(Result._sections(lost))  # a dict: sub-table


def test_no_view_raises_and_every_table_is_well_formed(results, mdt):
    from numerics.experiments import CollapseResult, GradientRun, MemorizeResult
    from numerics.largedev import EnergyResult, LimitCycle, QuasiPotentialResult, TransitionCosts
    from numerics.largedev._paths import PathSolution
    from numerics.sgd import BasinMap, Divergence, MarkovResult, SimulationResult
    from numerics.stationary import StationaryResult
    from numerics.stationary._hitting import HittingResult

    owned = {EnergyResult, TransitionCosts, QuasiPotentialResult, LimitCycle, PathSolution, StationaryResult}
    owned |= {HittingResult, SimulationResult, Divergence, BasinMap, MarkovResult, CollapseResult}
    owned |= {MemorizeResult, GradientRun}
    assert owned <= {type(r) for r in results.values()}  # the loop covers every class
    for name, r in results.items():
        md = r._repr_markdown_()
        status = "converged" if r.converged else "NOT converged"
        assert md.startswith(f"**{type(r).__name__}** ({status})"), name
        assert "array(" not in md and "Result(" not in md, name  # no numpy or dataclass reprs
        mdt.tables(md)  # raises on a malformed table
        # the generic view of the same instance (every field shown) is well formed too
        mdt.tables("\n\n".join([markdown_table(["quantity", "value"], Result._summary(r)), *Result._sections(r)]))
