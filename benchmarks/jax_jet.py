#!/usr/bin/env python3
#===- jax_jet.py - ntp.jax beside JAX's own Taylor mode and nested jacfwd ---===#
#
# The jet [u, u', ..., u^(n)] of the 1-24-24-24-1 tanh network at n = 1..9,
# batch 256 and 4096, float32 and float64, three ways, each under jax.jit:
#   ntp      ntp.jax.jet (the compiled kernel through the XLA FFI)
#   jet      jax.experimental.jet (Taylor mode, one series per point)
#   jacfwd   jax.jacfwd nested n times per point (vmapped over the batch)
# in two modes: the forward alone, and a training step's value_and_grad of
# the loss mean(jet^2) with respect to the parameters (ntp: forward_save +
# the generated backward; JAX: its reverse mode of each method). Same
# weights, same points, same loss. The methods take turns block by block;
# each figure is the best block (ms per call).
#
# GFLOP/s, each side's own count: for JAX, XLA's cost analysis of the
# compiled program (what XLA executes); for ntp, the kernel's arithmetic by
# ntp-cost's counts of the activation jets and their VJPs (the cheaper
# formulation, as the compiler picks) plus 2 in out flops per live order per
# affine layer (twice that in the backward: input cotangent and weight
# gradient). Run from the JAX environment (README, "From JAX"):
#
#   PYTHONPATH=build/python ~/.cache/ntp/jax-venv/bin/python \
#       benchmarks/jax_jet.py [--orders 1-9] [--batches 256,4096]
#       [--dtypes float32,float64] [--modes forward,train] [--block 0.1]
#
#===----------------------------------------------------------------------===#
import argparse
import os
import subprocess
import sys
import time

import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax.experimental import jet as jjet  # noqa: E402

import ntp  # noqa: E402
import ntp.jax as nj  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from laplacian_common import machine  # noqa: E402

LAYERS = [1, 24, 24, 24, 1]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def mlp(params, x):
    h = x
    for i, (w, b) in enumerate(params):
        h = h @ w.T + b
        if i < len(params) - 1:
            h = jnp.tanh(h)
    return h


def by_ntp(params, x, n):
    return nj.jet(params, x, n, activation="tanh")


def by_jet(params, x, n):
    series = (jnp.ones_like(x),) + tuple(jnp.zeros_like(x)
                                         for _ in range(n - 1))
    y, ys = jjet.jet(lambda z: mlp(params, z), (x,), (series,))
    return jnp.stack([y] + list(ys))


def by_jacfwd(params, x, n):
    def level(h):
        def g(s):
            top, lower = h(s)
            return top, lower + [top]
        return jax.jacfwd(g, has_aux=True)

    def h(s):
        return mlp(params, s[None, None])[0], []
    for _ in range(n):
        h = level(h)

    def all_orders(s):
        top, lower = h(s)
        return jnp.stack(lower + [top])
    return jnp.transpose(jax.vmap(all_orders)(x[:, 0]), (1, 0, 2))


METHODS = [("ntp", by_ntp), ("jet", by_jet), ("jacfwd", by_jacfwd)]


def program(method, n, mode):
    if mode == "forward":
        return jax.jit(lambda p, x: method(p, x, n))
    return jax.jit(jax.value_and_grad(
        lambda p, x: jnp.mean(method(p, x, n) ** 2)))


#===----------------------------------------------------------------------===#
# ntp's arithmetic (flops per point)
#===----------------------------------------------------------------------===#

def ntp_costs(max_order):
    """order -> (forward flops, forward + backward flops) per point."""
    exe = os.path.join(ROOT, "build", "bin", "ntp-cost")
    if not os.path.exists(exe):
        return {}
    csv = subprocess.run([exe, "--activation=tanh", "--max-order=%d" %
                          max_order, "--csv=/dev/stdout", "--markdown=false"],
                         capture_output=True, text=True).stdout
    rows = [line.split(",") for line in csv.strip().splitlines()]
    head, rows = rows[0], [r for r in rows[1:] if r and r[0] == "tanh"]
    out = {}
    for r in rows:
        c = dict(zip(head, r))
        n = int(c["n"])
        taylor = int(c["taylor_flops"]) < int(c["fdb_flops"])
        act = min(int(c["taylor_flops"]), int(c["fdb_flops"]))
        first = min(int(c["first_taylor_flops"]), int(c["first_flops"]))
        vjp = int(c["taylor_vjp_flops"] if taylor else c["vjp_flops"])
        first_vjp = int(c["first_vjp_flops"])
        fwd = bwd = 0
        for i in range(len(LAYERS) - 1):
            live = 2 if i == 0 else n + 1  # the seed is (x, v, 0, ...)
            affine = 2 * LAYERS[i] * LAYERS[i + 1] * live + LAYERS[i + 1]
            fwd += affine
            bwd += 2 * affine
            if i + 1 < len(LAYERS) - 1:
                fwd += LAYERS[i + 1] * (first if i == 0 else act)
                bwd += LAYERS[i + 1] * (first_vjp if i == 0 else vjp)
        out[n] = (fwd, fwd + bwd)
    return out


#===----------------------------------------------------------------------===#
# Timing
#===----------------------------------------------------------------------===#

def block(f, args, reps):
    t = time.perf_counter()
    for _ in range(reps):
        r = f(*args)
    jax.block_until_ready(r)
    return (time.perf_counter() - t) / reps


def measure(fns, args, block_s, rounds):
    """Best seconds per call of each compiled function, taking turns."""
    reps = []
    for f in fns:
        jax.block_until_ready(f(*args))
        once = block(f, args, 1)
        reps.append(max(1, int(block_s / max(once, 1e-7))))
    best = [float("inf")] * len(fns)
    for _ in range(rounds):
        for i, f in enumerate(fns):
            best[i] = min(best[i], block(f, args, reps[i]))
    return best


