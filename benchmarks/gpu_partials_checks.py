#!/usr/bin/env python3
"""GPU checks of partials kernels (issue 12 item 7) from a GPU bundle.

Run by test/gpu/run-gpu-checks.sh --bundle DIR after gpu_checks.py (needs an
NVIDIA GPU and PyTorch with CUDA; not run in CI). The kernels are the
bundle's partials/ directory (test/gpu/make-gpu-bundle.sh): for each case and
dtype a CPU kernel (<case>_<dtype>_cpu.so, checked against the independent
reference by the CPU test suite) and PTX of the GPU mappings
(<case>_<dtype>_{sample,lanes}.ntp). The request is each kernel's own
(ntp_kernel_partials_get).

  1. correctness: ntp_partials on the GPU against the CPU kernel, batches 1,
     129, 1000 (and 4096 unless --quick), every case x dtype x mapping. Error
     of request p: max |gpu - cpu| / max(max |cpu_p|, 1e-10 M_n), M_n the
     largest |cpu| of the requests of the same total order (identically zero
     partials are judged fairly); bounds f64 1e-9, f32 2e-3 (both sides carry
     rounding; the CPU kernels' own bound against the reference is 1e-10 /
     1e-3). Guard elements after the output must stay NaN.
  1b. the reverse mode (cases compiled with --gpu-backward): ntp_partials_save
     + ntp_partials_backward_saved and ntp_partials_backward on the GPU
     against the CPU kernel's ntp_partials_backward (params_grad and x_grad,
     max-norm relative error, same bounds), and bitwise equal results on two
     calls (the gradient reduction has a fixed order).
  2. timing (informational, printed beside PyTorch on the same GPU, same
     weights and points): the Laplacian of the tanh network d-64-64-64-1,
     d = 2, 8, 32, batch 1024 (and 4096 unless --quick), f32 and f64: ntp
     (sample and lanes mappings), PyTorch nested autograd (the gradient, then
     a loop over the coordinates), the forward Laplacian written in PyTorch
     (collapsed Taylor mode) and vmap(hessian) trace (torch.func or
     functorch, when present); the 35 partials of total order <= 4 of
     3-64-64-64-1 against PyTorch nested autograd (20 backward passes).
     Median of bursts between synchronisations (gpu_checks.bench).

--self-test (no GPU): the GPU path with the CPU kernels standing in for
the CUDA ones and PyTorch on the CPU, to check this script.
--dry-run (no GPU, no torch): every file is there, the CPU kernels load and
run (the reverse mode too where compiled), each CUDA artifact parses, names
the request of its CPU kernel and reaches the driver (NTP_ERROR_NO_DEVICE
without one). Writes <out>/gpu_partials_<gpu>_<date>.{md,csv}. Exit 1 when a
correctness check fails, 77 without a CUDA device for PyTorch.
"""
import argparse
import ctypes
import datetime
import os
import re
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpu_checks  # noqa: E402  (Runtime, KernelInfo, bench, artifacts)
from gpu_checks import (NTP_OK, NTP_ERROR_NO_DEVICE, KernelInfo,  # noqa: E402
                        Runtime, bench, log, read_cuda_artifact)

NP_DTYPE = {"f32": np.float32, "f64": np.float64}
RTOL = {"f32": 2e-3, "f64": 1e-9}
MAPPINGS = ("sample", "lanes")
CHECK_BATCHES = (1, 129, 1000, 4096)
QUICK_BATCHES = (1, 129)
TIME_BATCHES = (1024, 4096)
GUARD = 64
# Where the "GPU" buffers live: cuda, or cpu with --self-test.
DEVICE = "cuda"


