"""The action from the closed-form quasi-potential, when the symbolic layer derived one.

When :func:`analysis.closed_form_quasi_potential` finds V (gradient drift with isotropic noise,
linear drift with constant -- possibly singular -- noise: docs/theory.md sections 1.1, 1.3), the
action from an attractor A to a point x of its basin (or of the basin's boundary, a saddle) is
V(x) - V(A), with no path to discretise: exact up to rounding, in any dimension. The check that
the pair qualifies is numerical: A is a stable equilibrium of the drift and the flow from x (from
a point pushed off x along its unstable directions when x is itself an equilibrium) ends at A.
The path shown is the fluctuation path: the time reverse of phi' = b + Sigma grad V from x to A
(the minimiser of the action when V is the quasi-potential, docs/theory.md section 0).

Example
-------
>>> from analysis import model
>>> m = model(variables=["x", "y"], loss="(x**2 - 1)**2/4 + y**2/2", covariance="1")
>>> a = ClosedFormAction(m)
>>> a.applies_between([-1.0, 0.0], [0.0, 0.0]) is None, round(a.action([-1.0, 0.0], [0.0, 0.0]), 12)
(True, 0.5)
"""

from __future__ import annotations

import numpy as np

from analysis import closed_form_quasi_potential

FLOW_TIME = 1e4
"""Longest time the basin check follows the flow (in units of the model's time)."""


class ClosedFormAction:
    """V(end) - V(start) from the closed form, with the checks that it is the action (see the module)."""

    def __init__(self, model):
        self.model = model
        self.form = closed_form_quasi_potential(model)
        self.drift = model.function("drift")
        self.jac = model.function("jacobian")
        self.cov = model.function("covariance")

    @property
    def available(self) -> bool:
        return self.form.converged and self.form.gradient is not None

    def value(self, x) -> float:
        return float(np.ravel(self.form.numeric(np.asarray(x, float)[None]))[0])

    def _b(self, x):
        return self.drift(np.asarray(x, float)[None]).reshape(-1)

    def _scale(self, x) -> float:
        return 1.0 + float(np.abs(x).max())

    def _is_attractor(self, a) -> bool:
        d = a.size
        if np.linalg.norm(self._b(a)) > 1e-8 * self._scale(a):
            return False
        J = self.jac(a[None]).reshape(d, d)
        return bool(np.all(np.linalg.eigvals(J).real < 0))

    def _flow(self, x0, a, t_max=FLOW_TIME):
        """Integrate phi' = b from x0; (reaches a, trajectory)."""
        from scipy.integrate import solve_ivp

        radius = 1e-4 * self._scale(a)

        def rhs(t, x):
            return self._b(x)

        def near(t, x):
            return np.linalg.norm(x - a) - radius

        near.terminal = True
        try:
            sol = solve_ivp(rhs, (0.0, t_max), x0, method="LSODA", events=near, rtol=1e-8, atol=1e-10)
        except (ValueError, FloatingPointError):
            return False, None
        return bool(sol.status == 1), sol.y.T

    def _departures(self, z):
        """Points from which to follow the flow: z itself, or z pushed along its unstable directions."""
        d = z.size
        if np.linalg.norm(self._b(z)) > 1e-8 * self._scale(z):
            return [z]
        J = self.jac(z[None]).reshape(d, d)
        w, vecs = np.linalg.eig(J)
        out = []
        for k in np.flatnonzero(w.real > 0):
            v = np.real(vecs[:, k])
            v = v / max(np.linalg.norm(v), 1e-300)
            for sign in (1.0, -1.0):
                out.append(z + sign * 1e-6 * self._scale(z) * v)
        return out

    def applies_between(self, start, end) -> str | None:
        """Why V(end) - V(start) is not the action from start to end (None: it is)."""
        if not self.available:
            return self.form.reason
        a, z = np.asarray(start, float), np.asarray(end, float)
        if not self._is_attractor(a):
            return "the closed form gives the action only from an attractor, and the start point is not one"
        for x0 in self._departures(z):
            reached, _ = self._flow(x0, a)
            if reached:
                return None
        return "the end point is not in the basin of the start point (the flow from it does not reach the start)"

    def action(self, start, end) -> float:
        return self.value(end) - self.value(start)

    def path(self, start, end, points: int) -> np.ndarray:
        """The fluctuation path from start to end: phi' = b + Sigma grad V, reversed in time from end."""
        from scipy.integrate import solve_ivp

        a, z = np.asarray(start, float), np.asarray(end, float)
        d = a.size
        grad = self.model.function(self.form.gradient) if self.form.symbolic else None
        fallback = np.linspace(a, z, points)
        if grad is None:
            return fallback

        def rhs(t, x):
            g = grad(x[None]).reshape(d)
            return -(self._b(x) + self.cov(x[None]).reshape(d, d) @ g)

        radius = 1e-3 * self._scale(a)

        def near(t, x):
            return np.linalg.norm(x - a) - radius

        near.terminal = True
        for x0 in self._departures(z):
            try:
                sol = solve_ivp(rhs, (0.0, FLOW_TIME), x0, method="LSODA", events=near, rtol=1e-8, atol=1e-10)
            except (ValueError, FloatingPointError):
                continue
            if sol.status == 1:
                from numerics.largedev._paths import reparametrise

                track = np.vstack([z, sol.y.T[1:], a])[::-1]
                return reparametrise(track, points)
        return fallback
