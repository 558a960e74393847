#!/usr/bin/env python3
"""GPU correctness checks and timing table for the NVPTX target.

Run through test/gpu/run-gpu-checks.sh (needs an NVIDIA GPU, PyTorch with
CUDA for device memory; JAX with CUDA optional). Not run in CI.

Two ways to get the kernels:
  --bundle DIR        everything prebuilt by test/gpu/make-gpu-bundle.sh on a
                      machine with the compiler (the GPU machine builds
                      nothing: python3 + numpy + torch is all it needs);
  --build B --chip C  compile here with B/bin/ntp-compile (needs the ntp
                      build, i.e. LLVM/MLIR 22, on the GPU machine).
--dry-run (with --bundle; no GPU, no torch needed): checks that every
artifact is there with the manifest this script expects, loads and runs the
CPU kernels, and checks that each CUDA artifact parses (ntp_kernel_load
reaches the driver: NTP_ERROR_NO_DEVICE without one).

The run:
  1. correctness: GPU kernels (orders 0..9, f32 and f64, each image format
     bundled, batch sizes 1, 127, 128, 129, 1000, 4096) against the CPU
     kernels, which the CPU test suite checks against the reference
     evaluator; same tolerances as the CPU tests. A PASS/FAIL table.
  1b. the reverse mode (the bundle's CUDA artifacts carry it): on the GPU
     ntp_forward_save + ntp_backward_saved, against the CPU kernel's
     ntp_backward_full (params_grad and x_grad, batches 1, 129, 1000), and
     the same call twice must give bitwise equal gradients (the reduction
     has a fixed order). Rows "bwd-<format>" of the correctness table.
  2. timing: orders 0..9 of the 1-24-24-24-1 tanh network at batch 256 and
     4096, f32 and f64: ntp (per image format), PyTorch nested autograd and
     JAX jax.experimental.jet (jit, precision "highest"). Each time is the
     median over samples; a sample is a burst of back-to-back calls (enough
     for ~2 ms) between two device synchronisations, divided by the burst
     length; warm-up first; the samples of one cell stop after a time budget
     (--budget-s, more for the slow baselines). torch/JAX also report their
     agreement with the CPU kernel (informational). Beside the forward, a
     training step: ntp forward-save + backward-saved, PyTorch nested
     autograd + backward of <c, out> with respect to the parameters, JAX
     jax.grad of <c, jet> (jit).
--quick: orders 0, 1, 2, 5, 9, smaller sampling budgets, correctness at
batches 1, 129, 1000: about a minute on an H100-class GPU (the rerun mode).
Writes <out>/gpu_checks_<gpu>_<date>.{md,csv} and ..._correctness.csv, out =
--out, else $OUT, else ./gpu-results. Exit status 1 when a correctness
check fails.
"""
import argparse
import contextlib
import ctypes
import datetime
import hashlib
import json
import os
import re
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import traceback

import numpy as np

LAYERS = [1, 24, 24, 24, 1]
ACTIVATION = "tanh"
N_PARAMS = sum(LAYERS[i] * LAYERS[i - 1] + LAYERS[i]
               for i in range(1, len(LAYERS)))
DTYPES = ("f32", "f64")
NP_DTYPE = {"f32": np.float32, "f64": np.float64}
# Same tolerances as the CPU kernels' tests against the reference evaluator:
# relative to the largest magnitude of each order.
RTOL = {"f32": 2e-3, "f64": 1e-9}
CHECK_BATCHES = (1, 127, 128, 129, 1000, 4096)
BWD_BATCHES = (1, 129, 1000)
QUICK_ORDERS = (0, 1, 2, 5, 9)
TIME_BATCHES = (256, 4096)
GUARD = 64  # elements after each output buffer that a kernel must not touch
# Issue targets (H100): order 9 forward.
TARGETS = [("f32", 256, 20.0, 250.0), ("f64", 4096, 60.0, 310.0)]

NTP_OK, NTP_ERROR_UNSUPPORTED, NTP_ERROR_NO_DEVICE = 0, 5, 6
# The artifact trailer (runtime/include/ntp/artifact.hpp): payload | manifest
# | 40 bytes: u64 payload bytes, u64 manifest bytes, u64 checksum, u32
# trailer bytes, u32 ABI version, b"NTPARTF\n" (little-endian).
TRAILER_MAGIC = b"NTPARTF\n"
TRAILER_BYTES = 40
ABI_VERSION = 2

T_START = time.perf_counter()
LOG_TAG = ""


def log(*args):
    print(f"[{LOG_TAG}{time.perf_counter() - T_START:6.1f}s]", *args,
          flush=True)


# --------------------------------------------------------------------------
# Runtime (ctypes)

class KernelInfo(ctypes.Structure):
    _fields_ = [("order", ctypes.c_int32), ("input_dim", ctypes.c_int32),
                ("output_dim", ctypes.c_int32), ("num_params", ctypes.c_int64),
                ("dtype", ctypes.c_int32), ("device", ctypes.c_int32)]


class Runtime:
    def __init__(self, path):
        self.path = path
        rt = self.lib = ctypes.CDLL(path)
        rt.ntp_last_error.restype = ctypes.c_char_p
        rt.ntp_last_error.argtypes = []
        rt.ntp_kernel_load.restype = ctypes.c_int
        rt.ntp_kernel_load.argtypes = [ctypes.c_char_p,
                                       ctypes.POINTER(ctypes.c_void_p)]
        rt.ntp_kernel_free.restype = None
        rt.ntp_kernel_free.argtypes = [ctypes.c_void_p]
        rt.ntp_forward.restype = ctypes.c_int
        rt.ntp_forward.argtypes = [ctypes.c_void_p] * 5 + [ctypes.c_int64]
        rt.ntp_kernel_info_get.restype = ctypes.c_int
        rt.ntp_kernel_info_get.argtypes = [ctypes.c_void_p,
                                           ctypes.POINTER(KernelInfo)]
        rt.ntp_kernel_layers.restype = ctypes.c_int
        rt.ntp_kernel_layers.argtypes = [
            ctypes.c_void_p, ctypes.POINTER(ctypes.c_int32), ctypes.c_int32,
            ctypes.POINTER(ctypes.c_int32)]
        rt.ntp_kernel_activation.restype = ctypes.c_char_p
        rt.ntp_kernel_activation.argtypes = [ctypes.c_void_p]
        self.forward = rt.ntp_forward
        # The reverse mode (pointers: host for CPU kernels, device for CUDA).
        vp, i64 = ctypes.c_void_p, ctypes.c_int64
        rt.ntp_workspace_size.restype = ctypes.c_int
        rt.ntp_workspace_size.argtypes = [vp, i64, ctypes.POINTER(i64)]
        rt.ntp_forward_save.restype = ctypes.c_int
        rt.ntp_forward_save.argtypes = [vp] * 6 + [i64]
        rt.ntp_backward_saved.restype = ctypes.c_int
        rt.ntp_backward_saved.argtypes = [vp] * 8 + [i64]
        rt.ntp_backward_full.restype = ctypes.c_int
        rt.ntp_backward_full.argtypes = [vp] * 7 + [i64]
        self.forward_save = rt.ntp_forward_save
        self.backward_saved = rt.ntp_backward_saved
        self.backward_full = rt.ntp_backward_full

    def workspace_size(self, k, batch):
        size = ctypes.c_int64()
        if self.lib.ntp_workspace_size(k, batch, ctypes.byref(size)):
            raise RuntimeError("ntp_workspace_size: " + self.error())
        return size.value

    def error(self):
        e = self.lib.ntp_last_error()
        return e.decode(errors="replace") if e else ""

    def load(self, path):
        """(status, kernel handle or None, message)."""
        k = ctypes.c_void_p()
        status = self.lib.ntp_kernel_load(path.encode(), ctypes.byref(k))
        if status != NTP_OK:
            return status, None, self.error()
        return status, k, ""

    def free(self, k):
        if k is not None:
            self.lib.ntp_kernel_free(k)

    def describe(self, k):
        """Problems with a loaded kernel's info against what we expect."""
        info = KernelInfo()
        if self.lib.ntp_kernel_info_get(k, ctypes.byref(info)) != NTP_OK:
            return None, ["ntp_kernel_info_get: " + self.error()]
        widths = (ctypes.c_int32 * 16)()
        count = ctypes.c_int32()
        problems = []
        if self.lib.ntp_kernel_layers(k, widths, 16, ctypes.byref(count)):
            problems.append("ntp_kernel_layers: " + self.error())
        elif list(widths[:count.value]) != LAYERS:
            problems.append(f"layers {list(widths[:count.value])}")
        act = self.lib.ntp_kernel_activation(k)
        if (act or b"").decode() != ACTIVATION:
            problems.append(f"activation {act!r}")
        if (info.input_dim, info.output_dim, info.num_params) != (
                LAYERS[0], LAYERS[-1], N_PARAMS):
            problems.append(f"dims {info.input_dim}->{info.output_dim}, "
                            f"{info.num_params} params")
        return info, problems


