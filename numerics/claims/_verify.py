"""Run the claim catalogue and report: terminal table, JSON, LaTeX (booktabs + siunitx), figures."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from analysis import InputError, SolverError
from analysis._result import Result
from numerics.claims._base import Budget, Claim, ClaimResult, Context, catalogue
from numerics.report import dumps, format_number, latex_document, latex_table, text_table, to_jsonable, write_atomic

_HEADERS = ("claim", "model", "quantity", "theory", "measured", "CI95", "error", "tol", "verdict")
_NUMERIC = (False, False, False, True, True, False, True, True, False)
# LaTeX columns: wrapped text (long quantities) and siunitx numbers; a longtable runs over pages
_WRAP = r">{\raggedright\arraybackslash}"
_LATEX_COLUMNS = (
    f"{_WRAP}p{{2.0cm}}",
    f"{_WRAP}p{{2.6cm}}",
    f"{_WRAP}p{{5.4cm}}",
    "S[table-format=-5.4e-1]",
    "S[table-format=-5.4e-1]",
    f"{_WRAP}p{{2.5cm}}",
    "S[table-format=1.4e-1]",
    "S[table-format=1.4e-1]",
    f"{_WRAP}p{{1.8cm}}",
)
_LATEX_HEADERS = ("Claim", "Model", "Quantity", "Theory", "Measured", "CI95", "Error", "Tol.", "Verdict")


@dataclass(frozen=True)
class VerificationReport(Result):
    """Results of ``memdyn verify``: one :class:`ClaimResult` per claim (and model).

    ``converged`` is False when the run was interrupted (``interrupted``): the claims after the
    interruption did not run. ``passed``: every claim ran and passed.
    """

    results: tuple
    budget: str
    seed: int
    seconds: float
    converged: bool = True
    message: str = ""

    @property
    def interrupted(self) -> bool:
        return not self.converged

    @property
    def passed(self) -> bool:
        return bool(self.results) and self.converged and all(r.passed for r in self.results)

    def rows(self):
        """One row per comparison: the cells of :data:`_HEADERS`."""
        for r in self.results:
            for k, c in enumerate(r.comparisons):
                ci = "-" if c.ci95 is None else f"[{format_number(c.ci95[0])}, {format_number(c.ci95[1])}]"
                yield (
                    (r.id if k == 0 else ""),
                    (r.model if k == 0 else ""),
                    c.quantity,
                    c.theory,
                    c.measured,
                    ci,
                    c.error,
                    c.tolerance,
                    c.verdict if c.expect == "agree" else f"{c.verdict} ({c.expect})",
                )

    def table(self) -> str:
        lines = [text_table(_HEADERS, list(self.rows())), ""]
        for r in self.results:
            msg = f"  {r.message}" if r.message else ""
            lines.append(f"{r.verdict.upper():>12}  {r.id:<16} {r.reference}: {r.statement} ({r.seconds:.1f} s){msg}")
        n_pass = sum(r.passed for r in self.results)
        lines.append(
            f"\n{n_pass}/{len(self.results)} claims pass (budget {self.budget}, seed {self.seed}, "
            f"{self.seconds:.1f} s)" + ("; INTERRUPTED: later claims did not run" if self.interrupted else "")
        )
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "passed": self.passed,
            "budget": self.budget,
            "seed": self.seed,
            "seconds": self.seconds,
            "interrupted": self.interrupted,
            "claims": [r.to_dict() for r in self.results],
        }

    def _summary(self):
        return [(f"{r.id} ({r.model})", r.verdict) for r in self.results] + [
            ("claims passed", f"{sum(r.passed for r in self.results)}/{len(self.results)}"),
            ("budget, seed", f"{self.budget}, {self.seed}"),
        ]

    def latex(self, *, standalone: bool = True) -> str:
        """A booktabs ``longtable`` (it may run over pages) with siunitx S columns for the numbers
        and wrapped text columns; every text cell is escaped. ``standalone`` wraps it in a
        landscape document that pdflatex compiles; otherwise the preamble needs array,
        booktabs, siunitx and longtable."""
        table = latex_table(
            _LATEX_HEADERS,
            list(self.rows()),
            _NUMERIC,
            columns=_LATEX_COLUMNS,
            long=True,
            caption=f"memdyn verify (budget {self.budget}, seed {self.seed})",
        )
        return latex_document(table, landscape=True) if standalone else table

    def write_figures(self, directory) -> list[Path]:
        """One PNG per claim (the claim's own ``draw``)."""
        import io

        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        claims = catalogue()
        paths = []
        for r in self.results:
            fig, ax = plt.subplots(figsize=(6, 4))
            claim = claims[r.id]()
            if r.figure_data is None:  # a claim without figure data: plot the numbers
                Claim.draw(claim, r, ax)
            else:
                claim.draw(r, ax)
            fig.suptitle(f"{r.id} [{r.verdict}] {r.model}", fontsize=9)
            fig.tight_layout()
            path = directory / f"{r.id}-{_slug(r.model)}.png"
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=110)
            plt.close(fig)
            write_atomic(path, buf.getvalue())
            paths.append(path)
        return paths


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-")[:40]


