"""Claim figures (issue 12, "Figures a paper would show"): collapse, Markov gradients, Hwang weights,
ground state, two scales and memorization. Each claim's ``figure_data`` is small JSON, its ``draw``
plots the claim's science from the live result and from the checkpoint form (arrays as lists, nan as
None), the plotted theory is the closed form (or the theory value of the claim's own comparison), the
plotted measurement is the comparison's measured value, and a claim resumed from a checkpoint keeps
its figure data and draws its real figure."""

import json
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from analysis import m_factor_float  # noqa: E402
from numerics.claims import ClaimResult, catalogue, verify  # noqa: E402

CLAIMS = ("collapse", "markov-gradient", "hwang", "ground-state", "two-scale", "memorization")
MAX_JSON = 200_000  # characters of one claim's JSON with its figure data


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One tiny-budget run of the six claims with a checkpoint (about 20 s on one core)."""
    checkpoint = tmp_path_factory.mktemp("figures") / "checkpoint.json"
    report = verify(claims=list(CLAIMS), budget="tiny", seed=0, checkpoint=checkpoint)
    return report, checkpoint


def _results(run, form):
    """The claims' results as they came out of ``run`` (live) or as a checkpoint stores them."""
    report, _ = run
    if form == "live":
        return {r.id: r for r in report.results}
    return {r.id: ClaimResult.from_dict(json.loads(json.dumps(r.to_dict(figure=True)))) for r in report.results}


def _comparison(result, text):
    """The comparison whose quantity is ``text``, else the one comparison whose quantity contains it."""
    exact = [c for c in result.comparisons if c.quantity == text]
    (c,) = exact or [c for c in result.comparisons if text in c.quantity]
    return c


def _all_axes(ax):
    """Every Axes of the figure, with insets (draw may split the given Axes or add an inset)."""
    out = []
    for a in ax.figure.axes:
        out += [a, *a.child_axes]
    return out


def _lines(ax):
    return [line for a in _all_axes(ax) for line in a.lines]


def _line_with(ax, y, x=None, *, rtol=1e-9):
    """The plotted line whose y data (and x data, if given) equal ``y`` (``x``); fails if none."""
    y = np.asarray(y, float)
    for line in _lines(ax):
        ly = np.asarray(line.get_ydata(), float)
        if ly.shape == y.shape and np.allclose(ly, y, rtol=rtol, atol=1e-12):
            if x is None or np.allclose(np.asarray(line.get_xdata(), float), np.asarray(x, float), rtol=rtol):
                return line
    raise AssertionError(f"no line with y = {y[:4]}... among {len(_lines(ax))} lines")


def _points(ax):
    """All plotted (x, y) points, one row each (markers of lines and error bars)."""
    pts = [np.column_stack([np.asarray(ln.get_xdata(), float), np.asarray(ln.get_ydata(), float)]) for ln in _lines(ax)]
    return np.concatenate([p for p in pts if p.size])


def _has_point(ax, y, x=None, rtol=1e-9):
    pts = _points(ax)
    ok = np.isclose(pts[:, 1], y, rtol=rtol, atol=1e-12)
    if x is not None:
        ok &= np.isclose(pts[:, 0], x, rtol=rtol, atol=1e-12)
    return bool(ok.any())


# ----------------------------------------------------------------------------- per-claim checks
def _check_collapse(result, ax):
    d = result.figure_data
    k = np.arange(21)
    assert np.array_equal(np.asarray(d["k"]), k)
    # theory m_N^k and the near misses, against their closed forms (not the figure data)
    _line_with(ax, m_factor_float(10) ** k, k)
    _line_with(ax, m_factor_float(10, mle=True) ** k, k)
    _line_with(ax, np.exp(-k / 40), k)
    _line_with(ax, m_factor_float(11) ** k, k)
    # the measured E sigma_k markers end at the comparison's measured E sigma_20
    mean = _line_with(ax, d["fits"]["gaussian"]["mean"], k).get_ydata()
    assert mean[-1] == pytest.approx(_comparison(result, "E sigma_20 (gaussian, N=10)").measured, rel=1e-12)
    assert mean[0] == pytest.approx(1.0)  # sigma_0 = 1 in every replicate


