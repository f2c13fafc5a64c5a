"""The Hamiltonians H(x, p) = <b, p> + Lambda(x, p) of the noise models, evaluated stably on rows.

docs/theory.md section 0: H is convex in p with H(x, 0) = 0. The H = 0 local action
(:mod:`numerics.largedev._hamiltonian_action`) and the exact one-dimensional method
(:mod:`numerics.largedev._exact_1d`) need H, its p-derivatives and its x-derivative at many
points; this module provides them as *families* h(x, q) with H(x, p) = B h(x, p / B):

* :class:`MinibatchHamiltonian` -- minibatch noise (batch B, samples l_i, c_i = -grad l_i the
  per-sample steps): h(x, q) = log (1/m) sum_i exp <q, c_i> (the mean step b = mean c_i
  cancels), so G_B = B G_1 exactly. h is a log-sum-exp with the maximum subtracted: the
  lambdified ``log(sum(exp))`` overflows once <q, c_i> > 709, which happens near equilibria
  where the noise vanishes and p ~ 1/|x|;
* :class:`SymbolicHamiltonian` -- any closed-form H of the symbolic layer (Gaussian noise), B = 1;
* :class:`RowScaled` -- h(q / s) row by row, so that the noise (hence q) is O(1) on every row.

A family is prepared at points (``prepare(X)``, returning a per-row noise scale) and then gives
``parts(q) -> (h, grad_q h, Hess_q h)`` and ``hx(q) = d h / d x`` at those points.

Example
-------
>>> import numpy as np
>>> from analysis import model
>>> m = model(variables=["w"], samples=["(w - 1)**2/2", "(w + 1)**2/2"])   # steps c_i = -(w -+ 1)
>>> h = hamiltonian_family(m)
>>> scale = h.prepare(np.array([[0.0]]))                   # c_i = +1, -1 at w = 0
>>> value, _, _ = h.parts(np.array([[1.0]]))
>>> bool(np.isclose(value[0], np.log(np.cosh(1.0))))      # log mean exp(+-q)
True
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from analysis import MinibatchNoise

_TINY = 1e-300


def hamiltonian_family(model):
    """The family h of the model's noise: the stable minibatch one, else the symbolic H."""
    return MinibatchHamiltonian(model) if isinstance(model.noise, MinibatchNoise) else SymbolicHamiltonian(model)


class MinibatchHamiltonian:
    """h(x, q) = log (1/m) sum_i exp <q, c_i(x)>, c_i = -grad l_i; H = B h(x, p/B). Stable lse."""

    def __init__(self, model):
        noise = model.noise
        self.batch = int(noise.batch)
        grads = noise.sample_gradients(model.variables)
        self.m = len(grads)
        d = model.dim
        flat = [model.substitute(-e) for g in grads for e in g]
        self._c = model.function(sp.ImmutableMatrix(self.m * d, 1, flat))
        hess = [model.substitute(-sp.diff(e, v)) for g in grads for e in g for v in model.variables]
        self._dc = model.function(sp.ImmutableMatrix(self.m * d * d, 1, hess))
        self.d = d

    def prepare(self, X):
        """Per-row data: C (n, m, d); returns the row scale max_i |c_i|."""
        n = len(X)
        self.X = X
        self.C = self._c(X).reshape(n, self.m, self.d)
        self._dC = None
        return np.sqrt(np.max(np.einsum("nmd,nmd->nm", self.C, self.C), axis=1))

    def parts(self, q, hess=True):
        """``(h, grad_q h, Hess_q h)`` at the prepared rows (the Hessian None unless ``hess``)."""
        a = np.einsum("nmd,nd->nm", self.C, q)
        amax = np.max(a, axis=1)
        e = np.exp(a - amax[:, None])
        S = e.sum(axis=1)
        w = e / S[:, None]
        h = amax + np.log(S) - np.log(self.m)
        g = np.einsum("nm,nmd->nd", w, self.C)
        if not hess:
            return h, g, None
        Hq = np.einsum("nm,nmd,nme->nde", w, self.C, self.C) - g[:, :, None] * g[:, None, :]
        return h, g, Hq

    def in_cone(self, V, rows):
        """Rows where V is a non-negative combination of the c_i (else G = inf), by NNLS."""
        from scipy.optimize import nnls

        out = np.ones(len(V), dtype=bool)
        for i in np.nonzero(rows)[0]:
            C = self.C[i].T / max(np.abs(self.C[i]).max(), _TINY)
            if not np.all(np.isfinite(C)):
                out[i] = False
                continue
            _, res = nnls(C, V[i], maxiter=50 * C.shape[1])
            out[i] = res <= 1e-9
        return out

    def hx(self, q):
        """d h / d x at (x, q): sum_i w_i (dc_i/dx)^T q."""
        if self._dC is None:
            self._dC = self._dc(self.X).reshape(len(self.X), self.m, self.d, self.d)  # [n, i, a, k] = d c_ia / d x_k
        a = np.einsum("nmd,nd->nm", self.C, q)
        w = np.exp(a - a.max(axis=1, keepdims=True))
        w /= w.sum(axis=1, keepdims=True)
        return np.einsum("nm,nmak,na->nk", w, self._dC, q)


