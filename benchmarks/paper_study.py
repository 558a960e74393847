#!/usr/bin/env python3
"""Scaling study: ntp vs the paper's n-TangentProp (PyTorch) vs nested autograd.

Three ways to compute the jet out[k] = d^k f/dx^k, k = 0..n, of a tanh MLP
with one input and one output, with the SAME weights:
  ntp         AOT kernels from ntp-compile, called through ctypes on
              libntp_runtime.so (forward: ntp_forward; total: ntp_forward_save
              + ntp_backward_saved of the all-ones cotangent);
  ntangent    the paper's Algorithm 1 in PyTorch, written from its formulas:
              Faa di Bruno over integer partitions with the Bell coefficients
              C_p = m! / prod(p_j! (j!)^p_j), tanh derivatives as polynomials
              in t = tanh(y) (P_{k+1} = P_k'(t) (1 - t^2)); backward by
              autograd through it, as in the paper;
  autograd    torch.autograd.grad nested n times with create_graph=True.
"total" is forward + backward of loss = sum over all orders and samples
(the parameter gradient), "backward" is the backward part of a total run.

Before timing, every (configuration, order) is checked: the three jets and
the ntp / autograd parameter gradients must agree (relative to each order's
largest value). Timing: one warm-up call per measurement, then rounds in
which the pending measurements run in a freshly shuffled order, until each
has `--reps` samples (fewer, at least `--min-reps`, when one call is so slow
that it would exceed `--budget-s`; the count is in the CSV); median reported.
"""
import argparse
import csv
import ctypes
import itertools
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# --------------------------------------------------------------------------
# The network, in PyTorch
# --------------------------------------------------------------------------

def build_model(layers, dtype, seed):
    torch.manual_seed(seed)
    mods = []
    for i in range(len(layers) - 1):
        mods.append(torch.nn.Linear(layers[i], layers[i + 1]))
        if i + 2 < len(layers):
            mods.append(torch.nn.Tanh())
    return torch.nn.Sequential(*mods).to(dtype)


def linears(model):
    return [m for m in model if isinstance(m, torch.nn.Linear)]


def flat_params(model):
    # torch.nn.Linear order, W row-major [out, in]: ntp's params layout.
    return torch.cat([p.detach().reshape(-1) for m in linears(model)
                      for p in (m.weight, m.bias)]).numpy().copy()


def nested_autograd(model, x, order):
    x = x.clone().requires_grad_(True)
    y = model(x)
    outs = [y]
    for _ in range(order):
        (y,) = torch.autograd.grad(y.sum(), x, create_graph=True)
        outs.append(y)
    return outs


# --------------------------------------------------------------------------
# The paper's n-TangentProp, from its formulas
# --------------------------------------------------------------------------

def integer_partitions(m, largest=None):
    """Partitions of m as multiplicity dicts {part j: p_j}."""
    largest = m if largest is None else largest
    if m == 0:
        yield {}
        return
    for part in range(min(m, largest), 0, -1):
        for rest in integer_partitions(m - part, part):
            p = dict(rest)
            p[part] = p.get(part, 0) + 1
            yield p


def bell_terms(m):
    """[(C_p, |p|, {j: p_j})] of Faa di Bruno's formula at order m."""
    terms = []
    for p in integer_partitions(m):
        c = math.factorial(m)
        for j, pj in p.items():
            c //= math.factorial(pj) * math.factorial(j) ** pj
        terms.append((c, sum(p.values()), p))
    return terms


def tanh_derivative_polys(n):
    """Integer coefficients (low to high) of P_k with tanh^(k)(y) = P_k(t)."""
    polys = [[0, 1]]
    for _ in range(n):
        p = polys[-1]
        dp = [i * p[i] for i in range(1, len(p))] or [0]
        # dp * (1 - t^2)
        q = [0] * (len(dp) + 2)
        for i, c in enumerate(dp):
            q[i] += c
            q[i + 2] -= c
        while len(q) > 1 and q[-1] == 0:
            q.pop()
        polys.append(q)
    return polys