class PartialsRuntime(Runtime):
    """gpu_checks.Runtime with the partials entry points."""

    def __init__(self, path):
        super().__init__(path)
        rt, vp, i64, i32p = self.lib, ctypes.c_void_p, ctypes.c_int64, \
            ctypes.POINTER(ctypes.c_int32)
        rt.ntp_partials.restype = ctypes.c_int
        rt.ntp_partials.argtypes = [vp] * 4 + [i64]
        rt.ntp_kernel_partials_get.restype = ctypes.c_int
        rt.ntp_kernel_partials_get.argtypes = [vp, i32p, ctypes.c_int32, i32p]
        rt.ntp_partials_backward.restype = ctypes.c_int
        rt.ntp_partials_backward.argtypes = [vp] * 6 + [i64]
        rt.ntp_partials_save.restype = ctypes.c_int
        rt.ntp_partials_save.argtypes = [vp] * 5 + [i64]
        rt.ntp_partials_backward_saved.restype = ctypes.c_int
        rt.ntp_partials_backward_saved.argtypes = [vp] * 7 + [i64]

    def info(self, k):
        info = KernelInfo()
        if self.lib.ntp_kernel_info_get(k, ctypes.byref(info)) != NTP_OK:
            raise RuntimeError("ntp_kernel_info_get: " + self.error())
        return info

    def rows(self, k, d):
        count = ctypes.c_int32()
        if self.lib.ntp_kernel_partials_get(k, None, 0, ctypes.byref(count)):
            raise RuntimeError("ntp_kernel_partials_get: " + self.error())
        buf = (ctypes.c_int32 * (count.value * d))()
        if self.lib.ntp_kernel_partials_get(k, buf, count.value * d,
                                            ctypes.byref(count)):
            raise RuntimeError("ntp_kernel_partials_get: " + self.error())
        return [list(buf[p * d:(p + 1) * d]) for p in range(count.value)]

    def has_backward(self, k):
        size = ctypes.c_int64()
        return self.lib.ntp_workspace_size(k, 1, ctypes.byref(size)) == NTP_OK

    def call(self, what, *args):
        status = getattr(self.lib, what)(*args)
        if status != NTP_OK:
            raise RuntimeError(f"{what}: status {status}: {self.error()}")


def total_order(row):
    """An operator row holds -2 (Laplacian) or -4 (biharmonic)."""
    marks = [e for e in row if e < 0]
    return -marks[0] if marks else sum(row)


def ptr(a):
    return ctypes.c_void_p(a.ctypes.data if isinstance(a, np.ndarray)
                           else a.data_ptr())


def request_errors(got, want, rows):
    """Per request: max |got - want| / max(max |want_p|, 1e-10 M_n)."""
    got = np.asarray(got, np.float64).reshape(len(rows), -1)
    want = np.asarray(want, np.float64).reshape(len(rows), -1)
    peak = np.abs(want).max(axis=1)
    by_order = {}
    for p, row in enumerate(rows):
        n = total_order(row)
        by_order[n] = max(by_order.get(n, 0.0), peak[p])
    errs = []
    for p, row in enumerate(rows):
        diff = np.abs(got[p] - want[p])
        err = np.inf if np.isnan(got[p]).any() else diff.max()
        denom = max(peak[p], 1e-10 * by_order[total_order(row)])
        errs.append(float(err / denom) if denom > 0 else float(err))
    return errs


def grad_error(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if np.isnan(got).any():
        return float("inf")
    return float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-300))


class Case:
    def __init__(self, bundle, name, dtype):
        self.name, self.dtype = name, dtype
        base = os.path.join(bundle, "partials", f"{name}_{dtype}")
        self.cpu = base + "_cpu.so"
        self.gpu = {m: base + f"_{m}.ntp" for m in MAPPINGS
                    if os.path.isfile(base + f"_{m}.ntp")}

    def label(self, mapping=None):
        return f"{self.name} {self.dtype}" + (f" {mapping}" if mapping else "")


def discover(bundle):
    """The bundle's partials cases and the structural problems found."""
    problems, cases = [], []
    header = {}
    manifest = os.path.join(bundle, "MANIFEST.txt")
    if not os.path.isfile(manifest):
        return [], [f"{manifest}: missing (make it with make-gpu-bundle.sh)"]
    with open(manifest) as f:
        for line in f:
            if line.strip() == "files:":
                break
            if "=" in line:
                key, value = line.rstrip("\n").split("=", 1)
                header[key] = value
    names = [n for n in header.get("partials", "none").split(",")
             if n and n != "none"]
    if not names:
        problems.append("MANIFEST.txt: no partials cases (partials="
                        f"{header.get('partials')}); rebuild the bundle")
    for name in names:
        for dtype in NP_DTYPE:
            c = Case(bundle, name, dtype)
            if not os.path.isfile(c.cpu):
                problems.append(f"{c.cpu}: missing")
            if "sample" not in c.gpu:
                problems.append(f"{c.label()}: no sample-mapping artifact")
            cases.append(c)
    return cases, problems


