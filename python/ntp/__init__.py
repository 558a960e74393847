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
#===----------------------------------------------------------------------===#
import ctypes
import threading

from . import _capi
from ._capi import (OK, ERROR_INVALID_ARGUMENT, ERROR_IO, ERROR_BAD_ARTIFACT,
                    ERROR_ABI_MISMATCH, ERROR_UNSUPPORTED, ERROR_NO_DEVICE,
                    ERROR_INTERNAL)

__all__ = ["Error", "Kernel", "compile", "load", "set_num_threads",
           "jit_version", "OK", "ERROR_INVALID_ARGUMENT", "ERROR_IO",
           "ERROR_BAD_ARTIFACT", "ERROR_ABI_MISMATCH", "ERROR_UNSUPPORTED",
           "ERROR_NO_DEVICE", "ERROR_INTERNAL"]
__version__ = "0.1.0"

_DTYPES = {"float32": _capi.DTYPE_F32, "f32": _capi.DTYPE_F32,
           "float64": _capi.DTYPE_F64, "f64": _capi.DTYPE_F64}
_DTYPE_NAMES = {_capi.DTYPE_F32: "float32", _capi.DTYPE_F64: "float64"}
_DEVICES = {"cpu": _capi.DEVICE_CPU, "cuda": _capi.DEVICE_CUDA}
_DEVICE_NAMES = {_capi.DEVICE_CPU: "cpu", _capi.DEVICE_CUDA: "cuda"}


class Error(RuntimeError):
    """A failed ntp call: `status` is the ntp_status (ntp.ERROR_*) and
    `message` the one-sentence ntp_last_error() (or the binding's own
    sentence for a bad argument, with status ERROR_INVALID_ARGUMENT)."""

    def __init__(self, status, message):
        self.status = int(status)
        self.message = message
        super().__init__("%s (%s)" % (
            message, _capi.STATUS_NAMES.get(self.status, "status %d" % status)))


def _fail(message, status=ERROR_INVALID_ARGUMENT):
    raise Error(status, message)


def _check(status):
    if status != 0:
        msg = _capi.runtime().ntp_last_error()
        raise Error(status, msg.decode(errors="replace") if msg else
                    "ntp call failed without a message")


def set_num_threads(n):
    """Worker threads of CPU kernels (n <= 0: $NTP_NUM_THREADS or all)."""
    _check(_capi.runtime().ntp_set_num_threads(int(n)))


def jit_version():
    return _capi.jit().ntp_jit_version().decode()


#===----------------------------------------------------------------------===#
# Arrays: numpy, torch, or (CUDA kernels only) integer device pointers
#===----------------------------------------------------------------------===#

# type -> "torch" / "numpy" / "int" / None, learnt on first sight so that
# the per-call checks below are attribute reads and identity tests.
_KINDS = {int: "int", bool: None}


def _kind(a):
    t = type(a)
    kind = _KINDS.get(t, 0)
    if kind == 0:
        mod = t.__module__
        if mod.startswith("torch") and hasattr(a, "data_ptr"):
            kind = "torch"
        elif mod == "numpy" and hasattr(a, "__array_interface__"):
            kind = "numpy"
        else:
            kind = None
        _KINDS[t] = kind
    return kind


def _is_torch(a):
    return _kind(a) == "torch"


def _wrong(k, a, name, shape, kind):
    """The sentence for an argument that failed the fast checks."""
    if kind == "torch":
        dev, dt = a.device.type, str(a.dtype)[6:]
        contiguous = a.is_contiguous()
    else:
        dev, dt, contiguous = "cpu", a.dtype.name, a.flags.c_contiguous
    if dev != k.device:
        _fail("%s is on %s but the kernel runs on %s" % (
            name, a.device if kind == "torch" else "the host (numpy)",
            k.device))
    if shape is not None:
        if dt != k.dtype:
            _fail("%s has dtype %s but the kernel computes in %s; convert it "
                  "first (.astype / .to)" % (name, dt, k.dtype))
        if tuple(a.shape) != shape:
            _fail("%s has shape %s, expected %s" % (name, list(a.shape),
                                                    list(shape)))
    if not contiguous:
        _fail("%s is not contiguous; pass np.ascontiguousarray(...) or "
              ".contiguous() (ntp does not copy behind your back)" % name)
    if kind == "numpy" and not a.flags.writeable:
        _fail("%s is a read-only array" % name)
    _fail("%s was refused" % name, ERROR_INTERNAL)


