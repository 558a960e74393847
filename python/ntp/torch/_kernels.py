#===- torch/_kernels.py - Kernels compiled once per process ----------------===#
#
# kernel_for (jets) and partials_kernel_for (partials kernels): one compiled
# ntp.Kernel per network shape, request, dtype and device, kept for the
# process; and _flat, the parameters as one flat vector.
#
#===----------------------------------------------------------------------===#
import threading

import torch

import ntp
from ntp import Error, ERROR_INVALID_ARGUMENT


_cache = {}
_cache_lock = threading.Lock()

try:  # one C++ call instead of a reshape per parameter and a cat (the
    # function behind torch._utils._flatten_dense_tensors, one frame less)
    _flat = torch._C._nn.flatten_dense_tensors
except AttributeError:  # pragma: no cover
    def _flat(params):
        return torch.cat([p.reshape(-1) for p in params])


def _dtype_name(dtype):
    dname = {torch.float32: "float32", torch.float64: "float64"}.get(dtype)
    if dname is None:
        raise Error(ERROR_INVALID_ARGUMENT, "ntp computes in float32 or "
                    "float64, not %s" % dtype)
    return dname


def _compiled(cache, key, typed, compile):
    """cache[key], made by compile(fourier=, slopes=, residual=, gated=)
    from `typed` once per key, even from many threads."""
    k = cache.get(key)
    if k is None:
        with _cache_lock:
            k = cache.get(key)
            if k is None:
                fourier, slopes, residual, gated = typed or (0, None, None,
                                                             False)
                k = cache[key] = compile(fourier=fourier, slopes=slopes,
                                         residual=residual, gated=gated)
    return k


def kernel_for(widths, activation, order, dtype, device, typed=()):
    """The process-wide kernel for this network shape (compiled once).
    typed: the typed layers as (fourier, slopes, residual, gated),
    ntp.compile's keywords (Network.attributes()); () for a plain MLP."""
    dname = _dtype_name(dtype)
    key = (widths, activation, int(order), dname, str(device), typed)
    return _compiled(_cache, key, typed, lambda **layers: ntp.compile(
        list(widths), activation, int(order), dname, device.type,
        backward=(device.type == "cpu"), **layers))


_partials_cache = {}


def partials_kernel_for(widths, activation, partials, operators, dtype,
                        lowering="auto", typed=(), reverse_lowering="auto"):
    """The process-wide partials kernel (CPU, with its reverse mode) for this
    network shape, request, forward lowering and reverse-mode lowering
    (ntp.compile's partials_lowering and partials_reverse_lowering),
    compiled once (typed: as for kernel_for)."""
    dname = _dtype_name(dtype)
    key = (tuple(widths), activation, partials, operators, dname, lowering,
           typed, reverse_lowering)
    return _compiled(_partials_cache, key, typed, lambda **layers: ntp.compile(
        list(widths), activation, 0, dname, "cpu",
        partials=[list(r) for r in partials] or None,
        operators=list(operators) or None, partials_lowering=lowering,
        partials_reverse_lowering=_forced(reverse_lowering), **layers))


def _forced(reverse_lowering):
    """None for "auto": the JIT's disk-cache key of a kernel without the
    reverse-mode lowering set, which "auto" compiles the same."""
    return None if reverse_lowering == "auto" else reverse_lowering
