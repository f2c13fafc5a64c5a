"""Counter-based random numbers of the SGD engine (source for numba and numpy twins).

The numba source ``RNG_SOURCE`` opens every generated kernel (:mod:`numerics.sgd._kernels`);
the numpy twins give the same numbers to :mod:`numerics.sgd._markov` and to the tests.

Counter-based SplitMix64 (Steele, Lea and Flood 2014): the n-th 64-bit word of chain c is
``mix64(key_c + (n + 1) * GAMMA)`` with the SplitMix64 finaliser ``mix64`` (Stafford's
variant 13) and GAMMA = 0x9E3779B97F4A7C15. A uniform is ``((w >> 11) + 1/2) 2^-53`` in
(0, 1) (never 0, so ``log`` is safe); normals come in Box-Muller pairs: normal j uses the
uniforms 2(j//2) and 2(j//2)+1 and takes the cosine (j even) or sine (j odd) branch. The
state of a chain is just (key, counter) and the counter is a function of the global step
index (step n of a d-dimensional Gaussian model uses normals n d .. n d + d - 1; a
minibatch model of batch B uses uniforms n B .. n B + B - 1), so results are bit-identical
for any thread count, chunk size or interrupted-and-resumed run.
Keys: ``SeedSequence(seed)`` gives two words (b0, b1) and ``key_c = mix64(mix64(c ^ b1) +
b0)``, a bijection of c, so distinct chains have distinct keys.

Example
-------
>>> keys = chain_keys(seed=7, chains=3)
>>> bool(np.array_equal(chain_keys(7, 5)[:3], keys))   # chain c's stream ignores the chain count
True
>>> u = uniforms_np(keys[0], np.arange(4))
>>> bool(np.all((u > 0) & (u < 1))), bool(np.array_equal(u[2:], uniforms_np(keys[0], [2, 3])))
(True, True)
"""

from __future__ import annotations

import numpy as np

GAMMA = 0x9E3779B97F4A7C15

RNG_SOURCE = """
import math
import numpy as np
from numba import njit, prange

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S11 = np.uint64(11)
_S27 = np.uint64(27)
_S30 = np.uint64(30)
_S31 = np.uint64(31)
_ONE = np.uint64(1)
_INV53 = 1.0 / 9007199254740992.0
_TWOPI = 6.283185307179586


@njit(cache=True)
def _mix64(z):
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True)
def _uniform(key, n):
    z = _mix64(key + (np.uint64(n) + _ONE) * _GAMMA)
    return (np.float64(z >> _S11) + 0.5) * _INV53


@njit(cache=True)
def _bm_pair(key, p):
    u1 = _uniform(key, 2 * p)
    u2 = _uniform(key, 2 * p + 1)
    r = math.sqrt(-2.0 * math.log(u1))
    a = _TWOPI * u2
    return r * math.cos(a), r * math.sin(a)


@njit(cache=True)
def uniforms(key, start, n):
    out = np.empty(n)
    for i in range(n):
        out[i] = _uniform(key, start + i)
    return out


@njit(cache=True)
def normals(key, start, n):
    out = np.empty(n)
    for i in range(n):
        j = start + i
        c, s = _bm_pair(key, j >> 1)
        out[i] = c if (j & 1) == 0 else s
    return out
"""


# ---------------------------------------------------------------- numpy twins (Markov driver, keys)
def mix64_np(z: np.ndarray) -> np.ndarray:
    """The SplitMix64 finaliser (Stafford's variant 13) on uint64 arrays."""
    z = np.asarray(z, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def chain_keys(seed: int, chains: int, first: int = 0) -> np.ndarray:
    """Per-chain keys (uint64) from (seed, chain index); see the module docstring."""
    b0, b1 = np.random.SeedSequence(int(seed)).generate_state(2, np.uint64)
    c = np.arange(first, first + chains, dtype=np.uint64)
    with np.errstate(over="ignore"):
        return mix64_np(mix64_np(c ^ b1) + b0)


def uniforms_np(keys: np.ndarray, counters: np.ndarray) -> np.ndarray:
    """Uniform number ``counters`` of each key (broadcast), same values as the numba engine."""
    keys = np.asarray(keys, dtype=np.uint64)
    n = np.asarray(counters, dtype=np.uint64)
    with np.errstate(over="ignore"):
        w = mix64_np(keys + (n + np.uint64(1)) * np.uint64(GAMMA))
    return ((w >> np.uint64(11)).astype(np.float64) + 0.5) * (1.0 / 9007199254740992.0)


def normals_np(keys: np.ndarray, counters: np.ndarray) -> np.ndarray:
    """Normal number ``counters`` of each key (Box-Muller pairs as in the engine)."""
    n = np.asarray(counters, dtype=np.int64)
    p = n >> 1
    u1 = uniforms_np(keys, 2 * p)
    u2 = uniforms_np(keys, 2 * p + 1)
    r = np.sqrt(-2.0 * np.log(u1))
    a = 2 * np.pi * u2
    return np.where((n & 1) == 0, r * np.cos(a), r * np.sin(a))
