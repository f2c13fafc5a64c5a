"""Run the claim catalogue and report: terminal table, JSON, LaTeX (booktabs + siunitx), figures."""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from analysis import InputError, SolverError
from analysis._result import Result
from numerics.claims._base import Budget, Claim, ClaimResult, Context, catalogue
from numerics.report import (
    dumps,
    format_number,
    latex_document,
    latex_fragment,
    latex_table,
    si_uncertainty,
    text_table,
    to_jsonable,
    write_atomic,
)

_HEADERS = ("claim", "model", "quantity", "theory", "measured", "CI95", "error", "tol", "verdict")
_NUMERIC = (False, False, False, True, True, False, True, True, False)
WIDTH = 100
"""The terminal table's width: long cells wrap instead of widening it."""
_SUMMARY_HEADERS = ("claim", "reference", "rows", "verdict", "seconds")
_ROW_HEADERS = ("claim", "quantity", "theory", "measured", "CI95", "error", "tol", "verdict")
# LaTeX: wrapped text columns (long quantities) and siunitx S columns, aligned on the decimal point;
# the measured value carries the half-width of its 95% interval in siunitx's compact form, 0.5651(50)
_WRAP = r">{\raggedright\arraybackslash}"
_LATEX_HEADERS = ("Claim (model)", "Quantity", "Theory", "Measured", "Error", "Tol.", "Verdict")
_LATEX_NUMERIC = (False, False, True, True, True, True, False)
_LATEX_COLUMNS = (f"{_WRAP}p{{2.3cm}}", f"{_WRAP}p{{3.6cm}}", "S", "S", "S", "S", f"{_WRAP}p{{1.4cm}}")
LATEX_PACKAGES = ("array", "booktabs", "siunitx", "longtable")
"""What the verify table's LaTeX fragment needs in the preamble (listed in its top comment)."""
_LATEX_NOTE = (
    r"Measured values carry the half-width of their 95\,\% confidence interval in their last digits "
    r"(siunitx form: 0.5651(50) means $0.5651 \pm 0.0050$); a value without one has no interval. "
    r"Error is the distance between theory and measurement (relative to the theory where the row is relative); "
    r"Tol.\ is the row's tolerance; a dash marks a quantity that was not measured."
)


def _verdict(c) -> str:
    return c.verdict if c.expect == "agree" else f"{c.verdict} ({c.expect})"


_ROW_WRAP = (True, True, False, False, False, False, False, True)


def _row(c) -> tuple:
    """A comparison's cells under :data:`_ROW_HEADERS` (the claim cell left empty)."""
    ci = "-" if c.ci95 is None else f"[{format_number(c.ci95[0])}, {format_number(c.ci95[1])}]"
    return ("", c.quantity, c.theory, c.measured, ci, c.error, c.tolerance, _verdict(c))


