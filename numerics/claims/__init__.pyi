# Public API of this package: read by lazy_loader (names load on first use) and by type checkers.
from ._base import Budget, Claim, ClaimResult, Comparison, Context, catalogue, register
from ._verify import VerificationReport, verify

__all__ = [
    "Budget",
    "Claim",
    "ClaimResult",
    "Comparison",
    "Context",
    "VerificationReport",
    "catalogue",
    "register",
    "verify",
]
