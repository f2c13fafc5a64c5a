"""Accuracy versus time of the quasi-potential methods. Prints a table.

Run: ``python benchmarks/bench_quasipotential.py``. Every path method of the registry
:data:`numerics.largedev.METHODS` runs on each two-dimensional case; the exact method and gmam's
H = 0 form run on a one-dimensional minibatch case. References: closed forms of docs/theory.md
section 1, Maier-Stein's exact 1/2 for beta <= 4 (Maier and Stein 1993); for beta = 5, 10 no
published value was found, the reference is gMAM at 1025 nodes with Richardson extrapolation
(tolerance 1e-10), marked "gMAM n=1025+R".

A second table times ``method="auto"`` in d = 5, 10, 50 on two chains of d coordinates
(double well in x0, harmonic x1..x_{d-1}, nearest-neighbour coupling 0.1, Sigma = I):
"rotated", b = -(I - R) grad W with R the antisymmetric tridiagonal rotation of strength 0.5
(non-gradient and non-linear: no closed form, gMAM runs; exact V = 2 W by the orthogonal
decomposition, docs/theory.md section 1.4), and "gradient", b = -grad W (the closed form
2 (W - W(min)) is used). Goals: d = 10 under 10 s, d = 50 under 2 min.
"""

from __future__ import annotations

import time

import numpy as np
from scipy.linalg import solve_continuous_lyapunov

from analysis import load_model, model
from numerics.largedev import METHODS, quasi_potential
from numerics.report import text_table

PATH_METHODS = [name for name, method in METHODS.items() if method.order is not None]


def cases():
    ms = load_model("maier-stein")
    yield "Maier-Stein beta=3", ms.with_parameters(beta=3), [-1, 0], [0, 0], 0.5, "exact 1/2"
    for beta in (5, 10):
        m = ms.with_parameters(beta=beta)
        ref = quasi_potential(m, [-1, 0], [0, 0], tolerance=1e-10, max_points=1025).action
        yield f"Maier-Stein beta={beta}", m, [-1, 0], [0, 0], ref, "gMAM n=1025+R"
    A = np.array([[1.0, -3.0], [0.0, 2.0]])
    S = np.array([[1.0, 0.5], [0.5, 2.0]])
    P = solve_continuous_lyapunov(A, S)
    x = np.array([0.8, -0.6])
    lin = model(variables=["x", "y"], drift=["-x + 3*y", "-2*y"], covariance=[["1", "1/2"], ["1/2", "2"]])
    yield "linear non-normal, anisotropic", lin, [0, 0], x, 0.5 * x @ np.linalg.solve(P, x), "Lyapunov"
    rot = model(variables=["x", "y"], drift=["-(x + x**3) - 6*y", "-2*y + 3*(x + x**3)"], covariance="1")
    yield "rotational b=-grad W+3J grad W", rot, [0, 0], [0.7, 0.4], 2 * (0.7**2 / 2 + 0.16 + 0.7**4 / 4), "2W"
    xm = np.sort(np.roots([1, 0, -1, 0.05]).real)
    dw = model(variables=["x", "y"], loss="(x**2 - 1)**2/4 + x/20 + y**2/2", covariance="1/2")
    F = lambda v: (v**2 - 1) ** 2 / 4 + v / 20
    yield "tilted double well 2-D", dw, [xm[0], 0], [xm[1], 0], 4 * (F(xm[1]) - F(xm[0])), "2 dF/sigma^2"