def _arg(k, a, name, shape, writable=False):
    """The data pointer of `a` after checking it against `shape` (a tuple, or
    None: not checked, nor the dtype) and the kernel's dtype and device."""
    kind = _kind(a)
    if kind == "torch":
        if (a.is_cuda is k._is_cuda and a.is_contiguous()
                and (shape is None or (a.dtype is k._torch_dtype()
                                       and a.shape == shape))):
            return a.data_ptr()
    elif kind == "numpy":
        if k._device != _capi.DEVICE_CPU:
            _fail("%s is a numpy array but the kernel runs on %s; pass a "
                  "CUDA tensor or a device pointer" % (name, k.device))
        flags = a.flags
        if (flags.c_contiguous and (not writable or flags.writeable)
                and (shape is None or (a.dtype.char == k._np_char
                                       and a.shape == shape))):
            return a.__array_interface__["data"][0]
    elif kind == "int":
        if k._device != _capi.DEVICE_CUDA:
            _fail("%s is an integer pointer, which only CUDA kernels take; "
                  "pass a numpy array or a CPU tensor" % name)
        return a
    else:
        _fail("%s must be a numpy array or a torch tensor%s, not %s" % (
            name, " (or an integer device pointer)" if k.device == "cuda"
            else "", type(a).__name__))
    _wrong(k, a, name, shape, kind)


def _empty_like_kind(ref, shape, dtype_name):
    """A new array of `shape` of the kind (numpy or torch, device) of ref."""
    if _kind(ref) == "torch":
        import torch
        return torch.empty(shape, dtype=getattr(torch, dtype_name),
                           device=ref.device)
    import numpy
    return numpy.empty(shape, dtype=dtype_name)


