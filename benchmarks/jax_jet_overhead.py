#!/usr/bin/env python3
#===- jax_jet_overhead.py - where ntp.jax's time goes beside the C kernel ---===#
#
# The same kernel, the same arrays, timed at every layer between the C
# kernel and a jitted ntp.jax call (issue 18: ntp.jax at batch 256 order 9
# took 1.3-1.6x the C kernel's time):
#
#   C (ctypes)       ntp_forward / forward_save + backward_saved through
#                    ctypes on preallocated numpy arrays, pointers computed
#                    once: the kernel plus ~1 us of ctypes
#   C (small stack)  the same from a Python thread with a 512 KiB stack (one
#                    tile's jets do not fit: the runtime hands every tile to
#                    its workers and the caller waits), for comparison
#   XLA: handler     a jitted program holding only ntp.jax's custom call(s)
#                    on flat, already-shaped operands (forward: ntp_jet;
#                    train: ntp_jet_save, then ntp_jet_bwd on a given
#                    cotangent, params gradient only)
#   XLA: ntp.jax     jax.jit of ntp.jax.jet (forward) or of value_and_grad
#                    of mean(jet^2) (train): what a user runs, with the
#                    parameter flattening, the loss and its cotangent, and
#                    the gradient's split back into (W, b) pairs
#   XLA: empty       a jitted program of one elementwise op on an array of
#                    the jet's size: XLA's own cost of running a program
#
# and the Laplacian d = 8 (d-64-64-64-1 tanh, batch 1024): the partials
# kernel compiled the way laplacian_peers.py times it (backward=False), the
# kernel ntp.jax.laplacian uses (ntp.jax.partials_kernel) through ctypes,
# jax.jit(ntp.jax.laplacian), and the training step jit(value_and_grad) of
# mean(laplacian^2) both ways jax.grad can run it (the saved pair over a
# workspace XLA allocates, or the backward that recomputes; ntp.jax picks
# by RECOMPUTE_ABOVE_BYTES). Each figure is the minimum over many calls
# (and the median beside it), the methods taking turns. Run from the JAX
# environment:
#
#   PYTHONPATH=build/python ~/.cache/ntp/jax-venv/bin/python \
#       benchmarks/jax_jet_overhead.py [--dtypes float32,float64]
#       [--order 9] [--batch 256] [--laplacian-dims 8] [--seconds 0.3]
#
#===----------------------------------------------------------------------===#
import argparse
import ctypes
import os
import statistics
import sys
import threading
import time

import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import ntp  # noqa: E402
import ntp.jax as nj  # noqa: E402

default_limit = nj.RECOMPUTE_ABOVE_BYTES
LAYERS = [1, 24, 24, 24, 1]


def ptr(a):
    return ctypes.c_void_p(a.ctypes.data)


def sample(fn, seconds):
    """Per-call seconds of fn over ~`seconds` (at least 30 calls)."""
    for _ in range(3):
        fn()
    times = []
    end = time.perf_counter() + seconds
    while len(times) < 30 or time.perf_counter() < end:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times