def parse_orders(text):
    if "-" in text:
        a, b = text.split("-")
        return list(range(int(a), int(b) + 1))
    return [int(v) for v in text.split(",")]


def main():
    ap = argparse.ArgumentParser(
        description="ntp.jax beside jax.experimental.jet and nested jacfwd")
    ap.add_argument("--orders", default="1-9")
    ap.add_argument("--batches", default="256,4096")
    ap.add_argument("--dtypes", default="float32,float64")
    ap.add_argument("--modes", default="forward,train")
    ap.add_argument("--block", type=float, default=0.1,
                    help="seconds per timed block")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--jacfwd-max-order", type=int, default=7,
                    help="nested jacfwd only up to this order: its compile "
                    "time grows about 2.5x per order (197 s at order 9, "
                    "forward, on the loaded 2-core machine)")
    ap.add_argument("--jacfwd-max-order-train", type=int, default=4,
                    help="the same for the training step (jacfwd's step "
                    "is 3x slower than jet's at order 4 and compiles in "
                    "70+ s from order 5)")
    args = ap.parse_args()
    orders = parse_orders(args.orders)
    costs = ntp_costs(max(orders))

    print("# ntp.jax vs jax.experimental.jet and nested jacfwd, %s" %
          time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    print("# machine: %s; load average at start %s" % (
        machine(), " ".join("%.1f" % v for v in os.getloadavg())))
    import jaxlib
    print("# jax %s, jaxlib %s, backend %s; ntp threads: %s (NTP_NUM_THREADS)"
          % (jax.__version__, jaxlib.__version__, jax.default_backend(),
             os.environ.get("NTP_NUM_THREADS", "all CPUs")))
    print("# ms per call, best of %d blocks of ~%.2f s taking turns; "
          "GFLOP/s: ntp by its kernel's count, JAX by XLA's cost analysis" %
          (args.rounds, args.block))
    rng = np.random.default_rng(0)
    summary = []
    for dtype in args.dtypes.split(","):
        params = [(jnp.asarray(rng.standard_normal((LAYERS[i + 1],
                                                     LAYERS[i])) /
                               np.sqrt(LAYERS[i])).astype(dtype),
                   jnp.asarray(rng.standard_normal(LAYERS[i + 1]) * 0.1)
                   .astype(dtype)) for i in range(len(LAYERS) - 1)]
        for batch in [int(b) for b in args.batches.split(",")]:
            x = jnp.linspace(-2, 2, batch, dtype=dtype)[:, None]
            for mode in args.modes.split(","):
                print("\n## %s, batch %d, %s" % (dtype, batch, mode))
                print("| n | ntp ms | jet ms | jacfwd ms | speed-up over "
                      "the best JAX | ntp GFLOP/s | jet GFLOP/s | jacfwd "
                      "GFLOP/s | compile s (ntp/jet/jacfwd) |")
                print("|---|---|---|---|---|---|---|---|---|")
                for n in orders:
                    fns, flops, compile_s = [], [], []
                    limit = args.jacfwd_max_order if mode == "forward" \
                        else args.jacfwd_max_order_train
                    methods = METHODS if n <= limit else METHODS[:2]
                    for name, method in methods:
                        t = time.perf_counter()
                        c = program(method, n, mode).lower(
                            params, x).compile()
                        compile_s.append(time.perf_counter() - t)
                        fns.append(c)
                        if name == "ntp":
                            per = costs.get(n, (float("nan"),) * 2)
                            flops.append(batch * per[mode == "train"])
                        else:
                            ca = c.cost_analysis()
                            ca = ca[0] if isinstance(ca, list) else ca
                            flops.append(float(ca.get("flops", "nan")))
                    times = measure(fns, (params, x), args.block,
                                    args.rounds)
                    best_jax = min(times[1:])
                    ratio = best_jax / times[0]
                    summary.append((dtype, batch, mode, n, ratio))
                    gflops = ["%.1f" % (f / t / 1e9)
                              for f, t in zip(flops, times)]
                    ms = ["%.3f" % (1e3 * t) for t in times]
                    comp = ["%.1f" % c for c in compile_s]
                    if len(fns) == 2:  # nested jacfwd not run
                        ms.append("-")
                        gflops.append("-")
                        comp.append("-")
                    print("| %d | %s | %s | %s | %.1fx%s | %s | %s | %s | %s "
                          "|" % (n, ms[0], ms[1], ms[2], ratio,
                                 "" if len(fns) == 3 else " (jet only)",
                                 *gflops, "/".join(comp)), flush=True)
    print("\n# load average at the end %s" % " ".join(
        "%.1f" % v for v in os.getloadavg()))
    print("\n# targets (speed-up of ntp over the best JAX method)")
    for dtype in args.dtypes.split(","):
        for mode in args.modes.split(","):
            for batch, need in ((256, 10.0), (4096, 3.0)):
                rows = {n: r for d, b, m, n, r in summary
                        if (d, b, m) == (dtype, batch, mode)}
                if 9 in rows:
                    print("# %s %s batch %d: order 9 %.1fx (target %gx: %s)"
                          % (dtype, mode, batch, rows[9], need,
                             "met" if rows[9] >= need else "NOT met"))
                behind = [n for n, r in rows.items() if n >= 2 and r < 1]
                if batch == 256 and rows:
                    print("# %s %s batch 256: ahead at every order >= 2: %s"
                          % (dtype, mode, "yes" if not behind else
                             "NO (behind at %s)" % behind))


if __name__ == "__main__":
    sys.exit(main())
