#===- torch/_pool.py - Workspaces reused across calls ----------------------===#
#
# What the per-call path keeps of a kernel (_Fast: its C entry points and
# sizes; _PartialsPool for a partials kernel) and the workspaces that
# autograd's forward saves the jets in, reused once nothing holds them
# (_workspace; limits: ntp.torch._POOL_*).
#
#===----------------------------------------------------------------------===#
from sys import getrefcount as _refcount

import torch

from ntp import torch as _package  # its _POOL_* limits, read at each call

_empty, _uint8 = torch.empty, torch.uint8


class _Fast:
    """What the per-call path needs of a CPU kernel, in attributes of its
    own: the C entry points, the handle, the output's trailing shape, the
    workspace sizes by batch, and a few free workspaces by batch (reused
    only once nothing else holds them, see _workspace)."""

    def __init__(self, k):
        lib = k._lib
        self.kernel, self.h = k, k._h
        self.forward, self.forward_save = lib.ntp_forward, lib.ntp_forward_save
        self.backward_saved = lib.ntp_backward_saved
        self.backward_full = lib.ntp_backward_full
        self.rows, self.cols, self.num_params = (k.order + 1, k.output_dim,
                                                 k.num_params)
        self.free = {}  # batch -> [workspace tensors]
        self.pooled = 0  # bytes of the workspaces in `free`


def _workspace(fast, n):
    """A workspace for n points: one that an earlier call used if nothing
    holds it any more (its ctx is gone, so only the pool's list, our local
    and getrefcount's argument refer to it), else a new one. list.pop and
    list.insert are atomic under the GIL and a buffer in use is always also
    referenced by its user, so two calls never share one. Two per batch (a
    training loop's previous jet is still alive during the next call), at
    most 256 MiB in all per kernel: a fresh workspace is not free, glibc
    maps every block over 32 MiB anew and the kernel then pages it in (a
    training step of 1-24-24-24-1 at order 9, batch 4096, f64, 48 MB of
    workspace: 2x slower with a fresh one, benchmarks/results/)."""
    pool = fast.free.get(n)
    if pool is not None:
        for _ in range(len(pool)):
            try:
                ws = pool.pop()
            except IndexError:
                break
            pool.insert(0, ws)
            if _refcount(ws) == 3:  # pool, ws and getrefcount's argument
                return ws
    size = fast.kernel._ws_size(n)
    ws = _empty(size, dtype=_uint8)
    if fast.pooled + size <= _package._POOL_MAX_BYTES:
        if pool is None and len(fast.free) < _package._POOL_BATCHES:
            pool = fast.free.setdefault(n, [])
        if pool is not None and len(pool) < _package._POOL_PER_BATCH:
            pool.insert(0, ws)
            fast.pooled += size
    return ws


class _PartialsPool:
    """The free workspaces of one partials kernel, by batch (_workspace)."""

    def __init__(self, k):
        self.kernel, self.free, self.pooled = k, {}, 0


_partials_pools = {}  # id(kernel) -> _PartialsPool (kernels live forever)