def _check_markov(result, ax):
    from numerics.experiments._markov_gradients import AR1Quadratic

    m = AR1Quadratic()
    holds = np.arange(1, 17)
    # the exact curve is the closed form c (f + gamma)/(f + kappa + gamma (1 + f)), f = 1 - rho^h
    f = 1 - m.rho**holds
    _line_with(ax, m.c * (f + m.gamma) / (f + m.kappa + m.gamma * (1 + f)), holds)
    for est in ("smoothing", "spsa1", "spsa2", "kw"):
        assert _has_point(ax, _comparison(result, f"{est} limit vs exact fixed point").measured)
    assert _has_point(ax, _comparison(result, "pathwise limit gamma").measured)
    # the SPSA sweep: one measured point per hold 1, 2, 4, 8 (8 is the comparison's run)
    sweep = result.figure_data["sweep"]["points"]
    assert [p["hold"] for p in sweep] == [1, 2, 4, 8]
    assert sweep[-1]["mean"] == pytest.approx(_comparison(result, "spsa1 limit vs exact fixed point").measured)
    assert all(_has_point(ax, p["mean"], p["hold"]) for p in sweep)


def _check_hwang(result, ax):
    models = {d["model"]: d for d in result.figure_data["models"]}
    assert len(models) == 2
    e = math.e
    for name, d in models.items():
        flat = d["points"][d["flat"]]
        w = _comparison(result, f"{name}: w at {np.round(flat, 3).tolist()}")
        # the star at eta = 0 is the theory the comparison used, the diamond its Richardson value
        assert _has_point(ax, w.theory, 0.0) and _has_point(ax, w.measured, 0.0)
        mc = _comparison(result, f"{name}: MC vs exact chain")
        x_mc = d["mc_eta"] / d["barrier"]
        assert _has_point(ax, mc.measured, x_mc) and _has_point(ax, mc.theory, x_mc)
        _line_with(ax, d["masses"], np.asarray(d["etas"]) / d["barrier"])
    # Hwang example (docs/theory.md section 10 item 4): the flatter minimum x = -1 gets e/(1 + e)
    (ex,) = [d for name, d in models.items() if name.startswith("Hwang example")]
    assert ex["points"][ex["flat"]] == pytest.approx([-1.0])
    _line_with(ax, [e / (1 + e)] * 2, rtol=1e-6)


def _check_ground_state(result, ax):
    heights = [p.get_height() for a in _all_axes(ax) for p in a.patches]
    for d in result.figure_data["models"]:
        name, g, f = d["model"], d["ground_state"], d["argmin_F"]
        assert sum(d["exact"]) == pytest.approx(1.0)
        assert all(any(h == pytest.approx(v, rel=1e-12) for h in heights) for v in d["exact"])
        exact = _comparison(result, f"{name}: MC mass of ground state {np.round(d['points'][g], 3).tolist()} vs")
        assert d["exact"][g] == pytest.approx(exact.theory, rel=1e-12)  # the bar is the theory of the row
        assert _has_point(ax, exact.measured)  # the MC marker is its measurement
        alt = _comparison(result, f"{name}: constant-noise theory")
        assert _has_point(ax, alt.theory)  # the rejected theory's mass at argmin F
        assert alt.measured == pytest.approx(d["mc"][f], rel=1e-12)


