"""Score models trained by constant-step SGD on the denoising score-matching loss.

Loss (paper (2.3), docs/theory.md section 7) with the usual weight lambda(t) = sigma_t^2,
sigma_t^2 = 1 - e^{-2t}:

    E || sigma_t s_theta(X_t, t) + eps ||^2,   X_t = e^{-t} X_0 + sigma_t eps,

i.e. the mean-square error of the noise prediction eps_theta = -sigma_t s_theta. For each t it
has the same minimiser over all functions as (2.3) (the score of p_t; for an empirical X_0
the memorizing score of the mixture (1/N) sum N(e^{-t} x_i, sigma_t^2 I)); the weight keeps
the gradient noise bounded as t -> 0. Training draws X_0 uniformly from the training set,
t log-uniformly on [t_min, T] (the sampler's geometric grid spends its steps the same way)
and eps ~ N(0, I); one minibatch per step, theta <- theta - eta * grad.

Models (both map the input u = (c_in(t) x, log sigma_t), c_in = (e^{-2t} s^2 + sigma_t^2)^{-1/2}
with s^2 the data variance, so the input stays of order one at every t):

* :class:`LinearScore` -- linear in its parameters: random Fourier features cos(u W + b)
  plus u itself and a constant; the loss is quadratic in theta.
* :class:`MLPScore` -- a two-layer tanh network with hand-written (analytic) gradients.

Randomness of step k comes from ``default_rng([seed, k])``, so a run resumed from a
checkpoint (:func:`numerics.report._files.save_npz_atomic`) repeats the uninterrupted run exactly.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from analysis._errors import InputError, SolverError
from analysis._result import Result
from numerics.report._files import save_npz_atomic

DIVERGED_LOSS = 1e6  # a noise-prediction loss is ~dim at worst for a sane model; 1e6 means blown up


def single_thread_blas():
    """A context with BLAS on one thread (threadpoolctl, a dependency of memdyn; skipped if it is missing).

    Why: OpenBLAS splits a product like ``u.T @ dz`` differently with 1 and 2 threads and the last bits
    of the result change; over thousands of SGD steps they grow into different runs. One thread keeps
    "same seed, same numbers" whatever the machine (and the products here are too small to gain from more).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - then the BLAS's own threading decides
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def sigma2(t):
    """sigma_t^2 = 1 - e^{-2t}, the variance of X_t given X_0."""
    return -np.expm1(-2 * np.asarray(t, dtype=float))


class _ScoreModel:
    kind = "base"

    def __init__(self, dim: int, *, data_var: float = 1.0, seed: int = 0):
        self.dim = int(dim)
        self.data_var = float(data_var)
        self.seed = int(seed)

    def inputs(self, x, t) -> np.ndarray:
        x = np.atleast_2d(np.asarray(x, dtype=float))
        t = np.broadcast_to(np.asarray(t, dtype=float), x.shape[:1])
        s2 = sigma2(t)
        c_in = 1.0 / np.sqrt(np.exp(-2 * t) * self.data_var + s2)
        return np.column_stack([x * c_in[:, None], 0.5 * np.log(s2)])

    def config(self) -> dict:
        return {"kind": self.kind, "dim": self.dim, "data_var": self.data_var, "seed": self.seed, **self._hyper()}

    def score(self, x, t) -> np.ndarray:
        """s_theta(x, t) = -eps_theta(x, t) / sigma_t."""
        t_arr = np.broadcast_to(np.asarray(t, dtype=float), np.atleast_2d(x).shape[:1])
        return -self.eps(x, t) / np.sqrt(sigma2(t_arr))[:, None]

    __call__ = score


