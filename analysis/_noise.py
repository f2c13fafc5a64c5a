"""Noise models: each states its covariance and its cumulant generating function.

Conventions (docs/theory.md section 0): SGD is theta_{n+1} = theta_n + eta (b + zeta), zeta the
*increment* noise, Lambda(theta, p) = log E exp<p, zeta>, Hamiltonian H = <b, p> + Lambda.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sympy as sp

from ._errors import ModelError
from ._sympy_guard import _guarded, guarded_simplify


@dataclass(frozen=True)
class GaussianNoise:
    """Gaussian increment noise with covariance ``Sigma(theta)`` (a d x d matrix).

    Facts: Lambda = p^T Sigma p / 2; the Lagrangian is (v - b)^T Sigma^{-1} (v - b) / 2.
    """

    covariance: sp.ImmutableMatrix
    kind: str = "gaussian"

    def __post_init__(self):
        cov = sp.ImmutableMatrix(self.covariance)
        if cov.shape[0] != cov.shape[1]:
            raise ModelError(f"noise covariance must be square, got shape {cov.shape[0]}x{cov.shape[1]}")
        object.__setattr__(self, "covariance", cov)

    @property
    def is_isotropic(self) -> bool:
        """True when Sigma = s(theta) I."""
        c = self.covariance
        d = c.shape[0]
        return all(
            _guarded(lambda e=c[i, j] - (c[0, 0] if i == j else 0): sp.simplify(e), 5, None, what="isotropy test") == 0
            for i in range(d)
            for j in range(d)
        )

    def cumulant(self, variables, p, drift) -> sp.Expr:
        """Lambda(theta, p) = p^T Sigma p / 2."""
        pv = sp.Matrix(p)
        return sp.expand((pv.T * self.covariance * pv)[0, 0] / 2)


@dataclass(frozen=True)
class MinibatchNoise:
    """Minibatch noise: F = (1/m) sum_i l_i, and each step uses ``batch`` samples drawn
    uniformly with replacement, so zeta = grad F - (1/B) sum_{k<B} grad l_{I_k}.

    Facts: Sigma = (1/B) (1/m) sum_i (g_i - g)(g_i - g)^T with g_i = grad l_i, g = grad F;
    Lambda_B(p) = B log (1/m) sum_i exp <p/B, g - g_i>  (docs/theory.md section 0, B = 1).
    """

    samples: tuple
    batch: int = 1
    kind: str = "minibatch"

    def __post_init__(self):
        if len(self.samples) == 0:
            raise ModelError("minibatch noise needs at least one per-sample loss in [noise] samples")
        if int(self.batch) != self.batch or self.batch < 1:
            raise ModelError(f"minibatch batch size must be a positive integer, got {self.batch}")
        object.__setattr__(self, "samples", tuple(sp.sympify(s) for s in self.samples))

    @property
    def mean_loss(self) -> sp.Expr:
        return sp.Add(*self.samples) / len(self.samples)

    def sample_gradients(self, variables) -> list[sp.Matrix]:
        return [sp.Matrix([sp.diff(s, v) for v in variables]) for s in self.samples]

    def covariance_of(self, variables) -> sp.Matrix:
        grads = self.sample_gradients(variables)
        g = sum(grads, sp.zeros(len(variables), 1)) / len(grads)
        cov = sum(((gi - g) * (gi - g).T for gi in grads), sp.zeros(len(variables)))
        return (cov / (len(grads) * self.batch)).applyfunc(lambda e: guarded_simplify(e, "the minibatch covariance"))

    def cumulant(self, variables, p, drift) -> sp.Expr:
        grads = self.sample_gradients(variables)
        g = sum(grads, sp.zeros(len(variables), 1)) / len(grads)
        pv = sp.Matrix(p) / self.batch
        terms = [sp.exp((pv.T * (g - gi))[0, 0]) for gi in grads]
        return self.batch * sp.log(sp.Add(*terms) / len(terms))


def check_psd_on_grid(cov_fn, bounds: Sequence[Sequence[float]], d: int, *, points: int = 256) -> None:
    """Raise ModelError if Sigma is not symmetric PSD at points of the domain.

    The points are a scrambled Sobol set plus the box corners and centre; a tolerance
    of 1e-10 relative to the largest eigenvalue absorbs rounding.
    """
    import numpy as np
    from scipy.stats import qmc

    lo = np.array([b[0] for b in bounds], dtype=float)
    hi = np.array([b[1] for b in bounds], dtype=float)
    pts = qmc.Sobol(d, scramble=True, seed=0).random(points)
    corners = np.array(np.meshgrid(*[[0.0, 1.0]] * d)).reshape(d, -1).T if d <= 8 else np.zeros((0, d))
    unit = np.vstack([pts, corners, np.full((1, d), 0.5)])
    X = lo + unit * (hi - lo)
    with np.errstate(all="ignore"):  # a non-finite entry is reported below, by point
        C = cov_fn(X)
    if not np.all(np.isfinite(C)):
        k = int(np.argmax(~np.isfinite(C).reshape(len(X), -1).all(axis=1)))
        raise ModelError(f"noise covariance is not finite at {X[k].round(6).tolist()}")
    asym = np.abs(C - np.swapaxes(C, -1, -2)).max()
    if asym > 1e-10 * max(1.0, np.abs(C).max()):
        raise ModelError("noise covariance is not symmetric")
    eig = np.linalg.eigvalsh(C)
    scale = max(1.0, float(np.abs(eig).max()))
    bad = eig.min(axis=1) < -1e-10 * scale
    if bad.any():
        k = int(np.argmax(bad))
        raise ModelError(
            f"noise covariance is not positive semi-definite on the domain: at {X[k].round(6).tolist()} "
            f"it has eigenvalue {eig[k].min():.6g}"
        )