class NTangentProp:
    def __init__(self, order):
        self.order = order
        self.bell = [None] + [bell_terms(m) for m in range(1, order + 1)]
        self.polys = tanh_derivative_polys(order)

    def sigma_derivs(self, y0):
        t = torch.tanh(y0)
        out = [t]
        for k in range(1, self.order + 1):
            coeffs = self.polys[k]
            acc = torch.full_like(t, float(coeffs[-1]))
            for c in reversed(coeffs[:-1]):  # Horner in t
                acc = acc * t + c
            out.append(acc)
        return out

    def __call__(self, model, x):
        lins = linears(model)
        n = self.order
        first = lins[0]
        y = [first(x)]
        if n >= 1:
            # direction v = 1: y_1 = L1(1) - b1, higher orders vanish.
            y.append(first.weight.sum(dim=1).expand_as(y[0]))
            zero = torch.zeros_like(y[0])
            y += [zero] * (n - 1)
        for lin in lins[1:]:
            a = self.sigma_derivs(y[0])
            z = [a[0]]
            for m in range(1, n + 1):
                acc = None
                for c, s, p in self.bell[m]:
                    term = a[s] * c
                    for j, pj in p.items():
                        term = term * (y[j] ** pj if pj > 1 else y[j])
                    acc = term if acc is None else acc + term
                z.append(acc)
            y = [lin(z[0])] + [z[m] @ lin.weight.t() for m in range(1, n + 1)]
        return y


# --------------------------------------------------------------------------
# ntp through ctypes
# --------------------------------------------------------------------------

class Ntp:
    def __init__(self, runtime, compiler, workdir, threads):
        self.lib = ctypes.CDLL(runtime)
        self.compiler = compiler
        self.workdir = workdir
        self.compile_s = {}
        L = self.lib
        vp, i64 = ctypes.c_void_p, ctypes.c_int64
        L.ntp_kernel_load.argtypes = [ctypes.c_char_p, ctypes.POINTER(vp)]
        L.ntp_forward.argtypes = [vp, vp, vp, vp, vp, i64]
        L.ntp_forward_save.argtypes = [vp, vp, vp, vp, vp, vp, i64]
        L.ntp_backward_saved.argtypes = [vp, vp, vp, vp, vp, vp, vp, vp, i64]
        L.ntp_workspace_size.argtypes = [vp, i64, ctypes.POINTER(i64)]
        L.ntp_last_error.restype = ctypes.c_char_p
        L.ntp_set_num_threads.argtypes = [ctypes.c_int32]
        L.ntp_set_num_threads(threads)

    def check(self, status):
        if status != 0:
            raise RuntimeError("ntp: " + self.lib.ntp_last_error().decode())

    def kernel_path(self, layers, order, dtype):
        return os.path.join(self.workdir, "k_%s_%s_%d.so" % (
            "-".join(map(str, layers)), dtype, order))

    def kernel(self, layers, order, dtype):
        path = self.kernel_path(layers, order, dtype)
        if not os.path.exists(path):
            # Wall time of the whole ahead-of-time compile (forward and
            # generated backward, MLIR to shared object), one process.
            start = time.perf_counter()
            subprocess.run([self.compiler, "--layers", ",".join(map(str, layers)),
                            "--activation", "tanh", "--order", str(order),
                            "--dtype", dtype, "--target-cpu=native", "-o", path],
                           check=True)
            self.compile_s[path] = time.perf_counter() - start
        k = ctypes.c_void_p()
        self.check(self.lib.ntp_kernel_load(path.encode(), ctypes.byref(k)))
        return k


