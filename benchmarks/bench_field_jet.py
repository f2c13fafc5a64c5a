"""Accuracy and time of the jet marcher (numerics.field._jet) on the exact fields of bench_field.py.

Run: ``python benchmarks/bench_field_jet.py [--quick] [--2d]`` (``--quick``: 2-D up to 513, 3-D 33 only;
``--2d``: no 3-D; 3-D is slow, about 3 minutes at 33^3, see numerics/field/_jet.py).
One thread (the march is sequential). Fields, region and the relative error as in bench_field.py:
nodes with |x| > 0.1 and U below the region's level. Two error columns: (a) max |V - U| / U (pointwise
relative, as bench_field.py); (b) max |V - U| / max U over the same region (normalised maximum error:
Paskal and Cameron report max |V - U| over their region divided by max U there, the kind of number
behind their 8e-7 at 1025^2). "order" is log2 of the ratio of successive (a) errors; the gradient column
is max |grad V - grad U| / max |grad U| over the region. Time: the kernel on one core, compilation
excluded (a warm-up call runs first), the nested fine march around the source included (on by default
where its grid has at most 20% of the nodes: 1025^2 here). K is the largest reach (each node's own is
adaptive, see numerics.field._jet.default_jet_radius).
"""

from __future__ import annotations

import os

os.environ["NUMBA_NUM_THREADS"] = "1"

import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from bench_field import field_2d, field_2d_nonlinear, field_3d  # noqa: E402

from analysis._format import text_table  # noqa: E402
from numerics.field._jet import jet_march  # noqa: E402


def grad_u(x, name):
    """grad U of the bench fields (U as in bench_field.py)."""
    if name.startswith("2-D nonlinear"):
        X, Y = x[..., 0], x[..., 1]
        return np.stack([2 * X + 2 * X**3, 4 * Y + 4 * Y**3], axis=-1)
    D = np.diag([1.0, 2.0, 3.0][: x.shape[-1]])
    return 2 * x @ D


def measure(name, g, x, b, M, U, D, region):
    r = jet_march(g, [np.zeros(g.ndim)], drift=b, metric=M, quadratic=[D])
    m = region & (np.linalg.norm(x, axis=-1) > 0.1)
    e = np.abs(r.V - U)[m]
    gu = grad_u(x, name)[m]
    ge = np.max(np.linalg.norm(r.gradient[m] - gu, axis=-1)) / np.max(np.linalg.norm(gu, axis=-1))
    return float(np.max(e / U[m])), float(e.max() / U[m].max()), float(ge), r.seconds, r.radius, r.n_one_point_final


def main(quick: bool = False, only_2d: bool = False) -> None:
    jet_march(*field_2d(33, 1.0)[:1], [[0.0, 0.0]], drift=field_2d(33, 1.0)[2])  # compile
    ns2 = (129, 257, 513) if quick else (129, 257, 513, 1025)
    series = [
        ("2-D linear c=1", lambda n: field_2d(n, 1.0), ns2),
        ("2-D linear c=5", lambda n: field_2d(n, 5.0), ns2),
        ("2-D nonlinear Sigma(x)", field_2d_nonlinear, ns2),
    ]
    if not only_2d:
        series.append(("3-D R", field_3d, (33,) if quick else (33, 65, 129)))
    rows = []
    for name, build, ns in series:
        prev = None
        for n in ns:
            rel, nrm, ge, sec, K, n1 = measure(name, *build(n))
            order = "" if prev is None else f"{np.log2(prev / rel):.2f}"
            prev = rel
            size = f"{n}^{2 if name.startswith('2-D') else 3}"
            rows.append([name, size, K, f"{rel:.2e}", order, f"{nrm:.2e}", f"{ge:.2e}", n1, f"{sec:.2f}"])
            print(rows[-1], flush=True)
    head = ["field", "N", "K", "(a) max rel err", "order", "(b) max err / max U", "grad err", "1-pt nodes", "s"]
    print()
    print(text_table(head, rows))


if __name__ == "__main__":
    t0 = time.perf_counter()
    main(quick="--quick" in sys.argv[1:], only_2d="--2d" in sys.argv[1:])
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
