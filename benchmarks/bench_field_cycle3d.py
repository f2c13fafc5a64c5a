"""3-D fields from a limit cycle against the exact field (run by hand; numbers in the README).

The built-in model ``saddle-cycle-3d``: b = -(1/2) Sigma grad U + grad g1 x grad g2 with U = (g1^2 + g2^2)/2,
g1 = x^2 + y^2 - 1, g2 = z - x y / 2 and a constant anisotropic Sigma, so V = U; its stable cycle {g1 = g2 = 0}
is saddle-shaped. Reported: the transverse form Q(t) against the Hessian of U / 2 on the cycle, and per grid
the max |V - U| over U < 0.4 (the march from the band around the cycle, triangle updates) with the wall time
of the whole field (cycle, band, march; no coarse check).

    python benchmarks/bench_field_cycle3d.py [--quick]
"""

from __future__ import annotations

import sys
import time

import numpy as np

from analysis import load_model
from numerics.field import quasi_potential_field
from numerics.field._cycle_source import transverse_form
from numerics.largedev import find_cycle

EPS = 0.5


def exact_U(X, Y, Z):
    return ((X**2 + Y**2 - 1) ** 2 + (Z - EPS * X * Y) ** 2) / 2


def main(quick: bool = False) -> None:
    m = load_model("saddle-cycle-3d")
    c = find_cycle(m, [0.9, 0.1, 0.1])
    Q = transverse_form(m, c.points, c.period)
    x, y = c.points[:, 0], c.points[:, 1]
    a = np.c_[2 * x, 2 * y, 0 * x]
    b = np.c_[-EPS * y, -EPS * x, np.ones(len(x))]
    exact_Q = (a[:, :, None] * a[:, None, :] + b[:, :, None] * b[:, None, :]) / 2
    print(f"transverse form: max |Q - Hess U / 2| / max |Q| = {np.abs(Q - exact_Q).max() / np.abs(exact_Q).max():.2e}")
    quasi_potential_field(m, cycle=[0.9, 0.1, 0.1], grid=17, check=False)  # compile
    print(f"{'N':>5}  {'max |V - U|, U < 0.4':>22}  {'seconds':>8}")
    for n in (33, 65) if quick else (33, 65, 97, 129):
        t = time.perf_counter()
        f = quasi_potential_field(m, cycle=[0.9, 0.1, 0.1], grid=n, check=False)
        t = time.perf_counter() - t
        U = exact_U(*np.meshgrid(*f.axes, indexing="ij"))
        print(f"{n:>4}^3  {np.abs(f.V - U)[U < 0.4].max():>22.2e}  {t:>8.1f}", flush=True)


if __name__ == "__main__":
    main(quick="--quick" in sys.argv[1:])