class NtpCall:
    """Buffers and bound calls of one kernel at one batch."""

    def __init__(self, ntp, kernel, x, params, order, out_dim, npdtype):
        self.ntp, self.k = ntp, kernel
        batch = x.shape[0]
        self.batch = batch
        self.x = np.ascontiguousarray(x, dtype=npdtype)
        self.v = np.ones(x.shape[1], dtype=npdtype)
        self.params = np.ascontiguousarray(params, dtype=npdtype)
        self.out = np.zeros((order + 1, batch, out_dim), dtype=npdtype)
        self.cot = np.ones_like(self.out)
        self.grad = np.zeros_like(self.params)
        size = ctypes.c_int64()
        ntp.check(ntp.lib.ntp_workspace_size(kernel, batch, ctypes.byref(size)))
        self.ws = np.zeros(size.value // self.out.itemsize + 1, dtype=npdtype)
        p = lambda a: a.ctypes.data_as(ctypes.c_void_p)
        self.px, self.pv, self.pp, self.po, self.pc, self.pg, self.pw = map(
            p, (self.x, self.v, self.params, self.out, self.cot, self.grad,
                self.ws))

    def forward(self):
        self.ntp.check(self.ntp.lib.ntp_forward(
            self.k, self.px, self.pv, self.pp, self.po, self.batch))

    def forward_save(self):
        self.ntp.check(self.ntp.lib.ntp_forward_save(
            self.k, self.px, self.pv, self.pp, self.po, self.pw, self.batch))

    def backward_saved(self):
        self.ntp.check(self.ntp.lib.ntp_backward_saved(
            self.k, self.px, self.pv, self.pp, self.pc, self.pg, None,
            self.pw, self.batch))


# --------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------

def now():
    return time.perf_counter()


def make_tasks(model, x, order, ntp_call, methods):
    """name -> callable returning {phase: seconds} for one repetition."""
    tasks = {}
    ntp_tp = NTangentProp(order)

    def torch_total(fn):
        def run():
            t0 = now()
            outs = fn()
            t1 = now()
            loss = sum(o.sum() for o in outs)
            model.zero_grad(set_to_none=True)
            loss.backward()
            t2 = now()
            return {"backward": t2 - t1, "total": t2 - t0}
        return run

    def torch_fwd(fn):
        def run():
            t0 = now()
            fn()  # with grad enabled: the forward of a training step
            return {"forward": now() - t0}
        return run

    if "autograd" in methods:
        fa = lambda: nested_autograd(model, x, order)
        tasks[("autograd", "fwd")] = torch_fwd(fa)
        tasks[("autograd", "tot")] = torch_total(fa)
    if "ntangent" in methods:
        fn = lambda: ntp_tp(model, x)
        tasks[("ntangent", "fwd")] = torch_fwd(fn)
        tasks[("ntangent", "tot")] = torch_total(fn)
    if ntp_call is not None:
        def nf():
            t0 = now()
            ntp_call.forward()
            return {"forward": now() - t0}

        def nt():
            t0 = now()
            ntp_call.forward_save()
            t1 = now()
            ntp_call.backward_saved()
            t2 = now()
            return {"backward": t2 - t1, "total": t2 - t0}
        tasks[("ntp", "fwd")] = nf
        tasks[("ntp", "tot")] = nt
    return tasks


# Calls shorter than this run in bursts: in each round such a task makes
# `burst` calls back to back (enough for ~10 ms) and its sample is the median
# of all but the first. A training loop repeats the same call, whereas one
# short call inside a shuffled round inherits the previous task's state:
# evicted caches, PyTorch's OpenMP workers still spinning on both cores after
# a torch call, ntp's pool workers asleep. Measured at order 9 (2 threads):
# ntp total 0.25 ms back to back, 0.67 ms right after an n-TangentProp call.
BURST_BELOW_S = 0.02


def measure(tasks, reps, min_reps, budget_s, rng):
    """Round-robin over shuffled tasks; returns {task: {phase: [s]}}."""
    want, samples, burst = {}, {}, {}
    for name, fn in tasks.items():
        t0 = now()
        fn()  # warm-up, and a cost estimate
        dt = now() - t0
        want[name] = max(min_reps, min(reps, int(budget_s / max(dt, 1e-9))))
        burst[name] = (1 if dt >= BURST_BELOW_S
                       else min(50, max(3, int(math.ceil(0.01 / dt)))))
        samples[name] = {}
    for r in range(max(want.values())):
        order = [t for t in tasks if want[t] > r]
        rng.shuffle(order)
        for name in order:
            calls = [tasks[name]() for _ in range(burst[name])]
            if len(calls) > 1:
                calls = calls[1:]
            for phase in calls[0]:
                samples[name].setdefault(phase, []).append(
                    statistics.median(c[phase] for c in calls))
    return samples, want


def agreement(model, x, order, ntp_call):
    """Max relative differences (per order, relative to its max |value|)."""
    ref = nested_autograd(model, x, order)
    ntg = NTangentProp(order)(model, x)
    ntp_call.forward()
    errs = {"ntangent": 0.0, "ntp": 0.0}
    for k in range(order + 1):
        r = ref[k].detach().double().numpy().reshape(-1)
        scale = max(np.abs(r).max(), 1e-30)
        errs["ntangent"] = max(errs["ntangent"], float(
            np.abs(ntg[k].detach().double().numpy().reshape(-1) - r).max() / scale))
        errs["ntp"] = max(errs["ntp"], float(
            np.abs(ntp_call.out[k].astype(np.float64).reshape(-1) - r).max() / scale))
    # Parameter gradients of sum over all orders: autograd vs ntp.
    loss = sum(o.sum() for o in ref)
    model.zero_grad(set_to_none=True)
    loss.backward()
    g_ref = torch.cat([p.grad.reshape(-1) for m in linears(model)
                       for p in (m.weight, m.bias)]).double().numpy()
    ntp_call.forward_save()
    ntp_call.backward_saved()
    errs["ntp_grad"] = float(np.abs(ntp_call.grad - g_ref).max()
                             / max(np.abs(g_ref).max(), 1e-30))
    return errs


FIELDS = ["sweep", "depth", "width", "batch", "order", "dtype", "method",
          "fwd_ms", "bwd_ms", "total_ms", "reps_fwd", "reps_total",
          "err_vs_autograd", "err_grad_vs_autograd", "check_ok", "compile_s"]


def run_config(ntp, layers, batch, orders, args, sweep, rng, writer, rows):
    dtype = torch.float32 if args.dtype == "f32" else torch.float64
    npdtype = np.float32 if args.dtype == "f32" else np.float64
    model = build_model(layers, dtype, args.seed)
    params = flat_params(model)
    x = torch.linspace(-2, 2, batch, dtype=dtype).reshape(batch, 1)
    for order in orders:
        methods = ["ntp"]
        if order <= args.max_torch_order:
            methods += ["autograd", "ntangent"]
        call = NtpCall(ntp, ntp.kernel(layers, order, args.dtype),
                       x.numpy(), params, order, layers[-1], npdtype)
        errs = {}
        ok = True
        if "autograd" in methods:
            errs = agreement(model, x, order, call)
            ok = all(e <= args.tolerance for e in errs.values())
            if not ok:
                print("WARNING: disagreement at layers %s order %d: %s"
                      % (layers, order, errs), file=sys.stderr)
        tasks = make_tasks(model, x, order, call, methods)
        samples, reps = measure(tasks, args.reps, args.min_reps, args.budget_s,
                                rng)
        for m in ["ntp", "autograd", "ntangent"]:
            if (m, "fwd") not in tasks:
                continue
            f = samples[(m, "fwd")]["forward"]
            t = samples[(m, "tot")]
            row = {
                "sweep": sweep, "depth": len(layers) - 2, "width": layers[1],
                "batch": batch, "order": order, "dtype": args.dtype,
                "method": m,
                "fwd_ms": "%.4f" % (statistics.median(f) * 1e3),
                "bwd_ms": "%.4f" % (statistics.median(t["backward"]) * 1e3),
                "total_ms": "%.4f" % (statistics.median(t["total"]) * 1e3),
                "reps_fwd": reps[(m, "fwd")], "reps_total": reps[(m, "tot")],
                "err_vs_autograd": ("%.2e" % errs[m]) if m in errs else "",
                "err_grad_vs_autograd": ("%.2e" % errs["ntp_grad"])
                if m == "ntp" and errs else "",
                "check_ok": ok if errs else "",
                "compile_s": ("%.3f" % ntp.compile_s.get(
                    ntp.kernel_path(layers, order, args.dtype), float("nan")))
                if m == "ntp" else "",
            }
            writer.writerow(row)
            rows.append(row)
        print("%s layers=%s batch=%d n=%d %s" % (
            sweep, "-".join(map(str, layers)), batch, order, " ".join(
                "%s fwd %.3g tot %.3g ms" % (r["method"], float(r["fwd_ms"]),
                                             float(r["total_ms"]))
                for r in rows if r["sweep"] == sweep and r["order"] == order
                and r["width"] == layers[1] and r["batch"] == batch
                and r["depth"] == len(layers) - 2)), flush=True)


def plots(rows, outdir):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    colors = {"ntp": "tab:green", "ntangent": "tab:blue", "autograd": "tab:red"}
    labels = {"ntp": "ntp (compiled)", "ntangent": "n-TangentProp (PyTorch)",
              "autograd": "nested autograd"}
    order_rows = [r for r in rows if r["sweep"] == "order"]
    if order_rows:
        for phase in ["fwd_ms", "bwd_ms", "total_ms"]:
            fig, axes = plt.subplots(2, 1, figsize=(6, 7), sharex=True)
            for ax, log in zip(axes, [False, True]):
                for m in ["autograd", "ntangent", "ntp"]:
                    pts = sorted((r["order"], float(r[phase]))
                                 for r in order_rows if r["method"] == m)
                    if pts:
                        ax.plot(*zip(*pts), "o-", color=colors[m],
                                label=labels[m])
                if log:
                    ax.set_yscale("log")
                ax.set_ylabel(phase.replace("_ms", "") + " time (ms)")
                ax.grid(True, alpha=0.3)
            axes[0].legend()
            axes[1].set_xlabel("derivative order n")
            axes[0].set_title("1-24-24-24-1 tanh, batch %d, %s" % (
                order_rows[0]["batch"], order_rows[0]["dtype"]))
            fig.tight_layout()
            fig.savefig(os.path.join(outdir, "order_%s.png" %
                                     phase.replace("_ms", "")), dpi=90)
            plt.close(fig)
    compile_pts = sorted((r["order"], float(r["compile_s"]))
                         for r in order_rows if r["method"] == "ntp"
                         and r.get("compile_s") not in (None, "", "nan"))
    if compile_pts:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot(*zip(*compile_pts), "o-", color=colors["ntp"])
        ax.set_xlabel("derivative order n")
        ax.set_ylabel("ntp-compile wall time (s)")
        ax.set_title("AOT compile (forward + backward, MLIR to .so), "
                     "1-24-24-24-1 tanh")
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        fig.tight_layout()
        fig.savefig(os.path.join(outdir, "compile_time.png"), dpi=90)
        plt.close(fig)
    grid = [r for r in rows if r["sweep"] == "grid"]
    if grid:
        key = lambda r: (r["depth"], r["width"], r["batch"], r["order"])
        by = {}
        for r in grid:
            by.setdefault(key(r), {})[r["method"]] = r
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
        for ax, phase in zip(axes, ["fwd_ms", "total_ms"]):
            configs = sorted({(k[0], k[1], k[2]) for k in by})
            for ci, (d, w, b) in enumerate(configs):
                for ratio, marker, ls in [(("autograd", "ntangent"), "s", "--"),
                                          (("autograd", "ntp"), "o", "-"),
                                          (("ntangent", "ntp"), "^", ":")]:
                    pts = []
                    for (dd, ww, bb, n), ms in sorted(by.items()):
                        if (dd, ww, bb) == (d, w, b) and all(
                                m in ms for m in ratio):
                            pts.append((n, float(ms[ratio[0]][phase])
                                        / float(ms[ratio[1]][phase])))
                    if pts:
                        ax.plot(*zip(*pts), marker=marker, linestyle=ls,
                                color="C%d" % ci,
                                label="%s/%s d%d w%d b%d" % (
                                    ratio[0], ratio[1], d, w, b))
            ax.axhline(1, color="k", linestyle="--", linewidth=0.8)
            ax.set_yscale("log")
            ax.set_xlabel("derivative order n")
            ax.set_ylabel("time ratio (%s)" % phase.replace("_ms", ""))
            ax.grid(True, alpha=0.3)
        axes[1].legend(fontsize=6, ncol=1)
        fig.suptitle("speed-up ratios over the grid (>1: the second is faster)")
        fig.tight_layout()
        fig.savefig(os.path.join(outdir, "grid_speedup.png"), dpi=90)
        plt.close(fig)


def report(path, outdir):
    """Markdown tables (and the plots) from a CSV written by this script."""
    with open(path) as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for k in ("depth", "width", "batch", "order"):
            r[k] = int(r[k])
    plots(rows, outdir)
    by = {}
    for r in rows:
        by.setdefault((r["sweep"], r["depth"], r["width"], r["batch"],
                       r["order"]), {})[r["method"]] = r
    fmt = lambda ms, m, k: ms[m][k] if m in ms else "-"

    def ratio(ms, a, b, k):
        if a in ms and b in ms:
            return "%.1f" % (float(ms[a][k]) / float(ms[b][k]))
        return "-"
    print("| n | ntp fwd | ntp bwd | ntp total | n-TP fwd | n-TP total | "
          "autograd fwd | autograd total | autograd/ntp fwd | autograd/ntp "
          "total | autograd/n-TP total | n-TP/ntp fwd | n-TP/ntp total | "
          "max rel. err ntp, n-TP | ntp compile (s) |")
    print("|" + "---|" * 16)
    for key, ms in sorted(by.items()):
        if key[0] != "order":
            continue
        err = "-"
        if ms["ntp"]["err_vs_autograd"]:
            err = "%s, %s" % (ms["ntp"]["err_vs_autograd"],
                              ms["ntangent"]["err_vs_autograd"])
        print("| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s "
              "| %s | %s | %s |" % (key[4], fmt(ms, "ntp", "fwd_ms"),
                          fmt(ms, "ntp", "bwd_ms"), fmt(ms, "ntp", "total_ms"),
                          fmt(ms, "ntangent", "fwd_ms"),
                          fmt(ms, "ntangent", "total_ms"),
                          fmt(ms, "autograd", "fwd_ms"),
                          fmt(ms, "autograd", "total_ms"),
                          ratio(ms, "autograd", "ntp", "fwd_ms"),
                          ratio(ms, "autograd", "ntp", "total_ms"),
                          ratio(ms, "autograd", "ntangent", "total_ms"),
                          ratio(ms, "ntangent", "ntp", "fwd_ms"),
                          ratio(ms, "ntangent", "ntp", "total_ms"), err,
                          ms["ntp"].get("compile_s") or "-"))
    print()
    print("| depth | width | batch | n | ntp total | n-TP total | autograd "
          "total | autograd/n-TP fwd | autograd/n-TP total | autograd/ntp fwd "
          "| autograd/ntp total | n-TP/ntp fwd | n-TP/ntp total |")
    print("|" + "---|" * 13)
    for key, ms in sorted(by.items()):
        if key[0] != "grid":
            continue
        print("| %d | %d | %d | %d | %s | %s | %s | %s | %s | %s | %s | %s "
              "| %s |"
              % (key[1:] + (fmt(ms, "ntp", "total_ms"),
                            fmt(ms, "ntangent", "total_ms"),
                            fmt(ms, "autograd", "total_ms"),
                            ratio(ms, "autograd", "ntangent", "fwd_ms"),
                            ratio(ms, "autograd", "ntangent", "total_ms"),
                            ratio(ms, "autograd", "ntp", "fwd_ms"),
                            ratio(ms, "autograd", "ntp", "total_ms"),
                            ratio(ms, "ntangent", "ntp", "fwd_ms"),
                            ratio(ms, "ntangent", "ntp", "total_ms"))))


def find(*candidates):
    for c in candidates:
        p = os.path.join(ROOT, c)
        if os.path.exists(p) and os.path.getsize(p) > 0:
            return p
    return os.path.join(ROOT, candidates[0])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dtype", default="f32", choices=["f32", "f64"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--reps", type=int, default=20)
    p.add_argument("--min-reps", type=int, default=5)
    p.add_argument("--budget-s", type=float, default=8.0,
                   help="target time per measurement (caps reps for slow "
                        "calls, never below --min-reps)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-torch-order", type=int, default=9)
    p.add_argument("--ntp-max-order", type=int, default=16)
    p.add_argument("--tolerance", type=float, default=5e-3,
                   help="max error relative to each order's largest value")
    p.add_argument("--full", action="store_true",
                   help="the paper's whole grid (hours on a CPU)")
    p.add_argument("--skip-order-sweep", action="store_true")
    p.add_argument("--skip-grid", action="store_true")
    p.add_argument("--ntp-compile", default=None)
    p.add_argument("--runtime", default=None)
    p.add_argument("--report", metavar="CSV", default=None,
                   help="only print markdown tables and redraw the plots "
                        "from a CSV of an earlier run")
    p.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results"))
    args = p.parse_args()
    if args.report:
        report(args.report, args.out)
        return
    torch.set_num_threads(args.threads)
    compiler = args.ntp_compile or find("build-study/bin/ntp-compile",
                                        "build/bin/ntp-compile")
    runtime = args.runtime or find("build-study/runtime/libntp_runtime.so",
                                   "build/runtime/libntp_runtime.so")
    os.makedirs(args.out, exist_ok=True)
    rng = random.Random(args.seed)
    workdir = tempfile.mkdtemp(prefix="ntp-study-")
    ntp = Ntp(runtime, compiler, workdir, args.threads)
    print("machine: %s, %s, %d logical CPUs, torch %s (%d threads), ntp "
          "threads %d, compiler %s" % (
              platform.node(), platform.processor() or platform.machine(),
              os.cpu_count(), torch.__version__, torch.get_num_threads(),
              args.threads, compiler), flush=True)
    rows = []
    path = os.path.join(args.out, "paper_study.csv")
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        if not args.skip_order_sweep:
            run_config(ntp, [1, 24, 24, 24, 1], 256,
                       list(range(args.ntp_max_order + 1)), args, "order",
                       rng, w, rows)
            f.flush()
        if not args.skip_grid:
            if args.full:
                depths = [3, 5, 7]
                widths = [24, 32, 48, 64, 76, 88, 104, 128]
                batches, orders = [32, 64, 256, 1024, 4096], [1, 3, 6, 8]
            else:
                depths, widths, batches, orders = [3, 5], [24, 64], [256], [1, 3, 6, 8]
            for d, wd, b in itertools.product(depths, widths, batches):
                run_config(ntp, [1] + [wd] * d + [1], b, orders, args, "grid",
                           rng, w, rows)
                f.flush()
    plots(rows, args.out)
    print("wrote", path)


if __name__ == "__main__":
    main()