class Kernel:
    """A loaded or JIT-compiled ntp kernel (one ntp_kernel handle).

    Thread-safe: any number of threads may call it at once. Attributes:
    order, input_dim, output_dim, num_params, dtype ("float32"/"float64"),
    device ("cpu"/"cuda"), layers (widths), activation (one name, or one per
    hidden layer separated by commas), description (the network as the one
    line of ntp.mlp IR), report (what the JIT did: cache hit, seconds; None
    for ntp.load)."""

    def __init__(self, handle, report=None):
        self._lib = _capi.runtime()
        self._h = ctypes.c_void_p(handle)
        info = _capi.KernelInfo()
        _check(self._lib.ntp_kernel_info_get(self._h, ctypes.byref(info)))
        self.order, self.input_dim = info.order, info.input_dim
        self.output_dim, self.num_params = info.output_dim, info.num_params
        self._dtype, self._device = info.dtype, info.device
        self.dtype = _DTYPE_NAMES[info.dtype]
        self.device = _DEVICE_NAMES[info.device]
        widths = (ctypes.c_int32 * 64)()
        count = ctypes.c_int32()
        _check(self._lib.ntp_kernel_layers(self._h, widths, 64,
                                           ctypes.byref(count)))
        if count.value > 64:
            widths = (ctypes.c_int32 * count.value)()
            _check(self._lib.ntp_kernel_layers(self._h, widths, count.value,
                                               ctypes.byref(count)))
        self.layers = tuple(widths[:count.value])
        # A partials kernel's requests (ntp_kernel_partials_get): rows of
        # input_dim entries, -2 / -4 marking an operator; () for a jet kernel.
        _check(self._lib.ntp_kernel_partials_get(self._h, None, 0,
                                                 ctypes.byref(count)))
        rows = (ctypes.c_int32 * max(1, count.value * self.input_dim))()
        _check(self._lib.ntp_kernel_partials_get(
            self._h, rows, count.value * self.input_dim, ctypes.byref(count)))
        d = self.input_dim
        self.requests = tuple(tuple(rows[p * d:(p + 1) * d])
                              for p in range(count.value))
        self.activation = self._lib.ntp_kernel_activation(self._h).decode()
        # The network as one line of IR (ntp_kernel_description).
        length = ctypes.c_int64()
        _check(self._lib.ntp_kernel_description(self._h, None, 0,
                                                ctypes.byref(length)))
        text = ctypes.create_string_buffer(length.value + 1)
        _check(self._lib.ntp_kernel_description(self._h, text,
                                                length.value + 1,
                                                ctypes.byref(length)))
        self.description = text.value.decode()
        self.report = report
        self._is_cuda = info.device == _capi.DEVICE_CUDA
        self._np_char = "f" if info.dtype == _capi.DTYPE_F32 else "d"
        self._torch = None
        self._ones = {}
        self._ws_sizes = {}
        self._ones_lock = threading.Lock()

    def _torch_dtype(self):
        if self._torch is None:
            import torch
            self._torch = getattr(torch, self.dtype)
        return self._torch

    def __del__(self):
        h = getattr(self, "_h", None)
        if h is not None and h.value:
            self._lib.ntp_kernel_free(h)
            self._h = None

    def __repr__(self):
        return "ntp.Kernel(layers=%s, activation=%r, order=%d, dtype=%r, " \
               "device=%r)" % (list(self.layers), self.activation, self.order,
                               self.dtype, self.device)

    # -- shapes ------------------------------------------------------------
    def _batch(self, x, batch):
        """(batch, the shape x must have) or (batch, None) for a pointer."""
        if type(x) is int:
            if batch is None:
                _fail("x is a device pointer: pass batch=")
            return int(batch), None
        s = getattr(x, "shape", None)
        if s is None:
            _fail("x must be a numpy array or a torch tensor%s, not %s" % (
                " (or an integer device pointer)" if self.device == "cuda"
                else "", type(x).__name__))
        if len(s) == 2 and s[1] == self.input_dim:
            xs = (s[0], self.input_dim)
        elif len(s) == 1 and self.input_dim == 1:
            xs = (s[0],)  # [batch] for one input, documented
        else:
            _fail("x has shape %s, expected [batch, %d]%s" % (
                list(s), self.input_dim,
                " or [batch]" if self.input_dim == 1 else ""))
        if batch is not None and batch != s[0]:
            _fail("batch=%d but x holds %d points" % (batch, s[0]))
        return s[0], xs

    def _out_shape(self, batch):
        return (self.order + 1, batch, self.output_dim)

    def _direction(self, x, direction):
        if direction is not None:
            return _arg(self, direction, "direction", (self.input_dim,))
        if self.input_dim != 1:
            _fail("direction is required: the network has %d inputs (v = 1 "
                  "is the default for one input only)" % self.input_dim)
        kind = _kind(x)
        if kind == "int":
            _fail("direction is required with device pointers (a device "
                  "buffer holding the direction)")
        key = x.get_device() if kind == "torch" and self._is_cuda else kind
        ones = self._ones.get(key)
        if ones is None:
            with self._ones_lock:
                ones = _empty_like_kind(x, (1,), self.dtype)
                ones[0] = 1
                self._ones[key] = ones
        return _arg(self, ones, "direction", (1,))

    def _stream(self, x, stream):
        if stream is not None:
            return stream
        if self._device == _capi.DEVICE_CUDA and _is_torch(x):
            import torch
            return torch.cuda.current_stream(x.device).cuda_stream
        return None

    # -- calls -------------------------------------------------------------
    def forward(self, x, params, direction=None, *, out=None, batch=None,
                stream=None):
        """The jet out[k, b, j] = d^k/dt^k f_j(x_b + t v), k = 0..order.

        x [batch, input_dim] (or [batch] for one input), params [num_params]
        in torch.nn.Linear order, direction [input_dim] (None: v = 1, one
        input only). Returns out [(order+1), batch, output_dim], a new array
        of x's kind unless `out` is given. CUDA kernels take CUDA tensors (run
        on the current stream, or `stream`, a CUstream as an int, returning
        once queued) or integer device pointers (then batch= and out= are
        required)."""
        n, xs = self._batch(x, batch)
        px = _arg(self, x, "x", xs)
        pv = self._direction(x, direction)
        pp = _arg(self, params, "params", (self.num_params,))
        if out is None:
            if xs is None:
                _fail("out is required with device pointers")
            out = _empty_like_kind(x, self._out_shape(n), self.dtype)
        po = _arg(self, out, "out", self._out_shape(n), writable=True)
        if self._device == _capi.DEVICE_CUDA:
            _check(self._lib.ntp_forward_async(self._h, px, pv, pp, po, n,
                                               self._stream(x, stream)))
        else:
            _check(self._lib.ntp_forward(self._h, px, pv, pp, po, n))
        return out

    def partials(self, x, params, *, out=None, batch=None):
        """A partials kernel's out[p, b, j] = D^alpha_p f_j(x_b), the
        requests of `requests` in order (ntp_partials; CPU). x [batch,
        input_dim], params [num_params]; returns out [P, batch, output_dim],
        a new array of x's kind unless `out` is given."""
        if not self.requests:
            _fail("this kernel computes a jet, not partial derivatives: call "
                  "forward")
        n, xs = self._batch(x, batch)
        px = _arg(self, x, "x", xs)
        pp = _arg(self, params, "params", (self.num_params,))
        shape = (len(self.requests), n, self.output_dim)
        if out is None:
            out = _empty_like_kind(x, shape, self.dtype)
        po = _arg(self, out, "out", shape, writable=True)
        _check(self._lib.ntp_partials(self._h, px, pp, po, n))
        return out

    def _partials_shape(self, n):
        if not self.requests:
            _fail("this kernel computes a jet, not partial derivatives: call "
                  "forward, backward, forward_save and backward_saved")
        return (len(self.requests), n, self.output_dim)

    def partials_backward(self, x, params, cotangent, *, params_grad=None,
                          x_grad=None, need_x_grad=True, batch=None):
        """A partials kernel's gradients of sum(cotangent * out) with respect
        to params and x (ntp_partials_backward; recomputes the forward);
        cotangent has out's shape [P, batch, output_dim]. Returns
        (params_grad, x_grad); x_grad is None when need_x_grad is False."""
        n, xs = self._batch(x, batch)
        shape = self._partials_shape(n)
        px = _arg(self, x, "x", xs)
        pp = _arg(self, params, "params", (self.num_params,))
        pc = _arg(self, cotangent, "cotangent", shape)
        params_grad, pg, x_grad, pxg = self._grads(x, xs, params_grad,
                                                   x_grad, need_x_grad)
        _check(self._lib.ntp_partials_backward(self._h, px, pp, pc, pg, pxg,
                                               n))
        return params_grad, x_grad

    def partials_save(self, x, params, workspace=None, *, out=None,
                      batch=None):
        """partials, keeping every ray's jets in `workspace` (at least
        workspace_size(batch) bytes; None: a new one) for
        partials_backward_saved. Returns (out, workspace)."""
        n, xs = self._batch(x, batch)
        shape = self._partials_shape(n)
        px = _arg(self, x, "x", xs)
        pp = _arg(self, params, "params", (self.num_params,))
        if workspace is None:
            if _is_torch(x):
                import torch
                workspace = torch.empty(self._ws_size(n), dtype=torch.uint8,
                                        device=x.device)
            else:
                import numpy
                workspace = numpy.empty(self._ws_size(n), numpy.uint8)
        pw = self._workspace(workspace, n)
        if out is None:
            out = _empty_like_kind(x, shape, self.dtype)
        po = _arg(self, out, "out", shape, writable=True)
        _check(self._lib.ntp_partials_save(self._h, px, pp, po, pw, n))
        return out, workspace

    def partials_backward_saved(self, x, params, cotangent, workspace, *,
                                params_grad=None, x_grad=None,
                                need_x_grad=True, batch=None):
        """The gradients of partials_backward from the workspace that
        partials_save filled with the same x and params."""
        n, xs = self._batch(x, batch)
        shape = self._partials_shape(n)
        px = _arg(self, x, "x", xs)
        pp = _arg(self, params, "params", (self.num_params,))
        pc = _arg(self, cotangent, "cotangent", shape)
        pw = self._workspace(workspace, n)
        params_grad, pg, x_grad, pxg = self._grads(x, xs, params_grad,
                                                   x_grad, need_x_grad)
        _check(self._lib.ntp_partials_backward_saved(self._h, px, pp, pc, pg,
                                                     pxg, pw, n))
        return params_grad, x_grad

    def backward(self, x, params, cotangent, direction=None, *,
                 params_grad=None, x_grad=None, need_x_grad=True, batch=None,
                 stream=None):
        """Gradients of sum(cotangent * out) with respect to params and x
        (ntp_backward_full; recomputes the forward). Returns (params_grad,
        x_grad); x_grad is None when need_x_grad is False. CUDA kernels
        (compiled with the reverse mode) run on `stream` or the current one,
        as forward does."""
        n, xs = self._batch(x, batch)
        px = _arg(self, x, "x", xs)
        pv = self._direction(x, direction)
        pp = _arg(self, params, "params", (self.num_params,))
        pc = _arg(self, cotangent, "cotangent", self._out_shape(n))
        params_grad, pg, x_grad, pxg = self._grads(x, xs, params_grad,
                                                   x_grad, need_x_grad)
        if self._device == _capi.DEVICE_CUDA:
            _check(self._lib.ntp_backward_full_async(
                self._h, px, pv, pp, pc, pg, pxg, n, self._stream(x, stream)))
        else:
            _check(self._lib.ntp_backward_full(self._h, px, pv, pp, pc, pg,
                                               pxg, n))
        return params_grad, x_grad

    def _grads(self, x, xs, params_grad, x_grad, need_x_grad):
        if params_grad is None:
            params_grad = _empty_like_kind(x, (self.num_params,), self.dtype)
        pg = _arg(self, params_grad, "params_grad", (self.num_params,),
                  writable=True)
        pxg = None
        if x_grad is None and need_x_grad:
            x_grad = _empty_like_kind(x, xs, self.dtype)
        if x_grad is not None:
            pxg = _arg(self, x_grad, "x_grad", xs, writable=True)
        return params_grad, pg, x_grad, pxg

    def workspace_size(self, batch):
        """Bytes of the workspace forward_save needs for `batch` points."""
        size = ctypes.c_int64()
        _check(self._lib.ntp_workspace_size(self._h, int(batch),
                                            ctypes.byref(size)))
        return size.value

    def _ws_size(self, n):
        size = self._ws_sizes.get(n)
        if size is None:
            size = self.workspace_size(n)
            if len(self._ws_sizes) < 64:  # a training loop has few batches
                self._ws_sizes[n] = size
        return size

    def _workspace(self, workspace, n, name="workspace"):
        need = self._ws_size(n)
        if isinstance(workspace, int):
            return workspace
        nbytes = workspace.nbytes if hasattr(workspace, "nbytes") else \
            workspace.numel() * workspace.element_size()
        if nbytes < need:
            _fail("%s holds %d bytes but %d points need %d "
                  "(Kernel.workspace_size)" % (name, nbytes, n, need))
        return _arg(self, workspace, name, None, writable=True)

    def forward_save(self, x, params, workspace=None, direction=None, *,
                     out=None, batch=None, stream=None):
        """forward, keeping every layer's jets in `workspace` (a contiguous
        buffer of at least workspace_size(batch) bytes, e.g. a uint8 array;
        None: a new one) for backward_saved. Returns (out, workspace)."""
        n, xs = self._batch(x, batch)
        px = _arg(self, x, "x", xs)
        pv = self._direction(x, direction)
        pp = _arg(self, params, "params", (self.num_params,))
        if workspace is None:
            if _is_torch(x):
                import torch
                workspace = torch.empty(self._ws_size(n),
                                        dtype=torch.uint8, device=x.device)
            else:
                import numpy
                workspace = numpy.empty(self._ws_size(n), numpy.uint8)
        pw = self._workspace(workspace, n)
        if out is None:
            out = _empty_like_kind(x, self._out_shape(n), self.dtype)
        po = _arg(self, out, "out", self._out_shape(n), writable=True)
        if self._device == _capi.DEVICE_CUDA:
            _check(self._lib.ntp_forward_save_async(
                self._h, px, pv, pp, po, pw, n, self._stream(x, stream)))
        else:
            _check(self._lib.ntp_forward_save(self._h, px, pv, pp, po, pw, n))
        return out, workspace

    def backward_saved(self, x, params, cotangent, workspace, direction=None,
                       *, params_grad=None, x_grad=None, need_x_grad=True,
                       batch=None, stream=None):
        """The gradients of backward from the workspace that forward_save
        filled with the same x, params and direction (no recomputation)."""
        n, xs = self._batch(x, batch)
        px = _arg(self, x, "x", xs)
        pv = self._direction(x, direction)
        pp = _arg(self, params, "params", (self.num_params,))
        pc = _arg(self, cotangent, "cotangent", self._out_shape(n))
        pw = self._workspace(workspace, n)
        params_grad, pg, x_grad, pxg = self._grads(x, xs, params_grad,
                                                   x_grad, need_x_grad)
        if self._device == _capi.DEVICE_CUDA:
            _check(self._lib.ntp_backward_saved_async(
                self._h, px, pv, pp, pc, pg, pxg, pw, n,
                self._stream(x, stream)))
        else:
            _check(self._lib.ntp_backward_saved(self._h, px, pv, pp, pc, pg,
                                                pxg, pw, n))
        return params_grad, x_grad


