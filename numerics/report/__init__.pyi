# Public API of this package: read by lazy_loader (names load on first use) and by type checkers.
from ._files import dumps, save_npz_atomic, to_jsonable, write_atomic
from ._tables import (
    format_number,
    latex_document,
    latex_escape,
    latex_fragment,
    latex_table,
    si_uncertainty,
    text_table,
)

__all__ = [
    "dumps",
    "format_number",
    "latex_document",
    "latex_escape",
    "latex_fragment",
    "latex_table",
    "save_npz_atomic",
    "si_uncertainty",
    "text_table",
    "to_jsonable",
    "write_atomic",
]
