#===- _kernel.py - ntp.Kernel: a kernel's calls ----------------------------===#
#
# Kernel, one ntp_kernel handle and its calls (forward, backward, partials,
# their _save / _saved forms), and the checks of their array arguments:
# numpy arrays, torch tensors or (CUDA kernels only) integer device
# pointers, passed by pointer after their dtype, shape, device and
# contiguity are checked.
#
#===----------------------------------------------------------------------===#
import ctypes
import threading

from . import _capi
from ._capi import ERROR_INTERNAL
from ._errors import _check, _fail

_DTYPE_NAMES = {_capi.DTYPE_F32: "float32", _capi.DTYPE_F64: "float64"}
_DEVICE_NAMES = {_capi.DEVICE_CPU: "cpu", _capi.DEVICE_CUDA: "cuda"}


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
    """A new array of `shape` of the kind (numpy or torch, device) of ref,
    on a 64-byte boundary: a kernel's vectors of a tile (up to 64 bytes)
    then never straddle two cache lines. PyTorch's CPU tensors are; NumPy
    aligns to 16 bytes, so its arrays are cut from a larger buffer."""
    if _kind(ref) == "torch":
        import torch
        return torch.empty(shape, dtype=getattr(torch, dtype_name),
                           device=ref.device)
    import numpy
    dtype = numpy.dtype(dtype_name)
    nbytes = int(numpy.prod(shape, dtype=numpy.int64)) * dtype.itemsize
    raw = numpy.empty(nbytes + 64, dtype=numpy.uint8)
    start = -raw.ctypes.data % 64
    return raw[start:start + nbytes].view(dtype).reshape(shape)


class Kernel:
    """A loaded or JIT-compiled ntp kernel (one ntp_kernel handle).

    Thread-safe: any number of threads may call it at once. Attributes:
    order, input_dim, output_dim, num_params, dtype ("float32"/"float64"),
    device ("cpu"/"cuda"), layers (widths), activation (one name, or one per
    hidden layer separated by commas), description (the network as the one
    line of ntp.mlp IR), report (what the JIT did: cache hit, seconds; None
    for ntp.load), target_cpu (the LLVM CPU name the loaded CPU code was
    compiled for, e.g. "znver4": for an artifact with several CPU variants,
    the one ntp.load chose for this host, which $NTP_CPU_FEATURES can make
    look older; None for a CUDA kernel), partials_lowering and
    partials_reverse_lowering (how a partials kernel's forward and reverse
    mode propagate their rays, as the compiler summarized its choice, e.g.
    "multivariate: 35 monomials of degree <= 4; 694080 flops + 192
    primitives per sample"; None for a jet kernel, for the reverse mode of a
    kernel compiled without it, and where the artifact records none)."""

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
        # ntp_kernel_target_cpu refuses CUDA kernels (NULL, an error set).
        self.target_cpu = None
        if info.device == _capi.DEVICE_CPU:
            cpu = self._lib.ntp_kernel_target_cpu(self._h)
            if cpu is None:
                _check(ERROR_INTERNAL)
            self.target_cpu = cpu.decode()
        # The compiler's choice of lowering (ntp_kernel_partials_lowering).
        lowerings = []
        for reverse in (0, 1):
            text = self._lib.ntp_kernel_partials_lowering(self._h, reverse)
            if text is None:
                _check(ERROR_INTERNAL)
            lowerings.append(text.decode() or None)
        self.partials_lowering, self.partials_reverse_lowering = lowerings
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
            workspace = _empty_like_kind(x, (self._ws_size(n),), "uint8")
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
            workspace = _empty_like_kind(x, (self._ws_size(n),), "uint8")
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