def random_problem(rng, info, dtype, batch):
    """Weights scaled by 1/sqrt(fan-in) (the layers are in the manifest;
    a uniform scale of the flat vector keeps this simple) and points in
    [-1, 1]."""
    params = rng.uniform(-1, 1, info.num_params) / np.sqrt(max(info.input_dim,
                                                                8))
    x = rng.uniform(-1, 1, (batch, info.input_dim))
    t = NP_DTYPE[dtype]
    return np.ascontiguousarray(params, t), np.ascontiguousarray(x, t)


# --------------------------------------------------------------------------
# Dry run

def dry_run(args, rt, cases):
    problems = []
    rng = np.random.default_rng(1)
    for c in cases:
        status, k, msg = rt.load(c.cpu)
        if status != NTP_OK:
            problems.append(f"{c.cpu}: {msg}")
            continue
        info = rt.info(k)
        rows = rt.rows(k, info.input_dim)
        params, x = random_problem(rng, info, c.dtype, 5)
        out = np.full(len(rows) * 5 * info.output_dim, np.nan,
                      NP_DTYPE[c.dtype])
        rt.call("ntp_partials", k, ptr(x), ptr(params), ptr(out), 5)
        if not np.isfinite(out).all():
            problems.append(f"{c.label()}: CPU partials not finite")
        backward = rt.has_backward(k)
        if backward:
            grad = np.empty_like(params)
            xg = np.empty_like(x)
            rt.call("ntp_partials_backward", k, ptr(x), ptr(params), ptr(out),
                    ptr(grad), ptr(xg), 5)
        rt.free(k)
        for mapping, path in c.gpu.items():
            try:
                kv, _ = read_cuda_artifact(path)
            except ValueError as e:
                problems.append(f"{path}: {e}")
                continue
            want = ";".join(",".join(map(str, r)) for r in rows)
            if kv.get("partials") != want:
                problems.append(f"{path}: partials={kv.get('partials')}, its "
                                f"CPU kernel's are {want}")
            if kv.get("mapping") != mapping:
                problems.append(f"{path}: mapping={kv.get('mapping')}")
            if (kv.get("backward") == "1") != backward:
                problems.append(f"{path}: backward={kv.get('backward')} but "
                                f"the CPU kernel's reverse mode is {backward}")
            status, k, msg = rt.load(path)
            if status not in (NTP_OK, NTP_ERROR_NO_DEVICE):
                problems.append(f"{path}: ntp_kernel_load: {msg}")
            rt.free(k)
        log(f"dry run: {c.label()}: {len(rows)} requests, "
            f"mappings {','.join(c.gpu)}, reverse mode {backward}")
    return problems


# --------------------------------------------------------------------------
# On the GPU

def check_case(args, rt, torch, c, results):
    """Correctness rows of one case (all its mappings)."""
    rng = np.random.default_rng(7)
    status, cpu, msg = rt.load(c.cpu)
    if status != NTP_OK:
        results.append((c.label(), "load", "FAIL", msg))
        return
    info = rt.info(cpu)
    rows = rt.rows(cpu, info.input_dim)
    q, t = info.output_dim, NP_DTYPE[c.dtype]
    backward = rt.has_backward(cpu)
    batches = QUICK_BATCHES if args.quick else CHECK_BATCHES
    for mapping, path in c.gpu.items():
        status, k, msg = rt.load(path)
        if status != NTP_OK:
            results.append((c.label(mapping), "load", "FAIL", msg))
            continue
        worst = 0.0
        for batch in batches:
            params, x = random_problem(rng, info, c.dtype, batch)
            n = len(rows) * batch * q
            want = np.empty(n, t)
            rt.call("ntp_partials", cpu, ptr(x), ptr(params), ptr(want), batch)
            dx, dp = torch.from_numpy(x).to(DEVICE), torch.from_numpy(params).to(DEVICE)
            dout = torch.full((n + GUARD,), float("nan"),
                              dtype=dx.dtype, device=DEVICE)
            rt.call("ntp_partials", k, ptr(dx), ptr(dp), ptr(dout), batch)
            torch.cuda.synchronize()
            got = dout.cpu().numpy()
            if not np.isnan(got[n:]).all():
                worst = float("inf")
                log(f"{c.label(mapping)} batch {batch}: wrote past the output")
            worst = max(worst, max(request_errors(got[:n], want, rows)))
        ok = worst <= RTOL[c.dtype]
        results.append((c.label(mapping), "forward", "PASS" if ok else "FAIL",
                        f"{worst:.2e}"))
        log(f"{c.label(mapping)}: forward max error {worst:.2e} "
            f"({'PASS' if ok else 'FAIL'})")
        if backward:
            check_backward(rt, torch, c, mapping, cpu, k, info, rows, results)
        rt.free(k)
    rt.free(cpu)