def _check_two_scale(result, ax):
    # branches x = -+1 of F = (x^2 - 1)^2/4 + eps (x - y)^2/2: dy/dt = -+1 - y from y0 = +-1.5,
    # so y(t) = -+1 +- 2.5 e^-t (the ODE is solved to 1e-9)
    for sign in (-1.0, 1.0):
        curve = [c for c in result.figure_data["ode"] if c["label"] == f"two-scale, branch x=[{sign}]"]
        (c,) = curve
        t = np.asarray(c["t_ode"], float)
        _line_with(ax, sign - sign * 2.5 * np.exp(-t), t, rtol=1e-6)
        for time in (0.25, 0.5, 1.0, 2.0):
            comp = _comparison(result, f"branch x=[{sign}]: mean y at t=n eta eps={time:g}")
            assert _has_point(ax, comp.measured, time, rtol=1e-6)  # the band's centre is the measurement
    bands = [col for a in _all_axes(ax) for col in a.collections]
    assert len(bands) >= 2 * len(result.figure_data["ode"])  # interval and spread bands per curve
    # the coupled model's rejected reduction is drawn next to its ODE
    (coupled,) = [c for c in result.figure_data["ode"] if "coupled" in c["label"]]
    _line_with(ax, coupled["wrong"], coupled["t_ode"])


def _check_memorization(result, ax):
    d = result.figure_data
    axes = _all_axes(ax)
    assert len(axes) == 2  # time series and histogram
    comp = _comparison(result, "mean episode steps, eta=0.2 eps=0.005")
    # the dashed line is the theory of the comparison, the dotted one its measurement (pooled ratio)
    assert any(np.allclose(ln.get_xdata(), comp.theory, rtol=1e-12) for ln in _lines(ax))
    assert any(np.allclose(ln.get_xdata(), comp.measured, rtol=1e-9) for ln in _lines(ax))
    steps = [p for a in axes for p in a.patches if type(p).__name__ == "StepPatch"]
    edges = np.asarray(d["histogram"]["edges"], float)
    theory = np.asarray(d["histogram"]["theory"], float)
    # the theory histogram is a density of the reduced dynamics' episode lengths, whose mean is the theory
    assert np.sum(theory * np.diff(edges)) == pytest.approx(1.0)
    assert any(np.allclose(s.get_data().values, theory) for s in steps)
    mids = (edges[:-1] + edges[1:]) / 2
    assert np.sum(mids * theory * np.diff(edges)) == pytest.approx(comp.theory, rel=0.05)  # binned mean
    # each shaded span is one memorized episode of the chain shown
    s = d["series"]
    spans = np.asarray(s["episodes"], float).reshape(-1, 2)
    assert len(spans) >= 5 and np.all(spans[:, 1] > spans[:, 0])
    shaded = [p for p in ax.patches if type(p).__name__ != "StepPatch"]
    assert len(shaded) == len(spans)


CHECKS = {
    "collapse": _check_collapse,
    "markov-gradient": _check_markov,
    "hwang": _check_hwang,
    "ground-state": _check_ground_state,
    "two-scale": _check_two_scale,
    "memorization": _check_memorization,
}


# ----------------------------------------------------------------------------- tests
def test_figure_data_is_small_json(run):
    report, _ = run
    assert [r.id for r in report.results] == list(CLAIMS)
    for r in report.results:
        assert isinstance(r.figure_data, dict), r.id
        text = json.dumps(r.to_dict(figure=True))
        assert len(text) < MAX_JSON, (r.id, len(text))


@pytest.mark.parametrize("form", ["live", "checkpoint"])
@pytest.mark.parametrize("cid", CLAIMS)
def test_draw_plots_the_science(run, cid, form):
    result = _results(run, form)[cid]
    fig, ax = plt.subplots(figsize=(6, 4))
    try:
        catalogue()[cid]().draw(result, ax)
        CHECKS[cid](result, ax)
        fig.tight_layout()  # the layout write_figures uses works with the drawn panels
    finally:
        plt.close(fig)


def test_resumed_claims_draw_their_figures(run, tmp_path):
    report, checkpoint = run
    again = verify(claims=list(CLAIMS), budget="tiny", seed=0, checkpoint=checkpoint, resume=True)
    assert again.results == report.results  # nothing re-ran: the numbers and verdicts are the saved ones
    assert all(r.figure_data is not None for r in again.results)
    paths = again.write_figures(tmp_path / "figs")
    assert len(paths) == len(CLAIMS) and all(p.stat().st_size > 10_000 for p in paths)


# ----------------------------------------------------------------------------- the global potential panels
# The critical-regions and temperature figures draw -eta log pi against U = min_i (E_i + V_i) (issue 13).
MAX_LANDSCAPE_JSON = 50_000  # characters of the figure data


