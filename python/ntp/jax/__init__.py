#===- jax/__init__.py - ntp kernels as JAX primitives ----------------------===#
#
# ntp.jax.jet(params, x, order, direction=None, *, layers, activation, dtype)
# is the jet [(order+1), batch, d_out] of an MLP computed by a compiled ntp
# kernel inside XLA; ntp.jax.partials(params, x, *, partials, operators, ...)
# the partial derivatives [P, batch, d_out] of a partials kernel
# (ntp_partials), ntp.jax.laplacian(...) its one-operator case. Each is JAX
# primitives lowered to typed XLA FFI custom calls (the handlers of
# jax_ffi/NtpJaxFfi.cpp, _ntp_jax_ffi.so), with
#
#   jax.jit    the kernel is one custom call in the compiled program;
#   jax.grad   a custom VJP: the forward saves every layer's jets in a
#              workspace (ntp_forward_save), the backward is the generated
#              reverse mode (ntp_backward_saved), for params, x and the
#              direction, each only when it is differentiated (on CUDA
#              the _async calls on XLA's stream); partials the same over
#              ntp_partials_save / ntp_partials_backward_saved (CPU and
#              CUDA);
#   jax.vmap   batching rules: a vmapped axis of x with shared params and
#              direction is folded into the points (one kernel call); params
#              or directions that differ per instance, and the reverse mode
#              (whose parameter gradient sums over a call's whole batch), run
#              one call per instance inside one custom call.
#
# Kernels are JIT-compiled once per (widths, activation, order or request,
# dtype, device) and kept for the process (their handle is an attribute of the
# custom call, so they must outlive every executable). JAX lives in its own
# virtual environment (README, "From JAX"); `import ntp` never imports it.
#
# The package, by concern: _xla.py (the FFI library and its targets, kernels
# compiled once, the primitives' shared machinery), _jet.py (the jet
# primitives and their custom VJP, jet), _partials.py (the partials
# primitives and their custom VJP, partials, laplacian), _args.py (argument
# checks and parameter formats, flatten_params). The settings below are read
# from this package at trace time, so that assigning them here takes effect.
#
#===----------------------------------------------------------------------===#
from ntp import Error  # noqa: F401
from ._args import ACTIVATIONS, flatten_params
from ._jet import jet, kernel, jet_p, jet_save_p, jet_bwd_p, \
    jet_bwd_recompute_p
from ._partials import partials, laplacian, partials_kernel, partials_p, \
    partials_save_p, partials_bwd_p, partials_bwd_recompute_p
# Internals the tests read as ntp.jax.<name>.
from ._args import _requests  # noqa: F401
from ._jet import _differentiable  # noqa: F401
from ._xla import _ffi, _kernels, _reverse_mode  # noqa: F401

__all__ = ["jet", "partials", "laplacian", "flatten_params", "kernel",
           "partials_kernel", "ACTIVATIONS"]

# jax.grad saves every layer's jets in a workspace (ntp_forward_save /
# ntp_partials_save, then the _backward_saved calls) up to this many bytes
# per kernel call, and above it runs the forward alone (ntp_forward /
# ntp_partials, a partials kernel's own lowering) and the backward that
# recomputes the jets tile by tile on the stack (ntp_backward_full /
# ntp_partials_backward): the same gradients for the same cotangent. XLA
# allocates the workspace at every step, and glibc maps a block this large
# anew each time, so the step pages it in (10.8k page faults per step at
# order 9, batch 4096, f64: 48 MB) and the backward streams it back from
# memory; recomputing was faster there (the d = 8 Laplacian at batch 1024,
# 39 / 77 MB: half the step; benchmarks/jax_jet_overhead.py). Read at trace
# time; CPU only (a CUDA workspace is device memory).
RECOMPUTE_ABOVE_BYTES = 32 << 20

# The CUDA path's direction gradient (a second backward call, summed by
# XLA) on every device: for tests, which have no GPU, to check its
# arithmetic against the CPU handler's host-side sum.
_DIRECTION_GRAD_BY_XLA = False

# ntp.compile's CUDA options for ntp.jax's CUDA kernels: gpu_format ("auto":
# a cubin when ptxas is found, "ptx", "cubin"), gpu_mapping ("sample",
# "lanes") and chip ("sm_90"; default: the GPU's). Read when a kernel is
# compiled (at trace time) and part of its cache key, so set it before
# tracing; jax.jit's own cache does not see it (a function traced before a
# change keeps its kernels).
CUDA_COMPILE_OPTIONS = {}

# Where ntp.jax traces a computation for: None is jax's default backend
# ("cuda" for a GPU backend, else "cpu"); "cuda" makes a CPU-only machine
# trace for CUDA (the CUDA kernels, their workspace sizes), so that tests
# can lower with lowering_platforms=("cuda",) and read the StableHLO (the
# kernels then need a CUDA driver: $NTP_LIBCUDA, the fake one in tests).
_TRACE_DEVICE = None
