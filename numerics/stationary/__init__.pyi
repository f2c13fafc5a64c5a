# Public API of this package: read by lazy_loader (names load on first use) and by type checkers.
from ._transfer import StationaryResult, stationary_distribution

__all__ = [
    "StationaryResult",
    "stationary_distribution",
]