class LinearScore(_ScoreModel):
    """eps_theta(x, t) = phi(u)^T theta, phi = (sqrt(2/p) cos(u W + b), u, 1): linear in theta.

    ``bandwidth`` is the standard deviation of the random frequencies W (larger = finer).
    """

    kind = "linear"

    def __init__(self, dim: int, *, features: int = 256, bandwidth: float = 3.0, data_var: float = 1.0, seed: int = 0):
        super().__init__(dim, data_var=data_var, seed=seed)
        self.features, self.bandwidth = int(features), float(bandwidth)
        rng = np.random.default_rng([seed, 7001])
        self.W = bandwidth * rng.standard_normal((dim + 1, self.features))
        self.b = rng.uniform(0, 2 * np.pi, self.features)
        self.params = np.zeros((self.features + dim + 2) * dim)

    def _hyper(self):
        return {"features": self.features, "bandwidth": self.bandwidth}

    def _phi(self, u):
        return np.column_stack([np.sqrt(2.0 / self.features) * np.cos(u @ self.W + self.b), u, np.ones(len(u))])

    def eps(self, x, t):
        return self._phi(self.inputs(x, t)) @ self.params.reshape(-1, self.dim)

    def loss_grad(self, x, t, target):
        phi = self._phi(self.inputs(x, t))
        r = phi @ self.params.reshape(-1, self.dim) - target
        n = len(r)
        return float((r * r).sum() / n), (2.0 / n * phi.T @ r).ravel()


class MLPScore(_ScoreModel):
    """eps_theta(x, t) = tanh(u W1 + b1) W2 + b2, gradients by hand (backpropagation)."""

    kind = "mlp"

    def __init__(self, dim: int, *, hidden: int = 64, data_var: float = 1.0, seed: int = 0):
        super().__init__(dim, data_var=data_var, seed=seed)
        self.hidden = int(hidden)
        rng = np.random.default_rng([seed, 7002])
        d_in, H = dim + 1, self.hidden
        W1 = rng.standard_normal((d_in, H)) * 2.0 / np.sqrt(d_in)  # O(1) pre-activations over the inputs
        b1 = rng.standard_normal(H)
        W2 = rng.standard_normal((H, dim)) / np.sqrt(H)
        self.params = np.concatenate([W1.ravel(), b1, W2.ravel(), np.zeros(dim)])

    def _hyper(self):
        return {"hidden": self.hidden}

    def _unpack(self):
        d_in, H, d = self.dim + 1, self.hidden, self.dim
        p = self.params
        # params = (W1, b1, W2, b2) flattened in this order
        ends = np.cumsum([d_in * H, H, H * d])
        W1 = p[: ends[0]].reshape(d_in, H)
        b1 = p[ends[0] : ends[1]]
        W2 = p[ends[1] : ends[2]].reshape(H, d)
        return W1, b1, W2, p[ends[2] : ends[2] + d]

    def eps(self, x, t):
        W1, b1, W2, b2 = self._unpack()
        return np.tanh(self.inputs(x, t) @ W1 + b1) @ W2 + b2

    def loss_grad(self, x, t, target):
        W1, b1, W2, b2 = self._unpack()
        u = self.inputs(x, t)
        h = np.tanh(u @ W1 + b1)
        r = h @ W2 + b2 - target
        n = len(r)
        de = 2.0 / n * r  # d loss / d eps_theta
        dz = (de @ W2.T) * (1.0 - h * h)  # through tanh
        grad = np.concatenate([(u.T @ dz).ravel(), dz.sum(0), (h.T @ de).ravel(), de.sum(0)])
        return float((r * r).sum() / n), grad


class KernelScore(_ScoreModel):
    """The score of the training set smoothed by a Gaussian kernel of learned bandwidth h:
    s_h(x, t) = grad log (1/N) sum_i N(x; e^{-t} x_i, (e^{-2t} h^2 + sigma_t^2) I).

    One parameter, h (its sign is irrelevant). h = 0 is the memorizing optimum of the DSM
    loss (the exact empirical score); h > 0 is a kernel density estimate pushed through the
    forward process, which generalises. The training points are part of the model.
    """

    kind = "kernel"

    def __init__(self, dim: int, *, points=None, bandwidth: float = 0.5, data_var: float = 1.0, seed: int = 0):
        super().__init__(dim, data_var=data_var, seed=seed)
        if points is None:
            raise InputError("the kernel score model needs the training points")
        self.points = np.atleast_2d(np.asarray(points, dtype=float))
        self.bandwidth0 = float(bandwidth)
        self.params = np.array([self.bandwidth0])

    def _hyper(self):
        return {"bandwidth": self.bandwidth0, "points_sum": float(np.round(self.points.sum(), 10))}

    def _parts(self, x, t):
        x = np.atleast_2d(np.asarray(x, dtype=float))
        t = np.broadcast_to(np.asarray(t, dtype=float), x.shape[:1])
        a = np.exp(-t)[:, None]
        s = np.sqrt(sigma2(t))[:, None]
        v = a * a * self.params[0] ** 2 + s * s
        diff = x[:, None, :] - a[:, :, None] * self.points[None, :, :]
        D = np.einsum("nkd,nkd->nk", diff, diff)
        logw = -D / (2 * v)
        logw -= logw.max(axis=1, keepdims=True)
        r = np.exp(logw)
        r /= r.sum(axis=1, keepdims=True)
        return x, a, s, v, D, r

    def eps(self, x, t):
        x, a, s, v, D, r = self._parts(x, t)
        return s * (x - a * (r @ self.points)) / v

    def loss_grad(self, x, t, target):
        x, a, s, v, D, r = self._parts(x, t)
        m = r @ self.points
        e = s * (x - a * m) / v
        res = e - target
        n = len(res)
        # d r_i / d v = r_i (D_i - sum_j r_j D_j) / (2 v^2), and dv/dh = 2 a^2 h
        dm_dv = (r * (D - (r * D).sum(1, keepdims=True))) @ self.points / (2 * v * v)
        de_dv = -s * a * dm_dv / v - e / v
        de_dh = de_dv * 2 * a * a * self.params[0]
        return float((res * res).sum() / n), np.array([2.0 / n * (res * de_dh).sum()])


