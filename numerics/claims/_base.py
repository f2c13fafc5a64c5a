"""What a claim is: a statement of the paper, the quantities it compares, and a verdict.

A claim compares *theory* (symbolic layer, control-problem solvers) with *measurement*
(Monte Carlo of the SGD recursion, the exact transfer operator). Each comparison states
its tolerance and why; the verdict is

* ``pass``   -- every comparison agrees within its tolerance,
* ``fail``   -- some comparison disagrees by more than its tolerance (beyond its CI),
* ``inconclusive`` -- some confidence interval is wider than the tolerance, so the data
  cannot decide (this is not a pass: the budget is too small).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar


@dataclass(frozen=True)
class Comparison:
    """One theory-versus-measurement number.

    ``expect="agree"``: pass if the distance from ``theory`` to the interval ``ci95`` (or to
    ``measured`` when there is no interval) is at most ``tolerance``.
    ``expect="reject"``: the theory is a deliberately wrong alternative; pass if that
    distance exceeds ``tolerance`` (the data rule it out).
    ``expect="above"`` / ``"below"``: the theory is a bound; pass if the whole interval lies
    above (below) it by more than ``tolerance`` (a directional statement, e.g. "more than half").
    ``relative=True`` measures distances relative to ``|theory|``.
    """

    quantity: str
    theory: float
    measured: float
    tolerance: float
    ci95: tuple | None = None
    relative: bool = False
    expect: str = "agree"
    note: str = ""

    def __post_init__(self):
        if self.expect not in ("agree", "reject", "above", "below"):
            raise ValueError(f"expect must be 'agree', 'reject', 'above' or 'below', got {self.expect!r}")

    @property
    def scale(self) -> float:
        return abs(self.theory) if self.relative and self.theory != 0 else 1.0

    @property
    def error(self) -> float:
        """|measured - theory| (relative to |theory| if ``relative``)."""
        return abs(self.measured - self.theory) / self.scale

    @property
    def distance(self) -> float:
        """Distance from theory to the confidence interval (0 if inside), scaled like error."""
        if self.ci95 is None:
            return self.error
        lo, hi = self.ci95
        return max(lo - self.theory, self.theory - hi, 0.0) / self.scale

    @property
    def ci_halfwidth(self) -> float:
        if self.ci95 is None:
            return 0.0
        return (self.ci95[1] - self.ci95[0]) / 2 / self.scale

    @property
    def verdict(self) -> str:
        if not (math.isfinite(self.measured) and math.isfinite(self.theory)):
            return "fail"
        if self.expect == "agree":
            if self.distance > self.tolerance:
                return "fail"
            return "inconclusive" if self.ci_halfwidth > self.tolerance else "pass"
        if self.expect in ("above", "below"):
            lo, hi = self.ci95 if self.ci95 is not None else (self.measured, self.measured)
            margin = (lo - self.theory) if self.expect == "above" else (self.theory - hi)
            return "pass" if margin / self.scale > self.tolerance else "fail"
        # reject: the alternative must lie outside the interval by more than the tolerance
        return "pass" if self.distance > self.tolerance else "fail"

    def to_dict(self) -> dict:
        return {"quantity": self.quantity, "theory": self.theory, "measured": self.measured,
                "ci95": list(self.ci95) if self.ci95 is not None else None, "error": self.error,
                "tolerance": self.tolerance, "relative": self.relative, "expect": self.expect,
                "verdict": self.verdict, "note": self.note}


@dataclass(frozen=True)
class Budget:
    """How much computation a claim may spend. ``scale`` multiplies Monte Carlo sizes."""

    name: str = "quick"
    scale: float = 1.0

    @classmethod
    def named(cls, name: str) -> "Budget":
        table = {"tiny": 0.25, "quick": 1.0, "full": 8.0}
        if name not in table:
            raise ValueError(f"unknown budget {name!r} (choose from {', '.join(table)})")
        return cls(name, table[name])

    def count(self, quick: int, minimum: int = 1) -> int:
        return max(minimum, int(round(quick * self.scale)))


@dataclass(frozen=True)
class ClaimResult:
    """The outcome of one claim on one model."""

    id: str
    reference: str
    statement: str
    model: str
    comparisons: tuple
    seconds: float = 0.0
    message: str = ""
    figure_data: Any = field(default=None, compare=False, repr=False)

    @property
    def verdict(self) -> str:
        if not self.comparisons:
            return "fail"
        vs = [c.verdict for c in self.comparisons]
        if "fail" in vs:
            return "fail"
        return "inconclusive" if "inconclusive" in vs else "pass"

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    def to_dict(self) -> dict:
        return {"id": self.id, "reference": self.reference, "statement": self.statement, "model": self.model,
                "verdict": self.verdict, "seconds": self.seconds, "message": self.message,
                "comparisons": [c.to_dict() for c in self.comparisons]}


@dataclass(frozen=True)
class Context:
    """What a claim gets: the budget, the seed, an optional user model and theory overrides.

    ``overrides`` lets a test substitute a deliberately wrong theory (for example the
    sqrt(eta) temperature) to show that the claim can fail.
    """

    budget: Budget = Budget()
    seed: int = 0
    model: Any = None
    overrides: dict = field(default_factory=dict)
    progress: bool = False


class Claim:
    """Base class: subclasses state their facts as class attributes and implement ``run``.

    Class attributes: ``id`` (short, used by ``--claims``), ``order`` (catalogue position),
    ``reference`` (paper section/theorem), ``statement`` (one line), ``models`` (built-in
    models it runs on by default), ``user_model`` (True if it can run on a user's model).
    """

    id: ClassVar[str]
    order: ClassVar[int] = 100
    reference: ClassVar[str]
    statement: ClassVar[str]
    models: ClassVar[tuple] = ()
    user_model: ClassVar[bool] = False

    def targets(self, ctx) -> list:
        """The models to run on: the user's model, or the built-in ``models``."""
        if ctx.model is not None:
            return [ctx.model]
        from analysis import load_model

        return [load_model(name) for name in self.models]

    def applies_to(self, model) -> tuple[bool, str]:
        """Whether the claim can run on a user's model, and if not, why."""
        return False, "this claim runs on built-in models only"

    def run(self, ctx: Context) -> ClaimResult:  # pragma: no cover - abstract
        raise NotImplementedError

    def draw(self, result: ClaimResult, ax) -> None:
        """Draw the claim's figure on a matplotlib Axes (default: theory vs measured)."""
        cs = [c for c in result.comparisons if c.expect == "agree"]
        x = range(len(cs))
        ax.plot(x, [c.theory for c in cs], "o", label="theory")
        ax.errorbar(x, [c.measured for c in cs],
                    yerr=[[max(c.measured - c.ci95[0], 0) if c.ci95 else 0 for c in cs],
                          [max(c.ci95[1] - c.measured, 0) if c.ci95 else 0 for c in cs]],
                    fmt="s", label="measured")
        ax.set_xticks(list(x), [c.quantity[:18] for c in cs], rotation=30, ha="right", fontsize=7)
        ax.legend()

    def result(self, ctx: Context, comparisons, *, model: str, seconds: float = 0.0, message: str = "",
               figure_data=None) -> ClaimResult:
        return ClaimResult(self.id, self.reference, self.statement, model, tuple(comparisons), seconds,
                           message, figure_data)


REGISTRY: dict[str, type[Claim]] = {}


def register(cls: type[Claim]) -> type[Claim]:
    """Class decorator adding a claim to the catalogue (one module per claim)."""
    if cls.id in REGISTRY and REGISTRY[cls.id] is not cls:
        raise ValueError(f"duplicate claim id {cls.id!r}")
    REGISTRY[cls.id] = cls
    return cls


Overridable = Callable[..., Any]
