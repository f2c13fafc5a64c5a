"""What a claim is: a statement of the paper, the quantities it compares, and a verdict.

A claim compares *theory* (symbolic layer, control-problem solvers) with *measurement*
(Monte Carlo of the SGD recursion, the exact transfer operator). Each comparison states
its tolerance ``tol`` and why (docs/theory.md section 9). With ``h`` the half-width of the
measurement's 95% interval (0 without one), counted once, a comparison's verdict is

* ``pass``   -- ``|theory - measured| <= tol + h`` (distances relative to ``|theory|`` for
  relative rows),
* ``inconclusive`` -- the row would pass but ``h > tol``: the interval alone is too wide to
  tell the theory from its nearest alternative (this is not a pass: the budget is too small),
* ``fail``   -- otherwise.

A deliberately wrong alternative (``expect="reject"``) passes when the data rule it out,
``|alternative - measured| > tol + h``. A *consistency check* (``expect="consistency"``: a
quantity that holds by construction of the experiment) gets a verdict by the same rule and is
shown, but it is not a test of the theory and does not count in the claim's verdict. A claim
passes when every other comparison passes.

Example
-------
>>> from numerics.stats import mean_interval
>>> Comparison.with_interval("mean", 1.0, mean_interval([0.98, 1.01, 1.02, 0.99]), 0.05).verdict
'pass'
>>> Comparison("alternative", 2.0, 1.0, 0.1, ci95=(0.9, 1.1), expect="reject").verdict
'pass'
>>> Comparison("error 0.12 <= tol 0.1 + h 0.05", 1.0, 1.12, 0.1, ci95=(1.07, 1.17)).verdict
'pass'
"""

from __future__ import annotations

import importlib
import math
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from analysis._errors import InputError
from analysis._format import format_number
from analysis._result import Result

EXPECT = ("agree", "reject", "above", "below", "consistency")
"""The kinds of comparison (see :class:`Comparison`); ``"consistency"`` rows do not count in a claim's verdict."""