#===----------------------------------------------------------------------===#
# Making kernels
#===----------------------------------------------------------------------===#

def load(path):
    """Loads an ahead-of-time artifact made by ntp-compile (ntp_kernel_load):
    a CPU shared object or a CUDA artifact."""
    lib = _capi.runtime()
    h = ctypes.c_void_p()
    _check(lib.ntp_kernel_load(str(path).encode(), ctypes.byref(h)))
    return Kernel(h.value)


def _cstr(s):
    return None if s is None else str(s).encode()


def _typed_attributes(fourier, slopes, residual, gated=False):
    """The typed layers (issue 14) as ntp.mlp attribute text: `fourier m`
    (m frequencies, 0: none), `slopes` (one of "none", "layer", "neuron"
    for every hidden layer, or a list with one per hidden layer; None: no
    slopes), `residual` (one flag per hidden layer; None: none), `gated`
    (the modified MLP). The compiler's verifier checks the counts and
    names."""
    text = ""
    if fourier:
        text += " fourier %d" % int(fourier)
    if gated:
        text += " gated"
    if slopes is not None:
        if isinstance(slopes, str):
            text += ' slopes "%s"' % slopes
        else:
            text += " slopes [%s]" % ", ".join('"%s"' % s for s in slopes)
    if residual is not None:
        text += " residual [%s]" % ", ".join("true" if r else "false"
                                             for r in residual)
    return text


