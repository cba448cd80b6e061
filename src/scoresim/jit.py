"""How a helper that kernels call inside their loops is compiled.

numba counts references to every array a compiled function holds. A function whose arrays
are last used in different places on different paths (an ``if`` that writes an array, an
``and`` that reads a second one) keeps an increment and a decrement of each array's count
that its pruning pass cannot remove (numba issues #2350, #2345). Inlined into a kernel's
loop — by numba (``inline="always"``) or by LLVM — that is two atomic operations per array
per call: measured at 12-17 ns a call, 40-50 times the work of the helper itself.

So a helper is compiled on its own without reference counting (``_nrt=False``) and LLVM
inlines it into the kernel without them. It may read and write the arrays and bundles it is
given, but must not allocate an array or return one (nothing would count the reference):
compiling one that returns an array fails (``ReturnsNoArray``). A function that returns an
array (``network.rows_in``) stays an inlined ``njit``.
"""

from __future__ import annotations

from collections.abc import Callable

from numba import njit, types
from numba.core.compiler import CompilerBase, DefaultPassBuilder
from numba.core.compiler_machinery import FunctionPass, register_pass
from numba.core.registry import CPUDispatcher
from numba.core.typed_passes import NopythonTypeInference


def holds_array(t: types.Type) -> bool:
    """Whether a value of numba type ``t`` is or holds an array (in a tuple)."""
    if isinstance(t, types.Array):
        return True
    return isinstance(t, types.BaseTuple) and any(holds_array(x) for x in t.types)


@register_pass(mutates_CFG=False, analysis_only=True)
class ReturnsNoArray(FunctionPass):
    """Stops the compiling of a helper whose return type holds an array."""

    _name = "scoresim_returns_no_array"

    def __init__(self) -> None:
        FunctionPass.__init__(self)

    def run_pass(self, state) -> bool:
        if holds_array(state.return_type):
            raise TypeError(
                f"jit.helper {state.func_id.func_qualname} returns {state.return_type}: a helper"
                " is compiled without reference counting, so it may not return an array"
                " (make it a plain or inlined njit)"
            )
        return False


class HelperCompiler(CompilerBase):
    """numba's nopython pipeline with ``ReturnsNoArray`` after type inference."""

    def define_pipelines(self):
        pm = DefaultPassBuilder.define_nopython_pipeline(self.state)
        pm.add_pass_after(ReturnsNoArray, NopythonTypeInference)
        pm.finalize()
        return [pm]


def helper(fn: Callable) -> CPUDispatcher:
    """Compile ``fn`` as a loop helper: cached, without reference counting."""
    return njit(cache=True, _nrt=False, pipeline_class=HelperCompiler)(fn)
