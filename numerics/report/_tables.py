"""Terminal tables and LaTeX (booktabs + siunitx): the shared implementation in
:mod:`analysis._format`, which ``derive`` uses too, re-exported for the numeric reports."""

from analysis._format import (
    LATEX_PACKAGES,
    format_number,
    latex_document,
    latex_escape,
    latex_fragment,
    latex_table,
    si_uncertainty,
    text_table,
)

__all__ = [
    "LATEX_PACKAGES",
    "format_number",
    "latex_document",
    "latex_escape",
    "latex_fragment",
    "latex_table",
    "si_uncertainty",
    "text_table",
]
