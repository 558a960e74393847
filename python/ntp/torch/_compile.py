#===- torch/_compile.py - ntp.torch.jet under torch.compile ----------------===#
#
# A custom op with a fake implementation (torch >= 2.4 only). Debian's torch
# is 1.13, so this path is written but untested here.
#
#===----------------------------------------------------------------------===#
import torch

from ._kernels import kernel_for

_custom_op = None


def _compiling():
    c = getattr(torch, "compiler", None)
    return c is not None and hasattr(c, "is_compiling") and c.is_compiling()


def _register_custom_op():
    global _custom_op
    lib = getattr(torch, "library", None)
    if lib is None or not hasattr(lib, "custom_op"):
        return
    from typing import List, Optional

    @lib.custom_op("ntp::jet", mutates_args=())
    def jet_op(x: torch.Tensor, v: Optional[torch.Tensor], widths: List[int],
               activation: str, order: int,
               params: List[torch.Tensor]) -> torch.Tensor:
        k = kernel_for(tuple(widths), activation, order, x.dtype, x.device)
        flat = torch.cat([p.reshape(-1) for p in params])
        return k.forward(x, flat, v)

    @jet_op.register_fake
    def _(x, v, widths, activation, order, params):
        return x.new_empty((order + 1, x.shape[0], widths[-1]))

    @lib.custom_op("ntp::jet_backward", mutates_args=())
    def jet_backward_op(x: torch.Tensor, v: Optional[torch.Tensor],
                        widths: List[int], activation: str, order: int,
                        params: List[torch.Tensor],
                        g: torch.Tensor) -> List[torch.Tensor]:
        k = kernel_for(tuple(widths), activation, order, x.dtype, x.device)
        flat = torch.cat([p.reshape(-1) for p in params])
        pg, xg = k.backward(x, flat, g.contiguous(), v)
        out, off = [xg], 0
        for p in params:
            out.append(pg[off:off + p.numel()].view(p.shape))
            off += p.numel()
        return out

    @jet_backward_op.register_fake
    def _(x, v, widths, activation, order, params, g):
        return [torch.empty_like(x)] + [torch.empty_like(p) for p in params]

    def setup_context(ctx, inputs, output):
        ctx.inputs = inputs

    def backward(ctx, g):
        x, v, widths, activation, order, params = ctx.inputs
        res = jet_backward_op(x, v, widths, activation, order, params, g)
        return res[0], None, None, None, None, list(res[1:])

    jet_op.register_autograd(backward, setup_context=setup_context)
    _custom_op = lambda x, v, w, a, n, *p: jet_op(x, v, list(w), a, n,
                                                  list(p))


try:
    _register_custom_op()
except Exception:  # an older torch.library than expected: eager only
    _custom_op = None
