"""Generated kernels (numerics.sgd._kernels): readable names, name clashes, the compile cache.

The numerical behaviour of the compiled kernels is tested in test_simulate.py; here the
generated source is run as plain Python (numba's decorators replaced by no-ops), which is
cheap and checks the same code.
"""

from __future__ import annotations

import builtins
import io
import keyword
import tokenize

import numpy as np
import pytest

from analysis import model
from numerics.sgd._kernel_step import RESERVED
from numerics.sgd._kernels import generate, load
from numerics.sgd._rng import chain_keys
from numerics.sgd._state import RunConstants, new_state

FULL_2D = dict(
    variables=["x", "y"],
    loss="(x**2 - 1)**2/4 + eps*(x - y)**2/2",
    covariance=[["1 + x**2/4", "x*y/4"], ["x*y/4", "1 + y**2/4"]],
    parameters={"eps": 0.05},
    slow=["y"],
    epsilon="eps",
    bounds=[[-2.5, 2.5], [-2.5, 2.5]],
)
CONFIGS = [  # (model keywords, label mode, joint histogram): every code path of the generator
    (FULL_2D, "table", True),
    (dict(variables=["x", "y"], loss="x**4/4 + y**2/2", covariance="1 + x**2", bounds=[[-2, 2]] * 2), "nearest", False),
    (dict(variables=["w"], loss="(w - c)**2/2", covariance="s", parameters={"c": 1, "s": 2}), "none", False),
    (
        dict(
            variables=["x", "y", "z"],
            samples=["(x - 1)**2 + y**2 + z**2", "(x + 1)**2 + (y - z)**2"],
            batch=2,
            bounds=[[-2, 2]] * 3,
        ),
        "table",
        False,
    ),
]


def _run_function(source):
    """The generated ``run_chunk`` as a plain Python function (no compilation)."""
    source = source.replace("from numba import njit, prange", "njit = lambda *a, **k: (lambda f: f)\nprange = range")
    namespace: dict = {}
    exec(compile(source, "<kernel>", "exec"), namespace)  # noqa: S102 - generated code under test
    return namespace["run_chunk"]


def test_generated_source_reads_like_hand_written_code():
    plan = generate(model(**FULL_2D), label_mode="table", joint=True)
    src = plan.source
    assert plan.noise == "full" and plan.slow == (False, True) and [str(p) for p in plan.parameters] == ["eps"]
    # the model's own names, one meaning per line, and comments saying what each block does
    for line in [
        "eps = run.parameters[0]",
        "chol_y_x = (cov_y_x) / chol_x_x if chol_x_x > 0.0 else 0.0",
        "new_y = y + step_slow * (drift_y + chol_y_x * normal_x + chol_y_y * normal_y)",
        "if not (abs(new_x - centre_x) <= radius_x and abs(new_y - centre_y) <= radius_y):",
        "label = table_labels[(int(cell_x)) * table_cells_y + int(cell_y)]",
        "joint_histogram[chain, int(joint_x), int(joint_y)] += 1",
        "transitions[chain, basin, label] += 1",
        "# ---- divergence: stop at the first state outside the box (a NaN fails the test too)",
    ]:
        assert line in src, line
    assert "p0" not in src and "x0 " not in src and "t_0" not in src  # no positional symbols left


@pytest.mark.parametrize("keywords, label_mode, joint", CONFIGS)
def test_every_single_word_name_of_the_template_is_reserved(keywords, label_mode, joint):
    # model names without an underscore are used as they are unless RESERVED: so every
    # underscore-free identifier the generator itself writes must be in RESERVED
    m = model(**keywords)
    src = generate(m, label_mode=label_mode, joint=joint).source
    body = src[src.index("def run_chunk") :]
    tokens = list(tokenize.generate_tokens(io.StringIO(body).readline))
    names = {
        t.string
        for before, t in zip(tokens, tokens[1:])  # identifiers, not attributes (a.shape)
        if t.type == tokenize.NAME and before.string != "."
    }
    own = {str(v) for v in m.variables} | {str(p) for p, _ in m.parameters}
    single = {n for n in names if "_" not in n} - own
    loose = {n for n in single if not keyword.iskeyword(n) and not hasattr(builtins, n) and n not in RESERVED}
    assert not loose


def test_names_that_clash_become_positional_and_the_numbers_do_not_change():
    # the same chain with its variable and parameter called x, a (readable) or step, key (clashing)
    def chain(var, par):
        m = model(
            variables=[var],
            loss=f"{par}*{var}**2/2 + {var}**4/4",
            covariance=f"1 + {var}**2",
            parameters={par: -1},
            bounds=[[-2, 2]],
            name="clash",
        )
        plan = generate(m, label_mode="nearest", joint=False)
        chains, steps = 3, 60
        state = new_state(np.full((chains, 1), 0.3), basins=2, bins=10, joint_bins=0)
        run = RunConstants(
            keys=chain_keys(4, chains),
            burn_in=5,
            record_every=0,
            parameters=np.array([-1.0]),
            schedule=np.array([0.1, np.inf, 0.0] * 2),
            noise_cholesky=np.zeros((1, 1)),
            box_centre=np.zeros(1),
            divergence_radius=np.array([1e3]),
            hist_low=np.array([-2.0]),
            hist_scale=np.array([2.5]),
            joint_scale=np.zeros(2),
            table_low=np.zeros(1),
            table_scale=np.ones(1),
            table_shape=np.ones(1, np.int64),
            table_labels=np.full(1, -1, np.int32),
            minima=np.array([[-1.0], [1.0]]),
        )
        with np.errstate(over="ignore"):  # uint64 arithmetic of the generator wraps by design
            _run_function(plan.source)(state.kernel_arrays(), run, 0, steps, np.array([1, 0, 1]), np.zeros((0, 3, 1)))
        return plan.source, state

    readable, a = chain("x", "a")
    clashing, b = chain("step", "key")
    assert "drift_x = " in readable and "a = run.parameters[0]" in readable
    for line in ("drift_0 = ", "param_0 = run.parameters[0]", "theta_0 = theta[chain, 0]"):
        assert line in clashing, line
    for name in ("theta", "occupation", "histogram", "transitions", "exit_count", "batch_counts"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.occupation.sum() == 3 * 55 and a.histogram.sum() > 0  # 55 recorded steps per chain


def test_cache_file_is_keyed_by_the_source(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMDYN_CACHE_DIR", str(tmp_path))
    m = model(variables=["u"], loss="(u - 0.125)**2/2", covariance="1", name="cache probe")
    plan = generate(m, label_mode="none", joint=False)
    assert generate(m, label_mode="none", joint=False).digest == plan.digest  # deterministic
    other = generate(m, label_mode="nearest", joint=False)
    assert other.digest != plan.digest and other.source != plan.source
    module = load(plan)  # loading does not compile (numba is lazy)
    path = tmp_path / "kernels" / f"memdyn_kernel_{plan.digest}.py"
    assert path.read_text() == plan.source and callable(module.run_chunk)
    assert load(plan) is module  # the in-process cache