@pytest.fixture(scope="module")
def landscape_run(tmp_path_factory):
    """critical-regions on the 2-D double well, tiny budget, with a checkpoint (about 8 s on one core)."""
    checkpoint = tmp_path_factory.mktemp("landscape") / "checkpoint.json"
    report = verify(claims=["critical-regions"], budget="tiny", seed=0, checkpoint=checkpoint)
    return report, checkpoint


def _double_well_U(points):
    """2 (F - min F) / sigma^2 of double-well-2d (t = 0.05, sigma^2 = 1): the exact global potential of a
    gradient model with isotropic constant noise (docs/theory.md section 1.4), written out here."""
    from scipy.optimize import minimize_scalar

    def F(x, y):
        return (x**2 - 1) ** 2 / 4 + 0.05 * x + y**2 / 2

    f_min = minimize_scalar(lambda x: F(x, 0.0), bounds=(-2, 0), method="bounded", options={"xatol": 1e-10}).fun
    return 2 * (F(points[:, 0], points[:, 1]) - f_min)


@pytest.mark.parametrize("form", ["live", "checkpoint"])
def test_critical_regions_figure_draws_the_global_potential(landscape_run, form):
    from analysis import load_model
    from numerics.field import quasi_potential_field

    report, _ = landscape_run
    (live,) = report.results
    result = live if form == "live" else ClaimResult.from_dict(json.loads(json.dumps(live.to_dict(figure=True))))
    assert len(json.dumps(result.to_dict(figure=True)["figure_data"])) < MAX_LANDSCAPE_JSON
    d = result.figure_data["landscape"]
    cx, cy = (np.asarray(c, float) for c in d["centres"])
    X, Y = np.meshgrid(cx, cy, indexing="ij")
    pts = np.column_stack([X.ravel(), Y.ravel()])
    U = np.asarray(d["U"], float).ravel()
    ok = np.isfinite(U)
    assert ok.sum() > 300  # the cells up to 2 barriers are kept
    exact = _double_well_U(pts)
    # the 129^2 field's error on this box: measured <= 0.019 here (the barrier is 0.6); 0.03 = 5% of it
    assert np.max(np.abs(U[ok] - exact[ok])) < 0.03
    # the nearest wrong picture: V from the deepest minimum alone (no W-graph energies) is off by about the
    # other well's depth in that well
    model = load_model("double-well-2d")
    one = quasi_potential_field(model, attractor=0, grid=129, check=False).values(pts)
    assert np.max(np.abs(one[ok] - exact[ok])) > 0.3
    fig, ax = plt.subplots(figsize=(6, 4))
    try:
        catalogue()["critical-regions"]().draw(result, ax)
        # the difference panel is -eta log pi - U on the saved cells
        diff = (np.asarray(d["mc"], float) - np.asarray(d["U"], float)).T.ravel()
        meshes = [c for a in _all_axes(ax) for c in a.collections if type(c).__name__ == "QuadMesh"]
        (mesh,) = [c for c in meshes if np.size(c.get_array()) == diff.size]  # not the colorbars' meshes
        shown = np.ma.filled(np.ma.asarray(mesh.get_array(), float).ravel(), np.nan)
        assert np.allclose(shown, diff, equal_nan=True)
        assert np.nanmax(np.abs(diff)) > 0  # not identically zero: the Monte Carlo is not U
        fig.tight_layout()
    finally:
        plt.close(fig)


def test_critical_regions_figure_renders_from_a_resumed_checkpoint(landscape_run, tmp_path):
    report, checkpoint = landscape_run
    again = verify(claims=["critical-regions"], budget="tiny", seed=0, checkpoint=checkpoint, resume=True)
    # nothing re-ran (the seconds too are the saved ones); JSON text, since unmeasured rows hold nan != nan
    assert [json.dumps(r.to_dict()) for r in again.results] == [json.dumps(r.to_dict()) for r in report.results]
    (r,) = again.results
    assert r.figure_data["landscape"]["U"] is not None
    (path,) = again.write_figures(tmp_path / "figs")
    assert path.stat().st_size > 20_000


