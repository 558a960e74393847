#!/usr/bin/env python3
"""GPU correctness checks and timing table for the NVPTX target.

Run through test/gpu/run-gpu-checks.sh (needs an NVIDIA GPU, PyTorch with
CUDA for device memory; JAX with CUDA optional). Not run in CI.
"""
import argparse, ctypes, os, subprocess, sys, tempfile, time

import numpy as np

LAYERS = [1, 24, 24, 24, 1]
# Same tolerances as the CPU kernels' tests against the reference evaluator:
# relative to the largest magnitude of each order.
RTOL = {"f32": 2e-3, "f64": 1e-9}


def compile_kernel(build, out, order, dtype, target, chip):
    cmd = [os.path.join(build, "bin", "ntp-compile"), "--layers",
           ",".join(map(str, LAYERS)), "--activation", "tanh", "--order",
           str(order), "--dtype", dtype, "-o", out]
    if target == "nvptx":
        cmd += ["--target=nvptx", "--chip=" + chip]
    subprocess.run(cmd, check=True)


def load(rt, path):
    k = ctypes.c_void_p()
    if rt.ntp_kernel_load(path.encode(), ctypes.byref(k)) != 0:
        raise RuntimeError(rt.ntp_last_error().decode())
    return k


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--chip", required=True)
    ap.add_argument("--orders", type=int, default=9)
    args = ap.parse_args()
    import torch
    if not torch.cuda.is_available():
        sys.exit("gpu_checks: PyTorch has no CUDA device")
    torch.cuda.init()  # creates the primary context the runtime then uses
    rt = ctypes.CDLL(os.path.join(args.build, "runtime", "libntp_runtime.so"))
    rt.ntp_last_error.restype = ctypes.c_char_p
    fwd = rt.ntp_forward
    fwd.argtypes = [ctypes.c_void_p] * 5 + [ctypes.c_int64]
    tmp = tempfile.mkdtemp(prefix="ntp-gpu-")
    n_params = sum(LAYERS[i] * LAYERS[i - 1] + LAYERS[i]
                   for i in range(1, len(LAYERS)))
    rng = np.random.default_rng(0)
    failures = 0
    rows = []
    for dtype in ("f32", "f64"):
        np_t = np.float32 if dtype == "f32" else np.float64
        th_t = torch.float32 if dtype == "f32" else torch.float64
        params = (rng.standard_normal(n_params) * 0.5).astype(np_t)
        v = np.ones(1, np_t)
        for order in range(args.orders + 1):
            cpu = os.path.join(tmp, f"cpu_{dtype}_{order}.so")
            gpu = os.path.join(tmp, f"gpu_{dtype}_{order}.ntp")
            compile_kernel(args.build, cpu, order, dtype, "cpu", args.chip)
            compile_kernel(args.build, gpu, order, dtype, "nvptx", args.chip)
            kc, kg = load(rt, cpu), load(rt, gpu)
            # 1. Correctness, ragged batches included.
            for batch in (1, 127, 128, 1000, 4096):
                x = rng.uniform(-2, 2, batch).astype(np_t)
                ref = np.zeros((order + 1) * batch, np_t)
                assert fwd(kc, x.ctypes.data, v.ctypes.data,
                           params.ctypes.data, ref.ctypes.data, batch) == 0
                dx, dv, dp = (torch.from_numpy(a).cuda()
                              for a in (x, v, params))
                dout = torch.full(((order + 1) * batch,), float("nan"),
                                  dtype=th_t, device="cuda")
                status = fwd(kg, dx.data_ptr(), dv.data_ptr(), dp.data_ptr(),
                             dout.data_ptr(), batch)
                torch.cuda.synchronize()
                if status != 0:
                    print("FAIL launch:", rt.ntp_last_error().decode())
                    failures += 1
                    continue
                got = dout.cpu().numpy().reshape(order + 1, batch)
                want = ref.reshape(order + 1, batch)
                scale = np.maximum(np.abs(want).max(axis=1, keepdims=True), 1)
                err = (np.abs(got - want) / scale).max()
                if not np.isfinite(got).all() or err > RTOL[dtype]:
                    print(f"FAIL {dtype} order {order} batch {batch}: "
                          f"max rel error {err:.3g}")
                    failures += 1
            # 2. Timing.
            for batch in (256, 4096):
                x = torch.from_numpy(rng.uniform(-2, 2, batch).astype(np_t)).cuda()
                dv, dp = torch.from_numpy(v).cuda(), torch.from_numpy(params).cuda()
                out = torch.empty((order + 1) * batch, dtype=th_t, device="cuda")
                call = lambda: fwd(kg, x.data_ptr(), dv.data_ptr(),
                                   dp.data_ptr(), out.data_ptr(), batch)
                t_ntp = time_cuda(call, torch)
                t_torch = time_torch(torch, dp, x, order, th_t)
                t_jax = time_jax(params, x.cpu().numpy(), order, dtype)
                rows.append((dtype, order, batch, t_ntp, t_torch, t_jax))
            rt.ntp_kernel_free(kc)
            rt.ntp_kernel_free(kg)
    print(f"\n{'dtype':5} {'order':>5} {'batch':>6} {'ntp us':>10} "
          f"{'torch us':>10} {'jax.jet us':>10}")
    fmt = lambda t: f"{t * 1e6:10.1f}" if t is not None else f"{'n/a':>10}"
    for d, o, b, a, t, j in rows:
        print(f"{d:5} {o:5d} {b:6d} {fmt(a)} {fmt(t)} {fmt(j)}")
    print("\nGPU correctness:", "PASS" if failures == 0 else f"{failures} FAILURES")
    sys.exit(1 if failures else 0)


