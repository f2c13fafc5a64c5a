# Public API of numerics.field: read by lazy_loader (names load on first use) and by type checkers.
from ._field import HAMILTONIANS, FieldResult, quasi_potential_field

__all__ = ["HAMILTONIANS", "FieldResult", "quasi_potential_field"]
