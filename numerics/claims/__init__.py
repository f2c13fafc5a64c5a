"""The catalogue of the paper's claims as executable checks (``memdyn verify``).

Adding a claim is one small module in this package defining a :class:`Claim` subclass
decorated with :func:`register`; modules are discovered automatically.
"""

from __future__ import annotations

import importlib
import pkgutil

from numerics.claims._base import REGISTRY, Budget, Claim, ClaimResult, Comparison, Context, register

__all__ = ["Budget", "Claim", "ClaimResult", "Comparison", "Context", "VerificationReport", "catalogue", "register",
           "verify"]


def catalogue() -> dict[str, type[Claim]]:
    """All registered claims, id -> class, in catalogue order."""
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
    return dict(sorted(REGISTRY.items(), key=lambda kv: (kv[1].order, kv[0])))


from numerics.claims._verify import VerificationReport, verify  # noqa: E402  (needs catalogue above)
