# Public API of this package: read by lazy_loader (names load on first use) and by type checkers.
from ._files import write_atomic, save_npz_atomic, dumps, to_jsonable
from ._tables import text_table, latex_table, latex_escape, latex_document, format_number

__all__ = [
    "dumps",
    "format_number",
    "latex_document",
    "latex_escape",
    "latex_table",
    "save_npz_atomic",
    "text_table",
    "to_jsonable",
    "write_atomic",
]
