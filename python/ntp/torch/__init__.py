#===- torch/__init__.py - ntp kernels as differentiable PyTorch functions --===#
#
# ntp.torch.jet(net, x, order) computes the jet of an nn.Sequential MLP with
# a compiled ntp kernel and returns it as a tensor [(order+1), batch, d_out]
# that autograd differentiates with respect to every parameter of net and to
# x: a torch.autograd.Function over ntp_forward_save / ntp_backward_saved
# (ntp's generated reverse mode, no recomputation). ntp.torch.partials(net,
# x, partials, operators) does the same for mixed partial derivatives and
# PDE operators (a partials kernel, CPU). Kernels are compiled
# once per (widths, activation, order, dtype, device) and kept for the
# process (and in the JIT's disk cache across processes).
#
# The package, by concern: _modules.py (Sin, Cos, MLP), _describe.py (the
# layers ntp compiles for a network: describe_network, describe),
# _kernels.py (kernel_for, partials_kernel_for: compiled once), _netcache.py
# (what the per-call path keeps per network, and the slow path's
# explanations), _pool.py (workspaces reused across calls), _jet.py (jet and
# its autograd Function), _partials.py (partials and its autograd Function),
# _compile.py (a custom op for torch.compile). The settings below are read
# from this package at each call, so that assigning them here takes effect.
#
#===----------------------------------------------------------------------===#

from ntp import Error, ERROR_INVALID_ARGUMENT, ERROR_UNSUPPORTED  # noqa: F401
from ntp.torch_modules import (FourierFeatures, AdaptiveActivation, Residual,
                               ModifiedMLP)
from ._modules import Sin, Cos, MLP
from ._describe import Network, describe, describe_network
from ._kernels import kernel_for, partials_kernel_for
from ._jet import jet
from ._partials import partials
# Internals the tests read as ntp.torch.<name>.
from ._modules import _MODULES  # noqa: F401
from ._describe import _HAS_GATED  # noqa: F401
from ._pool import _Fast  # noqa: F401

__all__ = ["jet", "partials", "Sin", "Cos", "MLP", "kernel_for",
           "partials_kernel_for", "describe", "describe_network", "Network",
           "FourierFeatures", "AdaptiveActivation", "Residual",
           "ModifiedMLP"]

# Their names in tracebacks and pickles (torch.save of an MLP), as when
# they were defined in one module ntp.torch.
Sin.__module__ = Cos.__module__ = MLP.__module__ = Network.__module__ = \
    __name__

# Above this many bytes of workspace per call, autograd runs the forward
# alone (ntp_forward / ntp_partials, a partials kernel's own lowering) and
# the backward that recomputes the jets tile by tile on the stack
# (ntp_backward_full / ntp_partials_backward) instead of saving them: the
# same gradients for the same cotangent, without a workspace of tens of MB
# that the backward streams back from memory (faster here even with the
# workspace reused: order 9, batch 4096, f64, 48 MB; the d = 8 Laplacian
# at batch 1024, 77 MB). ntp.jax.RECOMPUTE_ABOVE_BYTES says the same for
# JAX.
RECOMPUTE_ABOVE_BYTES = 32 << 20

# The workspace pool (_pool.py): at most this many free workspaces per
# batch, batches, and bytes in all per kernel.
_POOL_PER_BATCH, _POOL_BATCHES, _POOL_MAX_BYTES = 2, 16, 1 << 28