def _partials_mlir(layers, activation, order, dtype, partials, operators,
                   typed=""):
    """The ntp.mlp of a partials kernel (the C JIT takes it as spec.mlir);
    typed: _typed_attributes' text."""
    rows = [[int(e) for e in row] for row in partials]
    ops = []
    for text in operators:
        name, colon, subset = str(text).partition(":")
        if name not in ("laplacian", "biharmonic"):
            _fail("unknown operator %r (expected laplacian or biharmonic, "
                  "optionally with a subset as in laplacian:0,1)" % (text,))
        if colon and not subset.strip():
            _fail("the coordinates of operator %r must be comma-separated "
                  "integers (as in laplacian:0,1; no ':' means all inputs)"
                  % (text,))
        order = max(order, 2 if name == "laplacian" else 4)
        coords = subset.strip()
        ops.append("#ntp.%s%s" % (name, "<[%s]>" % coords if coords else ""))
    for row in rows:
        order = max(order, sum(e for e in row if e > 0))
    # One name, or the per-layer list ("silu,tanh" is ["silu", "tanh"] in
    # IR, where a comma inside one string is no activation).
    acts = str(activation).split(",")
    act = '"%s"' % acts[0] if len(acts) == 1 else "[%s]" % ", ".join(
        '"%s"' % a.strip() for a in acts)
    text = "ntp.mlp @ntp_kernel layers [%s] activation %s%s order %d" % (
        ", ".join(str(int(w)) for w in layers), act, typed, order)
    if rows:
        text += " partials [%s]" % ", ".join(
            "[%s]" % ", ".join(str(e) for e in row) for row in rows)
    if ops:
        text += " operators [%s]" % ", ".join(ops)
    return text + " : %s\n" % ("f64" if dtype == "float64" else "f32")