def time_cuda(call, torch, reps=50):
    for _ in range(5):
        call()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(reps):
        call()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / reps / 1e3


def mlp_torch(torch, p, x):
    h, off = x.reshape(-1, 1), 0
    for i in range(1, len(LAYERS)):
        n_in, n_out = LAYERS[i - 1], LAYERS[i]
        w = p[off:off + n_in * n_out].reshape(n_out, n_in); off += n_in * n_out
        b = p[off:off + n_out]; off += n_out
        h = h @ w.T + b
        if i + 1 < len(LAYERS):
            h = torch.tanh(h)
    return h


def time_torch(torch, p, x, order, dtype):
    def run():
        xs = x.detach().requires_grad_(True)
        y = mlp_torch(torch, p, xs).sum(dim=1)
        outs, g = [y], y
        for _ in range(order):
            g = torch.autograd.grad(g.sum(), xs, create_graph=True)[0]
            outs.append(g)
        return outs
    try:
        return time_cuda(run, torch, reps=10)
    except Exception as e:  # noqa: BLE001
        print("torch timing failed:", e)
        return None


def time_jax(params, x, order, dtype):
    try:
        import jax
        jax.config.update("jax_enable_x64", dtype == "f64")
        import jax.numpy as jnp
        from jax.experimental import jet
    except Exception:  # noqa: BLE001
        return None
    if not any(d.platform == "gpu" for d in jax.devices()):
        return None
    with jax.default_matmul_precision("highest"):
        p = jnp.asarray(params)
        def f(xx):
            h, off = xx.reshape(-1, 1), 0
            for i in range(1, len(LAYERS)):
                n_in, n_out = LAYERS[i - 1], LAYERS[i]
                w = p[off:off + n_in * n_out].reshape(n_out, n_in); off += n_in * n_out
                b = p[off:off + n_out]; off += n_out
                h = h @ w.T + b
                if i + 1 < len(LAYERS):
                    h = jnp.tanh(h)
            return h
        xx = jnp.asarray(x)
        if order == 0:
            g = jax.jit(f)
            run = lambda: g(xx).block_until_ready()
        else:
            series = [jnp.ones_like(xx)] + [jnp.zeros_like(xx)] * (order - 1)
            g = jax.jit(lambda a: jet.jet(f, (a,), (series,)))
            run = lambda: jax.block_until_ready(g(xx))
        for _ in range(3):
            run()
        reps = 20
        t0 = time.perf_counter()
        for _ in range(reps):
            run()
        return (time.perf_counter() - t0) / reps


if __name__ == "__main__":
    main()