# --------------------------------------------------------------------------
# Artifacts

class Artifacts:
    def __init__(self):
        self.runtime = None
        self.cpu = {}        # (dtype, order) -> path
        self.gpu = {}        # (fmt, dtype, order) -> path
        self.formats = []
        self.chip = None
        self.header = {}     # the bundle's MANIFEST.txt header
        self.problems = []   # structural problems found before any run


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def parse_orders(text):
    m = re.fullmatch(r"(\d+)\.\.(\d+)", text or "")
    return range(int(m.group(1)), int(m.group(2)) + 1) if m else range(0)


def bundle_artifacts(bundle, max_order):
    """Reads and verifies <bundle>/MANIFEST.txt (make-gpu-bundle.sh)."""
    a = Artifacts()
    a.runtime = os.path.join(bundle, "libntp_runtime.so")
    manifest = os.path.join(bundle, "MANIFEST.txt")
    if not os.path.isfile(manifest):
        a.problems.append(f"{manifest} is missing (make the bundle with "
                          "test/gpu/make-gpu-bundle.sh)")
        return a
    with open(manifest) as f:
        lines = f.read().splitlines()
    if not lines or lines[0] != "ntp-gpu-bundle 1":
        a.problems.append(f"{manifest}: not an ntp GPU bundle manifest")
        return a
    listed = {}
    in_files = False
    for line in lines[1:]:
        if in_files:
            parts = line.split(" ", 2)
            if len(parts) == 3:
                listed[parts[2]] = (int(parts[0]), parts[1])
        elif line == "files:":
            in_files = True
        elif "=" in line:
            key, value = line.split("=", 1)
            a.header[key] = value
    h = a.header
    want = {"layers": ",".join(map(str, LAYERS)), "activation": ACTIVATION,
            "dtypes": ",".join(DTYPES)}
    for key, value in want.items():
        if h.get(key) != value:
            a.problems.append(f"MANIFEST.txt: {key}={h.get(key)}, this "
                              f"script expects {value}")
    if max_order not in parse_orders(h.get("orders")) or \
            0 not in parse_orders(h.get("orders")):
        a.problems.append(f"MANIFEST.txt: orders={h.get('orders')}, this "
                          f"script expects 0..{max_order}")
    a.chip = h.get("chip", "")
    a.formats = [f for f in h.get("formats", "").split(",") if f]
    if "ptx" not in a.formats:
        a.problems.append(f"MANIFEST.txt: formats={h.get('formats')}, "
                          "expected ptx (and cubin)")
    # Every listed file is there, intact.
    for rel, (size, digest) in sorted(listed.items()):
        path = os.path.join(bundle, rel)
        if not os.path.isfile(path):
            a.problems.append(f"{rel}: listed in MANIFEST.txt but missing")
        elif os.path.getsize(path) != size or sha256(path) != digest:
            a.problems.append(f"{rel}: size or sha256 differs from MANIFEST.txt")
    expected = ["libntp_runtime.so"]
    for dtype in DTYPES:
        for order in range(max_order + 1):
            rel = f"cpu/cpu_{dtype}_{order}.so"
            a.cpu[(dtype, order)] = os.path.join(bundle, rel)
            expected.append(rel)
            for fmt in a.formats:
                rel = f"cuda/{fmt}_{a.chip}_{dtype}_{order}.ntp"
                a.gpu[(fmt, dtype, order)] = os.path.join(bundle, rel)
                expected.append(rel)
    for rel in expected:
        if rel not in listed:
            a.problems.append(f"{rel}: expected, not in MANIFEST.txt")
    return a


def build_artifacts(build, chip, max_order, tmp):
    """Compiles the kernels with the ntp build (the old, build-here mode)."""
    a = Artifacts()
    a.runtime = os.path.join(build, "runtime", "libntp_runtime.so")
    a.chip = chip
    tool = os.path.join(build, "bin", "ntp-compile")
    base = [tool, "--layers", ",".join(map(str, LAYERS)), "--activation",
            ACTIVATION]
    fmts = set()
    for dtype in DTYPES:
        for order in range(max_order + 1):
            cpu = os.path.join(tmp, f"cpu_{dtype}_{order}.so")
            gpu = os.path.join(tmp, f"gpu_{dtype}_{order}.ntp")
            common = base + ["--order", str(order), "--dtype", dtype]
            subprocess.run(common + ["-o", cpu], check=True)
            subprocess.run(common + ["--target=nvptx", "--chip=" + chip,
                                     "-o", gpu], check=True)
            kv, _ = read_cuda_artifact(gpu)
            fmt = kv.get("format", "auto")
            fmts.add(fmt)
            a.cpu[(dtype, order)] = cpu
            a.gpu[(fmt, dtype, order)] = gpu
    a.formats = sorted(fmts, key=lambda f: f != "ptx")
    a.header = {"commit": git_commit(), "date": now_utc(), "chip": chip,
                "formats": ",".join(a.formats)}
    log(f"compiled {len(a.cpu)} CPU and {len(a.gpu)} CUDA kernels in {tmp}")
    return a


