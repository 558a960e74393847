#===- __init__.py - ntp from Python ----------------------------------------===#
#
# Python bindings of the ntp runtime and JIT (ctypes over libntp_runtime.so
# and libntp_jit.so; no MLIR here, no numpy C API, so one build works under
# numpy 1.x and 2.x). Arrays are numpy arrays or torch tensors, passed by
# pointer without copies; their dtype, shape, device and contiguity are
# checked first and a mismatch raises ntp.Error (never a silent copy or a
# wrong answer). `import ntp` needs neither numpy, torch nor JAX; ntp.torch
# is the PyTorch layer (ntp.torch.jet).
#
#   k = ntp.compile([1, 24, 24, 24, 1], "tanh", order=9)   # JIT, disk cache
#   k = ntp.load("pinn.so")                                # ntp-compile AOT
#   out = k.forward(x, params)              # [(order+1), batch, d_out]
#   params_grad, x_grad = k.backward(x, params, cotangent)
#
# The package, by concern: _capi.py (the C API's ctypes declarations, the
# libraries), _errors.py (ntp.Error), _kernel.py (ntp.Kernel and the checks
# of its array arguments), _compile.py (ntp.compile, ntp.load).
#
#===----------------------------------------------------------------------===#
from . import _capi
from ._capi import (OK, ERROR_INVALID_ARGUMENT, ERROR_IO, ERROR_BAD_ARTIFACT,
                    ERROR_ABI_MISMATCH, ERROR_UNSUPPORTED, ERROR_NO_DEVICE,
                    ERROR_INTERNAL)
from ._errors import Error, _check, _fail  # noqa: F401 (ntp.torch, ntp.jax)
from ._kernel import Kernel
from ._compile import compile, load

__all__ = ["Error", "Kernel", "compile", "load", "set_num_threads",
           "jit_version", "OK", "ERROR_INVALID_ARGUMENT", "ERROR_IO",
           "ERROR_BAD_ARTIFACT", "ERROR_ABI_MISMATCH", "ERROR_UNSUPPORTED",
           "ERROR_NO_DEVICE", "ERROR_INTERNAL"]
__version__ = "0.1.0"

# Their names in tracebacks and pickles, as when they were defined here.
Error.__module__ = Kernel.__module__ = __name__


def set_num_threads(n):
    """Worker threads of CPU kernels (n <= 0: $NTP_NUM_THREADS or all)."""
    _check(_capi.runtime().ntp_set_num_threads(int(n)))


def jit_version():
    return _capi.jit().ntp_jit_version().decode()
