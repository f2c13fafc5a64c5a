"""The diffusion claims (issue 12): intervals over training-set draws, qualitative rows labelled,
near misses rejected, figures from the live result and from the checkpoint form.

Each claim passes at budget tiny with seed 0; planting a wrong theory (the opposite sign of a
drop, or a memorized fraction of 0.8 for the empirical optimum, 0.19 below the measured 0.99)
makes it fail. The intervals are between-replicate: each interval the claim reports is the
Student t interval of the per-replicate estimates it stores in its figure data, recomputed here
with scipy's t quantile (an independent implementation of numerics.stats.mean_interval).
"""

import json
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from scipy import stats  # noqa: E402

from numerics.claims import Budget, ClaimResult, Context, catalogue  # noqa: E402

TINY = Budget.named("tiny")
WRONG = {
    # the optimum's fraction is 0.99 [0.98, 1.01] at tiny seed 0: 0.8 lies 0.19 away, beyond tol 0.1 + h 0.015
    "diffusion-empirical-memorizes": {"empirical_fraction": 0.8},
    "diffusion-big-step": {"big_step_direction": -1},
    "diffusion-train-size": {"train_size_direction": -1},
}
MAX_JSON = 200_000  # characters of a result's JSON with its figure data (common figure contract)


@pytest.fixture(scope="module")
def results():
    """One tiny-budget run of each diffusion claim, seed 0 (about 5 s in all on one core)."""
    return {cid: catalogue()[cid]().run(Context(budget=TINY, seed=0)) for cid in WRONG}


def _row(result, start):
    (c,) = [c for c in result.comparisons if c.quantity.startswith(start)]
    return c


def _t_interval(x):
    """Mean +- t_{n-1, 0.975} s / sqrt(n) of replicate estimates, by scipy (not numerics.stats)."""
    x = np.asarray(x, float)
    n = len(x)
    h = stats.t.ppf(0.975, n - 1) * x.std(ddof=1) / math.sqrt(n)
    return x.mean() - h, x.mean() + h


@pytest.mark.parametrize("cid", list(WRONG))
def test_passes_at_tiny_and_fails_with_a_planted_wrong_theory(results, cid):
    ok = results[cid]
    assert ok.verdict == "pass", [c.to_dict() for c in ok.comparisons]
    # every claim rejects at least one alternative, and the rejection is a counted row
    assert any(c.expect == "reject" and c.counted and c.verdict == "pass" for c in ok.comparisons)
    bad = catalogue()[cid]().run(Context(budget=TINY, seed=0, overrides=WRONG[cid]))
    assert bad.verdict == "fail"
    failing = [c for c in bad.comparisons if c.verdict == "fail"]
    assert len(failing) == 1 and failing[0].expect == "agree"


@pytest.mark.parametrize("cid", ["diffusion-big-step", "diffusion-train-size"])
def test_direction_rows_are_labelled_qualitative(results, cid):
    (sign,) = [c for c in results[cid].comparisons if c.quantity.startswith("qualitative:")]
    assert "qualitative" in sign.note
    assert sign.theory == 1.0 and sign.measured == 1.0 and sign.tolerance == 0.5
    # the quantitative rows are not labelled qualitative
    assert all(not c.quantity.startswith("qualitative") for c in results[cid].comparisons if c is not sign)


def test_empirical_intervals_are_between_training_sets(results):
    r = results["diffusion-empirical-memorizes"]
    reps = np.asarray(r.figure_data["fractions"]["replicates"], float)  # columns: chance, kernel, empirical
    assert reps.shape == (8, 3)  # tiny: 8 training sets
    chance, kernel, frac = reps.T
    for row, values in [
        ("memorized fraction, empirical", frac),
        ("memorized fraction - chance", frac - chance),
        ("memorized fraction - kernel", frac - kernel),
    ]:
        c = _row(r, row)
        assert c.measured == pytest.approx(values.mean(), abs=1e-12)
        assert c.ci95 == pytest.approx(_t_interval(values), abs=1e-12)
    # the near misses are rejected by the data, not by a margin: their tolerance is 0
    assert all(c.tolerance == 0.0 for c in r.comparisons if c.expect == "reject")


def test_big_step_compares_at_equal_training_time_with_paired_replicates(results):
    r = results["diffusion-big-step"]
    claim = catalogue()["diffusion-big-step"]
    f = r.figure_data
    eta = np.asarray(f["eta"], float)
    assert f["training_time"] == claim.TRAINING_TIME and claim.TRAINING_TIME / claim.ETA_SMALL == 1000
    frac = np.asarray(f["fraction"]["replicates"], float)
    drop = frac[:, list(eta).index(claim.ETA_SMALL)] - frac[:, list(eta).index(claim.ETA_LARGE)]
    c = _row(r, "drop in memorized fraction")
    assert "eta*steps" in c.quantity
    assert c.measured == pytest.approx(drop.mean(), abs=1e-12)
    assert c.ci95 == pytest.approx(_t_interval(drop), abs=1e-12)
    # the small step settles into the memorizing minimum h = 0 in every replicate
    band = np.asarray(f["bandwidth"]["replicates"], float)[:, list(eta).index(claim.ETA_SMALL)]
    assert np.all(band < 0.02)


def test_train_size_drops_are_paired_over_nested_training_sets(results):
    r = results["diffusion-train-size"]
    f = r.figure_data
    frac = np.asarray(f["fraction"]["replicates"], float)
    chance = np.asarray(f["chance"]["replicates"], float)
    assert list(np.asarray(f["sizes"], float)) == [4, 64]
    for row, values in [
        ("drop in memorized fraction (", frac[:, 0] - frac[:, -1]),
        ("drop in memorized fraction above chance", (frac - chance)[:, 0] - (frac - chance)[:, -1]),
    ]:
        c = _row(r, row)
        assert c.measured == pytest.approx(values.mean(), abs=1e-12)
        assert c.ci95 == pytest.approx(_t_interval(values), abs=1e-12)
    # the figure's per-size intervals are the t intervals of the same replicates
    lo, hi = _t_interval(frac[:, 0])
    assert (f["fraction"]["low"][0], f["fraction"]["high"][0]) == pytest.approx((lo, hi), abs=1e-12)


def _plotted(result, cid):
    """Every plotted (x, y) point of the claim's figure, sorted (error-bar markers, dots, lines)."""
    fig, ax = plt.subplots()
    try:
        catalogue()[cid]().draw(result, ax)
        pts = [np.column_stack([ln.get_xdata(), ln.get_ydata()]).astype(float) for a in fig.axes for ln in a.lines]
        pts = np.concatenate([p for p in pts if p.size])
        return pts[np.lexsort(pts.T[::-1])]
    finally:
        plt.close(fig)


@pytest.mark.parametrize("cid", list(WRONG))
def test_figure_draws_the_same_from_the_checkpoint_form(results, cid):
    live = results[cid]
    text = json.dumps(live.to_dict(figure=True))
    assert len(text) < MAX_JSON
    restored = ClaimResult.from_dict(json.loads(text))
    a, b = _plotted(live, cid), _plotted(restored, cid)
    assert a.shape == b.shape and np.allclose(a, b, equal_nan=True)
    # the plotted means are the replicate means the figure data holds
    key = "fractions" if cid == "diffusion-empirical-memorizes" else "fraction"
    means = np.asarray(live.figure_data[key]["mean"], float)
    assert all(np.isclose(a[:, 1], m).any() for m in means)