def _checkpoint_key(budget, seed, model, overrides) -> dict:
    """What a saved claim result depends on: resuming under other settings would mix runs."""
    return {
        "budget": budget,
        "seed": int(seed),
        "model": None if model is None else repr(model),
        "overrides": sorted(map(str, overrides or {})),
    }


def _load_checkpoint(path, key) -> dict:
    path = Path(path)
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read verify checkpoint {path}: {exc}") from None
    if data.get("key") != key:
        raise InputError(
            f"verify checkpoint {path} was written with other settings (budget, seed, model); "
            "use another file or delete it"
        )
    return data.get("claims", {})


def verify(
    *,
    claims: Sequence[str] | None = None,
    budget: str = "quick",
    seed: int = 0,
    model=None,
    overrides: dict | None = None,
    progress: bool = False,
    checkpoint=None,
    resume: bool = False,
) -> VerificationReport:
    """Run claims of the catalogue and collect their results.

    Parameters
    ----------
    claims : claim ids (default: all that apply).
    budget : "quick" (default, the whole catalogue in minutes), "full", or "tiny" (tests).
    seed : one seed for every Monte Carlo run (each claim derives its streams from it).
    model : a user's :class:`analysis.Model`; then every claim that applies runs on it.
    overrides : theory overrides passed to claims (tests use them to show a claim can fail).
    checkpoint : JSON file updated atomically after every finished claim; with ``resume=True`` the
        claims already in it (same budget, seed, model and overrides) are not run again. Resumed
        claims keep their numbers, verdicts and figure data (their figures are the real ones). A claim
        whose numerical method fails on ``model`` (:class:`analysis.SolverError`) is reported
        inconclusive with the reason; the other claims still run.

    Raises
    ------
    InputError : an unknown claim or budget, ``resume`` without a checkpoint, a checkpoint written
        with other settings, a claim asked for that does not apply to ``model`` (the reason is
        given), or a model no claim applies to.

    Example
    -------
    >>> report = verify(claims=["collapse"], budget="tiny")
    >>> report.passed, [c.verdict for c in report.results[0].comparisons][:2]
    (True, ['pass', 'pass'])
    """
    cat = catalogue()
    ids = list(cat) if not claims else list(claims)
    unknown = [c for c in ids if c not in cat]
    if unknown:
        raise InputError(f"unknown claim {unknown[0]!r} (claims: {', '.join(cat)})")
    ctx = Context(
        budget=Budget.named(budget), seed=seed, model=model, overrides=dict(overrides or {}), progress=progress
    )
    key = _checkpoint_key(budget, seed, model, overrides)
    if resume and checkpoint is None:
        raise InputError("resume needs a checkpoint file")
    saved = _load_checkpoint(checkpoint, key) if (checkpoint is not None and resume) else {}
    t0 = time.perf_counter()
    results: list[ClaimResult] = []
    interrupted = False
    for cid in ids:
        if cid in saved:
            results.append(ClaimResult.from_dict(saved[cid]))
            continue
        claim = cat[cid]()
        if model is not None:
            ok, why = claim.applies_to(model)
            if not ok:
                if claims:  # asked for explicitly: say why it cannot run
                    raise InputError(f"claim {cid!r} does not apply to model {model.name!r}: {why}")
                continue
        t = time.perf_counter()
        try:
            res = claim.run(ctx)
        except KeyboardInterrupt:  # keep what finished: the report of the completed claims
            interrupted = True
            break
        except SolverError as exc:  # a numerical method failed on this model: the row is inconclusive, the run goes on
            res = ClaimResult(
                claim.id,
                claim.reference,
                claim.statement,
                model.name if model is not None else ", ".join(claim.models),
                (),
                message=f"could not be decided: {exc}",
                converged=False,
            )
        results.append(dataclasses.replace(res, seconds=time.perf_counter() - t))
        if checkpoint is not None:
            saved[cid] = to_jsonable(results[-1].to_dict(figure=True))
            write_atomic(checkpoint, dumps({"key": key, "claims": saved}, indent=1))
    if model is not None and not results and not interrupted:
        raise InputError(f"no claim of the catalogue applies to model {model.name!r}")
    return VerificationReport(
        tuple(results),
        budget,
        seed,
        time.perf_counter() - t0,
        converged=not interrupted,
        message="interrupted: later claims did not run" if interrupted else "",
    )


def dumps_report(report: VerificationReport) -> str:
    """The report as the JSON ``memdyn verify --json`` prints."""
    return dumps(report.to_dict(), indent=2)
