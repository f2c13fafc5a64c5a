# Public API of numerics.field: read by lazy_loader (names load on first use) and by type checkers.
from ._cycle_source import transverse_quadratic
from ._field import HAMILTONIANS, FieldResult, quasi_potential_field
from ._trace import field_path

__all__ = ["HAMILTONIANS", "FieldResult", "field_path", "quasi_potential_field", "transverse_quadratic"]