def check_backward(rt, torch, c, mapping, cpu, k, info, rows, results):
    rng = np.random.default_rng(11)
    q, t = info.output_dim, NP_DTYPE[c.dtype]
    worst, bitwise = 0.0, True
    for batch in (1, 129, 1000):
        params, x = random_problem(rng, info, c.dtype, batch)
        cot = np.ascontiguousarray(rng.uniform(-1, 1, len(rows) * batch * q), t)
        grad, xg = np.empty_like(params), np.empty_like(x)
        rt.call("ntp_partials_backward", cpu, ptr(x), ptr(params), ptr(cot),
                ptr(grad), ptr(xg), batch)
        dx, dp, dc = (torch.from_numpy(a).to(DEVICE) for a in (x, params, cot))
        dout = torch.empty(len(rows) * batch * q, dtype=dx.dtype,
                           device=DEVICE)
        size = rt.workspace_size(k, batch)
        ws = torch.empty(size, dtype=torch.uint8, device=DEVICE)
        got = []
        for _ in range(2):
            dg = torch.full_like(dp, float("nan"))
            dxg = torch.full_like(dx, float("nan"))
            rt.call("ntp_partials_save", k, ptr(dx), ptr(dp), ptr(dout),
                    ptr(ws), batch)
            rt.call("ntp_partials_backward_saved", k, ptr(dx), ptr(dp),
                    ptr(dc), ptr(dg), ptr(dxg), ptr(ws), batch)
            torch.cuda.synchronize()
            got.append((dg.cpu().numpy(), dxg.cpu().numpy()))
        dg = torch.full_like(dp, float("nan"))
        dxg = torch.full_like(dx, float("nan"))
        rt.call("ntp_partials_backward", k, ptr(dx), ptr(dp), ptr(dc),
                ptr(dg), ptr(dxg), batch)
        torch.cuda.synchronize()
        got.append((dg.cpu().numpy(), dxg.cpu().numpy()))
        for g, gx in got:
            worst = max(worst, grad_error(g, grad), grad_error(gx, xg))
        bitwise &= all(np.array_equal(got[0][i], got[j][i])
                       for j in (1, 2) for i in (0, 1))
    ok = worst <= RTOL[c.dtype] and bitwise
    results.append((c.label(mapping), "backward", "PASS" if ok else "FAIL",
                    f"{worst:.2e}" + ("" if bitwise else " (not bitwise)")))
    log(f"{c.label(mapping)}: backward max error {worst:.2e}, bitwise "
        f"{bitwise} ({'PASS' if ok else 'FAIL'})")


def torch_layers(torch, info, layers, flat):
    out, off = [], 0
    for i in range(1, len(layers)):
        n, m = layers[i], layers[i - 1]
        w = flat[off:off + n * m].view(n, m)
        b = flat[off + n * m:off + n * m + n]
        off += n * m + n
        out.append((w, b))
    return out


def kernel_layers(rt, k):
    widths = (ctypes.c_int32 * 16)()
    count = ctypes.c_int32()
    rt.lib.ntp_kernel_layers(k, widths, 16, ctypes.byref(count))
    return list(widths[:count.value])