def fnv1a64(data, state=0xcbf29ce484222325):
    for byte in data:
        state = ((state ^ byte) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return state


def read_cuda_artifact(path):
    """(manifest keys, image) of a CUDA artifact; the kernel's entry is
    <name>_forward (added as key "entry")."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < TRAILER_BYTES or not data.endswith(TRAILER_MAGIC):
        raise ValueError("not an ntp artifact (no trailer); "
                         "rebuild it with this ntp-compile")
    trailer = data[-TRAILER_BYTES:]
    payload_bytes, manifest_bytes, checksum, size, abi = struct.unpack(
        "<QQQII", trailer[:32])
    if abi != ABI_VERSION:
        raise ValueError(f"artifact ABI version {abi}, expected {ABI_VERSION}")
    if size != TRAILER_BYTES or \
            payload_bytes + manifest_bytes + TRAILER_BYTES != len(data):
        raise ValueError("truncated or corrupt artifact")
    body = data[:-TRAILER_BYTES]
    if fnv1a64(trailer[:16] + bytes(8) + trailer[24:],
               fnv1a64(body)) != checksum:
        raise ValueError("corrupt artifact (checksum mismatch)")
    text = body[payload_bytes:].decode()
    kv = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    kv["entry"] = kv.get("name", "") + "_forward"
    return kv, body[:payload_bytes]


# Bundle variants: the image format, or "lanes" (PTX of --gpu-mapping=lanes:
# a warp per sample, 4 samples per 128-thread block).
VARIANT_FORMAT = {"ptx": "ptx", "cubin": "cubin", "lanes": "ptx"}


def check_cuda_artifact(path, fmt, dtype, order, chip):
    """Problems with a CUDA artifact's manifest and image (no driver needed)."""
    try:
        kv, image = read_cuda_artifact(path)
    except (OSError, ValueError) as e:
        return [str(e)]
    want = {"device": "cuda", "order": str(order), "dtype": dtype,
            "layers": ",".join(map(str, LAYERS)), "activation": ACTIVATION,
            "num_params": str(N_PARAMS), "backward": "1",
            "format": VARIANT_FORMAT.get(fmt, fmt),
            "image_bytes": str(len(image))}
    if fmt == "lanes":
        want["samples_per_block"] = "4"
    if chip:
        want["chip"] = chip
    problems = [f"{k}={kv.get(k)} (expected {v})"
                for k, v in want.items() if kv.get(k) != v]
    entry = kv.get("entry", "")
    if not entry or not kv.get("block_size", "").isdigit():
        problems.append("no entry or block_size")
    if VARIANT_FORMAT.get(fmt, fmt) == "ptx":
        if (b".target " + kv.get("chip", "").encode()) not in image or \
                (b".entry " + entry.encode()) not in image:
            problems.append(f"PTX lacks .target {kv.get('chip')} or "
                            f".entry {entry}")
        name = kv.get("name", "").encode()
        for suffix in (b"_forward_save", b"_backward_saved",
                       b"_reduce_params_grad"):
            if b".entry " + name + suffix + b"(" not in image:
                problems.append("PTX lacks the reverse-mode .entry " +
                                (name + suffix).decode())
    elif image[:4] != b"\x7fELF":
        problems.append("cubin image is not ELF")
    return problems


def git_commit():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        return subprocess.run(["git", "-C", root, "rev-parse", "HEAD"],
                              capture_output=True, text=True,
                              check=True).stdout.strip()
    except Exception:  # noqa: BLE001
        return "unknown"


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def rel_error(got, want):
    """Max over orders of |got - want| / max(max |want| of that order, 1)."""
    scale = np.maximum(np.abs(want).max(axis=1, keepdims=True), 1)
    return float((np.abs(got - want) / scale).max())


def cpu_forward(rt, k, x, v, params, order):
    out = np.full((order + 1) * x.size, np.nan, x.dtype)
    status = rt.forward(k, x.ctypes.data, v.ctypes.data, params.ctypes.data,
                        out.ctypes.data, x.size)
    if status != NTP_OK:
        raise RuntimeError("CPU kernel: " + rt.error())
    return out.reshape(order + 1, x.size)


def make_params(rng, dtype):
    return (rng.standard_normal(N_PARAMS) * 0.5).astype(NP_DTYPE[dtype])


def cpu_backward(rt, k, x, v, params, cot):
    """(params_grad, x_grad) of the CPU kernel (ntp_backward_full)."""
    grad = np.full(N_PARAMS, np.nan, x.dtype)
    xg = np.full(x.size, np.nan, x.dtype)
    status = rt.backward_full(k, x.ctypes.data, v.ctypes.data,
                              params.ctypes.data, cot.ctypes.data,
                              grad.ctypes.data, xg.ctypes.data, x.size)
    if status != NTP_OK:
        raise RuntimeError("CPU backward: " + rt.error())
    return grad, xg


def grad_error(got, want):
    """max |got - want| / max(max |want|, 1e-30)."""
    return float(np.abs(got - want).max() /
                 max(float(np.abs(want).max()), 1e-30))


# --------------------------------------------------------------------------
# --dry-run

def dry_run(args, a):
    problems = list(a.problems)
    for p in problems:
        print("PROBLEM", p, flush=True)
    rt = Runtime(a.runtime)
    rng = np.random.default_rng(0)
    x64 = rng.uniform(-2, 2, 129)
    outs = {}
    print(f"\n{'dtype':5} {'order':>5} {'cpu kernel':>22} " +
          " ".join(f"{'cuda ' + f:>22}" for f in a.formats), flush=True)
    for dtype in DTYPES:
        params = make_params(np.random.default_rng(1), dtype)
        x, v = x64.astype(NP_DTYPE[dtype]), np.ones(1, NP_DTYPE[dtype])
        for order in args.order_list:
            cells = []
            path = a.cpu[(dtype, order)]
            status, k, msg = rt.load(path) if os.path.isfile(path) else \
                (-1, None, "missing")
            if status != NTP_OK:
                problems.append(f"{path}: load failed ({status}): {msg}")
                cells.append(f"FAIL load {status}")
            else:
                info, bad = rt.describe(k)
                if info is not None and (info.order, info.dtype, info.device) \
                        != (order, DTYPES.index(dtype), 0):
                    bad.append(f"order/dtype/device {info.order}/"
                               f"{info.dtype}/{info.device}")
                try:
                    out = cpu_forward(rt, k, x, v, params, order)
                    if not np.isfinite(out).all():
                        bad.append("non-finite output")
                    outs[(dtype, order)] = out
                    # The reference of the GPU reverse mode runs too.
                    g, xg = cpu_backward(rt, k, x, v, params,
                                         np.ones_like(out).reshape(-1))
                    if not (np.isfinite(g).all() and np.isfinite(xg).all()):
                        bad.append("non-finite CPU gradient")
                except RuntimeError as e:
                    bad.append(str(e))
                rt.free(k)
                problems += [f"{path}: {b}" for b in bad]
                cells.append("FAIL " + bad[0][:17] if bad else "ok: loads, runs")
            for fmt in a.formats:
                path = a.gpu[(fmt, dtype, order)]
                bad = check_cuda_artifact(path, fmt, dtype, order, a.chip)
                status, k, msg = rt.load(path) if os.path.isfile(path) else \
                    (-1, None, "missing")
                if status == NTP_OK:
                    rt.free(k)  # a GPU is here after all
                    note = "ok: loaded on a GPU"
                elif status == NTP_ERROR_NO_DEVICE:
                    note = "ok: parses, no device"
                else:
                    bad.append(f"ntp_kernel_load returned {status}: {msg}")
                problems += [f"{path}: {b}" for b in bad]
                cells.append("FAIL " + bad[0][:17] if bad else note)
            print(f"{dtype:5} {order:5d} " +
                  " ".join(f"{c:>22}" for c in cells), flush=True)
    # The f32 and f64 CPU kernels agree (same parameters, rounded).
    worst = max((rel_error(outs[("f32", n)].astype(np.float64),
                           outs[("f64", n)])
                 for n in args.order_list
                 if ("f32", n) in outs and ("f64", n) in outs), default=0.0)
    print(f"\nCPU f32 vs f64 kernels, max rel error over orders: {worst:.3g} "
          f"(tolerance {RTOL['f32']})", flush=True)
    if worst > RTOL["f32"]:
        problems.append(f"CPU f32 and f64 kernels differ by {worst:.3g}")
    h = a.header
    print(f"bundle: commit {h.get('commit')}, made {h.get('date')}, chip "
          f"{a.chip}, formats {','.join(a.formats)}, ptxas {h.get('ptxas')}")
    print(f"runtime {a.runtime}: needs {h.get('runtime_needs')}; "
          f"{h.get('runtime_symbol_versions')}")
    for p in problems[len(a.problems):]:
        print("PROBLEM", p)
    print("\ndry run:", "OK" if not problems else f"{len(problems)} PROBLEMS",
          flush=True)
    return 0 if not problems else 1


# --------------------------------------------------------------------------
# Timing

def bench(call, sync, budget_s, max_samples=200, min_samples=3,
          burst_s=2e-3):
    """(median, min) seconds per call and the number of calls timed; see
    the module docstring. A call slower than the budget is timed once; the
    samples of one cell never take much more than 3 budgets."""
    t0 = time.perf_counter()
    call()
    sync()
    first = time.perf_counter() - t0
    if first >= budget_s:
        return first, first, 1
    if first < budget_s / 10:
        for _ in range(2):
            call()
        sync()
    t0 = time.perf_counter()
    call()
    sync()
    dt = max(time.perf_counter() - t0, 1e-7)
    burst = max(1, min(1000, int(burst_s / dt)))
    samples = []
    start = time.perf_counter()
    while len(samples) < max_samples:
        spent = time.perf_counter() - start
        if samples and (spent > 3 * budget_s or (
                len(samples) >= min_samples and spent > budget_s)):
            break
        sync()
        t0 = time.perf_counter()
        for _ in range(burst):
            call()
        sync()
        samples.append((time.perf_counter() - t0) / burst)
    return statistics.median(samples), min(samples), len(samples) * burst


def mlp_torch(torch, p, x):
    h, off = x.reshape(-1, 1), 0
    for i in range(1, len(LAYERS)):
        n_in, n_out = LAYERS[i - 1], LAYERS[i]
        w = p[off:off + n_in * n_out].reshape(n_out, n_in)
        off += n_in * n_out
        b = p[off:off + n_out]
        off += n_out
        h = h @ w.T + b
        if i + 1 < len(LAYERS):
            h = torch.tanh(h)
    return h


def torch_nested(torch, p, x, order):
    xs = x.detach().requires_grad_(True)
    y = mlp_torch(torch, p, xs).sum(dim=1)
    outs, g = [y], y
    for n in range(order):
        g = torch.autograd.grad(g.sum(), xs, create_graph=n + 1 < order)[0]
        outs.append(g)
    return outs


class Jax:
    """JAX, imported once; unavailable → .error says why."""

    def __init__(self):
        self.error = None
        try:
            # Without this, JAX takes 75% of the GPU memory PyTorch also uses.
            os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
            import jax
            try:
                jax.config.update("jax_enable_x64", True)
            except Exception as e:  # noqa: BLE001 (f64 cells will say so)
                print("JAX: cannot enable x64:", e, flush=True)
            import jax.numpy as jnp
            from jax.experimental import jet
            self.jax, self.jnp, self.jet = jax, jnp, jet
            self.version = jax.__version__
            gpus = [d for d in jax.devices() if d.platform in ("gpu", "cuda")]
            if not gpus:
                raise RuntimeError("no JAX GPU device (devices: %s)" %
                                   jax.devices())
            self.device = gpus[0]
        except Exception as e:  # noqa: BLE001
            self.error = f"{type(e).__name__}: {e}"

    def mlp(self, p, xx):
        jnp, lax = self.jnp, self.jax.lax
        h, off = xx.reshape(-1, 1), 0
        for i in range(1, len(LAYERS)):
            n_in, n_out = LAYERS[i - 1], LAYERS[i]
            w = p[off:off + n_in * n_out].reshape(n_out, n_in)
            off += n_in * n_out
            b = p[off:off + n_out]
            off += n_out
            h = jnp.matmul(h, w.T, precision=lax.Precision.HIGHEST) + b
            if i + 1 < len(LAYERS):
                h = jnp.tanh(h)
        return h

    def step_cell(self, params, x, order, budget_s):
        """A training step: jax.grad of <1, jet> with respect to the
        parameters (jit). (median s, min s, calls, compile s)."""
        jax, jnp, jet = self.jax, self.jnp, self.jet
        highest = getattr(jax, "default_matmul_precision", None)
        with (highest("highest") if highest else contextlib.nullcontext()):
            p = jax.device_put(params, self.device)
            xx = jax.device_put(x, self.device)

            def loss(p, a):
                if order == 0:
                    return self.mlp(p, a).sum()
                series = [jnp.ones_like(a)] + [jnp.zeros_like(a)] * (order - 1)
                y0, ys = jet.jet(lambda b: self.mlp(p, b), (a,), (series,))
                return y0.sum() + sum(y.sum() for y in ys)
            g = jax.jit(jax.grad(loss))
            t0 = time.perf_counter()
            jax.block_until_ready(g(p, xx))
            compile_s = time.perf_counter() - t0
            last = [None]

            def call():
                last[0] = g(p, xx)

            def sync():
                jax.block_until_ready(last[0])
            med, best, calls = bench(call, sync, budget_s)
        return med, best, calls, compile_s

    def cell(self, params, x, order, budget_s):
        """(median s, min s, calls, output [order+1, batch], compile s)."""
        jax, jnp, jet = self.jax, self.jnp, self.jet
        # Precision is also given to each matmul explicitly.
        highest = getattr(jax, "default_matmul_precision", None)
        with (highest("highest") if highest else contextlib.nullcontext()):
            p = jax.device_put(params, self.device)
            xx = jax.device_put(x, self.device)
            if order == 0:
                g = jax.jit(lambda p, a: (self.mlp(p, a), []))
            else:
                def g_(p, a):
                    series = [jnp.ones_like(a)] + \
                        [jnp.zeros_like(a)] * (order - 1)
                    return jet.jet(lambda b: self.mlp(p, b), (a,), (series,))
                g = jax.jit(g_)
            t0 = time.perf_counter()
            y0, ys = jax.block_until_ready(g(p, xx))
            compile_s = time.perf_counter() - t0
            out = np.stack([np.asarray(y).reshape(-1) for y in [y0] + list(ys)])
            if out.dtype != x.dtype:
                raise RuntimeError(f"JAX computed in {out.dtype}, not "
                                   f"{x.dtype} (x64 disabled?)")
            last = [None]

            def call():
                last[0] = g(p, xx)

            def sync():
                jax.block_until_ready(last[0])
            med, best, calls = bench(call, sync, budget_s)
        return med, best, calls, out, compile_s


# --------------------------------------------------------------------------
# The GPU run

def gpu_run(args, a):
    import torch
    if not torch.cuda.is_available():
        print("gpu_checks: PyTorch has no CUDA device", file=sys.stderr)
        return 77
    # The runtime launches in the current context: make it PyTorch's.
    torch.zeros(1, device="cuda")
    torch.cuda.synchronize()
    try:
        torch.backends.cuda.matmul.allow_tf32 = False  # "highest" precision
        torch.backends.cudnn.allow_tf32 = False
    except Exception:  # noqa: BLE001
        pass
    gpu = torch.cuda.get_device_name(0)
    cap = torch.cuda.get_device_capability(0)
    date = now_utc()
    driver, compute_mode = "", ""
    if shutil.which("nvidia-smi"):
        r = subprocess.run(["nvidia-smi", "--query-gpu=driver_version,"
                            "compute_mode", "--format=csv,noheader"],
                           capture_output=True, text=True)
        if r.returncode == 0 and r.stdout.strip():
            driver, _, compute_mode = (
                r.stdout.strip().splitlines()[0].partition(", "))
    log(f"GPU: {gpu} (sm_{cap[0]}{cap[1]}), driver {driver or '?'}, "
        f"compute mode {compute_mode or '?'}, torch "
        f"{torch.__version__} (CUDA {torch.version.cuda}), date {date}")
    log(f"kernels: commit {a.header.get('commit')}, made "
        f"{a.header.get('date')}, chip {a.chip}, formats "
        f"{','.join(a.formats)}")
    failures = 0
    for p in a.problems:
        print("FAIL", p, flush=True)
        failures += 1
    try:
        rt = Runtime(a.runtime)
    except OSError as e:
        print(f"FAIL cannot load the runtime {a.runtime}: {e} (the bundle's "
              "MANIFEST.txt lists the library versions it needs)", flush=True)
        return 1
    th = {"f32": torch.float32, "f64": torch.float64}
    rng = np.random.default_rng(0)
    params = {d: make_params(rng, d) for d in DTYPES}
    dparams = {d: torch.from_numpy(params[d]).cuda() for d in DTYPES}
    ones = {d: np.ones(1, NP_DTYPE[d]) for d in DTYPES}
    dones = {d: torch.from_numpy(ones[d]).cuda() for d in DTYPES}
    cpu_k, gpu_k = {}, {}

    # 1. Correctness.
    log("correctness: GPU vs CPU kernels, batches "
        + ",".join(map(str, args.check_batches)))
    corr = []  # (dtype, order, fmt, max err or None, verdict, note)
    cuda_error = None
    try:
        for dtype in DTYPES:
            for order in args.order_list:
                status, kc, msg = rt.load(a.cpu[(dtype, order)])
                if status != NTP_OK:
                    print(f"FAIL {dtype} order {order}: CPU kernel: {msg}",
                          flush=True)
                    failures += 1
                    for fmt in a.formats:
                        corr.append((dtype, order, fmt, None, "FAIL", "no CPU kernel"))
                    continue
                cpu_k[(dtype, order)] = kc
                live = {}
                for fmt in a.formats:
                    bad = check_cuda_artifact(a.gpu[(fmt, dtype, order)], fmt,
                                              dtype, order, a.chip)
                    if bad:
                        corr.append((dtype, order, fmt, None, "FAIL", bad[0]))
                        print(f"FAIL {fmt} {dtype} order {order}: {bad}",
                              flush=True)
                        failures += 1
                        continue
                    t0 = time.perf_counter()
                    status, kg, msg = rt.load(a.gpu[(fmt, dtype, order)])
                    load_ms = (time.perf_counter() - t0) * 1e3
                    if status == NTP_OK:
                        live[fmt] = (kg, load_ms)
                        gpu_k[(fmt, dtype, order)] = kg
                    elif status == NTP_ERROR_UNSUPPORTED:
                        corr.append((dtype, order, fmt, None, "SKIP", msg))
                        print(f"SKIP {fmt} {dtype} order {order}: {msg}", flush=True)
                    else:
                        corr.append((dtype, order, fmt, None, "FAIL", msg))
                        print(f"FAIL {fmt} {dtype} order {order}: load: {msg}",
                              flush=True)
                        failures += 1
                worst = {fmt: 0.0 for fmt in live}
                bad = {fmt: "" for fmt in live}
                for batch in args.check_batches:
                    x = rng.uniform(-2, 2, batch).astype(NP_DTYPE[dtype])
                    want = cpu_forward(rt, kc, x, ones[dtype], params[dtype], order)
                    dx = torch.from_numpy(x).cuda()
                    n_out = (order + 1) * batch
                    for fmt, (kg, _) in live.items():
                        dout = torch.full((n_out + GUARD,), float("nan"),
                                          dtype=th[dtype], device="cuda")
                        status = rt.forward(kg, dx.data_ptr(),
                                            dones[dtype].data_ptr(),
                                            dparams[dtype].data_ptr(),
                                            dout.data_ptr(), batch)
                        torch.cuda.synchronize()
                        if status != NTP_OK:
                            bad[fmt] = bad[fmt] or f"batch {batch}: launch: " + \
                                rt.error()
                            continue
                        host = dout.cpu().numpy()
                        got = host[:n_out].reshape(order + 1, batch)
                        if not np.isnan(host[n_out:]).all():
                            bad[fmt] = bad[fmt] or f"batch {batch}: wrote past " \
                                "the output"
                        if not np.isfinite(got).all():
                            bad[fmt] = bad[fmt] or f"batch {batch}: non-finite " \
                                "(unwritten?) output"
                            worst[fmt] = float("inf")
                            continue
                        err = rel_error(got.astype(np.float64), want)
                        worst[fmt] = max(worst[fmt], err)
                        if err > RTOL[dtype]:
                            bad[fmt] = bad[fmt] or f"batch {batch}: max rel " \
                                f"error {err:.3g}"
                for fmt, (kg, load_ms) in live.items():
                    verdict = "FAIL" if bad[fmt] else "PASS"
                    failures += verdict == "FAIL"
                    note = bad[fmt] or f"load {load_ms:.0f} ms"
                    corr.append((dtype, order, fmt, worst[fmt], verdict, note))
                log(f"{dtype} order {order}: " + ", ".join(
                    f"{fmt} {'FAIL' if bad[fmt] else 'PASS'} {worst[fmt]:.2e}"
                    + (f" ({bad[fmt]})" if bad[fmt] else "") for fmt in live))
    except RuntimeError as e:
        # A kernel that faults leaves the CUDA context unusable: stop the GPU
        # work, keep what was found, still write the results.
        cuda_error = f"{type(e).__name__}: {e}"
        print("FAIL CUDA error, GPU work stopped:", cuda_error, flush=True)
        failures += 1
    if not gpu_k:
        print("FAIL no GPU kernel could be loaded and run", flush=True)
        failures += 1
    # 1b. The reverse mode.
    if cuda_error is None:
        try:
            failures += backward_checks(args, a, rt, torch, th, params,
                                        dparams, ones, dones, cpu_k, gpu_k,
                                        rng, corr)
        except RuntimeError as e:
            cuda_error = f"{type(e).__name__}: {e}"
            print("FAIL CUDA error in the reverse mode, GPU work stopped:",
                  cuda_error, flush=True)
            failures += 1
        except Exception:  # noqa: BLE001 (keep the forward's results)
            traceback.print_exc()
            print("FAIL the reverse-mode checks stopped by the error above",
                  flush=True)
            failures += 1
    print(f"\nCorrectness (max rel error vs the CPU kernel over batches "
          f"{','.join(map(str, args.check_batches))}; tolerance f32 "
          f"{RTOL['f32']}, f64 {RTOL['f64']})")
    cfmts = a.formats + ["bwd-" + f for f in a.formats]
    print(f"{'dtype':5} {'order':>5} " +
          " ".join(f"{fmt:>16}" for fmt in cfmts))
    cmap = {(d, o, f): (e, v) for d, o, f, e, v, _ in corr}
    for dtype in DTYPES:
        for order in args.order_list:
            cells = []
            for fmt in cfmts:
                e, v = cmap.get((dtype, order, fmt), (None, "FAIL"))
                cells.append(f"{v} {e:.2e}" if e is not None else v)
            print(f"{dtype:5} {order:5d} " +
                  " ".join(f"{c:>16}" for c in cells))
    print("GPU correctness:", "PASS" if failures == 0 else
          f"{failures} FAILURES", flush=True)

    # 2. Timing.
    rows, jax_info = [], None  # rows: one dict per measurement
    if not args.no_timing and cuda_error is None:
        if args.jax_in_process is None:
            # Two processes cannot share an exclusive-process GPU.
            args.jax_in_process = "exclusive" in compute_mode.lower()
        try:
            jax_info = timing(args, a, rt, torch, th, params, dparams, ones,
                              dones, cpu_k, gpu_k, rng, rows)
        except Exception:  # noqa: BLE001 (a CUDA fault: keep what we have)
            traceback.print_exc()
            print("timing stopped by the error above", flush=True)
    for k in list(gpu_k.values()) + list(cpu_k.values()):
        rt.free(k)
    write_results(args, a, gpu, cap, driver, date, torch, corr, rows,
                  failures, jax_info)
    log("done")
    return 1 if failures else 0


def backward_checks(args, a, rt, torch, th, params, dparams, ones, dones,
                    cpu_k, gpu_k, rng, corr):
    """The GPU reverse mode against the CPU kernels' (1b of the module
    docstring); appends ("bwd-" + format) rows to corr; returns failures."""
    failures = 0
    log("reverse mode: forward_save + backward_saved on the GPU vs the CPU "
        "kernel's backward_full, batches " + ",".join(map(str, BWD_BATCHES)))
    for dtype in DTYPES:
        for order in args.order_list:
            kc = cpu_k.get((dtype, order))
            if kc is None:
                continue
            worst = {f: 0.0 for f in a.formats}
            bad = {f: "" for f in a.formats}
            for batch in BWD_BATCHES:
                x = rng.uniform(-2, 2, batch).astype(NP_DTYPE[dtype])
                cot = rng.uniform(-1, 1, (order + 1) * batch).astype(
                    NP_DTYPE[dtype])
                want_g, want_xg = cpu_backward(rt, kc, x, ones[dtype],
                                               params[dtype], cot)
                dx = torch.from_numpy(x).cuda()
                dcot = torch.from_numpy(cot).cuda()
                for fmt in a.formats:
                    kg = gpu_k.get((fmt, dtype, order))
                    if kg is None:
                        bad[fmt] = bad[fmt] or "not loaded"
                        continue
                    ws = torch.empty(rt.workspace_size(kg, batch),
                                     dtype=torch.uint8, device="cuda")
                    dout = torch.empty((order + 1) * batch, dtype=th[dtype],
                                       device="cuda")
                    grads = []
                    for _ in range(2):
                        g = torch.full((N_PARAMS + GUARD,), float("nan"),
                                       dtype=th[dtype], device="cuda")
                        xg = torch.full((batch,), float("nan"),
                                        dtype=th[dtype], device="cuda")
                        ptrs = (dx.data_ptr(), dones[dtype].data_ptr(),
                                dparams[dtype].data_ptr())
                        status = rt.forward_save(kg, *ptrs, dout.data_ptr(),
                                                 ws.data_ptr(), batch) or \
                            rt.backward_saved(kg, *ptrs, dcot.data_ptr(),
                                              g.data_ptr(), xg.data_ptr(),
                                              ws.data_ptr(), batch)
                        torch.cuda.synchronize()
                        if status != NTP_OK:
                            bad[fmt] = bad[fmt] or f"batch {batch}: " + \
                                rt.error()
                            break
                        grads.append((g.cpu().numpy(), xg.cpu().numpy()))
                    if len(grads) < 2:
                        continue
                    (g, xg), (g2, xg2) = grads
                    if not np.isnan(g[N_PARAMS:]).all():
                        bad[fmt] = bad[fmt] or f"batch {batch}: wrote past " \
                            "params_grad"
                    g = g[:N_PARAMS]
                    if not (np.isfinite(g).all() and np.isfinite(xg).all()):
                        bad[fmt] = bad[fmt] or f"batch {batch}: non-finite " \
                            "gradient"
                        worst[fmt] = float("inf")
                        continue
                    if not (np.array_equal(g, g2[:N_PARAMS]) and
                            np.array_equal(xg, xg2)):
                        bad[fmt] = bad[fmt] or f"batch {batch}: two equal " \
                            "calls differ (not bitwise reproducible)"
                    err = max(grad_error(g.astype(np.float64), want_g),
                              grad_error(xg.astype(np.float64), want_xg))
                    worst[fmt] = max(worst[fmt], err)
                    if err > RTOL[dtype]:
                        bad[fmt] = bad[fmt] or f"batch {batch}: max rel " \
                            f"error {err:.3g}"
            for fmt in a.formats:
                verdict = "FAIL" if bad[fmt] else "PASS"
                failures += verdict == "FAIL"
                corr.append((dtype, order, "bwd-" + fmt, worst[fmt], verdict,
                             bad[fmt] or "bitwise reproducible"))
            log(f"{dtype} order {order} reverse mode: " + ", ".join(
                f"{fmt} {'FAIL' if bad[fmt] else 'PASS'} {worst[fmt]:.2e}"
                + (f" ({bad[fmt]})" if bad[fmt] else "") for fmt in a.formats))
    return failures


def torch_step(torch, p, x, order, cot):
    """A training step's derivatives: the nested jets, then the gradient of
    <cot, jets> with respect to the parameters."""
    pp = p.detach().requires_grad_(True)
    xs = x.detach().requires_grad_(True)
    y = mlp_torch(torch, pp, xs).sum(dim=1)
    outs, g = [y], y
    for n in range(order):
        g = torch.autograd.grad(g.sum(), xs, create_graph=True)[0]
        outs.append(g)
    loss = (torch.stack(outs).reshape(-1) * cot).sum()
    return torch.autograd.grad(loss, pp)[0]


def timing(args, a, rt, torch, th, params, dparams, ones, dones, cpu_k,
           gpu_k, rng, rows):
    """ntp and torch here; JAX in a child process (jax_cells) afterwards.
    Appends a dict per measurement to `rows`; returns what JAX said of
    itself."""
    sync = torch.cuda.synchronize
    t_start = time.perf_counter()
    t_torch_end = t_start + 0.45 * args.time_budget_s
    jax_inputs = {}
    log(f"timing: orders {args.orders}..0, batches "
        f"{','.join(map(str, TIME_BATCHES))}; {args.budget_s} s of samples "
        f"per ntp cell, {2 * args.budget_s} s per torch/JAX cell; torch "
        f"cells stop after {0.45 * args.time_budget_s:.0f} s, JAX after "
        f"{args.time_budget_s:.0f} s")
    for order in reversed(args.order_list):
        for dtype in DTYPES:
            for batch in TIME_BATCHES:
                kc = cpu_k.get((dtype, order))
                x = rng.uniform(-2, 2, batch).astype(NP_DTYPE[dtype])
                want = cpu_forward(rt, kc, x, ones[dtype], params[dtype],
                                   order) if kc else None
                jax_inputs[(dtype, order, batch)] = (x, want)
                dx = torch.from_numpy(x).cuda()
                dout = torch.empty((order + 1) * batch, dtype=th[dtype],
                                   device="cuda")
                line = []

                def add(method, med=None, best=None, calls=0, err=None,
                        note=""):
                    rows.append(row(dtype, order, batch, method, med, best,
                                    calls, err, note))
                    line.append(f"{method} " + (f"{med * 1e6:.1f}" if med
                                                else "n/a"))
                for fmt in a.formats:
                    kg = gpu_k.get((fmt, dtype, order))
                    if kg is None:
                        add("ntp-" + fmt, note="not loaded")
                        continue
                    call_args = (kg, dx.data_ptr(), dones[dtype].data_ptr(),
                                 dparams[dtype].data_ptr(), dout.data_ptr(),
                                 batch)
                    if rt.forward(*call_args) != NTP_OK:
                        add("ntp-" + fmt, note="launch: " + rt.error())
                        continue
                    med, best, calls = bench(
                        lambda: rt.forward(*call_args), sync, args.budget_s)
                    add("ntp-" + fmt, med, best, calls)
                    # The training step: forward-save + backward-saved.
                    ws = torch.empty(rt.workspace_size(kg, batch),
                                     dtype=torch.uint8, device="cuda")
                    dgrad = torch.empty(N_PARAMS, dtype=th[dtype],
                                        device="cuda")
                    dcot = torch.ones_like(dout)
                    ptrs = (kg, dx.data_ptr(), dones[dtype].data_ptr(),
                            dparams[dtype].data_ptr())

                    def step():
                        return rt.forward_save(*ptrs, dout.data_ptr(),
                                               ws.data_ptr(), batch) or \
                            rt.backward_saved(*ptrs, dcot.data_ptr(),
                                              dgrad.data_ptr(), None,
                                              ws.data_ptr(), batch)
                    if step() != NTP_OK:
                        add("ntp-step-" + fmt, note="launch: " + rt.error())
                        continue
                    med, best, calls = bench(step, sync, args.budget_s)
                    add("ntp-step-" + fmt, med, best, calls)
                if args.no_torch:
                    add("torch", note="--no-torch")
                elif time.perf_counter() > t_torch_end:
                    add("torch", note="skipped: time budget")
                else:
                    try:
                        out = torch_nested(torch, dparams[dtype], dx, order)
                        got = torch.stack([o.detach().reshape(-1) for o in out])
                        err = rel_error(got.cpu().double().numpy(), want) \
                            if want is not None else None
                        med, best, calls = bench(
                            lambda: torch_nested(torch, dparams[dtype], dx,
                                                 order),
                            sync, 2 * args.budget_s, max_samples=50)
                        add("torch", med, best, calls, err)
                    except Exception as e:  # noqa: BLE001
                        print(f"torch {dtype} order {order} batch {batch} "
                              f"failed: {type(e).__name__}: {e}", flush=True)
                        add("torch", note=f"error: {type(e).__name__}")
                if args.no_torch:
                    add("torch-step", note="--no-torch")
                elif time.perf_counter() > t_torch_end:
                    add("torch-step", note="skipped: time budget")
                else:
                    try:
                        tcot = torch.ones((order + 1) * batch,
                                          dtype=th[dtype], device="cuda")
                        med, best, calls = bench(
                            lambda: torch_step(torch, dparams[dtype], dx,
                                               order, tcot),
                            sync, 2 * args.budget_s, max_samples=50)
                        add("torch-step", med, best, calls)
                    except Exception as e:  # noqa: BLE001
                        print(f"torch step {dtype} order {order} batch "
                              f"{batch} failed: {type(e).__name__}: {e}",
                              flush=True)
                        add("torch-step", note=f"error: {type(e).__name__}")
                log(f"{dtype} order {order} batch {batch}: "
                    + ", ".join(line) + " us")
    if args.no_jax:
        rows += [row(d, o, b, m, note="--no-jax")
                 for d, o, b in jax_inputs for m in ("jax-jet", "jax-step")]
        return None
    left = max(30.0, args.time_budget_s - (time.perf_counter() - t_start))
    tmp = tempfile.mkdtemp(prefix="ntp-gpu-jax-")
    inp, outp = os.path.join(tmp, "in.npz"), os.path.join(tmp, "out.jsonl")
    arrays = {f"params_{d}": params[d] for d in DTYPES}
    for (d, o, b), (x, want) in jax_inputs.items():
        arrays[f"x_{d}_{o}_{b}"] = x
        if want is not None:
            arrays[f"want_{d}_{o}_{b}"] = want
    np.savez(inp, **arrays)
    worker = [inp, outp, str(args.budget_s * 2), str(left)]
    if args.jax_in_process:
        log(f"JAX (in this process, {left:.0f} s)")
        try:
            jax_cells(*worker)
        except Exception:  # noqa: BLE001
            traceback.print_exc()
    else:
        # A process of its own: JAX's CUDA libraries, memory allocator and
        # crashes stay out of this one.
        log(f"JAX (child process, {left:.0f} s)")
        try:
            subprocess.run([sys.executable, os.path.abspath(__file__),
                            "--jax-worker"] + worker, timeout=left + 60)
        except subprocess.TimeoutExpired:
            print("JAX worker killed after its time budget", flush=True)
    jax_info, done = None, {}
    if os.path.exists(outp):
        with open(outp) as f:
            for text in f:
                try:
                    r = json.loads(text)
                except ValueError:
                    continue
                if "cell" in r:
                    done[tuple(r["cell"])] = r
                else:
                    jax_info = r
    shutil.rmtree(tmp, ignore_errors=True)
    for d, o, b in jax_inputs:
        r = done.get((d, o, b))
        if r is None:
            note = "unavailable" if jax_info and jax_info.get("error") \
                else "not run (worker died or ran out of time)"
            rows.append(row(d, o, b, "jax-jet", note=note))
            rows.append(row(d, o, b, "jax-step", note=note))
        else:
            rows.append(row(d, o, b, "jax-jet", r.get("median"), r.get("min"),
                            r.get("calls", 0), r.get("err"), r.get("note", "")))
            rows.append(row(d, o, b, "jax-step", r.get("step_median"),
                            r.get("step_min"), r.get("step_calls", 0), None,
                            r.get("step_note", "")))
    return jax_info


def row(dtype, order, batch, method, med=None, best=None, calls=0, err=None,
        note=""):
    return dict(dtype=dtype, order=order, batch=batch, method=method,
                median_us=None if med is None else med * 1e6,
                min_us=None if best is None else best * 1e6, calls=calls,
                err=err, note=note)


def jax_cells(inp, outp, budget_s, time_budget_s):
    """Times JAX jet for every cell of `inp` (timing()), newest order first;
    appends one JSON line per cell to `outp` as it goes."""
    budget_s, t_end = float(budget_s), time.perf_counter() + float(time_budget_s)
    data = np.load(inp)
    cells = sorted((k.split("_")[1], int(k.split("_")[2]), int(k.split("_")[3]))
                   for k in data.files if k.startswith("x_"))
    cells.sort(key=lambda c: (-c[1], DTYPES.index(c[0]), c[2]))
    jx = Jax()
    with open(outp, "a") as f:
        def put(r):
            f.write(json.dumps(r) + "\n")
            f.flush()
        if jx.error is not None:
            log("JAX unavailable: " + jx.error)
            put({"error": jx.error})
            return
        log(f"JAX {jx.version} on {jx.device}")
        put({"version": jx.version, "device": str(jx.device)})
        for d, o, b in cells:
            key = f"{d}_{o}_{b}"
            r = {"cell": [d, o, b]}
            if time.perf_counter() > t_end:
                r["note"] = "skipped: time budget"
                put(r)
                continue
            try:
                med, best, calls, out, comp = jx.cell(
                    data["params_" + d], data["x_" + key], o, budget_s)
                err = rel_error(out.astype(np.float64), data["want_" + key]) \
                    if "want_" + key in data.files else None
                r.update(median=med, min=best, calls=calls, err=err,
                         note=f"compile {comp:.1f} s")
                log(f"{d} order {o} batch {b}: jax-jet {med * 1e6:.1f} us "
                    f"(compile {comp:.1f} s, err {err:.1e})")
            except Exception as e:  # noqa: BLE001
                msg = f"{type(e).__name__}: {e}".splitlines()[0][:300]
                print(f"jax {d} order {o} batch {b} failed: {msg}", flush=True)
                r["note"] = "error: " + type(e).__name__
            if time.perf_counter() > t_end:
                r["step_note"] = "skipped: time budget"
            else:
                try:
                    med, best, calls, comp = jx.step_cell(
                        data["params_" + d], data["x_" + key], o, budget_s)
                    r.update(step_median=med, step_min=best, step_calls=calls,
                             step_note=f"compile {comp:.1f} s")
                    log(f"{d} order {o} batch {b}: jax-step "
                        f"{med * 1e6:.1f} us (compile {comp:.1f} s)")
                except Exception as e:  # noqa: BLE001
                    msg = f"{type(e).__name__}: {e}".splitlines()[0][:300]
                    print(f"jax step {d} order {o} batch {b} failed: {msg}",
                          flush=True)
                    r["step_note"] = "error: " + type(e).__name__
            put(r)


# --------------------------------------------------------------------------
# Output

def fmt_us(v):
    return "n/a" if v is None else (f"{v:.1f}" if v < 1e4 else f"{v:.0f}")


def write_results(args, a, gpu, cap, driver, date, torch, corr, rows,
                  failures, jax_info):
    out_dir = args.out or os.environ.get("OUT") or "gpu-results"
    os.makedirs(out_dir, exist_ok=True)
    slug = re.sub(r"[^A-Za-z0-9.]+", "-", gpu).strip("-")
    stem = os.path.join(out_dir, f"gpu_checks_{slug}_{date[:10]}")
    methods = ["ntp-" + f for f in a.formats] + ["torch", "jax-jet"]
    step_methods = ["ntp-step-" + f for f in a.formats] + ["torch-step",
                                                          "jax-step"]
    cfmts = a.formats + ["bwd-" + f for f in a.formats]
    cell = {(r["dtype"], r["order"], r["batch"], r["method"]): r for r in rows}
    jax_version = (jax_info or {}).get("version") or \
        "n/a: " + str((jax_info or {}).get("error", "not run"))[:200]

    with open(stem + ".csv", "w") as f:
        f.write("gpu,date,dtype,order,batch,method,median_us,min_us,calls,"
                "rel_err_vs_cpu,note\n")
        for r in rows:
            f.write(",".join(str(v) for v in [
                gpu, date, r["dtype"], r["order"], r["batch"], r["method"],
                "" if r["median_us"] is None else f"{r['median_us']:.3f}",
                "" if r["min_us"] is None else f"{r['min_us']:.3f}",
                r["calls"], "" if r["err"] is None else f"{r['err']:.3e}",
                r["note"].replace(",", ";")]) + "\n")
    with open(stem + "_correctness.csv", "w") as f:
        f.write("gpu,date,dtype,order,format,max_rel_err,tolerance,verdict,"
                "note\n")
        for d, o, fm, e, v, note in corr:
            f.write(",".join(str(x) for x in [
                gpu, date, d, o, fm, "" if e is None else f"{e:.3e}",
                RTOL[d], v, note.replace(",", ";").replace("\n", " ")]) + "\n")

    md = [f"# NVPTX GPU checks: {gpu}, {date[:10]}", "",
          f"* GPU: {gpu} (sm_{cap[0]}{cap[1]}), driver {driver or '?'}; "
          f"run {date}",
          f"* ntp kernels: commit {a.header.get('commit')}, made "
          f"{a.header.get('date')}, chip {a.chip}, formats "
          f"{', '.join(a.formats)}"
          + (f" (ptxas {a.header['ptxas']})" if a.header.get("ptxas") else ""),
          f"* PyTorch {torch.__version__} (CUDA {torch.version.cuda}), TF32 "
          f"off; JAX {jax_version} (jit, jax.experimental.jet, "
          "precision highest)",
          "* Network 1-24-24-24-1 tanh, direction v = 1. Times: microseconds "
          "per call, median of bursts of back-to-back calls between device "
          "synchronisations (launch overhead included where it is not "
          "hidden). err: max relative difference from the CPU kernel.",
          "", f"## Correctness: {'PASS' if failures == 0 else 'FAIL'}", "",
          f"Max relative error vs the CPU kernel over batches "
          f"{', '.join(map(str, args.check_batches))} (tolerance f32 "
          f"{RTOL['f32']}, f64 {RTOL['f64']}); bwd-*: the reverse mode "
          f"(params_grad and x_grad of forward_save + backward_saved vs the "
          f"CPU kernel's backward_full, batches "
          f"{', '.join(map(str, BWD_BATCHES))}, each twice: bitwise equal).",
          "", "| dtype | order | " + " | ".join(cfmts) + " |",
          "|---|---:|" + "---|" * len(cfmts)]
    cmap = {(d, o, fm): (e, v) for d, o, fm, e, v, _ in corr}
    for d in DTYPES:
        for o in args.order_list:
            cells = []
            for fm in cfmts:
                e, v = cmap.get((d, o, fm), (None, "FAIL"))
                cells.append(f"{v} {e:.1e}" if e is not None else v)
            md.append(f"| {d} | {o} | " + " | ".join(cells) + " |")
    if rows:
        md += ["", "## Timing (us per call)", "",
               "| dtype | batch | order | " +
               " | ".join(methods) + " | jet / ntp | torch err | jax err |",
               "|---|---:|---:|" + "---:|" * (len(methods) + 3)]
        for d in DTYPES:
            for b in TIME_BATCHES:
                for o in args.order_list:
                    rs = [cell.get((d, o, b, m)) for m in methods]
                    vals = [r["median_us"] if r else None for r in rs]
                    cells = [fmt_us(v) if v is not None else
                             (r["note"] if r and r["note"] else "n/a")
                             for v, r in zip(vals, rs)]
                    ntp = [v for v in vals[:len(a.formats)] if v]
                    ratio = (f"{vals[-1] / min(ntp):.1f}x"
                             if ntp and vals[-1] else "")
                    errs = [cell.get((d, o, b, m)) for m in ("torch", "jax-jet")]
                    errs = [f"{r['err']:.1e}" if r and r["err"] is not None
                            else "" for r in errs]
                    md.append(f"| {d} | {b} | {o} | " + " | ".join(cells) +
                              f" | {ratio} | {errs[0]} | {errs[1]} |")
        md += ["", "## Training step (us per step: jets and the parameter "
               "gradient of <c, jets>)", "",
               "| dtype | batch | order | " + " | ".join(step_methods) +
               " | torch / ntp | jax / ntp |",
               "|---|---:|---:|" + "---:|" * (len(step_methods) + 2)]
        for d in DTYPES:
            for b in TIME_BATCHES:
                for o in args.order_list:
                    rs = [cell.get((d, o, b, m)) for m in step_methods]
                    vals = [r["median_us"] if r else None for r in rs]
                    cells = [fmt_us(v) if v is not None else
                             (r["note"] if r and r["note"] else "n/a")
                             for v, r in zip(vals, rs)]
                    ntp = [v for v in vals[:len(a.formats)] if v]
                    ratios = [f"{v / min(ntp):.1f}x" if ntp and v else ""
                              for v in vals[-2:]]
                    md.append(f"| {d} | {b} | {o} | " + " | ".join(cells) +
                              " | " + " | ".join(ratios) + " |")
        md += ["", f"## Targets (order {args.orders}; set for an H100)", ""]
        for d, b, target, jet_ref in TARGETS:
            r = [cell.get((d, args.orders, b, "ntp-" + f)) for f in a.formats]
            best = min((x["median_us"] for x in r if x and x["median_us"]),
                       default=None)
            j = cell.get((d, args.orders, b, "jax-jet"))
            md.append(f"* {d}, batch {b}: ntp {fmt_us(best)} us (target <= "
                      f"{target:g} us: "
                      f"{'met' if best and best <= target else 'NOT met'}); "
                      f"JAX jet here {fmt_us(j and j['median_us'])} us "
                      f"(issue: {jet_ref:g} us)")
    text = "\n".join(md) + "\n"
    with open(stem + ".md", "w") as f:
        f.write(text)
    print("\n" + text, flush=True)
    log(f"wrote {stem}.md, {stem}.csv, {stem}_correctness.csv")


# --------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", help="prebuilt kernels and runtime "
                    "(test/gpu/make-gpu-bundle.sh)")
    ap.add_argument("--build", help="ntp build directory (compile here)")
    ap.add_argument("--chip", help="with --build: sm_XX")
    ap.add_argument("--orders", type=int, default=9, help="highest order")
    ap.add_argument("--dry-run", action="store_true",
                    help="with --bundle: check the bundle without a GPU")
    ap.add_argument("--out", help="output directory (default $OUT, else "
                    "./gpu-results)")
    ap.add_argument("--budget-s", type=float, default=0.3,
                    help="sampling time per ntp cell (torch/JAX: twice)")
    ap.add_argument("--time-budget-s", type=float, default=230,
                    help="timing: torch cells stop after 45%% of this, JAX "
                    "cells after all of it (ntp cells are always timed)")
    ap.add_argument("--jax-in-process", action="store_true", default=None,
                    help="run JAX in this process (default: in a child "
                    "process, unless the GPU is in an exclusive compute mode)")
    ap.add_argument("--jax-worker", nargs=4, help=argparse.SUPPRESS)
    ap.add_argument("--no-timing", action="store_true")
    ap.add_argument("--no-jax", action="store_true")
    ap.add_argument("--no-torch", action="store_true",
                    help="no torch timing (torch still holds the buffers)")
    ap.add_argument("--quick", action="store_true",
                    help="the rerun mode: orders 0,1,2,5,9, correctness "
                    "batches 1,129,1000, 0.1 s per ntp cell, 60 s of timing")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    args.order_list = list(range(args.orders + 1))
    args.check_batches = CHECK_BATCHES
    if args.quick:
        args.order_list = [n for n in QUICK_ORDERS if n <= args.orders]
        args.check_batches = (1, 129, 1000)
        args.budget_s = min(args.budget_s, 0.1)
        args.time_budget_s = min(args.time_budget_s, 60)
    if args.jax_worker:
        global LOG_TAG
        LOG_TAG = "jax "
        jax_cells(*args.jax_worker)
        return 0
    if bool(args.bundle) == bool(args.build):
        ap.error("give --bundle DIR or --build DIR --chip sm_XX")
    if args.build and not args.chip:
        ap.error("--build needs --chip")
    if args.dry_run and not args.bundle:
        ap.error("--dry-run needs --bundle")
    if args.bundle:
        a = bundle_artifacts(args.bundle, args.orders)
        if args.dry_run:
            return dry_run(args, a)
        return gpu_run(args, a)
    tmp = tempfile.mkdtemp(prefix="ntp-gpu-")
    try:
        return gpu_run(args, build_artifacts(args.build, args.chip,
                                             args.orders, tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
