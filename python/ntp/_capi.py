#===- _capi.py - ctypes declarations of the ntp C API ----------------------===#
#
# The C ABI of runtime/include/ntp/runtime.h and include/ntp/jit.h, declared
# for ctypes. Finding the libraries: $NTP_LIBRARY_DIR (one or more
# directories, os.pathsep-separated), then the directories the build recorded
# in _paths.py (absent in a source checkout), then the installed prefix, then
# the system loader's path. Nothing here imports numpy, torch or JAX.
#
#===----------------------------------------------------------------------===#
import ctypes
import os
import threading

# ntp_status (runtime.h); every call returns one as an int.
OK = 0
ERROR_INVALID_ARGUMENT = 1
ERROR_IO = 2
ERROR_BAD_ARTIFACT = 3
ERROR_ABI_MISMATCH = 4
ERROR_UNSUPPORTED = 5
ERROR_NO_DEVICE = 6
ERROR_INTERNAL = 7

STATUS_NAMES = {
    OK: "NTP_OK",
    ERROR_INVALID_ARGUMENT: "NTP_ERROR_INVALID_ARGUMENT",
    ERROR_IO: "NTP_ERROR_IO",
    ERROR_BAD_ARTIFACT: "NTP_ERROR_BAD_ARTIFACT",
    ERROR_ABI_MISMATCH: "NTP_ERROR_ABI_MISMATCH",
    ERROR_UNSUPPORTED: "NTP_ERROR_UNSUPPORTED",
    ERROR_NO_DEVICE: "NTP_ERROR_NO_DEVICE",
    ERROR_INTERNAL: "NTP_ERROR_INTERNAL",
}

DTYPE_F32, DTYPE_F64 = 0, 1
DEVICE_CPU, DEVICE_CUDA = 0, 1

c_int, c_int32, c_int64 = ctypes.c_int, ctypes.c_int32, ctypes.c_int64
c_void_p, c_char_p, c_double = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_double


class KernelInfo(ctypes.Structure):
    _fields_ = [("order", c_int32), ("input_dim", c_int32),
                ("output_dim", c_int32), ("num_params", c_int64),
                ("dtype", c_int32), ("device", c_int32)]


class JitSpec(ctypes.Structure):
    _fields_ = [("mlir", c_char_p), ("layers", ctypes.POINTER(c_int64)),
                ("num_layers", c_int32), ("activation", c_char_p),
                ("order", c_int32), ("dtype", c_int32),
                ("partials_lowering", c_char_p),
                ("partials_reverse_lowering", c_char_p)]


class JitOptions(ctypes.Structure):
    _fields_ = [("cpu", c_char_p), ("features", c_char_p),
                ("device", c_int32), ("tile", c_int32),
                ("use_cache", c_int32), ("backward", c_int32),
                ("cache_dir", c_char_p), ("chip", c_char_p),
                ("gpu_format", c_int32), ("gpu_mapping", c_int32)]


class JitReport(ctypes.Structure):
    _fields_ = [("cache_hit", c_int32), ("cache_stored", c_int32),
                ("cache_rebuilt", c_int32), ("seconds", c_double),
                ("cache_path", ctypes.c_char * 1024),
                ("warning", ctypes.c_char * 1024)]


_P = ctypes.POINTER
_RUNTIME_SIGNATURES = {
    "ntp_kernel_load": [c_char_p, _P(c_void_p)],
    "ntp_kernel_info_get": [c_void_p, _P(KernelInfo)],
    "ntp_forward": [c_void_p, c_void_p, c_void_p, c_void_p, c_void_p,
                    c_int64],
    "ntp_forward_async": [c_void_p, c_void_p, c_void_p, c_void_p, c_void_p,
                          c_int64, c_void_p],
    "ntp_backward_full": [c_void_p, c_void_p, c_void_p, c_void_p, c_void_p,
                          c_void_p, c_void_p, c_int64],
    "ntp_workspace_size": [c_void_p, c_int64, _P(c_int64)],
    "ntp_forward_save": [c_void_p, c_void_p, c_void_p, c_void_p, c_void_p,
                         c_void_p, c_int64],
    "ntp_backward_saved": [c_void_p, c_void_p, c_void_p, c_void_p, c_void_p,
                           c_void_p, c_void_p, c_void_p, c_int64],
    # The reverse mode on a CUDA stream (CUDA kernels; a CPU kernel takes
    # only a null stream).
    "ntp_backward_full_async": [c_void_p, c_void_p, c_void_p, c_void_p,
                                c_void_p, c_void_p, c_void_p, c_int64,
                                c_void_p],
    "ntp_forward_save_async": [c_void_p, c_void_p, c_void_p, c_void_p,
                               c_void_p, c_void_p, c_int64, c_void_p],
    "ntp_backward_saved_async": [c_void_p, c_void_p, c_void_p, c_void_p,
                                 c_void_p, c_void_p, c_void_p, c_void_p,
                                 c_int64, c_void_p],
    "ntp_kernel_layers": [c_void_p, _P(c_int32), c_int32, _P(c_int32)],
    "ntp_partials": [c_void_p, c_void_p, c_void_p, c_void_p, c_int64],
    "ntp_kernel_partials_get": [c_void_p, _P(c_int32), c_int32, _P(c_int32)],
    # The reverse mode of partials kernels (x, params, cotangent,
    # params_grad, x_grad[, workspace], batch).
    "ntp_partials_backward": [c_void_p, c_void_p, c_void_p, c_void_p,
                              c_void_p, c_void_p, c_int64],
    "ntp_partials_save": [c_void_p, c_void_p, c_void_p, c_void_p, c_void_p,
                          c_int64],
    "ntp_partials_backward_saved": [c_void_p, c_void_p, c_void_p, c_void_p,
                                    c_void_p, c_void_p, c_void_p, c_int64],
    "ntp_kernel_description": [c_void_p, ctypes.c_char_p, c_int64,
                               _P(c_int64)],
    "ntp_set_num_threads": [c_int32],
}

