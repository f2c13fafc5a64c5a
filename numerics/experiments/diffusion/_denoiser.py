"""A score network for image data: a two-layer network that predicts the clean image, with the
skip connection and scalings of Karras et al. (2022, "EDM"), trained on the same DSM loss.

With a_t = e^{-t}, sigma_t^2 = 1 - e^{-2t} (docs/theory.md section 7) write the noisy point in the
scale of the data, y = x / a_t = x_0 + rho_t eps with rho_t = sigma_t / a_t. The network

    D(x, t) = c_skip y + c_out F(c_in y, log(rho_t) / 4),  F(u) = tanh(u W1 + b1) W2 + b2,

    c_skip = s^2 / (s^2 + rho^2),  c_out = rho s / sqrt(s^2 + rho^2),  c_in = 1 / sqrt(s^2 + rho^2)

(s^2 the data variance) estimates E[X_0 | X_t = x], and the noise prediction and score follow as

    eps_theta = (y - D) / rho,   s_theta = -eps_theta / sigma_t.

The loss is the one of :mod:`._train`, E |eps_theta(X_t, t) - eps|^2 = E |D - X_0|^2 / rho^2 (paper
(2.3) with weight sigma_t^2): only the parametrisation differs from :class:`._train.MLPScore`. Why
it is needed for 64-pixel images: with c_skip -> 1 and c_out ~ rho as t -> 0, the identity is
built in and the network only learns a correction of unit size at every t (the scalings make the
input, the target F* = (x_0 - c_skip y) / c_out and the output all of unit variance). Learning the
empirical score then amounts to learning "which training image is nearest" at moderate noise,
something a layer of tanh units can represent with one unit per image.
"""

from __future__ import annotations

import numpy as np

from numerics.experiments.diffusion._train import MLPScore, _ScoreModel, sigma2


def _scalings(t, data_var):
    """(a, rho, c_skip, c_out, c_in, c_noise) per row for forward times t."""
    t = np.asarray(t, dtype=float)
    a = np.exp(-t)
    rho = np.sqrt(sigma2(t)) / a
    rho2 = rho * rho
    c_skip = data_var / (data_var + rho2)
    c_out = rho * np.sqrt(data_var) / np.sqrt(data_var + rho2)
    c_in = 1.0 / np.sqrt(data_var + rho2)
    return a, rho, c_skip, c_out, c_in, 0.25 * np.log(rho)


class DenoiserScore(MLPScore):
    """eps_theta = (y - D) / rho with D = c_skip y + c_out (tanh(u W1 + b1) W2 + b2) (module docstring).

    Example
    -------
    >>> import numpy as np
    >>> m = DenoiserScore(3, hidden=8)
    >>> m.params[-3:] = 0.0; m.params[-3 - 8 * 3 : -3] = 0.0  # F = 0: D = c_skip y
    >>> x, t = np.ones((2, 3)), 0.5
    >>> a, rho, c_skip, *_ = _scalings(t, 1.0)
    >>> np.allclose(m.eps(x, t), (1 - c_skip) * x / a / rho)
    True
    """

    kind = "denoiser"

    def __init__(self, dim: int, *, hidden: int = 256, data_var: float = 1.0, seed: int = 0):
        # the parameters of MLPScore (W1, b1, W2, b2: its _unpack and _hyper) drawn for this parametrisation
        _ScoreModel.__init__(self, dim, data_var=data_var, seed=seed)
        self.hidden = int(hidden)
        rng = np.random.default_rng([seed, 7003])
        d_in, H = dim + 1, self.hidden
        # NTK parametrisation: weights of unit size, layer scales as fixed factors (module docstring)
        self.scale_in, self.scale_out = 2.0 / np.sqrt(d_in), 1.0 / np.sqrt(H)
        W1, b1, W2 = rng.standard_normal((d_in, H)), rng.standard_normal(H), rng.standard_normal((H, dim))
        self.params = np.concatenate([W1.ravel(), b1, W2.ravel(), np.zeros(dim)])

    def _forward(self, x, t):
        x = np.atleast_2d(np.asarray(x, dtype=float))
        t = np.broadcast_to(np.asarray(t, dtype=float), x.shape[:1])
        a, rho, c_skip, c_out, c_in, c_noise = _scalings(t, self.data_var)
        y = x / a[:, None]
        u = np.column_stack([y * c_in[:, None], c_noise])
        W1, b1, W2, b2 = self._unpack()
        h = np.tanh(self.scale_in * (u @ W1) + b1)
        D = c_skip[:, None] * y + c_out[:, None] * (self.scale_out * (h @ W2) + b2)
        return (y - D) / rho[:, None], u, h, c_out / rho

    def eps(self, x, t):
        return self._forward(x, t)[0]

    def denoise(self, x, t):
        """D(x, t), the network's estimate of E[X_0 | X_t = x] (module docstring)."""
        x = np.atleast_2d(np.asarray(x, dtype=float))
        t_arr = np.broadcast_to(np.asarray(t, dtype=float), x.shape[:1])
        a, rho, *_ = _scalings(t_arr, self.data_var)
        return x / a[:, None] - rho[:, None] * self.eps(x, t_arr)

    def loss_grad(self, x, t, target):
        e, u, h, gain = self._forward(x, t)
        W1, b1, W2, b2 = self._unpack()
        r = e - target
        n = len(r)
        dF = -2.0 / n * r * gain[:, None]  # d loss / d F: eps_theta = ... - (c_out / rho) F
        dz = self.scale_out * (dF @ W2.T) * (1.0 - h * h)  # through tanh
        grad = np.concatenate(
            [self.scale_in * (u.T @ dz).ravel(), dz.sum(0), self.scale_out * (h.T @ dF).ravel(), dF.sum(0)]
        )
        return float((r * r).sum() / n), grad