def measure(fns, seconds, rounds=3):
    """name -> (min, median) microseconds, the methods taking turns."""
    best = {n: [] for n in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            best[name] += sample(fn, seconds / rounds)
    return {n: (1e6 * min(t), 1e6 * statistics.median(t))
            for n, t in best.items()}


def on_small_stack(fn):
    """fn, run by a thread whose stack is 512 KiB (started once)."""
    req, done = threading.Event(), threading.Event()
    state = {"stop": False}

    def loop():
        while True:
            req.wait()
            req.clear()
            if state["stop"]:
                return
            fn()
            done.set()
    old = threading.stack_size(512 << 10)
    t = threading.Thread(target=loop, daemon=True)
    t.start()
    threading.stack_size(old)

    def call():
        req.set()
        done.wait()
        done.clear()
    return call


def jets(dtype, order, batch, seconds):
    rng = np.random.default_rng(0)
    pairs = [((rng.standard_normal((LAYERS[i + 1], LAYERS[i])) /
               np.sqrt(LAYERS[i])).astype(dtype),
              (rng.standard_normal(LAYERS[i + 1]) * 0.1).astype(dtype))
             for i in range(len(LAYERS) - 1)]
    flat = np.concatenate([a for w, b in pairs for a in (w.ravel(), b)])
    x = np.linspace(-2, 2, batch, dtype=dtype)[:, None].copy()
    v = np.ones(1, dtype)
    k = nj.kernel(LAYERS, "tanh", order, dtype)
    ref = ntp.compile(LAYERS, "tanh", order, dtype)
    same = k.description == ref.description
    lib, h = k._lib, k._h
    out = np.empty((order + 1, batch, 1), dtype)
    ws = np.empty(k.workspace_size(batch), np.uint8)
    cot = np.full(out.shape, 1.0, dtype)
    pg = np.empty(k.num_params, dtype)
    px, pv, pp, po, pw, pc, ppg = map(ptr, (x, v, flat, out, ws, cot, pg))

    def c_fwd():
        lib.ntp_forward(h, px, pv, pp, po, batch)

    def c_train():
        lib.ntp_forward_save(h, px, pv, pp, po, pw, batch)
        lib.ntp_backward_saved(h, px, pv, pp, pc, ppg, None, pw, batch)

    jp = [(jnp.asarray(w), jnp.asarray(b)) for w, b in pairs]
    jx, jv, jf = jnp.asarray(x), jnp.asarray(v), jnp.asarray(flat)
    jc = jnp.asarray(cot)
    spec = (tuple(LAYERS), "tanh", order, dtype)
    nj._ffi()
    h_fwd = jax.jit(lambda x, v, p: nj.jet_p.bind(
        x[None], v[None], p[None], spec=spec))

    def save_bwd(x, v, p, c):
        o, w = nj.jet_save_p.bind(x[None], v[None], p[None], spec=spec,
                                  device="cpu")
        g, _, _ = nj.jet_bwd_p.bind(x[None], v[None], p[None], c[None], w,
                                    spec=spec, device="cpu", need_p=True,
                                    need_x=False, need_v=False)
        return o, g
    h_train = jax.jit(save_bwd)
    user_fwd = jax.jit(lambda p, x: nj.jet(p, x, order, activation="tanh"))
    user_train = jax.jit(jax.value_and_grad(
        lambda p, x: jnp.mean(nj.jet(p, x, order, activation="tanh") ** 2)))
    empty = jax.jit(lambda c: c + 1)

    def block(f, *a):
        return lambda: jax.block_until_ready(f(*a))

    # The same numbers: the handler's output against the C call's.
    c_fwd()
    assert np.array_equal(np.asarray(h_fwd(jx, jv, jf))[0], out)
    assert np.array_equal(np.asarray(user_fwd(jp, jx)), out)
    rows = {}
    rows["forward"] = measure({
        "C (ctypes)": c_fwd,
        "C (small stack)": on_small_stack(c_fwd),
        "XLA: handler": block(h_fwd, jx, jv, jf),
        "XLA: ntp.jax": block(user_fwd, jp, jx),
        "XLA: empty": block(empty, jc)}, seconds)
    rows["train"] = measure({
        "C (ctypes)": c_train,
        "C (small stack)": on_small_stack(c_train),
        "XLA: handler": block(h_train, jx, jv, jf, jc),
        "XLA: ntp.jax": block(user_train, jp, jx),
        "XLA: empty": block(empty, jc)}, seconds)
    return same, rows


def laplacian(dtype, d, batch, seconds):
    layers = [d, 64, 64, 64, 1]
    rng = np.random.default_rng(1)
    pairs = [((rng.standard_normal((layers[i + 1], layers[i])) /
               np.sqrt(layers[i])).astype(dtype),
              (rng.standard_normal(layers[i + 1]) * 0.1).astype(dtype))
             for i in range(len(layers) - 1)]
    flat = np.concatenate([a for w, b in pairs for a in (w.ravel(), b)])
    x = rng.uniform(-1, 1, (batch, d)).astype(dtype)
    direct = ntp.compile(layers, "tanh", dtype=dtype,
                         operators=["laplacian"], backward=False)
    used = nj.partials_kernel(layers, "tanh", operators=["laplacian"],
                              dtype=dtype)
    out = np.empty((1, batch, 1), dtype)
    jp = [(jnp.asarray(w), jnp.asarray(b)) for w, b in pairs]
    jx = jnp.asarray(x)
    user = jax.jit(lambda p, z: nj.laplacian(p, z, activation="tanh"))

    def loss(p, z):
        return jnp.mean(nj.laplacian(p, z, activation="tanh") ** 2)
    # The training step both ways (the choice is made at trace time).
    steps = {}
    for how, limit in (("saved", 1 << 62), ("recompute", -1)):
        nj.RECOMPUTE_ABOVE_BYTES = limit
        steps[how] = jax.jit(jax.value_and_grad(loss)).lower(jp, jx).compile()
    nj.RECOMPUTE_ABOVE_BYTES = default_limit
    ws_mb = used.workspace_size(batch) / 1e6

    def call(k):
        lib, h = k._lib, k._h
        px, pp, po = ptr(x), ptr(flat), ptr(out)
        return lambda: lib.ntp_partials(h, px, pp, po, batch)
    return (direct.description, used.description), measure({
        "C (ctypes), backward=False kernel": call(direct),
        "C (ctypes), ntp.jax's kernel": call(used),
        "C (small stack), ntp.jax's kernel": on_small_stack(call(used)),
        "XLA: ntp.jax.laplacian": lambda: jax.block_until_ready(user(jp, jx)),
        "XLA: train step, saved pair (%.0f MB workspace)" % ws_mb:
            lambda: jax.block_until_ready(steps["saved"](jp, jx)),
        "XLA: train step, recomputing backward":
            lambda: jax.block_until_ready(steps["recompute"](jp, jx)),
    }, seconds)


def main():
    ap = argparse.ArgumentParser(
        description="where ntp.jax's time goes beside the C kernel")
    ap.add_argument("--dtypes", default="float32,float64")
    ap.add_argument("--order", type=int, default=9)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--laplacian-dims", default="8",
                    help="comma-separated d of the Laplacian rows ('' none)")
    ap.add_argument("--laplacian-batch", type=int, default=1024)
    ap.add_argument("--seconds", type=float, default=0.3,
                    help="seconds of calls per method (in 3 turns)")
    args = ap.parse_args()
    try:
        dims = [int(s) for s in args.laplacian_dims.split(",") if s]
    except ValueError:
        ap.error("--laplacian-dims takes comma-separated integers, not %r"
                 % args.laplacian_dims)
    if any(d < 1 for d in dims):
        ap.error("--laplacian-dims: every d must be >= 1 (give '' for no "
                 "Laplacian), not %r" % args.laplacian_dims)
    print("# ntp.jax call overhead, %s; load average %s; NTP_NUM_THREADS=%s"
          % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
             " ".join("%.1f" % v for v in os.getloadavg()),
             os.environ.get("NTP_NUM_THREADS", "(all CPUs)")))
    print("# jax %s; us per call: min (median) over >= 30 calls per method "
          "in 3 turns" % jax.__version__)
    for dtype in args.dtypes.split(","):
        same, rows = jets(dtype, args.order, args.batch, args.seconds)
        print("\n## jets, %s, 1-24-24-24-1 tanh, batch %d, order %d (ntp.jax"
              "'s kernel %s ntp.compile's)" % (
                  dtype, args.batch, args.order,
                  "is the same as" if same else "DIFFERS from"))
        print("| path | forward us | train step us |")
        print("|---|---|---|")
        for name in rows["forward"]:
            f, t = rows["forward"][name], rows["train"][name]
            print("| %s | %.1f (%.1f) | %.1f (%.1f) |" % (name, *f, *t))
        sys.stdout.flush()
    for d in dims:
        for dtype in args.dtypes.split(","):
            (a, b), rows = laplacian(dtype, d, args.laplacian_batch,
                                     args.seconds)
            print("\n## Laplacian, %s, d=%d, %d-64-64-64-1 tanh, batch %d"
                  % (dtype, d, d, args.laplacian_batch))
            print("# lowering: backward=False kernel: %s" % a)
            print("# lowering: ntp.jax's kernel:      %s" % b)
            print("| path | us |")
            print("|---|---|")
            for name, m in rows.items():
                print("| %s | %.1f (%.1f) |" % (name, *m))
            sys.stdout.flush()
    print("\n# load average at the end %s" % " ".join(
        "%.1f" % v for v in os.getloadavg()))


if __name__ == "__main__":
    sys.exit(main())