def compile(layers, activation="tanh", order=0, dtype="float64", device="cpu",
            *, backward=True, cache_dir=None, use_cache=True, tile=0,
            cpu=None, features=None, chip=None, gpu_format="auto",
            gpu_mapping="sample", mlir=None, partials=None, operators=None,
            partials_lowering=None, fourier=0, slopes=None, residual=None,
            gated=False):
    """Compiles a network in process (ntp_jit_compile) and returns a Kernel.

    layers: widths from input to output ([1, 24, 24, 24, 1]); activation:
    tanh, sigmoid, sin, cos, identity, exp, softplus, silu, gelu, gelu_tanh
    for every hidden layer, or one per hidden layer separated by commas
    ("silu,tanh"); order: derivative order n;
    dtype: "float32"/"float64"; device: "cpu" or "cuda" (an NVPTX kernel;
    with backward, the reverse mode of --gpu-backward). Compiled objects are cached on disk (cache_dir, else
    $NTP_CACHE_DIR, $XDG_CACHE_HOME/ntp, ~/.cache/ntp; "off" or
    use_cache=False: no cache). `mlir`: the text of a module with one ntp.mlp
    instead of layers/activation/order/dtype. `partials` (multi-indices,
    e.g. [[2, 0], [1, 1]]) and/or `operators` ("laplacian", "biharmonic",
    "laplacian:0,1" for a subset) make a partials kernel (Kernel.partials);
    the order is then at least their highest total order.
    `partials_lowering`: how its forward (Kernel.partials) propagates the
    rays, as ntp-compile --partials-lowering spells it: "auto" (None: the
    fewest operations), "per-ray", "multi-direction" or "collapsed" (needs a
    laplacian or biharmonic request); the reverse mode is per-ray beside
    any of them. Typed layers
    (README, issue 14): `fourier` m (a Fourier-feature embedding of m
    frequencies, B [m, input width] first in the parameters), `slopes`
    ("none", "layer" or "neuron" for every hidden layer, or a list with one
    per hidden layer: adaptive activations sigma(a * y)), `residual` (one
    flag per hidden layer), `gated` (the modified MLP: parameters [B], W_u,
    b_u, W_v, b_v, then per hidden layer W_l, b_l [, a_l], W_out, b_out;
    compilers without it refuse it); they make the kernel from its ntp.mlp
    text."""
    if dtype not in _DTYPES:
        _fail("dtype must be 'float32' or 'float64', not %r" % (dtype,))
    if device not in _DEVICES:
        _fail("device must be 'cpu' or 'cuda', not %r" % (device,))
    fmt = {"auto": 0, "ptx": 1, "cubin": 2}.get(gpu_format)
    mapping = {"sample": 0, "lanes": 1}.get(gpu_mapping)
    if fmt is None or mapping is None:
        _fail("gpu_format must be auto/ptx/cubin and gpu_mapping "
              "sample/lanes")
    lib = _capi.jit()
    spec = _capi.JitSpec()
    lib.ntp_jit_spec_init(ctypes.byref(spec))
    keep = []
    typed = _typed_attributes(fourier, slopes, residual, gated)
    if mlir is None and (partials or operators or typed):
        mlir = _partials_mlir(layers, activation, order, dtype,
                              partials or [], operators or [], typed)
    if partials_lowering is not None:
        if not isinstance(partials_lowering, str):
            _fail("partials_lowering must be one of 'auto', 'per-ray', "
                  "'multi-direction', 'collapsed', not %r"
                  % (partials_lowering,))
        spec.partials_lowering = _cstr(partials_lowering)
    if mlir is not None:
        spec.mlir = _cstr(mlir)
    else:
        widths = [int(w) for w in layers]
        arr = (ctypes.c_int64 * len(widths))(*widths)
        keep.append(arr)
        spec.layers = ctypes.cast(arr, ctypes.POINTER(ctypes.c_int64))
        spec.num_layers = len(widths)
        spec.activation = _cstr(activation)
        spec.order = int(order)
        spec.dtype = _DTYPES[dtype]
    opts = _capi.JitOptions()
    lib.ntp_jit_options_init(ctypes.byref(opts))
    opts.device = _DEVICES[device]
    opts.tile = int(tile)
    opts.use_cache = 1 if use_cache else 0
    opts.backward = 1 if backward else 0
    opts.cpu, opts.features = _cstr(cpu), _cstr(features)
    opts.cache_dir, opts.chip = _cstr(cache_dir), _cstr(chip)
    opts.gpu_format, opts.gpu_mapping = fmt, mapping
    report = _capi.JitReport()
    h = ctypes.c_void_p()
    _check(lib.ntp_jit_compile_report(ctypes.byref(spec), ctypes.byref(opts),
                                      ctypes.byref(h), ctypes.byref(report)))
    return Kernel(h.value, report={
        "cache_hit": bool(report.cache_hit),
        "cache_stored": bool(report.cache_stored),
        "cache_rebuilt": bool(report.cache_rebuilt),
        "seconds": report.seconds,
        "cache_path": report.cache_path.decode(errors="replace"),
        "warning": report.warning.decode(errors="replace")})