_lock = threading.Lock()
_runtime = None
_jit = None


def _search_dirs():
    dirs = []
    env = os.environ.get("NTP_LIBRARY_DIR")
    if env:
        dirs += [d for d in env.split(os.pathsep) if d]
    try:
        from . import _paths  # generated by CMake into build/python
        dirs += list(_paths.LIBRARY_DIRS)
        prefix_dirs = list(_paths.INSTALL_LIBRARY_DIRS)
    except ImportError:
        prefix_dirs = []
    dirs += prefix_dirs + ["/usr/local/lib", "/usr/local/lib64"]
    return dirs


def _open(stem):
    tried = []
    for d in _search_dirs():
        path = os.path.join(d, stem + ".so")
        if os.path.exists(path):
            return ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
        tried.append(d)
    try:  # the system loader's path (ldconfig, LD_LIBRARY_PATH)
        return ctypes.CDLL(stem + ".so", mode=ctypes.RTLD_GLOBAL)
    except OSError:
        pass
    raise OSError(
        "ntp: cannot find %s.so (looked in %s and the system library path); "
        "build ntp and use PYTHONPATH=<build>/python, or set $NTP_LIBRARY_DIR "
        "to the directory holding it" % (stem, ", ".join(tried) or "nothing"))


def runtime():
    """libntp_runtime.so with its signatures declared (loaded once)."""
    global _runtime
    if _runtime is None:
        with _lock:
            if _runtime is None:
                lib = _open("libntp_runtime")
                for name, args in _RUNTIME_SIGNATURES.items():
                    fn = getattr(lib, name)
                    fn.argtypes = args
                    fn.restype = c_int
                lib.ntp_kernel_free.argtypes = [c_void_p]
                lib.ntp_kernel_free.restype = None
                lib.ntp_last_error.argtypes = []
                lib.ntp_last_error.restype = c_char_p
                lib.ntp_kernel_activation.argtypes = [c_void_p]
                lib.ntp_kernel_activation.restype = c_char_p
                lib.ntp_kernel_target_cpu.argtypes = [c_void_p]
                lib.ntp_kernel_target_cpu.restype = c_char_p
                lib.ntp_kernel_partials_lowering.argtypes = [c_void_p,
                                                             c_int32]
                lib.ntp_kernel_partials_lowering.restype = c_char_p
                _runtime = lib
    return _runtime


def jit():
    """libntp_jit.so (LLVM and MLIR come with it): loaded on first compile."""
    global _jit
    if _jit is None:
        runtime()  # first, so that the JIT binds to this very runtime
        with _lock:
            if _jit is None:
                lib = _open("libntp_jit")
                lib.ntp_jit_spec_init.argtypes = [_P(JitSpec)]
                lib.ntp_jit_spec_init.restype = None
                lib.ntp_jit_options_init.argtypes = [_P(JitOptions)]
                lib.ntp_jit_options_init.restype = None
                lib.ntp_jit_compile_report.argtypes = [
                    _P(JitSpec), _P(JitOptions), _P(c_void_p), _P(JitReport)]
                lib.ntp_jit_compile_report.restype = c_int
                lib.ntp_jit_version.argtypes = []
                lib.ntp_jit_version.restype = c_char_p
                _jit = lib
    return _jit
