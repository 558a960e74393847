#!/usr/bin/env python3
#===- python_step.py - A PyTorch training step with ntp.torch.jet ----------===#
#
# 1. A training step inside a training loop (jet, loss, backward, Adam step)
#    of the paper's network (1-24-24-24-1 tanh, batch 256, f32, order 9) with
#    ntp.torch.jet, beside the project's PyTorch n-TangentProp and nested
#    autograd (benchmarks/paper_study.py), same weights, same loss
#    (mean of the squared jet), same optimizer (Adam, foreach). Per-step times are medians over blocks of
#    consecutive steps, as a training loop runs them.
# 2. The Python layer's cost per call, on a tiny network (1-2-1, order 1,
#    batch 1) where the kernel itself takes well under a microsecond:
#    ntp.Kernel.forward vs the raw ctypes call of ntp_forward with prepared
#    pointers, and ntp.torch.jet vs Kernel.forward (and with backward: jet +
#    .backward() vs forward_save + backward_saved).
#
# Threads: PyTorch's OpenMP workers spin for a while after each parallel
# torch op (benchmarks/README.md) and take the cores ntp's pool needs right
# after. The ntp loop is timed with torch at --threads and at 1 thread (the
# loss and Adam ops on 2.6k values gain nothing from threads); the
# baselines with torch at --threads.
#
#   PYTHONPATH=build/python /usr/bin/python3 benchmarks/python_step.py
#
#===----------------------------------------------------------------------===#
import argparse
import os
import statistics
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import paper_study as ps  # noqa: E402

import ntp  # noqa: E402
import ntp.torch as nt  # noqa: E402
from ntp import _capi  # noqa: E402


def per_step(step, budget_s, block, max_steps):
    """Median seconds per step over blocks of `block` consecutive steps."""
    step()
    step()
    samples, start, done = [], time.perf_counter(), 0
    while done < max_steps and (time.perf_counter() - start < budget_s
                                or len(samples) < 3):
        t0 = time.perf_counter()
        for _ in range(block):
            step()
        samples.append((time.perf_counter() - t0) / block)
        done += block
    return statistics.median(samples), done


def training_step(jet, net, x, order):
    try:  # one multi-tensor update instead of ~10 ops per parameter
        opt = torch.optim.Adam(net.parameters(), lr=1e-4, foreach=True)
    except TypeError:
        opt = torch.optim.Adam(net.parameters(), lr=1e-4)

    def step():
        opt.zero_grad(set_to_none=True)
        out = jet(net, x, order)
        loss = out.square().mean()
        loss.backward()
        opt.step()
    return step


def timeit(fn, n):
    for _ in range(min(n, 1000)):
        fn()
    best = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best.append((time.perf_counter() - t0) / n)
    return min(best)