@dataclass(frozen=True)
class Comparison:
    """One theory-versus-measurement number.

    With ``h`` = :attr:`ci_halfwidth` (half the length of ``ci95``, 0 without one; counted once):

    ``expect="agree"``: pass if :attr:`error` ``<= tolerance + h``; inconclusive if it would
    pass but ``h > tolerance`` (the interval is too wide to decide); fail otherwise.
    ``expect="reject"``: the theory is a deliberately wrong alternative; pass if
    ``error > tolerance + h`` (the data rule it out).
    ``expect="consistency"``: judged like ``"agree"``, but the row holds by construction of the
    experiment: it is shown and not counted in :attr:`ClaimResult.verdict`.
    ``expect="above"`` / ``"below"``: the theory is a bound; pass if the whole interval lies
    above (below) it by more than ``tolerance`` (a directional statement, e.g. "more than half").
    ``relative=True`` measures distances (and ``h``) relative to ``|theory|``.
    An interval that could not be formed (``nan`` ends) counts as infinitely wide.
    """

    quantity: str
    theory: float
    measured: float
    tolerance: float
    ci95: tuple | None = None
    relative: bool = False
    expect: str = "agree"
    note: str = ""
    available: bool = True

    def __post_init__(self):
        if self.expect not in EXPECT:
            raise InputError(f"expect must be one of {', '.join(map(repr, EXPECT))}, got {self.expect!r}")

    @classmethod
    def with_interval(cls, quantity: str, theory: float, interval, tolerance: float, **options) -> Comparison:
        """The comparison of ``theory`` with a :class:`numerics.stats.Interval` (estimate and bounds)."""
        return cls(quantity, theory, interval.estimate, tolerance, interval.bounds, **options)

    @classmethod
    def unavailable(cls, quantity: str, theory: float, reason: str, *, expect: str = "agree") -> Comparison:
        """A row whose measurement could not be made on this model (``reason`` says why, e.g. the
        exact chain did not converge): its verdict is ``inconclusive``, never a pass or a fail. It
        is shown, and the claim's verdict rests on its other rows (inconclusive if none was measured).

        >>> Comparison.unavailable("mass vs exact chain", 0.5, "transfer operator did not converge").verdict
        'inconclusive'
        """
        nan = float("nan")
        return cls(quantity, theory, nan, 0.0, (nan, nan), expect=expect, note=reason, available=False)

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
        """Half the length of ``ci95``, scaled like error (0 without an interval, inf if it has ``nan`` ends)."""
        if self.ci95 is None:
            return 0.0
        h = (self.ci95[1] - self.ci95[0]) / 2 / self.scale
        return math.inf if math.isnan(h) else h

    @property
    def counted(self) -> bool:
        """Whether the row is a test of the theory (every kind but ``"consistency"``)."""
        return self.expect != "consistency"

    @property
    def verdict(self) -> str:
        if not self.available:
            return "inconclusive"
        if not (math.isfinite(self.measured) and math.isfinite(self.theory)):
            return "fail"
        h = self.ci_halfwidth
        if self.expect in ("agree", "consistency"):
            if not self.error <= self.tolerance + h:
                return "fail"
            return "inconclusive" if h > self.tolerance else "pass"
        if self.expect in ("above", "below"):
            lo, hi = self.ci95 if self.ci95 is not None else (self.measured, self.measured)
            margin = (lo - self.theory) if self.expect == "above" else (self.theory - hi)
            return "pass" if margin / self.scale > self.tolerance else "fail"
        # reject: the alternative must lie farther from the measurement than tolerance + half-width
        return "pass" if self.error > self.tolerance + h else "fail"

    def to_dict(self) -> dict:
        return {
            "quantity": self.quantity,
            "theory": self.theory,
            "measured": self.measured,
            "ci95": list(self.ci95) if self.ci95 is not None else None,
            "error": self.error,
            "tolerance": self.tolerance,
            "relative": self.relative,
            "expect": self.expect,
            "verdict": self.verdict,
            "note": self.note,
            "available": self.available,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Comparison:
        """The inverse of :meth:`to_dict` (derived keys such as ``error`` and ``verdict`` are recomputed)."""

        def num(v):  # JSON writes non-finite numbers as null
            return float("nan") if v is None else v

        return cls(
            d["quantity"],
            num(d["theory"]),
            num(d["measured"]),
            d["tolerance"],
            None if d["ci95"] is None else tuple(num(v) for v in d["ci95"]),
            d["relative"],
            d["expect"],
            d.get("note", ""),
            d.get("available", True),
        )


BUDGETS = {"tiny": 0.25, "quick": 1.0, "full": 8.0}
"""Budget name -> multiplier of the Monte Carlo sizes (``quick`` is what each claim is tuned for)."""


@dataclass(frozen=True)
class Budget:
    """How much computation a claim may spend. ``scale`` multiplies Monte Carlo sizes."""

    name: str = "quick"
    scale: float = 1.0

    @classmethod
    def named(cls, name: str) -> Budget:
        if name not in BUDGETS:
            raise InputError(f"unknown budget {name!r} (choose from {', '.join(BUDGETS)})")
        return cls(name, BUDGETS[name])

    def count(self, quick: int, minimum: int = 1) -> int:
        """A Monte Carlo size: ``quick`` scaled by the budget, at least ``minimum``."""
        return max(minimum, int(round(quick * self.scale)))


@dataclass(frozen=True)
class ClaimResult(Result):
    """The outcome of one claim on one model.

    ``converged`` says whether the claim ran to a verdict (it made at least one comparison);
    ``verdict`` and ``passed`` say what the verdict is. ``to_dict`` is the shape of the JSON of
    ``memdyn verify``; ``to_dict(figure=True)`` adds ``figure_data`` (what the claim's figure
    needs) and is what a checkpoint stores, so a resumed claim draws its real figure.

    ``figure_data`` is a dict of JSON-able values (numbers, strings, lists, numpy arrays, nested
    dicts): after a round trip through a checkpoint arrays come back as lists, so ``draw``
    converts with ``np.asarray``.
    """

    id: str
    reference: str
    statement: str
    model: str
    comparisons: tuple
    seconds: float = 0.0
    message: str = ""
    figure_data: Any = field(default=None, compare=False, repr=False, metadata={"json": False})
    converged: bool = True

    @property
    def verdict(self) -> str:
        # rows that could not be measured (Comparison.unavailable) are shown with their reason; the
        # verdict rests on the rows that were measured, and is inconclusive if there are none
        vs = [c.verdict for c in self.comparisons if c.counted and c.available]
        if not vs:  # nothing that tests the theory: could not run (inconclusive) or tested nothing (fail)
            unmeasured = any(not c.available for c in self.comparisons)
            return "inconclusive" if (unmeasured or not self.converged) else "fail"
        if "fail" in vs:
            return "fail"
        return "inconclusive" if "inconclusive" in vs else "pass"

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    def to_dict(self, *, figure: bool = False) -> dict:
        out = {
            "id": self.id,
            "reference": self.reference,
            "statement": self.statement,
            "model": self.model,
            "verdict": self.verdict,
            "seconds": self.seconds,
            "message": self.message,
            "converged": self.converged,
            "comparisons": [c.to_dict() for c in self.comparisons],
        }
        if figure:
            from analysis._format import to_jsonable

            out["figure_data"] = to_jsonable(self.figure_data)
        return out

    @classmethod
    def from_dict(cls, d: dict) -> ClaimResult:
        """The inverse of :meth:`to_dict` (with the figure data when it was saved)."""
        comparisons = tuple(Comparison.from_dict(c) for c in d["comparisons"])
        return cls(
            d["id"],
            d["reference"],
            d["statement"],
            d["model"],
            comparisons,
            d["seconds"],
            d.get("message", ""),
            figure_data=d.get("figure_data"),
            converged=d.get("converged", bool(comparisons)),
        )

    def _summary(self):
        rows = [("claim", f"{self.id} ({self.reference}): {self.verdict}"), ("model", self.model)]
        for c in self.comparisons:
            ci = "" if c.ci95 is None else f" [{format_number(c.ci95[0])}, {format_number(c.ci95[1])}]"
            kind = "" if c.expect == "agree" else f" ({c.expect})"
            rows.append(
                (
                    c.quantity,
                    f"{c.verdict}{kind}: theory {format_number(c.theory)}, measured {format_number(c.measured)}{ci}",
                )
            )
        return rows


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


Requirement = Callable[[Any], str]
"""A condition a user's model must meet: ``requirement(model)`` is "" when it does, else the reason."""


class Claim:
    """Base class: subclasses state their facts as class attributes and implement ``run``.

    Class attributes: ``id`` (short, used by ``--claims``), ``order`` (catalogue position),
    ``reference`` (paper section/theorem), ``statement`` (one line), ``models`` (built-in
    models it runs on by default), ``user_model`` (True if it can run on a user's model) and
    ``requirements`` (what such a model must meet; the functions of :mod:`numerics.claims._support`).
    """

    id: ClassVar[str]
    order: ClassVar[int] = 100
    reference: ClassVar[str]
    statement: ClassVar[str]
    models: ClassVar[tuple] = ()
    user_model: ClassVar[bool] = False
    requirements: ClassVar[tuple[Requirement, ...]] = ()

    def targets(self, ctx) -> list:
        """The models to run on: the user's model, or the built-in ``models``."""
        if ctx.model is not None:
            return [ctx.model]
        from analysis import load_model

        return [load_model(name) for name in self.models]

    def applies_to(self, model) -> tuple[bool, str]:
        """Whether the claim can run on a user's model, and if not, why (the first unmet requirement)."""
        if not self.user_model:
            return False, "this claim runs on built-in models only"
        for requirement in self.requirements:
            why = requirement(model)
            if why:
                return False, why
        return True, ""

    def run(self, ctx: Context) -> ClaimResult:  # pragma: no cover - abstract
        raise NotImplementedError

    def draw(self, result: ClaimResult, ax) -> None:
        """Draw the claim's figure on a matplotlib Axes (default: theory vs measured)."""
        cs = [c for c in result.comparisons if c.expect == "agree"]
        x = range(len(cs))
        ax.plot(x, [c.theory for c in cs], "o", label="theory")
        ax.errorbar(
            x,
            [c.measured for c in cs],
            yerr=[
                [max(c.measured - c.ci95[0], 0) if c.ci95 else 0 for c in cs],
                [max(c.ci95[1] - c.measured, 0) if c.ci95 else 0 for c in cs],
            ],
            fmt="s",
            label="measured",
        )
        ax.set_xticks(list(x), [c.quantity[:18] for c in cs], rotation=30, ha="right", fontsize=7)
        ax.legend()

    def result(self, comparisons, *, model: str, message: str = "", figure_data=None) -> ClaimResult:
        """The claim's :class:`ClaimResult` (``verify`` times the run and fills in ``seconds``)."""
        comparisons = tuple(comparisons)
        reasons = list(dict.fromkeys(c.note for c in comparisons if not c.available))
        if reasons:  # say in the summary line why rows could not be measured
            unmeasured = f"not measured: {'; '.join(reasons)}"
            message = f"{message}; {unmeasured}" if message else unmeasured
        return ClaimResult(
            self.id,
            self.reference,
            self.statement,
            model,
            comparisons,
            message=message,
            figure_data=figure_data,
            converged=bool(comparisons),
        )


REGISTRY: dict[str, type[Claim]] = {}


def register(cls: type[Claim]) -> type[Claim]:
    """Class decorator adding a claim to the catalogue (one module per claim)."""
    if cls.id in REGISTRY and REGISTRY[cls.id] is not cls:
        raise InputError(f"duplicate claim id {cls.id!r}")
    REGISTRY[cls.id] = cls
    return cls


def catalogue() -> dict[str, type[Claim]]:
    """All registered claims, id -> class, in catalogue order (every module of the package is a claim).

    >>> list(catalogue())[:2]
    ['temperature', 'boltzmann']
    """
    import numerics.claims as package

    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{package.__name__}.{info.name}")
    return dict(sorted(REGISTRY.items(), key=lambda kv: (kv[1].order, kv[0])))
