"""Views without a reference count (numerics.field._raw) for the marchers' numba kernels."""

import numpy as np
import pytest
from numba import njit

from numerics.field._raw import raw


@njit(cache=False)
def _write_through(a, i, j, value):
    v = raw(a)
    v[i, j] = value
    return v.shape[0], v.shape[1], v.sum()


def test_raw_view_shares_memory_and_shape():
    a = np.arange(12.0).reshape(3, 4)
    rows, cols, total = _write_through(a, 1, 2, 100.0)
    assert (rows, cols) == (3, 4)
    # the write lands in the owner's memory, and the view reads the owner's other elements
    assert a[1, 2] == 100.0 and total == a.sum() == np.arange(12.0).sum() - 6.0 + 100.0


def test_raw_refuses_a_strided_array():
    # a column slice is not C-contiguous: a view from its data pointer would read the wrong elements
    a = np.arange(12.0).reshape(3, 4)[:, 1:3]
    with pytest.raises(ValueError, match="C-contiguous"):
        _write_through(a, 0, 0, 1.0)
