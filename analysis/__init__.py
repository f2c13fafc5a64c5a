"""memdyn's symbolic layer: exact objects of the SGD model (sympy) and their numeric callables.

Everything public is importable from here; the private modules hold one concept each.
Names are resolved lazily (PEP 562) so ``import analysis`` stays fast.

Example
-------
>>> from analysis import load_model, critical_points
>>> m = load_model("hwang")
>>> [c.kind for c in critical_points(m)]  # doctest: +SKIP
['maximum', 'minimum', 'maximum', 'minimum']
"""

from __future__ import annotations

import importlib

from ._errors import InputError, MemdynError, ModelError, SolverError
from ._files import builtin_models, load_model, model_from_dict, parse_assignments
from ._model import Model, TimeScales, model
from ._parse import exact_number, parse_expression
from ._noise import GaussianNoise, MinibatchNoise
from ._result import Result

# public name -> private module that defines it
_LAZY = {
    # critical points (issue 2)
    "CriticalPoint": "_critical", "critical_points": "_critical", "attractors": "_critical",
    "saddles": "_critical",
    # closed-form quasi-potentials (THEORY.md section 1)
    "ClosedFormQuasiPotential": "_closed_form", "closed_form_quasi_potential": "_closed_form",
    "check_quasi_potential": "_closed_form", "QuasiPotentialCheck": "_closed_form",
    "one_dimensional_quasi_potential": "_closed_form", "lyapunov_covariance": "_closed_form",
    # Hwang weights (THEORY.md section 3)
    "HwangWeight": "_hwang", "hwang_weights": "_hwang",
    # two time scales (THEORY.md section 4)
    "Branch": "_timescales", "TwoScaleReduction": "_timescales", "two_scale_reduction": "_timescales",
    # summaries for the CLI, JSON and LaTeX
    "derive": "_derive", "Derivation": "_derive",
    # collapse (THEORY.md section 5) and Markov-noise gradients (section 6)
    "collapse_theory": "_collapse", "m_factor": "_collapse", "count_chain": "_collapse",
    "heterozygosity": "_collapse", "relaxation_oscillation": "_memorization",
    "predicted_mean_episode_steps": "_memorization", "episode_steps": "_memorization",
    "episode_ode": "_memorization", "episode_time": "_memorization", "fresh_episode_mean": "_memorization",
    "feedback_episodes": "_memorization",
    # diffusion models (THEORY.md section 7)
    "diffusion_scores": "_diffusion", "ou_transition": "_diffusion", "DiffusionScores": "_diffusion",
    "GaussianMixtureLaw": "_diffusion", "PotentialMinimum": "_closed_form",
}

__all__ = sorted(["InputError", "MemdynError", "ModelError", "SolverError", "Result", "builtin_models", "load_model", "model_from_dict",
                  "parse_assignments", "Model", "TimeScales", "exact_number", "model", "parse_expression",
                  "GaussianNoise", "MinibatchNoise", *_LAZY])


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'analysis' has no attribute {name!r}")


def __dir__():
    return __all__