def make_score_model(kind: str, dim: int, *, data_var: float = 1.0, seed: int = 0, **hyper):
    """A fresh parametric score model: ``"linear"`` (random Fourier features), ``"mlp"`` (two-layer
    network), ``"kernel"`` (training set smoothed by a learned bandwidth; needs ``points``) or
    ``"denoiser"`` (two-layer network predicting the clean image with a skip connection, for images:
    :mod:`._denoiser`)."""
    if kind == "linear":
        return LinearScore(dim, data_var=data_var, seed=seed, **hyper)
    if kind == "mlp":
        return MLPScore(dim, data_var=data_var, seed=seed, **hyper)
    if kind == "kernel":
        return KernelScore(dim, data_var=data_var, seed=seed, **hyper)
    if kind == "denoiser":
        from numerics.experiments.diffusion._denoiser import DenoiserScore

        return DenoiserScore(dim, data_var=data_var, seed=seed, **hyper)
    raise InputError(f"unknown score model {kind!r} (choose empirical, linear, mlp, kernel, denoiser)")


def _batch(rng, train, batch, T, t_min):
    x0 = train[rng.integers(0, len(train), batch)]
    t = t_min * (T / t_min) ** rng.random(batch)  # log-uniform on [t_min, T]
    eps = rng.standard_normal(x0.shape)
    xt = np.exp(-t)[:, None] * x0 + np.sqrt(sigma2(t))[:, None] * eps
    return xt, t, eps


def dsm_loss(model, train, *, samples: int = 4096, T: float = 5.0, t_min: float = 1e-3, seed: int = 12345) -> float:
    """Monte Carlo value of the weighted DSM loss on a fixed set of (x_0, t, eps) draws.

    Its infimum over all functions is the loss of the empirical score; for training sets
    this is below the dim that a zero model gets (eps has E|eps|^2 = dim)."""
    xt, t, eps = _batch(np.random.default_rng(seed), np.asarray(train, float), samples, T, t_min)
    r = model.eps(xt, t) - eps
    return float((r * r).sum() / samples)


@dataclass(frozen=True)
class TrainResult(Result):
    """Outcome of :func:`train_score`.

    Attributes
    ----------
    model : the trained score model. losses : ``losses[k]`` is the minibatch loss of step k.
    steps : the steps run (up to the divergence). final_loss : mean minibatch loss of the last
        tenth of the steps (nan if the SGD diverged).
    converged : False if the SGD diverged (the loss blew up); ``message`` names the step.
    config : what a checkpoint of this run must match to be resumed.
    """

    model: object = field(repr=False, metadata={"json": False})
    losses: np.ndarray = field(repr=False)
    steps: int
    converged: bool
    message: str
    final_loss: float
    config: dict = field(default_factory=dict, repr=False)


def _train_config(model, train, eta, batch, seed, T, t_min) -> dict:
    return {
        "model": model.config(),
        "eta": float(eta),
        "batch": int(batch),
        "seed": int(seed),
        "T": float(T),
        "t_min": float(t_min),
        "train_shape": list(train.shape),
        "train_sum": float(np.round(train.sum(), 10)),
        "train_sq": float(np.round((train**2).sum(), 10)),
    }