class SymbolicHamiltonian:
    """h = H from the symbolic layer (Gaussian or any closed-form Lambda), lambdified."""

    batch = 1

    def __init__(self, model):
        p = list(model.momenta)
        H = model.hamiltonian
        d = self.d = model.dim
        self._H = model.function(H, extra=p)
        self._Hp = model.function(sp.ImmutableMatrix([sp.diff(H, q) for q in p]), extra=p)
        self._Hpp = model.function(sp.ImmutableMatrix(d * d, 1, [sp.diff(H, a, c) for a in p for c in p]), extra=p)
        self._Hx = model.function(sp.ImmutableMatrix([sp.diff(H, v) for v in model.variables]), extra=p)

    def prepare(self, X):
        """Remember the rows X; returns the row scale max(|b|, sqrt(max |Sigma_ij|))."""
        self.X = X
        n, d = X.shape
        Z = np.concatenate([X, np.zeros_like(X)], axis=1)
        b = self._Hp(Z).reshape(n, d)
        S = self._Hpp(Z).reshape(n, d, d)
        return np.maximum(np.linalg.norm(b, axis=1), np.sqrt(np.abs(S).max(axis=(1, 2))))

    def parts(self, q, hess=True):
        """``(h, grad_q h, Hess_q h)`` at the prepared rows (the Hessian None unless ``hess``)."""
        n, d = q.shape
        Z = np.concatenate([self.X, q], axis=1)
        with np.errstate(over="ignore", invalid="ignore"):
            h = self._H(Z).reshape(n)
            g = self._Hp(Z).reshape(n, d)
            Hq = self._Hpp(Z).reshape(n, d, d) if hess else None
        return h, g, Hq

    def hx(self, q):
        """d h / d x at the prepared rows."""
        n, d = q.shape
        return self._Hx(np.concatenate([self.X, q], axis=1)).reshape(n, d)


class RowScaled:
    """h~(q~) = h(q~ / s) row by row, so that the noise (hence q~) is O(1) on every row."""

    def __init__(self, fam, s):
        self.fam, self.s = fam, s

    def parts(self, qt, hess=True):
        """``parts`` of the family at q = q~ / s, by the chain rule in q~."""
        s = self.s
        h, g, Hq = self.fam.parts(qt / s[:, None], hess)
        return h, g / s[:, None], (None if Hq is None else Hq / (s * s)[:, None, None])


def scalar_hamiltonian(model):
    """H(y, p) for a one-dimensional model as a function of two floats (stable for minibatch noise)."""
    if isinstance(model.noise, MinibatchNoise):
        family = MinibatchHamiltonian(model)
        batch = family.batch

        def H(y, p):
            family.prepare(np.array([[y]]))
            return float(batch * family.parts(np.array([[p / batch]]), hess=False)[0][0])

        return H
    Hs = model.function(model.hamiltonian, extra=list(model.momenta))
    return lambda y, p: float(Hs(np.array([y, p])))