def _halfwidth(ci95):
    """Half the length of a 95% interval (None without a finite one)."""
    if ci95 is None:
        return None
    try:
        h = (float(ci95[1]) - float(ci95[0])) / 2
    except (TypeError, ValueError):
        return None
    return h if h == h and abs(h) != float("inf") else None


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
                    _verdict(c),
                )

    def table(self, *, details: bool = False, width: int = WIDTH) -> str:
        """The terminal report, within ``width`` columns (long cells wrap).

        By default one line per claim (id, paper reference, comparison rows passed/total,
        verdict, seconds), then the rows that did not pass (failing or inconclusive) and the
        claims' messages; ``details=True`` prints every comparison row instead (with the model).

        Example
        -------
        >>> from numerics.claims._base import ClaimResult, Comparison
        >>> r = ClaimResult("x", "Theorem 0", "a statement", "a model",
        ...                 (Comparison("ok", 1.0, 1.0, 0.1), Comparison("off", 1.0, 2.0, 0.1)))
        >>> print(VerificationReport((r,), "tiny", 0, 1.0).table())  # doctest: +NORMALIZE_WHITESPACE
        claim  reference  rows  verdict  seconds
        -----  ---------  ----  -------  -------
        x      Theorem 0  1/2   FAIL     0.0
        <BLANKLINE>
        Rows that did not pass (all rows: --details):
        claim  quantity  theory  measured  CI95  error  tol  verdict
        -----  --------  ------  --------  ----  -----  ---  -------
        x      off       1       2         -     1      0.1  fail
        <BLANKLINE>
        0/1 claims pass (budget tiny, seed 0, 1.0 s)
        """
        import textwrap

        lines = []
        if details:
            for r in self.results:
                lines.append(
                    textwrap.fill(
                        f"{r.id}  {r.reference}  [{r.verdict}]  model: {r.model}", width, subsequent_indent="    "
                    )
                )
                rows = [_row(c)[1:] for c in r.comparisons]
                lines += [text_table(_ROW_HEADERS[1:], rows, width=width, wrap=_ROW_WRAP[1:], min_width=12), ""]
            lines.pop()
        else:
            summary = [
                (
                    r.id,
                    r.reference,
                    f"{sum(c.verdict == 'pass' for c in r.comparisons)}/{len(r.comparisons)}",
                    r.verdict.upper(),
                    f"{r.seconds:.1f}",
                )
                for r in self.results
            ]
            lines.append(text_table(_SUMMARY_HEADERS, summary, width=width, wrap=(True, True, False, False, False)))
            bad = [(r.id, *_row(c)[1:]) for r in self.results for c in r.comparisons if c.verdict != "pass"]
            if bad:
                lines += ["", "Rows that did not pass (all rows: --details):"]
                lines.append(text_table(_ROW_HEADERS, bad, width=width, wrap=_ROW_WRAP))
        msgs = [(r.id, r.message) for r in self.results if r.message]
        if msgs:
            lines.append("")
            for cid, msg in msgs:
                lines.append(textwrap.fill(f"{cid}: {msg}", width, subsequent_indent="    "))
        n_pass = sum(r.passed for r in self.results)
        tail = (
            f"{n_pass}/{len(self.results)} claims pass (budget {self.budget}, seed {self.seed}, {self.seconds:.1f} s)"
        )
        if self.interrupted:
            tail += "; INTERRUPTED: later claims did not run"
        lines += ["", tail]
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

    def latex_rows(self):
        """One row per comparison: the cells of the LaTeX table, the measured value with the
        half-width of its 95% interval in siunitx's compact form (:func:`si_uncertainty`)."""
        for r in self.results:
            for k, c in enumerate(r.comparisons):
                measured = si_uncertainty(c.measured, _halfwidth(c.ci95)) if c.available else None
                yield (
                    (r.id if k == 0 else "") + (f" ({r.model})" if k == 0 and r.model else ""),
                    c.quantity,
                    format_number(c.theory),
                    measured,
                    format_number(c.error, 2) if c.available else None,
                    format_number(c.tolerance, 2),
                    _verdict(c),
                )

    def latex(self, *, standalone: bool = False) -> str:
        """The comparisons as a booktabs ``longtable`` (it may run over pages) with siunitx S
        columns (theory, measured, error, tolerance aligned on the decimal point; the measured
        value as ``0.5651(50)``, the half-width of its 95% interval in its last digits, as the
        note under the table says) and wrapped, escaped text columns.

        By default a fragment to ``\\input`` in a paper, the packages its preamble needs
        (:data:`LATEX_PACKAGES`) listed in a comment at its top; ``standalone=True`` wraps it in a
        landscape document that pdflatex compiles alone.

        Example
        -------
        >>> from numerics.claims._base import ClaimResult, Comparison
        >>> r = ClaimResult("x", "Theorem 0", "s", "m", (Comparison("q", 0.5, 0.5651, 0.02, (0.5601, 0.5701)),))
        >>> tex = VerificationReport((r,), "tiny", 0, 1.0).latex()
        >>> tex.splitlines()[1], "0.5651(50)" in tex
        ('% A fragment to \\\\input; the preamble needs: \\\\usepackage{array,booktabs,siunitx,longtable}', True)
        """
        table = latex_table(
            _LATEX_HEADERS,
            list(self.latex_rows()),
            _LATEX_NUMERIC,
            columns=_LATEX_COLUMNS,
            long=True,
            caption=f"memdyn verify: theory against measurement (budget {self.budget}, seed {self.seed})",
        )
        body = table + "{\\footnotesize\\noindent " + _LATEX_NOTE + "\\par}\n"
        if standalone:
            return latex_document(body, landscape=True, packages=LATEX_PACKAGES)
        return latex_fragment(body, what="memdyn verify table", packages=LATEX_PACKAGES)

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
    progress : a progress bar over the claims on stderr (the running claim's id, elapsed time, ETA).
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
    if model is not None:  # which claims run on the user's model: decided (and refused) before any work
        runnable = []
        for cid in ids:
            ok, why = (True, "") if cid in saved else cat[cid]().applies_to(model)
            if ok:
                runnable.append(cid)
            elif claims:  # asked for explicitly: say why it cannot run
                raise InputError(f"claim {cid!r} does not apply to model {model.name!r}: {why}")
        if not runnable:
            raise InputError(f"no claim of the catalogue applies to model {model.name!r}")
        ids = runnable
    bar = _claim_bar(len(ids)) if progress else None
    try:
        for cid in ids:
            if bar is not None:
                bar.update(0 if cid == ids[0] else 1)  # the previous claim finished
                bar.set_description(cid)
            if cid in saved:
                results.append(ClaimResult.from_dict(saved[cid]))
                continue
            claim = cat[cid]()
            t = time.perf_counter()
            try:
                res = claim.run(ctx)
            except KeyboardInterrupt:  # keep what finished: the report of the completed claims
                interrupted = True
                break
            except SolverError as exc:  # a numerical method failed on this model: inconclusive, the run goes on
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
        if bar is not None:
            bar.update(0 if interrupted else 1)
    finally:  # an unexpected error in a claim must not leave the bar on the terminal
        if bar is not None:
            bar.close()
    return VerificationReport(
        tuple(results),
        budget,
        seed,
        time.perf_counter() - t0,
        converged=not interrupted,
        message="interrupted: later claims did not run" if interrupted else "",
    )


def _claim_bar(total: int):
    """A progress bar over claims on stderr (the claim running in its description): tqdm, which also
    shows elapsed time and an ETA from the claims finished so far; it disappears when the run ends."""
    from tqdm import tqdm

    # mininterval=0: a claim takes seconds, so every update is drawn
    return tqdm(total=total, unit="claim", leave=False, file=sys.stderr, dynamic_ncols=True, mininterval=0)


def dumps_report(report: VerificationReport) -> str:
    """The report as the JSON ``memdyn verify --json`` prints."""
    return dumps(report.to_dict(), indent=2)