def timing(args, rt, torch, cases, deadline):
    """Timing rows: (case, dtype, batch, method, median us, agreement)."""
    rows_out = []
    tf = getattr(torch, "func", None)
    if tf is None or not hasattr(tf, "hessian"):
        try:
            import functorch as tf
        except ImportError:
            tf = None
    sync = torch.cuda.synchronize
    for c in cases:
        if not c.name.startswith(("lap_", "all35_")):
            continue
        status, k0, _ = rt.load(c.gpu["sample"])
        if status != NTP_OK:
            continue
        info = rt.info(k0)
        layers = kernel_layers(rt, k0)
        rows = rt.rows(k0, info.input_dim)
        kernels = {"sample": k0}
        for m in ("lanes",):
            if m in c.gpu:
                s, km, _ = rt.load(c.gpu[m])
                if s == NTP_OK:
                    kernels[m] = km
        d = info.input_dim
        tdt = torch.float32 if c.dtype == "f32" else torch.float64
        for batch in (TIME_BATCHES[:1] if args.quick else TIME_BATCHES):
            if time.perf_counter() > deadline:
                log("partials timing: time budget spent")
                break
            rng = np.random.default_rng(3)
            params, x = random_problem(rng, info, c.dtype, batch)
            dx = torch.from_numpy(x).to(DEVICE)
            dp = torch.from_numpy(params).to(DEVICE)
            out = torch.empty(len(rows) * batch, dtype=tdt, device=DEVICE)
            tl = torch_layers(torch, info, layers, dp)

            def f(z):
                h = z
                for i, (w, b) in enumerate(tl):
                    h = torch.nn.functional.linear(h, w, b)
                    if i < len(tl) - 1:
                        h = torch.tanh(h)
                return h

            methods = {}
            for m, km in kernels.items():
                methods["ntp " + m] = (lambda km=km: rt.lib.ntp_partials(
                    km, ptr(dx), ptr(dp), ptr(out), batch))
            if c.name.startswith("lap_"):
                def by_autograd():
                    z = dx.detach().requires_grad_(True)
                    g, = torch.autograd.grad(f(z).sum(), z, create_graph=True)
                    acc = torch.zeros(batch, dtype=tdt, device=DEVICE)
                    for i in range(d):
                        gi, = torch.autograd.grad(g[:, i].sum(), z,
                                                  retain_graph=i < d - 1)
                        acc += gi[:, i]
                    return acc

                def by_forward_laplacian():
                    with torch.no_grad():
                        h = dx
                        L = torch.zeros_like(dx)
                        J = torch.eye(d, dtype=tdt, device=DEVICE).expand(
                            batch, d, d)
                        for i, (w, b) in enumerate(tl):
                            z = torch.nn.functional.linear(h, w, b)
                            Jz, Lz = J @ w.T, L @ w.T
                            if i == len(tl) - 1:
                                return Lz[:, 0]
                            a = torch.tanh(z)
                            da = 1 - a * a
                            h, J = a, Jz * da[:, None, :]
                            L = Lz * da + (-2 * a * da) * (Jz * Jz).sum(1)

                methods["torch autograd"] = by_autograd
                methods["torch fwd-laplacian"] = by_forward_laplacian
                if tf is not None:
                    hess = tf.vmap(tf.hessian(lambda z: f(z)[0]))
                    methods["torch vmap(hessian)"] = (
                        lambda: hess(dx).diagonal(dim1=1, dim2=2).sum(1))
            else:
                alphas = [tuple(r) for r in rows]

                def by_autograd():
                    z = dx.detach().requires_grad_(True)
                    got = {tuple([0] * d): f(z)[:, 0]}
                    top = max(sum(a) for a in alphas)
                    for n in range(top):
                        for a in [a for a in list(got) if sum(a) == n]:
                            g, = torch.autograd.grad(
                                got[a].sum(), z, create_graph=n < top - 1,
                                retain_graph=True)
                            for i in range(d):
                                ch = tuple(a[j] + (j == i) for j in range(d))
                                got.setdefault(ch, g[:, i])
                    return torch.stack([got[a] for a in alphas])

                methods["torch autograd"] = by_autograd
            # Agreement with ntp (sample), informational.
            methods["ntp sample"]()
            sync()
            ref = out.view(len(rows), batch).cpu().numpy().astype(np.float64)
            for name, call in methods.items():
                if time.perf_counter() > deadline:
                    break
                try:
                    med, _, calls = bench(call, sync, args.budget_s)
                    agree = ""
                    if name.startswith("torch"):
                        r = call().detach().reshape(len(rows), batch)
                        agree = "%.1e" % grad_error(r.cpu().numpy(), ref)
                except Exception as e:  # a peer's failure is reported
                    med, agree = None, f"failed: {type(e).__name__}"
                rows_out.append((c.name, c.dtype, batch, name,
                                 None if med is None else med * 1e6, agree))
                log(f"time {c.name} {c.dtype} batch {batch} {name}: "
                    + ("-" if med is None else f"{med * 1e6:.1f} us")
                    + (f" (vs ntp {agree})" if agree else ""))
        for km in kernels.values():
            rt.free(km)
    return rows_out


