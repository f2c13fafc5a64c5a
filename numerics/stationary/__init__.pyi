# Public API of this package: read by lazy_loader (names load on first use) and by type checkers.
from ._hitting import HittingResult, mean_exit_time
from ._transfer import StationaryResult, stationary_distribution

__all__ = [
    "HittingResult",
    "StationaryResult",
    "mean_exit_time",
    "stationary_distribution",
]