def train_score(
    model,
    train,
    *,
    eta: float,
    steps: int,
    batch: int = 64,
    seed: int = 0,
    T: float = 5.0,
    t_min: float = 1e-3,
    checkpoint=None,
    resume: bool = False,
    checkpoint_every: int = 1000,
    progress=None,
) -> TrainResult:
    """Constant-step SGD on the DSM loss (2.3): theta <- theta - eta * minibatch gradient.

    Parameters
    ----------
    model : :class:`LinearScore` or :class:`MLPScore` (its ``params`` are updated in place).
    train : training points (N, d).
    eta : the constant step (the temperature of docs/theory.md section 0).
    steps : total number of SGD steps (a resumed run continues up to this number).
    checkpoint : path of an ``.npz`` file written every ``checkpoint_every`` steps and at the end.
    resume : continue from ``checkpoint`` (its configuration must match this call).

    Returns a :class:`TrainResult`; ``converged`` is False with a message naming the step if
    the loss blew up (the SGD diverged: the step is too large), never a silent average.

    Raises
    ------
    InputError : mismatched dimensions, eta <= 0, 0 < t_min < T violated, or a checkpoint that is
        missing, written for another run or beyond ``steps``.

    Example
    -------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(20, 1))
    >>> r = train_score(make_score_model("linear", 1, features=32), x, eta=0.05, steps=200)
    >>> r.converged, bool(r.losses[-20:].mean() < r.losses[:20].mean())
    (True, True)
    """
    train = np.atleast_2d(np.asarray(train, dtype=float))
    if train.shape[1] != model.dim:
        raise InputError(f"training points have dimension {train.shape[1]}, the score model {model.dim}")
    if not (eta > 0 and np.isfinite(eta)):
        raise InputError(f"the step eta must be positive, got {eta}")
    if not 0 < t_min < T:
        raise InputError(f"need 0 < t_min < T, got t_min={t_min}, T={T}")
    cfg = json.loads(json.dumps(_train_config(model, train, eta, batch, seed, T, t_min), sort_keys=True))
    losses = np.full(steps, np.nan)
    start = 0
    if resume:
        if checkpoint is None or not Path(checkpoint).is_file():
            raise InputError(f"cannot resume: no checkpoint file {checkpoint!r}")
        with np.load(checkpoint, allow_pickle=False) as ck:
            saved = json.loads(str(ck["config"]))
            if saved != cfg:
                diff = sorted(k for k in cfg if saved.get(k) != cfg[k])
                raise InputError(f"checkpoint {checkpoint} was written for another run (differs in {', '.join(diff)})")
            start = int(ck["step"])
            if start > steps:
                raise InputError(f"checkpoint {checkpoint} is at step {start}, beyond --steps {steps}")
            model.params = ck["params"].copy()
            losses[:start] = ck["losses"][:start]

    def save(k):
        if checkpoint is not None:
            save_npz_atomic(
                checkpoint,
                params=model.params,
                step=np.int64(k),
                losses=losses[:k],
                config=np.array(json.dumps(cfg, sort_keys=True)),
            )

    converged, message = True, f"{steps} SGD steps with eta={eta}"
    with single_thread_blas():
        for k in range(start, steps):
            rng = np.random.default_rng([seed, k])
            xt, t, eps = _batch(rng, train, batch, T, t_min)
            loss, grad = model.loss_grad(xt, t, eps)
            losses[k] = loss
            if not np.isfinite(loss) or loss > DIVERGED_LOSS or not np.all(np.isfinite(grad)):
                converged = False
                message = f"SGD diverged at step {k} with eta={eta} (minibatch loss {loss:.3g}): lower --eta"
                losses = losses[: k + 1]
                break
            model.params = model.params - eta * grad
            if checkpoint is not None and (k + 1) % checkpoint_every == 0 and k + 1 < steps:
                save(k + 1)
            if progress is not None:
                progress(k + 1)
        else:
            save(steps)
    tail = losses[max(0, len(losses) - max(1, len(losses) // 10)) :]
    return TrainResult(
        model, losses, len(losses), converged, message, float(np.mean(tail)) if converged else float("nan"), cfg
    )


def require_converged(result: TrainResult) -> TrainResult:
    """``result`` itself, or SolverError (one line) when the training diverged."""
    if not result.converged:
        raise SolverError(result.message)
    return result