def write_results(args, gpu, results, times):
    date = datetime.date.today().isoformat()
    tag = re.sub(r"[^A-Za-z0-9.-]+", "-", gpu).strip("-")
    base = os.path.join(args.out, f"gpu_partials_{tag}_{date}")
    with open(base + ".md", "w") as f:
        f.write(f"# ntp partials kernels on {gpu} ({date})\n\n"
                f"Bundle commit: {gpu_checks.git_commit()}\n\n"
                "## Correctness (GPU against the CPU kernel)\n\n"
                "| case | check | result | max error |\n|---|---|---|---|\n")
        for r in results:
            f.write("| %s | %s | %s | %s |\n" % r)
        f.write("\n## Timing (median per call, us)\n\n"
                "| case | dtype | batch | method | us | vs ntp |\n"
                "|---|---|---|---|---|---|\n")
        for case, dtype, batch, method, us, agree in times:
            f.write(f"| {case} | {dtype} | {batch} | {method} | "
                    + ("-" if us is None else f"{us:.1f}")
                    + f" | {agree} |\n")
    with open(base + ".csv", "w") as f:
        f.write("kind,case,dtype,batch,method,value,note\n")
        for label, check, res, err in results:
            f.write(f"correctness,{label},,,{check},{res},{err}\n")
        for case, dtype, batch, method, us, agree in times:
            f.write(f"timing,{case},{dtype},{batch},{method},"
                    f"{'' if us is None else f'{us:.3f}'},{agree}\n")
    log(f"wrote {base}.md and .csv")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--dry-run", action="store_true")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-timing", action="store_true")
    ap.add_argument("--out", default=os.environ.get("OUT", "gpu-results"))
    ap.add_argument("--budget-s", type=float, default=0.2,
                    help="sampling budget of one timing cell")
    ap.add_argument("--time-budget-s", type=float, default=60,
                    help="the whole script's budget; timing stops after it")
    ap.add_argument("--self-test", action="store_true",
                    help="no GPU: run the GPU path with each case's CPU "
                    "kernel standing in for its CUDA kernels and PyTorch on "
                    "the CPU (checks this script, not the GPU)")
    args = ap.parse_args()
    deadline = time.perf_counter() + args.time_budget_s
    cases, problems = discover(args.bundle)
    rt = PartialsRuntime(os.path.join(args.bundle, "libntp_runtime.so"))
    if args.dry_run:
        problems += dry_run(args, rt, cases) if cases else []
        for p in problems:
            log("PROBLEM:", p)
        log(f"dry run: {len(cases)} partials cases, {len(problems)} problems")
        return 1 if problems else 0
    if problems:
        for p in problems:
            log("PROBLEM:", p)
        return 1
    try:
        import torch
    except ImportError:
        log("no torch: cannot run the partials checks")
        return 77
    global DEVICE
    if args.self_test:
        DEVICE = "cpu"
        torch.cuda.synchronize = lambda: None
        for c in cases:
            c.gpu = {m: c.cpu for m in c.gpu}
        gpu = "self-test (CPU kernels, no GPU)"
    elif not torch.cuda.is_available():
        log("no CUDA device for PyTorch")
        return 77
    else:
        gpu = torch.cuda.get_device_name(0)
    os.makedirs(args.out, exist_ok=True)
    results = []
    for c in cases:
        check_case(args, rt, torch, c, results)
    times = [] if args.no_timing else timing(args, rt, torch, cases, deadline)
    write_results(args, gpu, results, times)
    failed = [r for r in results if r[2] != "PASS"]
    log(f"partials: {len(results) - len(failed)} of {len(results)} checks "
        "passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