def overhead(dtype_name, n):
    """Microseconds per call of each layer on a tiny network."""
    dt = getattr(torch, dtype_name)
    k = ntp.compile([1, 2, 1], "tanh", 1, dtype_name)
    torch.manual_seed(0)
    net = nt.MLP([1, 2, 1], "tanh", dtype=dt).net
    xt = torch.full((1, 1), 0.3, dtype=dt)
    pt = torch.cat([p.detach().reshape(-1) for p in net.parameters()])
    vt = torch.ones(1, dtype=dt)
    ot = torch.empty(2, 1, 1, dtype=dt)
    xn, pn, vn, on = (a.numpy() for a in (xt, pt, vt, ot))
    lib, h = _capi.runtime(), k._h
    ptrs = [a.ctypes.data for a in (xn, vn, pn, on)]
    ws = torch.empty(k.workspace_size(1), dtype=torch.uint8)
    g = torch.ones(2, 1, 1, dtype=dt)
    pg, xg = torch.empty_like(pt), torch.empty_like(xt)
    raw_ptrs = [a.data_ptr() for a in (xt, vt, pt, ot, ws, g, pg, xg)]
    f = lib.ntp_forward
    fs, bs = lib.ntp_forward_save, lib.ntp_backward_saved
    X, V, P, O, W, G, PG, XG = raw_ptrs
    xr = xt.clone().requires_grad_(True)

    def jet_train():
        nt.jet(net, xr, 1).backward(g)

    class Empty(torch.autograd.Function):  # PyTorch's own floor
        @staticmethod
        def forward(ctx, x, *ps):
            return x.new_empty((2, 1, 1))

        @staticmethod
        def backward(ctx, g):
            return (torch.empty_like(xt),) + tuple(
                torch.empty_like(p) for p in net.parameters())

    def empty_train():
        Empty.apply(xr, *net.parameters()).backward(g)

    def torch_train():
        net(xr).backward(g[0])

    res = {
        "raw ctypes ntp_forward": timeit(lambda: f(h, *ptrs, 1), n),
        "Kernel.forward (numpy, out=)": timeit(
            lambda: k.forward(xn, pn, vn, out=on), n),
        "Kernel.forward (numpy, new out)": timeit(
            lambda: k.forward(xn, pn), n),
        "Kernel.forward (torch, out=)": timeit(
            lambda: k.forward(xt, pt, vt, out=ot), n),
        "Kernel.forward (torch, new out)": timeit(
            lambda: k.forward(xt, pt), n),
        "ntp.torch.jet (no_grad)": timeit(
            torch.no_grad()(lambda: nt.jet(net, xt, 1)), n),
        "raw forward_save + backward_saved": timeit(
            lambda: (fs(h, X, V, P, O, W, 1), bs(h, X, V, P, G, PG, XG, W,
                                                 1)), n),
        "ntp.torch.jet + backward": timeit(jet_train, n // 4),
        "empty autograd.Function + backward": timeit(empty_train, n // 4),
        "the 1-2-1 net in PyTorch, forward + backward": timeit(
            torch_train, n // 4),
    }
    return {name: 1e6 * t for name, t in res.items()}


def main():
    p = argparse.ArgumentParser(description="ntp.torch.jet training step")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--order", type=int, default=9)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--budget-s", type=float, default=4.0,
                   help="time per measurement (nested autograd: >= 3 steps)")
    p.add_argument("--calls", type=int, default=20000,
                   help="calls per overhead measurement")
    p.add_argument("--skip-nested", action="store_true")
    args = p.parse_args()
    layers, order = [1, 24, 24, 24, 1], args.order
    x = torch.linspace(-2, 2, args.batch).reshape(-1, 1)
    ntp.set_num_threads(args.threads)
    print("machine: %s, %d CPUs, load average %s; torch %s, numpy %s" % (
        os.uname().machine, os.cpu_count(),
        " ".join("%.1f" % v for v in os.getloadavg()), torch.__version__,
        np.__version__))

    nets = {m: ps.build_model(layers, torch.float32, 0)
            for m in ("ntp", "ntp1", "ntangent", "nested")}
    # Agreement first (same weights): jets of all three within f32 tolerance.
    with torch.no_grad():
        a = nt.jet(nets["ntp"], x, order)
    b = torch.stack(ps.NTangentProp(order)(nets["ntangent"], x)).detach()
    err = ((a - b).abs().amax(dim=(1, 2)) / b.abs().amax(dim=(1, 2))).max()
    print("ntp vs n-TangentProp jets: max relative error per order %.2e"
          % err.item())
    ntangent = ps.NTangentProp(order)
    jets = {
        "ntp.torch.jet": ("ntp", nt.jet, args.threads),
        "ntp.torch.jet (torch 1 thread)": ("ntp1", nt.jet, 1),
        "n-TangentProp (PyTorch)": (
            "ntangent", lambda n, x, o: torch.stack(ntangent(n, x)),
            args.threads),
        "nested autograd": (
            "nested", lambda n, x, o: torch.stack(ps.nested_autograd(n, x, o)),
            args.threads),
    }
    rows = {}
    for name, (key, fn, threads) in jets.items():
        if args.skip_nested and key == "nested":
            continue
        torch.set_num_threads(threads)
        step = training_step(fn, nets[key], x, order)
        block = 20 if key.startswith("ntp") else 1
        t, steps = per_step(step, args.budget_s, block,
                            10 ** 6 if key.startswith("ntp") else 200)
        rows[name] = (t, steps)
        print("  %-32s %12.3f ms/step  (%d steps)" % (name, 1e3 * t, steps),
              flush=True)
    torch.set_num_threads(args.threads)
    best = min(rows["ntp.torch.jet"][0],
               rows["ntp.torch.jet (torch 1 thread)"][0])

    print("\n| method | ms per training step | vs ntp |")
    print("|---|---|---|")
    for name, (t, _) in rows.items():
        print("| %s | %.3f | %s |" % (name, 1e3 * t, "%.0fx" % (t / best)
                                       if not name.startswith("ntp") else
                                       "%.2f" % (t / best)))

    print("\nPython-layer cost per call, 1-2-1 tanh, order 1, batch 1 (us):")
    torch.set_num_threads(1)
    ntp.set_num_threads(1)
    for dname in ("float64",):
        res = overhead(dname, args.calls)
        print("| call | us per call | over the layer below |")
        print("|---|---|---|")
        below = {"Kernel.forward (numpy, out=)": "raw ctypes ntp_forward",
                 "Kernel.forward (numpy, new out)": "raw ctypes ntp_forward",
                 "Kernel.forward (torch, out=)": "raw ctypes ntp_forward",
                 "Kernel.forward (torch, new out)": "raw ctypes ntp_forward",
                 "ntp.torch.jet (no_grad)": "Kernel.forward (torch, new out)",
                 "ntp.torch.jet + backward":
                     "raw forward_save + backward_saved",
                 "empty autograd.Function + backward": None}
        for name, us in res.items():
            ref = below.get(name)
            print("| %s | %.2f | %s |" % (name, us, "+%.2f" % (
                us - res[ref]) if ref else "-"))
        extra = (res["ntp.torch.jet + backward"]
                 - res["raw forward_save + backward_saved"]
                 - res["empty autograd.Function + backward"])
        print("ntp.torch.jet + backward beyond the C calls and an empty "
              "autograd.Function: %+.2f us" % extra)


if __name__ == "__main__":
    main()
