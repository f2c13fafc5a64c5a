"""Arrays without a reference count for the marchers' numba kernels.

Numba counts references to every array an njit function receives or binds: an atomic add and an atomic
subtract on the array's memory record per array argument of each call. The march kernels call small
update functions with a dozen array arguments hundreds of times per node, and those atomics were
measured (perf, 3-D march at 49^3) to take 53-61% of the kernel's time. A view made by :func:`raw` points
at the same memory but has no memory record (as ``numba.carray`` of a pointer), so numba's reference
counting is a null test for it. The owner (the caller of the kernel) keeps the memory alive meanwhile.
"""

from __future__ import annotations

from numba import carray, njit, types
from numba.extending import intrinsic


@intrinsic
def _data_pointer(typingctx, arr):
    """The typed data pointer of an array."""
    sig = types.CPointer(arr.dtype)(arr)

    def codegen(context, builder, signature, args):
        return context.make_array(signature.args[0])(context, builder, args[0]).data

    return sig, codegen


@njit(cache=True, inline="always")
def raw(a):
    """A C-contiguous view of ``a`` without a reference count; ValueError if ``a`` is not C-contiguous
    (the view would read the wrong elements)."""
    if not a.flags.c_contiguous:
        raise ValueError("raw() needs a C-contiguous array")
    return carray(_data_pointer(a), a.shape)
