#!/usr/bin/env python3
"""PyTorch nested-autograd baseline for ntp-bench.

Times d^k f/dx^k, k = 0..n, of an MLP by nesting torch.autograd.grad n
times (what PINN code does today), on the CPU with the given thread count.
Prints one JSON object per order: {"order", "dtype", "fwd_ms", "total_ms",
"reps"}. "fwd" is the nested evaluation that produces every order 0..n;
"total" adds the backward of the sum of all orders with respect to the
parameters (what a PINN training step pays).
"""
import argparse
import json
import statistics
import sys
import time

try:
    import torch
except ImportError:
    print(json.dumps({"error": "torch is not installed"}))
    sys.exit(0)


def build(layers, dtype):
    mods = []
    for i in range(len(layers) - 1):
        mods.append(torch.nn.Linear(layers[i], layers[i + 1]))
        if i + 2 < len(layers):
            mods.append(torch.nn.Tanh())
    return torch.nn.Sequential(*mods).to(dtype)


def nested(model, x, order):
    x = x.clone().requires_grad_(True)
    y = model(x)
    outs = [y]
    for _ in range(order):
        (y,) = torch.autograd.grad(y.sum(), x, create_graph=True)
        outs.append(y)
    return outs


def median_ms(fn, budget_s):
    fn()  # warm-up
    times = []
    start = time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - start < budget_s
                             and len(times) < 50):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times), len(times)


def total(model, x, order):
    outs = nested(model, x, order)
    loss = sum(o.sum() for o in outs)
    model.zero_grad(set_to_none=True)
    loss.backward()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--layers", default="1,24,24,24,1")
    p.add_argument("--orders", default="0,1,2,3,4,5,6,7,8,9")
    p.add_argument("--dtype", default="f32", choices=["f32", "f64"])
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--budget-s", type=float, default=3.0,
                   help="time budget per order (at least 3 repetitions)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    dtype = torch.float32 if a.dtype == "f32" else torch.float64
    layers = [int(w) for w in a.layers.split(",")]
    model = build(layers, dtype)
    x = torch.linspace(-2, 2, a.batch, dtype=dtype).reshape(a.batch, 1)
    for order in [int(o) for o in a.orders.split(",")]:
        fwd, reps = median_ms(lambda: nested(model, x, order), a.budget_s)
        tot, _ = median_ms(lambda: total(model, x, order), a.budget_s)
        print(json.dumps({"order": order, "dtype": a.dtype, "fwd_ms": fwd,
                          "total_ms": tot, "reps": reps,
                          "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
