# Public API of analysis: read by lazy_loader (names load on first use) and by type checkers.
from ._closed_form import closed_form_quasi_potential, one_dimensional_quasi_potential
from ._closed_form_result import ClosedFormQuasiPotential, PotentialMinimum
from ._collapse import (
    collapse_theory,
    diffusion_fixation_time,
    expected_sigma,
    heterozygosity,
    m_factor,
    m_factor_float,
    stationary_heterozygosity,
)
from ._count_chain import CountChain, check_fresh, check_masses, count_chain, exact_fixation_time_two_atoms
from ._critical import CriticalComponent, CriticalPoint, attractors, critical_points, saddles
from ._derive import Derivation, derive
from ._diffusion import DiffusionScores, GaussianMixtureLaw, diffusion_scores, ou_transition
from ._domain_checks import check_domain
from ._emergent import EmergentTimescales, SpectralSplit, emergent_timescales, spectral_split, timescales_section
from ._episodes import episode_ode, episode_steps, episode_time, fresh_episode_mean
from ._errors import InputError, MemdynError, ModelError, ModelWarning, SolverError
from ._files import builtin_models, load_model, model_from_dict, parse_assignments
from ._hwang import HwangWeight, hwang_weights
from ._lambdify import array_function, kernel_source, scalar_kernel
from ._lyapunov import lyapunov_covariance
from ._memorization import feedback_episodes, predicted_episodes, predicted_mean_episode_steps, reduced_trajectory
from ._model import Model, TimeScales
from ._model_builder import model
from ._noise import GaussianNoise, MinibatchNoise
from ._parse import exact_number, parse_expression
from ._qp_check import QuasiPotentialCheck, check_quasi_potential
from ._relaxation import RelaxationOscillation, Segment, cycle_trajectory, relaxation_oscillation
from ._result import Result
from ._sympy_guard import symbolic_budget
from ._timescales import two_scale_reduction
from ._timescales_result import Branch, TwoScaleReduction

__all__ = [
    "EmergentTimescales",
    "SpectralSplit",
    "emergent_timescales",
    "spectral_split",
    "timescales_section",
    "ModelWarning",
    "check_domain",
    "symbolic_budget",
    "Branch",
    "ClosedFormQuasiPotential",
    "CountChain",
    "CriticalComponent",
    "CriticalPoint",
    "Derivation",
    "DiffusionScores",
    "GaussianMixtureLaw",
    "GaussianNoise",
    "HwangWeight",
    "InputError",
    "MemdynError",
    "MinibatchNoise",
    "Model",
    "ModelError",
    "PotentialMinimum",
    "QuasiPotentialCheck",
    "RelaxationOscillation",
    "Result",
    "Segment",
    "SolverError",
    "TimeScales",
    "TwoScaleReduction",
    "array_function",
    "attractors",
    "builtin_models",
    "check_fresh",
    "check_masses",
    "check_quasi_potential",
    "closed_form_quasi_potential",
    "collapse_theory",
    "count_chain",
    "critical_points",
    "cycle_trajectory",
    "derive",
    "diffusion_fixation_time",
    "diffusion_scores",
    "episode_ode",
    "episode_steps",
    "episode_time",
    "exact_fixation_time_two_atoms",
    "exact_number",
    "expected_sigma",
    "feedback_episodes",
    "fresh_episode_mean",
    "heterozygosity",
    "hwang_weights",
    "kernel_source",
    "load_model",
    "lyapunov_covariance",
    "m_factor",
    "m_factor_float",
    "model",
    "model_from_dict",
    "one_dimensional_quasi_potential",
    "ou_transition",
    "parse_assignments",
    "parse_expression",
    "predicted_episodes",
    "predicted_mean_episode_steps",
    "reduced_trajectory",
    "relaxation_oscillation",
    "saddles",
    "scalar_kernel",
    "stationary_heterozygosity",
    "two_scale_reduction",
]