def test_global_potential_1d_is_the_closed_form_and_the_exact_route_agrees():
    from analysis import closed_form_quasi_potential, load_model
    from numerics.claims._figures import _exact_from, global_potential_1d

    m = load_model("tilted-double-well")  # sigma^2 = exp(-x): V = -int 2 b / sigma^2 is the global potential
    x = np.linspace(-2.0, 1.6, 37)
    V = closed_form_quasi_potential(m).numeric(x[:, None])
    a = np.array([-1.04668053, 0.94564927])  # the minima of F = (x^2 - 1)^2/4 + x/10
    exact = V - closed_form_quasi_potential(m).numeric(a[:, None]).min()
    U = global_potential_1d(m, x)
    assert np.max(np.abs(U - exact)) < 1e-6  # trapezoid on 20 001 nodes: O(h^2) ~ 1e-8
    # planted: V from the deeper (in F) minimum alone misses the other well by its depth
    assert np.max(np.abs((V - closed_form_quasi_potential(m).numeric(a[:1, None])[0]) - exact)) > 0.1
    # the route for non-Gaussian noise (the path solver's exact 1-D action) on the same model
    pts = np.array([-1.8, -0.5, 0.3, 1.4])
    via_roots = _exact_from(m, a[1], pts)
    trapezoid = global_potential_1d(m, pts) - global_potential_1d(m, a[1:])[0]  # V from the right well below
    assert via_roots[2:] == pytest.approx(trapezoid[2:], abs=1e-6)  # in its basin V_right = U - U(right)
    assert np.all(np.isnan(global_potential_1d(m, [-3.0, 3.0])))  # outside the bounds


def test_temperature_draws_the_landscape_beside_the_extrapolation():
    from analysis import load_model
    from numerics.claims._figures import global_potential_1d, landscape

    m = load_model("tilted-double-well")
    c = np.linspace(-1.9, 1.3, 50)
    rng = np.random.default_rng(1)
    U = global_potential_1d(m, c)
    land = {"eta": 0.07, "centres": [c], "U": U + 0.01 * rng.standard_normal(len(c))}  # a noisy histogram
    d = landscape(m, land, lambda x: 0.0, cap=1.0)  # log C = 0: the data are U + noise, shifted to min 0
    kept = np.asarray(d["U"], float)
    x = np.asarray(d["centres"][0], float)
    U = global_potential_1d(m, x)  # on the cells kept (the box of cells with a value)
    assert np.all(np.isnan(kept) == (U > 1.0))  # the cap drops values, rounding keeps 1e-4
    assert np.nanmax(np.abs(kept - U)) <= 5e-5
    figure = {
        "barrier": 0.554,
        "etas": [0.138, 0.092, 0.069],
        "mc_mean": [0.53, 0.54, 0.548],
        "mc_half": [0.01, 0.01, 0.01],
        "exact_etas": [],
        "exact": [],
        "mc_limit": [0.55, 0.54, 0.56],
        "landscape": d,
        "minimum": [0.946],
        "saddle": [0.1],
    }
    result = ClaimResult("temperature", "Remark 9", "", "tilted double well", (), figure_data=figure)
    for r in (result, ClaimResult.from_dict(json.loads(json.dumps(result.to_dict(figure=True))))):
        fig, ax = plt.subplots(figsize=(6, 4))
        try:
            catalogue()["temperature"]().draw(r, ax)
            for y in (kept, np.asarray(d["mc"], float) - kept):  # U (the black line), the difference (inset)
                assert any(
                    np.shape(ln.get_ydata()) == y.shape
                    and np.allclose(np.asarray(ln.get_ydata(), float), y, equal_nan=True)
                    and np.allclose(np.asarray(ln.get_xdata(), float), x)
                    for ln in _lines(ax)
                )
            assert _has_point(ax, 0.55, 0.0)  # the extrapolated limit is still drawn
            fig.tight_layout()
        finally:
            plt.close(fig)