def chain(d: int, rotation: float | None, kappa: float = 0.1):
    """The d-dimensional chain of the high-dimension table: (model, attractor, exact action to 0)."""
    import sympy as sp
    from scipy.optimize import root

    xs = sp.symbols(f"x0:{d}")
    W = (xs[0] ** 2 - 1) ** 2 / 4 + sum(x**2 / 2 for x in xs[1:])
    W += sum(sp.Rational(kappa).limit_denominator(1000) * (xs[i] - xs[i + 1]) ** 2 / 2 for i in range(d - 1))
    names = [str(x) for x in xs]
    if rotation is None:
        m = model(variables=names, loss=str(W), covariance="1")
    else:
        g = [sp.diff(W, x) for x in xs]
        c = sp.Rational(rotation).limit_denominator(1000)
        drift = [-g[i] + (c * g[i + 1] if i + 1 < d else 0) - (c * g[i - 1] if i else 0) for i in range(d)]
        m = model(variables=names, drift=[str(sp.expand(e)) for e in drift], covariance="1")
    f = m.function("drift")
    a = root(lambda x: f(x[None]).ravel(), np.r_[-1.0, np.zeros(d - 1)], tol=1e-14).x
    Wf = sp.lambdify(xs, W)
    return m, a, 2 * (Wf(*np.zeros(d)) - Wf(*a))


def high_dimension(dims=(5, 10, 50)):
    """Rows of the high-dimension table: ``method="auto"`` from the attractor to the saddle at 0."""
    rows = []
    for d in dims:
        for kind, rotation in (("rotated", 0.5), ("gradient", None)):
            m, a, exact = chain(d, rotation)
            t = time.perf_counter()
            r = quasi_potential(m, a, np.zeros(d))
            dt = time.perf_counter() - t
            rows.append(
                [
                    d,
                    kind,
                    r.method,
                    r.points,
                    f"{r.action:.12g}",
                    f"{abs(r.action - exact) / exact:.1e}",
                    f"{dt:.2f}",
                    r.converged,
                ]
            )
    return rows


def main():
    rows = []
    for name, m, a, b, ref, refname in cases():
        for method in PATH_METHODS:
            t = time.perf_counter()
            r = quasi_potential(m, a, b, method=method)
            dt = time.perf_counter() - t
            rows.append(
                (
                    method,
                    name,
                    r.points,
                    r.action,
                    ref,
                    refname,
                    abs(r.action - ref) / abs(ref),
                    r.error_estimate / abs(ref),
                    dt,
                    r.converged,
                )
            )
    mb = model(variables=["w"], samples=["(w**2 - 1)**2/4 + 31*w/20", "(w**2 - 1)**2/4 - 29*w/20"])
    roots = np.sort(np.roots([1, 0, -1, 0.05]).real)
    t = time.perf_counter()
    ex = quasi_potential(mb, [roots[0]], [roots[1]], method="exact")
    dt = time.perf_counter() - t
    t = time.perf_counter()
    gm = quasi_potential(mb, [roots[0]], [roots[1]], method="gmam")
    dt2 = time.perf_counter() - t
    rows.append(
        (
            "exact",
            "minibatch 1-D (2 samples)",
            ex.points,
            ex.action,
            ex.action,
            "itself",
            0.0,
            ex.error_estimate / ex.action,
            dt,
            ex.converged,
        )
    )
    rows.append(
        (
            "gmam (H=0)",
            "minibatch 1-D (2 samples)",
            gm.points,
            gm.action,
            ex.action,
            "exact root",
            abs(gm.action - ex.action) / ex.action,
            gm.error_estimate / ex.action,
            dt2,
            gm.converged,
        )
    )
    headers = [
        "method",
        "case",
        "points",
        "action",
        "reference",
        "ref. source",
        "rel. error",
        "est. rel. error",
        "seconds",
        "converged",
    ]
    print(
        text_table(
            headers,
            [
                [
                    r[0],
                    r[1],
                    r[2],
                    f"{r[3]:.12g}",
                    f"{r[4]:.12g}",
                    r[5],
                    f"{r[6]:.1e}",
                    f"{r[7]:.1e}",
                    f"{r[8]:.2f}",
                    r[9],
                ]
                for r in rows
            ],
        )
    )

    print()
    print("High dimension (method auto; seconds include the closed-form derivation when it is used)")
    print(
        text_table(
            ["d", "drift", "method", "points", "action", "rel. error vs 2 dW", "seconds", "converged"],
            high_dimension(),
        )
    )


if __name__ == "__main__":
    main()
