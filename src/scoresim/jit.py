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
compiling one that does either fails (numba allocates only with counting on; a returned
array, and a call to a plain ``njit``, are refused by ``HelperRules``). A function that
returns an array (``network.rows_in``) stays an inlined ``njit``.
"""

from __future__ import annotations

from collections.abc import Callable

from numba import njit, types
from numba.core import cgutils
from numba.core.compiler import CompilerBase, DefaultPassBuilder
from numba.core.compiler_machinery import FunctionPass, register_pass
from numba.core.registry import CPUDispatcher
from numba.core.typed_passes import NopythonTypeInference


@register_pass(mutates_CFG=False, analysis_only=True)
class HelperRules(FunctionPass):
    """Stops the compiling of a helper that returns anything reference-counted (an array, a
    tuple or optional holding one, a list) or that calls a compiled function other than a
    helper or an inlined one: numba compiles a plain ``njit`` called first from a helper
    without counting too, and then hands that compile to callers that count."""

    _name = "scoresim_helper_rules"

    def __init__(self) -> None:
        FunctionPass.__init__(self)

    def run_pass(self, state) -> bool:
        name = state.func_id.func_qualname
        if state.targetctx.data_model_manager[state.return_type].contains_nrt_meminfo():
            raise TypeError(
                f"jit.helper {name} returns {state.return_type}: a helper is compiled without"
                " reference counting, so it may not return an array (make it an inlined njit)"
            )
        for block in state.func_ir.blocks.values():
            for expr in block.find_exprs(op="call"):
                callee = state.typemap[expr.func.name]
                if isinstance(callee, types.Dispatcher) and not _counts_nothing(callee):
                    raise TypeError(
                        f"jit.helper {name} calls {callee.dispatcher.py_func.__qualname__}, a"
                        " plain njit: a helper calls helpers and inlined functions only"
                    )
        return False


def _counts_nothing(callee: types.Dispatcher) -> bool:
    """Whether a compiled function a helper calls is a helper or inlined into it."""
    options = callee.dispatcher.targetoptions
    return options.get("_nrt") is False or options.get("inline") == "always"


class HelperCompiler(CompilerBase):
    """numba's nopython pipeline with ``HelperRules`` after type inference."""

    def define_pipelines(self):
        pm = DefaultPassBuilder.define_nopython_pipeline(self.state)
        pm.add_pass_after(HelperRules, NopythonTypeInference)
        pm.finalize()
        return [pm]


def helper(fn: Callable) -> CPUDispatcher:
    """Compile ``fn`` as a loop helper: cached, without reference counting."""
    return njit(cache=True, _nrt=False, pipeline_class=HelperCompiler)(fn)


def element_pointer(context, builder, array_type, array, index):
    """In an intrinsic's generated code (prefetch.py, atomic_words.py): the address of
    ``array[index]``, for an index the caller knows in bounds and not negative (no
    wraparound, no check)."""
    arr = context.make_array(array_type)(context, builder, array)
    return cgutils.get_item_pointer(context, builder, array_type, arr, [index], wraparound=False)
