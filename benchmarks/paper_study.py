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

--device cuda (default cpu): the same study on a GPU. PyTorch runs on the
GPU (TF32 off); ntp runs its CUDA kernels (ntp_forward on device pointers
taken from torch tensors). CUDA kernels with the reverse mode (the bundle's,
ntp-compile --gpu-backward) are also timed for a training step
(ntp_forward_save + ntp_backward_saved on device memory) and their
parameter gradient is checked against autograd's; kernels without it have
fwd only (bwd/total empty) and the agreement check compares the jets only
(nested autograd on the GPU is the reference). Timing on cuda:
the wall time of the call plus torch.cuda.synchronize(), each call between
two synchronisations (so a short call includes the launch and the sync
latency, a few microseconds); bursts, rounds and medians as on the CPU.
Kernels: --kernels DIR, prebuilt CUDA artifacts (test/gpu/make-gpu-bundle.sh
puts them in gpu-bundle/cuda), found by their manifest (layers, dtype,
order; PTX, default mapping preferred); without --kernels they are compiled
here with ntp-compile --target=nvptx --chip=CHIP. --time-budget-s stops the
PyTorch measurements when spent (ntp is still timed; the CSV's note says
so). Outputs on cuda: paper_study.csv, tables.md and one figure,
study_cuda.png. --dry-run (with --device cuda, no GPU needed): checks that
every artifact the study needs is in --kernels with the right manifest and
that ntp_kernel_load gets as far as the driver (NTP_ERROR_NO_DEVICE without
a GPU). --fake-cuda (a test of this script without a GPU): the cuda code
path with torch on the CPU, CPU kernels called on torch tensors' pointers
and no-op synchronisation.
"""
import argparse
import builtins
import csv
import ctypes
import functools
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
import traceback

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

NTP_OK, NTP_ERROR_NO_DEVICE = 0, 6
# The CUDA artifact container (docs/NVPTX.md), read as the GPU checks do.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpu_checks import read_cuda_artifact  # noqa: E402


def index_cuda_artifacts(directory):
    """{(layers "1,24,...", dtype, order): path} of the tanh CUDA artifacts in
    `directory` with the default mapping (a thread per sample); PTX before
    cubin, study_* before other names."""
    found = {}
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".ntp"):
            continue
        path = os.path.join(directory, name)
        try:
            kv, _ = read_cuda_artifact(path)
        except (OSError, ValueError):
            continue
        if kv.get("device") != "cuda" or kv.get("activation") != "tanh":
            continue
        spb = kv.get("samples_per_block")
        if spb is not None and spb != kv.get("block_size"):
            continue  # --gpu-mapping=lanes
        try:
            key = (kv["layers"], kv["dtype"], int(kv["order"]))
        except (KeyError, ValueError):
            continue
        rank = (kv.get("format") != "ptx", not name.startswith("study_"), name)
        if key not in found or rank < found[key][0]:
            found[key] = (rank, path)
    return {k: v[1] for k, v in found.items()}


class Ntp:
    def __init__(self, runtime, compiler, workdir, threads, device="cpu",
                 kernels=None, chip="sm_90"):
        # device: "cpu" (CPU kernels), "cuda" (CUDA artifacts), or
        # "fake-cuda" (CPU kernels called like the CUDA ones, for tests).
        self.lib = ctypes.CDLL(runtime)
        self.compiler = compiler
        self.workdir = workdir
        self.device = device
        self.kernels = kernels
        self.chip = chip
        self.index = index_cuda_artifacts(kernels) \
            if device == "cuda" and kernels else {}
        self.compile_s = {}
        L = self.lib
        vp, i64 = ctypes.c_void_p, ctypes.c_int64
        L.ntp_kernel_load.argtypes = [ctypes.c_char_p, ctypes.POINTER(vp)]
        L.ntp_kernel_free.argtypes = [vp]
        L.ntp_kernel_free.restype = None
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
        if self.device == "cuda":
            if self.kernels:
                return self.index.get(
                    (",".join(map(str, layers)), dtype, order),
                    os.path.join(self.kernels, "study_%s_%s_%d.ntp" % (
                        "-".join(map(str, layers)), dtype, order)))
            return os.path.join(self.workdir, "k_%s_%s_%d.ntp" % (
                "-".join(map(str, layers)), dtype, order))
        return os.path.join(self.workdir, "k_%s_%s_%d.so" % (
            "-".join(map(str, layers)), dtype, order))

    def kernel(self, layers, order, dtype):
        path = self.kernel_path(layers, order, dtype)
        if not os.path.exists(path):
            if self.device == "cuda" and self.kernels:
                raise RuntimeError(
                    "no CUDA artifact for layers %s, %s, order %d in %s "
                    "(test/gpu/make-gpu-bundle.sh makes them)" % (
                        "-".join(map(str, layers)), dtype, order,
                        self.kernels))
            target = (["--target=nvptx", "--chip=" + self.chip]
                      if self.device == "cuda" else ["--target-cpu=native"])
            # Wall time of the whole ahead-of-time compile (forward and
            # generated backward, MLIR to shared object), one process.
            start = time.perf_counter()
            subprocess.run([self.compiler, "--layers", ",".join(map(str, layers)),
                            "--activation", "tanh", "--order", str(order),
                            "--dtype", dtype] + target + ["-o", path],
                           check=True)
            self.compile_s[path] = time.perf_counter() - start
        k = ctypes.c_void_p()
        self.check(self.lib.ntp_kernel_load(path.encode(), ctypes.byref(k)))
        return k


class NtpCall:
    """Buffers and bound calls of one kernel at one batch."""
    has_backward = True

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

    def host_out(self):
        return self.out


class NtpTorchCall:
    """Forward-only calls of one kernel on torch tensors' memory: device
    pointers (tensor.data_ptr()) of CUDA tensors for a CUDA kernel; host
    pointers of CPU tensors for a CPU kernel under --fake-cuda. On a CUDA
    kernel ntp_forward is asynchronous (default stream): the caller syncs.
    With the reverse mode (ntp_workspace_size succeeds) also forward_save
    and backward_saved, on device buffers likewise."""
    has_backward = False

    def __init__(self, ntp, kernel, x, params, order, out_dim, dtype, device):
        self.ntp, self.k = ntp, kernel
        batch = x.shape[0]
        self.batch = batch
        self.x = x.detach().to(device=device, dtype=dtype).contiguous()
        self.v = torch.ones(x.shape[1], dtype=dtype, device=device)
        self.params = torch.from_numpy(np.ascontiguousarray(params)).to(
            device=device, dtype=dtype)
        self.out = torch.full((order + 1, batch, out_dim), float("nan"),
                              dtype=dtype, device=device)
        vp = ctypes.c_void_p
        self.args = (kernel, vp(self.x.data_ptr()), vp(self.v.data_ptr()),
                     vp(self.params.data_ptr()), vp(self.out.data_ptr()),
                     batch)
        size = ctypes.c_int64()
        if ntp.lib.ntp_workspace_size(kernel, batch, ctypes.byref(size)) == 0:
            self.has_backward = True
            self.ws = torch.empty(size.value, dtype=torch.uint8,
                                  device=device)
            self.cot = torch.ones_like(self.out)
            self.grad_t = torch.full_like(self.params, float("nan"))
            self.pw, self.pc, self.pg = (vp(t.data_ptr()) for t in (
                self.ws, self.cot, self.grad_t))

    def forward(self):
        self.ntp.check(self.ntp.lib.ntp_forward(*self.args))

    def forward_save(self):
        k, px, pv, pp, po, batch = self.args
        self.ntp.check(self.ntp.lib.ntp_forward_save(
            k, px, pv, pp, po, self.pw, batch))

    def backward_saved(self):
        k, px, pv, pp, _, batch = self.args
        self.ntp.check(self.ntp.lib.ntp_backward_saved(
            k, px, pv, pp, self.pc, self.pg, None, self.pw, batch))

    @property
    def grad(self):
        return self.grad_t.double().cpu().numpy()  # .cpu() waits

    def host_out(self):
        return self.out.cpu().numpy()  # .cpu() waits for the kernel


# --------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------

def now():
    return time.perf_counter()


def make_tasks(model, x, order, ntp_call, methods, sync=None):
    """name -> callable returning {phase: seconds} for one repetition.
    sync (on a GPU: torch.cuda.synchronize) is called before each timed
    call and before each clock reading after it."""
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

        def run_sync():
            sync()
            t0 = now()
            outs = fn()
            sync()
            t1 = now()
            loss = sum(o.sum() for o in outs)
            model.zero_grad(set_to_none=True)
            loss.backward()
            sync()
            t2 = now()
            return {"backward": t2 - t1, "total": t2 - t0}
        return run_sync if sync else run

    def torch_fwd(fn):
        def run():
            t0 = now()
            fn()  # with grad enabled: the forward of a training step
            return {"forward": now() - t0}

        def run_sync():
            sync()
            t0 = now()
            fn()
            sync()
            return {"forward": now() - t0}
        return run_sync if sync else run

    if "autograd" in methods:
        fa = lambda: nested_autograd(model, x, order)
        tasks[("autograd", "fwd")] = torch_fwd(fa)
        tasks[("autograd", "tot")] = torch_total(fa)
    if "ntangent" in methods:
        fn = lambda: ntp_tp(model, x)
        tasks[("ntangent", "fwd")] = torch_fwd(fn)
        tasks[("ntangent", "tot")] = torch_total(fn)
    if ntp_call is not None and not ntp_call.has_backward:
        def nf_sync():
            sync()
            t0 = now()
            ntp_call.forward()
            sync()
            return {"forward": now() - t0}
        tasks[("ntp", "fwd")] = nf_sync
    elif ntp_call is not None:
        wait = sync or (lambda: None)  # a GPU's launches are asynchronous

        def nf():
            wait()
            t0 = now()
            ntp_call.forward()
            wait()
            return {"forward": now() - t0}

        def nt():
            wait()
            t0 = now()
            ntp_call.forward_save()
            wait()
            t1 = now()
            ntp_call.backward_saved()
            wait()
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


def measure(tasks, reps, min_reps, budget_s, rng, deadline=None):
    """Round-robin over shuffled tasks; returns {task: {phase: [s]}} and
    {task: number of samples}. Past `deadline` (a now() value) no new round
    starts once every task has a sample."""
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
        if deadline is not None and r > 0 and now() > deadline:
            break
        order = [t for t in tasks if want[t] > r]
        rng.shuffle(order)
        for name in order:
            calls = [tasks[name]() for _ in range(burst[name])]
            if len(calls) > 1:
                calls = calls[1:]
            for phase in calls[0]:
                samples[name].setdefault(phase, []).append(
                    statistics.median(c[phase] for c in calls))
    return samples, {name: len(next(iter(samples[name].values())))
                     for name in tasks}


def agreement(model, x, order, ntp_call):
    """Max relative differences (per order, relative to its max |value|)."""
    ref = nested_autograd(model, x, order)
    ntg = NTangentProp(order)(model, x)
    errs = {"ntangent": 0.0}
    if ntp_call is not None:
        ntp_call.forward()
        ntp_out = ntp_call.host_out()
        errs["ntp"] = 0.0
    for k in range(order + 1):
        r = ref[k].detach().double().cpu().numpy().reshape(-1)
        scale = max(np.abs(r).max(), 1e-30)
        errs["ntangent"] = max(errs["ntangent"], float(
            np.abs(ntg[k].detach().double().cpu().numpy().reshape(-1) - r).max()
            / scale))
        if ntp_call is None:
            continue
        # NaN (an unwritten output) must fail the check, not pass it.
        e = np.abs(ntp_out[k].astype(np.float64).reshape(-1) - r).max() / scale
        errs["ntp"] = max(errs["ntp"], float(e) if np.isfinite(e) else math.inf)
    if ntp_call is None or not ntp_call.has_backward:
        return errs  # CUDA kernels: forward only, no gradient to compare
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
# Only in CSVs of --device cuda / --fake-cuda runs (the CPU CSV is as before).
CUDA_FIELDS = FIELDS + ["device", "note"]


class Env:
    """Where one run computes: torch device, dtype and synchronisation."""

    def __init__(self, args):
        self.name = args.device  # "cpu" or "cuda" (also under --fake-cuda)
        self.fake = getattr(args, "fake_cuda", False)
        self.torch_device = "cuda" if self.name == "cuda" and not self.fake \
            else "cpu"
        self.sync = None
        if self.name == "cuda":
            self.sync = torch.cuda.synchronize if not self.fake \
                else (lambda: None)
        self.deadline = None
        self.torch_skipped = 0
        self.failed_checks = 0


def run_config(ntp, layers, batch, orders, args, sweep, rng, writer, rows,
               env=None):
    dtype = torch.float32 if args.dtype == "f32" else torch.float64
    npdtype = np.float32 if args.dtype == "f32" else np.float64
    cuda = env is not None and env.name == "cuda"
    model = build_model(layers, dtype, args.seed)
    params = flat_params(model)
    x = torch.linspace(-2, 2, batch, dtype=dtype).reshape(batch, 1)
    if cuda:
        model = model.to(env.torch_device)
        x = x.to(env.torch_device)
    for order in orders:
        methods = ["ntp"]
        note = ""
        if order <= args.max_torch_order:
            if cuda and env.deadline is not None and now() > env.deadline:
                note = "PyTorch not timed: --time-budget-s spent"
                env.torch_skipped += 1
            else:
                methods += ["autograd", "ntangent"]
        if cuda:
            # A kernel that does not load (missing, PTX the driver rejects)
            # costs its cells, not the run: PyTorch is still timed.
            try:
                kernel = ntp.kernel(layers, order, args.dtype)
                call = NtpTorchCall(ntp, kernel, x, params, order,
                                    layers[-1], dtype, env.torch_device)
                artifact = ntp.kernel_path(layers, order, args.dtype)
                if ntp.device == "cuda":
                    kv, _ = read_cuda_artifact(artifact)
                    art = "%s %s %s" % (kv.get("format"), kv.get("chip"),
                                        os.path.basename(artifact))
                else:
                    art = "fake-cuda: CPU kernel " + os.path.basename(artifact)
                note = "; ".join(n for n in (art, note) if n)
            except (RuntimeError, OSError, ValueError,
                    subprocess.CalledProcessError) as e:
                print("FAIL layers %s order %d: ntp kernel: %s" % (
                    "-".join(map(str, layers)), order, e), flush=True)
                env.failed_checks += 1
                call = None
        else:
            kernel = ntp.kernel(layers, order, args.dtype)
            call = NtpCall(ntp, kernel, x.numpy(), params, order, layers[-1],
                           npdtype)
        errs = {}
        ok = True
        if "autograd" in methods:
            errs = agreement(model, x, order, call)
            ok = all(e <= args.tolerance for e in errs.values())
            if not ok:
                print("WARNING: disagreement at layers %s order %d: %s"
                      % (layers, order, errs), file=sys.stderr)
                if cuda:
                    env.failed_checks += 1
        tasks = make_tasks(model, x, order, call, methods,
                           env.sync if cuda else None)
        samples, reps = measure(tasks, args.reps, args.min_reps, args.budget_s,
                                rng, env.deadline if cuda and len(methods) > 1
                                else None)
        for m in ["ntp", "autograd", "ntangent"]:
            if (m, "fwd") not in tasks:
                continue
            f = samples[(m, "fwd")]["forward"]
            t = samples.get((m, "tot"))
            row = {
                "sweep": sweep, "depth": len(layers) - 2, "width": layers[1],
                "batch": batch, "order": order, "dtype": args.dtype,
                "method": m,
                "fwd_ms": "%.4f" % (statistics.median(f) * 1e3),
                # No tot task: ntp's CUDA kernels (forward only).
                "bwd_ms": "%.4f" % (statistics.median(t["backward"]) * 1e3)
                if t else "",
                "total_ms": "%.4f" % (statistics.median(t["total"]) * 1e3)
                if t else "",
                "reps_fwd": reps[(m, "fwd")],
                "reps_total": reps[(m, "tot")] if t else "",
                "err_vs_autograd": ("%.2e" % errs[m]) if m in errs else "",
                "err_grad_vs_autograd": ("%.2e" % errs["ntp_grad"])
                if m == "ntp" and "ntp_grad" in errs else "",
                "check_ok": ok if errs else "",
                "compile_s": ("%.3f" % ntp.compile_s.get(
                    ntp.kernel_path(layers, order, args.dtype), float("nan")))
                if m == "ntp" else "",
            }
            if cuda:
                row["device"] = "cuda" + (" (fake)" if env.fake else "")
                row["note"] = note if m == "ntp" else ""
                if m == "ntp" and ntp.device == "cuda" and ntp.kernels:
                    row["compile_s"] = ""  # prebuilt
            writer.writerow(row)
            rows.append(row)
        ms = lambda v: "%.3g" % float(v) if v else "-"
        print("%s layers=%s batch=%d n=%d %s%s" % (
            sweep, "-".join(map(str, layers)), batch, order, " ".join(
                "%s fwd %s tot %s ms" % (r["method"], ms(r["fwd_ms"]),
                                         ms(r["total_ms"]))
                for r in rows if r["sweep"] == sweep and r["order"] == order
                and r["width"] == layers[1] and r["batch"] == batch
                and r["depth"] == len(layers) - 2),
            (" [%s]" % note) if note else ""), flush=True)


def plots(rows, outdir):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    colors = {"ntp": "tab:green", "ntangent": "tab:blue", "autograd": "tab:red"}
    labels = {"ntp": "ntp (compiled)", "ntangent": "n-TangentProp (PyTorch)",
              "autograd": "nested autograd"}
    if any((r.get("device") or "cpu").startswith("cuda") for r in rows):
        return plots_cuda(rows, outdir, plt, colors, labels)
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


def plots_cuda(rows, outdir, plt, colors, labels):
    """One figure (the GPU machine sends back few files): forward and total
    time vs order, and the grid's forward ratios. ntp has no total on cuda
    (its CUDA kernels have no backward)."""
    val = lambda r, k: float(r[k]) if r.get(k) else None
    order_rows = [r for r in rows if r["sweep"] == "order"]
    grid = [r for r in rows if r["sweep"] == "grid"]
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
    for ax, phase in zip(axes[:2], ["fwd_ms", "total_ms"]):
        for m in ["autograd", "ntangent", "ntp"]:
            pts = sorted((r["order"], val(r, phase)) for r in order_rows
                         if r["method"] == m and val(r, phase) is not None)
            if pts:
                ax.plot(*zip(*pts), "o-", color=colors[m], label=labels[m])
        ax.set_yscale("log")
        ax.set_xlabel("derivative order n")
        ax.set_ylabel(phase.replace("_ms", "") + " time (ms)")
        ax.grid(True, alpha=0.3)
    if order_rows:
        axes[0].set_title("forward: 1-24-24-24-1 tanh, batch %d, %s" % (
            order_rows[0]["batch"], order_rows[0]["dtype"]))
        axes[1].set_title("forward + backward (PyTorch only: the CUDA "
                          "kernels\nhave no backward)", fontsize=9)
        if axes[0].get_legend_handles_labels()[0]:
            axes[0].legend(fontsize=8)
    by = {}
    for r in grid:
        by.setdefault((r["depth"], r["width"], r["batch"], r["order"]),
                      {})[r["method"]] = r
    configs = sorted({k[:3] for k in by})
    for ci, (d, w, b) in enumerate(configs):
        for ratio, marker, ls in [(("autograd", "ntangent"), "s", "--"),
                                  (("autograd", "ntp"), "o", "-"),
                                  (("ntangent", "ntp"), "^", ":")]:
            pts = [(k[3], val(ms[ratio[0]], "fwd_ms") /
                    val(ms[ratio[1]], "fwd_ms"))
                   for k, ms in sorted(by.items()) if k[:3] == (d, w, b)
                   and all(m in ms and val(ms[m], "fwd_ms") for m in ratio)]
            if pts:
                axes[2].plot(*zip(*pts), marker=marker, linestyle=ls,
                             color="C%d" % ci, label="%s/%s d%d w%d b%d" % (
                                 ratio[0], ratio[1], d, w, b))
    axes[2].axhline(1, color="k", linestyle="--", linewidth=0.8)
    axes[2].set_yscale("log")
    axes[2].set_xlabel("derivative order n")
    axes[2].set_ylabel("forward time ratio (>1: the second is faster)")
    axes[2].set_title("grid, forward")
    axes[2].grid(True, alpha=0.3)
    if axes[2].get_legend_handles_labels()[0]:
        axes[2].legend(fontsize=5, ncol=1)
    dev = (rows[0].get("device") if rows else "") or "cuda"
    fig.suptitle("GPU (%s): wall time of call + torch.cuda.synchronize(), "
                 "medians" % dev, fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, "study_cuda.png"), dpi=80)
    plt.close(fig)


def report(path, outdir, out=None):
    """Markdown tables (and the plots) from a CSV written by this script;
    printed to `out` (default stdout)."""
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
    print = functools.partial(builtins.print, file=out)  # noqa: A001
    fmt = lambda ms, m, k: ms[m][k] if m in ms and ms[m][k] else "-"
    cuda = any((r.get("device") or "cpu").startswith("cuda") for r in rows)
    if cuda:
        dev = next(r["device"] for r in rows if r.get("device"))
        print("Device: %s. Times in ms: wall time of the call + "
              "torch.cuda.synchronize(), medians. ntp: %s, forward only (no "
              "GPU backward: its bwd/total columns are empty, \"-\"); the "
              "agreement check compares the jets with nested autograd on the "
              "same device." % (dev, "CPU kernels standing in for the CUDA "
                                "ones (--fake-cuda test)" if "fake" in dev
                                else "CUDA kernels"))
        skipped = ["%s d%d w%d b%d n=%d" % (r["sweep"], r["depth"],
                                              r["width"], r["batch"],
                                              r["order"])
                   for r in rows if "not timed" in (r.get("note") or "")]
        if skipped:
            print("PyTorch not timed (--time-budget-s spent) in %d cells: "
                  "%s." % (len(skipped), ", ".join(skipped)))
        print()

    def ratio(ms, a, b, k):
        if a in ms and b in ms and ms[a][k] and ms[b][k]:
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
        if "ntp" in ms and ms["ntp"]["err_vs_autograd"]:
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
                          ms.get("ntp", {}).get("compile_s") or "-"))
    print()
    if cuda:
        # ntp has no total on the GPU: forward times and ratios first.
        print("| depth | width | batch | n | ntp fwd | n-TP fwd | autograd fwd "
              "| n-TP total | autograd total | autograd/ntp fwd | n-TP/ntp fwd "
              "| autograd/n-TP fwd | autograd/n-TP total | max rel. err ntp, "
              "n-TP |")
        print("|" + "---|" * 14)
        for key, ms in sorted(by.items()):
            if key[0] != "grid":
                continue
            err = "-"
            if "ntp" in ms and ms["ntp"]["err_vs_autograd"] and \
                    "ntangent" in ms:
                err = "%s, %s" % (ms["ntp"]["err_vs_autograd"],
                                  ms["ntangent"]["err_vs_autograd"])
            print("| %d | %d | %d | %d | %s | %s | %s | %s | %s | %s | %s | "
                  "%s | %s | %s |" % (key[1:] + (
                      fmt(ms, "ntp", "fwd_ms"), fmt(ms, "ntangent", "fwd_ms"),
                      fmt(ms, "autograd", "fwd_ms"),
                      fmt(ms, "ntangent", "total_ms"),
                      fmt(ms, "autograd", "total_ms"),
                      ratio(ms, "autograd", "ntp", "fwd_ms"),
                      ratio(ms, "ntangent", "ntp", "fwd_ms"),
                      ratio(ms, "autograd", "ntangent", "fwd_ms"),
                      ratio(ms, "autograd", "ntangent", "total_ms"), err)))
        return
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


def study_plan(args):
    """[(sweep, layers, batch, orders)] of this run, in run order."""
    plan = []
    if not args.skip_order_sweep:
        plan.append(("order", [1, 24, 24, 24, 1], 256,
                     list(range(args.ntp_max_order + 1))))
    if not args.skip_grid:
        if args.full:
            depths = [3, 5, 7]
            widths = [24, 32, 48, 64, 76, 88, 104, 128]
            batches, orders = [32, 64, 256, 1024, 4096], [1, 3, 6, 8]
        else:
            depths, widths, batches, orders = [3, 5], [24, 64], [256], [1, 3, 6, 8]
        pick = lambda given, default: (
            [int(v) for v in given.split(",")] if given else default)
        depths = pick(args.grid_depths, depths)
        widths = pick(args.grid_widths, widths)
        batches = pick(args.grid_batches, batches)
        orders = pick(args.grid_orders, orders)
        for d, wd, b in itertools.product(depths, widths, batches):
            plan.append(("grid", [1] + [wd] * d + [1], b, orders))
    return plan


def cuda_dry_run(args, runtime):
    """Every CUDA artifact the study needs is in --kernels, with the
    manifest the study expects, and parses (ntp_kernel_load reaches the
    driver: NTP_ERROR_NO_DEVICE without one). No GPU needed."""
    problems = []
    if not args.kernels or not os.path.isdir(args.kernels):
        print("dry run: --kernels DIR is not a directory: %s" % args.kernels)
        return 1
    index = index_cuda_artifacts(args.kernels)
    lib = ctypes.CDLL(runtime)
    lib.ntp_kernel_load.argtypes = [ctypes.c_char_p,
                                    ctypes.POINTER(ctypes.c_void_p)]
    lib.ntp_kernel_free.argtypes = [ctypes.c_void_p]
    lib.ntp_kernel_free.restype = None
    lib.ntp_last_error.restype = ctypes.c_char_p
    print("kernels %s (%d default-mapping tanh CUDA artifacts), runtime %s"
          % (args.kernels, len(index), runtime))
    print("%-6s %-22s %5s  %-36s %s" % ("sweep", "layers", "order", "artifact",
                                        "check"))
    n = 0
    for sweep, layers, batch, orders in study_plan(args):
        n_params = sum(layers[i] * layers[i - 1] + layers[i]
                       for i in range(1, len(layers)))
        for order in orders:
            n += 1
            key = (",".join(map(str, layers)), args.dtype, order)
            path = index.get(key)
            bad = []
            if path is None:
                bad.append("missing")
            else:
                kv, image = read_cuda_artifact(path)
                want = {"device": "cuda", "activation": "tanh",
                        "layers": key[0], "dtype": args.dtype,
                        "order": str(order), "num_params": str(n_params),
                        "image_bytes": str(len(image))}
                # The bundle's kernels carry the reverse mode (the study
                # times ntp's training step with it); without it, fwd only.
                if kv.get("backward") not in ("0", "1"):
                    bad.append("backward=%s" % kv.get("backward"))
                if args.chip:
                    want["chip"] = args.chip
                bad += ["%s=%s (expected %s)" % (k, kv.get(k), v)
                        for k, v in want.items() if kv.get(k) != v]
                if kv.get("format") == "ptx" and (
                        b".entry " + kv.get("entry", "?").encode()
                        not in image or b".target " +
                        kv.get("chip", "?").encode() not in image):
                    bad.append("PTX lacks its .target or .entry")
                k = ctypes.c_void_p()
                status = lib.ntp_kernel_load(path.encode(), ctypes.byref(k))
                if status == NTP_OK:
                    lib.ntp_kernel_free(k)
                    verdict = "ok: loaded on a GPU"
                elif status == NTP_ERROR_NO_DEVICE:
                    verdict = "ok: parses, no device"
                else:
                    bad.append("ntp_kernel_load returned %d: %s" % (
                        status, (lib.ntp_last_error() or b"").decode()))
            if bad:
                problems += ["%s %s order %d: %s" % (
                    sweep, "-".join(map(str, layers)), order, b) for b in bad]
                verdict = "FAIL " + bad[0]
            print("%-6s %-22s %5d  %-36s %s" % (
                sweep, "-".join(map(str, layers)), order,
                os.path.basename(path) if path else "-", verdict))
    for pr in problems:
        print("PROBLEM", pr)
    print("\ndry run: %d artifacts, %s" % (
        n, "OK" if not problems else "%d PROBLEMS" % len(problems)),
        flush=True)
    return 0 if not problems else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                   help="cuda: PyTorch and ntp's CUDA kernels on the GPU "
                        "(ntp: forward only)")
    p.add_argument("--kernels", metavar="DIR", default=None,
                   help="cuda: prebuilt CUDA artifacts (e.g. gpu-bundle/cuda);"
                        " without it they are compiled with ntp-compile")
    p.add_argument("--chip", default="sm_90",
                   help="cuda: --chip for ntp-compile (and the chip the "
                        "dry run expects)")
    p.add_argument("--dry-run", action="store_true",
                   help="with --device cuda: check the artifacts in --kernels"
                        " (default gpu-bundle/cuda) without a GPU")
    p.add_argument("--fake-cuda", action="store_true",
                   help="test of the cuda code path without a GPU: torch on "
                        "the CPU, CPU kernels on torch tensors' pointers")
    p.add_argument("--time-budget-s", type=float, default=None,
                   help="cuda: no PyTorch measurement starts after this "
                        "many seconds (ntp is still timed)")
    p.add_argument("--dtype", default="f32", choices=["f32", "f64"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--reps", type=int, default=20)
    p.add_argument("--min-reps", type=int, default=5)
    p.add_argument("--budget-s", type=float, default=8.0,
                   help="target time per measurement (caps reps for slow "
                        "calls, never below --min-reps)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-torch-order", type=int, default=9)
    p.add_argument("--ntp-max-order", type=int, default=None,
                   help="order sweep: ntp up to this order (default 16; "
                        "9 with --device cuda, the bundle's orders)")
    p.add_argument("--tolerance", type=float, default=5e-3,
                   help="max error relative to each order's largest value")
    p.add_argument("--full", action="store_true",
                   help="the paper's whole grid (hours on a CPU)")
    p.add_argument("--skip-order-sweep", action="store_true")
    p.add_argument("--skip-grid", action="store_true")
    for name in ("depths", "widths", "batches", "orders"):
        p.add_argument("--grid-" + name, metavar="LIST", default=None,
                       help="grid %s, comma-separated (default: the reduced "
                            "grid, or the paper's with --full)" % name)
    p.add_argument("--ntp-compile", default=None)
    p.add_argument("--runtime", default=None)
    p.add_argument("--report", metavar="CSV", default=None,
                   help="only print markdown tables and redraw the plots "
                        "from a CSV of an earlier run")
    p.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results"))
    args = p.parse_args()
    if args.report:
        report(args.report, args.out)
        return 0
    if args.ntp_max_order is None:
        args.ntp_max_order = 9 if args.device == "cuda" else 16
    if args.device != "cuda" and (args.dry_run or args.fake_cuda
                                  or args.kernels):
        p.error("--dry-run, --fake-cuda and --kernels need --device cuda")
    if args.dry_run and args.fake_cuda:
        p.error("--dry-run checks CUDA artifacts; --fake-cuda runs CPU kernels")
    if args.dry_run and not args.kernels:
        args.kernels = os.path.join(ROOT, "gpu-bundle", "cuda")
    compiler = args.ntp_compile or find("build-study/bin/ntp-compile",
                                        "build/bin/ntp-compile")
    bundled = os.path.join(os.path.dirname(os.path.abspath(args.kernels)),
                           "libntp_runtime.so") if args.kernels else ""
    runtime = args.runtime or (bundled if os.path.isfile(bundled) else find(
        "build-study/runtime/libntp_runtime.so",
        "build/runtime/libntp_runtime.so"))
    if args.dry_run:
        return cuda_dry_run(args, runtime)
    if args.device == "cpu":
        run_cpu(args, compiler, runtime)
        return 0
    return run_cuda(args, compiler, runtime)


def run_cpu(args, compiler, runtime):
    torch.set_num_threads(args.threads)
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
        for sweep, layers, batch, orders in study_plan(args):
            run_config(ntp, layers, batch, orders, args, sweep, rng, w, rows)
            f.flush()
    plots(rows, args.out)
    print("wrote", path)


def run_cuda(args, compiler, runtime):
    """The study on a GPU (or, with --fake-cuda, its code path on the CPU).
    Exit status: 0, 1 when an agreement check failed, 77 without a GPU."""
    t_start = now()
    env = Env(args)
    if env.fake:
        torch.set_num_threads(args.threads)
        gpu = "none (--fake-cuda: torch on the CPU, CPU kernels)"
    else:
        if not torch.cuda.is_available():
            print("paper_study: PyTorch has no CUDA device", file=sys.stderr)
            return 77
        # The runtime launches in the current context: make it PyTorch's.
        torch.zeros(1, device="cuda")
        torch.cuda.synchronize()
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        cap = torch.cuda.get_device_capability(0)
        gpu = "%s (sm_%d%d), torch %s, CUDA %s, TF32 off" % (
            torch.cuda.get_device_name(0), cap[0], cap[1], torch.__version__,
            torch.version.cuda)
    if args.time_budget_s is not None:
        env.deadline = t_start + args.time_budget_s
    os.makedirs(args.out, exist_ok=True)
    rng = random.Random(args.seed)
    workdir = tempfile.mkdtemp(prefix="ntp-study-")
    ntp = Ntp(runtime, compiler, workdir, args.threads,
              device="fake-cuda" if env.fake else "cuda",
              kernels=None if env.fake else args.kernels, chip=args.chip)
    print("GPU: %s; host %s, %d logical CPUs; ntp kernels: %s; runtime %s; "
          "timing: wall time of call + sync, median of <= %d samples "
          "(>= %d, %.1f s budget per measurement%s)" % (
              gpu, platform.node(), os.cpu_count(),
              args.kernels or ("compiled here, " + compiler), runtime,
              args.reps, args.min_reps, args.budget_s,
              "; PyTorch stops after %.0f s" % args.time_budget_s
              if args.time_budget_s is not None else ""), flush=True)
    rows = []
    path = os.path.join(args.out, "paper_study.csv")
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CUDA_FIELDS)
        w.writeheader()
        try:
            for sweep, layers, batch, orders in study_plan(args):
                run_config(ntp, layers, batch, orders, args, sweep, rng, w,
                           rows, env)
                f.flush()
        except Exception:  # noqa: BLE001 (a CUDA fault: keep what we have)
            traceback.print_exc()
            print("FAIL the study stopped at the error above; tables from "
                  "the cells done", flush=True)
            env.failed_checks += 1
    tables = os.path.join(args.out, "tables.md")
    with open(tables, "w") as f:
        f.write("# Scaling study on %s\n\n" % gpu)
        report(path, args.out, out=f)
    with open(tables) as f:
        print(f.read())
    print("wrote %s, %s, %s in %.0f s; %d PyTorch cells not timed (time "
          "budget); %d failures (agreement checks, ntp kernels)" % (
              path, tables, os.path.join(args.out, "study_cuda.png"),
              now() - t_start, env.torch_skipped, env.failed_checks),
          flush=True)
    return 1 if env.failed_checks else 0


if __name__ == "__main__":
    sys.exit(main())
