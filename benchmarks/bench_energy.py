"""Wall time of ``predict`` (``memdyn energy``) in high dimension and on degenerate minima. Prints a table.

Run: ``python benchmarks/bench_energy.py [d]`` (default d = 10). Cases, each in d dimensions:

* gradient double well along x0, quadratic in the other coordinates, constant isotropic noise: the
  costs come from the closed-form quasi-potential 2 (F(s) - F(m)) / sigma^2 (no path solve);
* the same drift with a rotational part added in the (x0, x1) plane that keeps it non-gradient (no closed
  form: gMAM path solves in d dimensions);
* a flat (quartic) minimum tied with a quadratic one along x0 (degenerate attractor, the sphere test);
* a circle of minima in (x0, x1), quadratic elsewhere (a continuum traced in d dimensions).

Each row: the time of a fresh ``predict`` (the model's caches are cold: critical points, lambdified
functions, the closed form) and of the critical-point search alone. Targets: under 30 s at d = 10.
"""

from __future__ import annotations

import sys
import time

from analysis import critical_points, model
from numerics.largedev import predict
from numerics.report import text_table


def _quadratic_rest(d: int) -> str:
    return " + ".join(f"{(k + 1) / 2}*x{k}**2/2" for k in range(1, d))


def cases(d: int):
    vs = [f"x{k}" for k in range(d)]
    bounds = [[-2, 2]] * d
    rest = _quadratic_rest(d)
    yield (
        "gradient double well",
        dict(variables=vs, loss=f"(x0**2 - 1)**2/4 + x0/10 + {rest} + x0**2*x1**2/4", covariance="1", bounds=bounds),
    )
    drift = ["-(x0**3 - x0 + 1/10) - x0*x1**2/2 - x1/2", "-x1 - x0**2*x1/2 + x0/2"]
    drift += [f"-{(k + 1) / 2}*x{k}" for k in range(2, d)]
    yield "non-gradient (gMAM)", dict(variables=vs, drift=drift, covariance="1", bounds=bounds)
    yield (
        "flat + quadratic minimum",
        dict(variables=vs, loss=f"(x0 + 1)**2*(x0 - 1)**4/16 + {rest}", covariance="1", bounds=bounds),
    )
    rest2 = " + ".join(f"{(k + 1) / 2}*x{k}**2/2" for k in range(2, d))
    yield (
        "circle of minima",
        dict(variables=vs, loss=f"(x0**2 + x1**2 - 1)**2 + {rest2}", covariance="1", bounds=bounds),
    )


def main(d: int = 10) -> None:
    rows = []
    for name, spec in cases(d):
        t0 = time.perf_counter()
        cps = critical_points(model(**spec))
        t_cp = time.perf_counter() - t0
        t0 = time.perf_counter()
        r = predict(model(**spec), eta=0.1)
        t_all = time.perf_counter() - t0
        rows.append([name, d, len(cps), len(r.attractors), r.converged, f"{t_cp:.1f}", f"{t_all:.1f}"])
    print(text_table(["case", "d", "critical points", "attractors", "converged", "search s", "predict s"], rows))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
