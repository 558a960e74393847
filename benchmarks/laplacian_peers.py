#!/usr/bin/env python3
#===- laplacian_peers.py - ntp's Laplacian beside PyTorch, folx and JAX ---===#
#
# Issue 12 item 6: the Laplacian of the tanh network d-64-64-64-1, batch
# 1024, float64 and float32, d = 2, 8, 32, with the same weights and points,
#
#   ntp           ntp.compile(operators=["laplacian"]): ntp_partials through
#                 ctypes (Kernel.partials, numpy buffers)
#   ntp.jax       ntp.jax.laplacian under jax.jit (the same kind of kernel
#                 through the XLA FFI)
#   ntp d jets    d calls of ntp's order-2 jet kernel along e_1..e_d (the
#                 order-2 coefficients summed)
#   autograd      PyTorch nested autograd: the gradient, then a loop over
#                 the coordinates (d second backward passes)
#   functorch     functorch.vmap(functorch.hessian(f)) and its trace
#   fwd-lapl      the forward Laplacian written in PyTorch (collapsed Taylor
#                 mode: value, d tangents and one Laplacian per layer)
#   folx          folx.forward_laplacian (JAX), vmapped, under jax.jit
#   jax.hessian   trace of jax.hessian, vmapped, under jax.jit
#
# and all 35 partials of total order <= 4 of a 3-64-64-64-1 tanh network,
# batch 1024: ntp's partials kernel against nested PyTorch autograd (each
# order's gradient once per partial of the order below: 20 backward
# passes), and the training step of the loss sum_p mean_b (D^alpha_p u)^2
# (ntp's partials_save + partials_backward_saved against those 20 passes
# with their graphs and one more to the parameters).
#
# PyTorch (Debian's python3-torch 1.13, numpy 1.24) and JAX (its own virtual
# environment, numpy 2) cannot share an interpreter, so this script is the
# driver: it writes the weights and points once (.npy), runs itself as a
# torch worker under /usr/bin/python3 and as a JAX worker under the JAX
# environment's python, and prints one set of tables. Each worker times ntp
# (ctypes) beside its peers, taking turns block by block (best block, ms per
# call); a speed-up is over ntp as measured in the same worker, so both
# sides of every ratio ran side by side. GFLOP/s: the collapsed Laplacian's
# nominal count, 2 * 64 * 64 * (d + 2) flops per sample for each of the two
# 64x64 layers (~16k (d + 2)), the same count for every method. Run:
#
#   PYTHONPATH=build/python /usr/bin/python3 benchmarks/laplacian_peers.py
#       [--dims 2,8,32] [--dtypes float64,float32] [--batch 1024]
#       [--block 0.2] [--rounds 3] [--jax-python ~/.cache/ntp/jax-venv/bin/python]
#
#===----------------------------------------------------------------------===#
import itertools
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from laplacian_common import (HIDDEN, drive, layers_of, load_case,  # noqa
                              measure, parse_args, per_call, print_machine,
                              rel_diff)


def flops_per_sample(d):
    """The collapsed Laplacian's two 64x64 layers on d + 2 vectors."""
    return 2 * (2 * HIDDEN * HIDDEN * (d + 2))


def all_alphas(d, max_order):
    return [a for n in range(max_order + 1)
            for a in itertools.product(range(n + 1), repeat=d) if sum(a) == n]


def _numpy(r):
    import numpy as np
    return r.detach().numpy() if hasattr(r, "detach") else np.asarray(r)


#===----------------------------------------------------------------------===#
# The torch worker (/usr/bin/python3: Debian's torch 1.13 and numpy 1.24)
#===----------------------------------------------------------------------===#

def torch_worker(args):
    import numpy as np
    import torch
    import functorch
    import ntp
    # Debian's torch starts with one OpenMP thread on this machine; with
    # two, under the other builders' load, its OpenMP threads spin between
    # parallel regions and every method in the worker (ntp too) ran 1.5-5x
    # slower in a trial run, so torch keeps its default unless told.
    if args.torch_threads > 0:
        torch.set_num_threads(args.torch_threads)
    out = {"versions": "torch %s, functorch %s, numpy %s" % (
        torch.__version__, functorch.__version__, np.__version__),
        "threads": "torch %d threads" % torch.get_num_threads()}
    cfg = torch.__config__.show().replace(",", " ").split()
    blas = [t for t in cfg if t.startswith(("BLAS_INFO=", "LAPACK_INFO=",
                                            "USE_MKLDNN="))]
    out["blas"] = "PyTorch: %s (torch.__config__.show())" % (
        " ".join(blas) or "not named")
    rows = []
    for dtype in args.dtypes:
        tdt = getattr(torch, dtype)
        for d in args.dims:
            params, flat, x = load_case(args.data, d, dtype)
            k = ntp.compile(layers_of(d), "tanh", dtype=dtype,
                            operators=["laplacian"], backward=False)
            kj = ntp.compile(layers_of(d), "tanh", 2, dtype, backward=False)
            lap = np.empty((1, x.shape[0], 1), dtype)
            jet = np.empty((3, x.shape[0], 1), dtype)
            eye = [np.ascontiguousarray(np.eye(d, dtype=dtype)[i])
                   for i in range(d)]

            def by_ntp():
                return k.partials(x, flat, out=lap)[0, :, 0]

            def by_jets():
                acc = np.zeros(x.shape[0], dtype)
                for e in eye:
                    acc += kj.forward(x, flat, e, out=jet)[2, :, 0]
                return acc

            tp = [(torch.from_numpy(w), torch.from_numpy(b))
                  for w, b in params]
            xt = torch.from_numpy(x)

            def f(z):
                h = z
                for i, (w, b) in enumerate(tp):
                    h = torch.nn.functional.linear(h, w, b)
                    if i < len(tp) - 1:
                        h = torch.tanh(h)
                return h

            def by_autograd():
                z = xt.detach().requires_grad_(True)
                g, = torch.autograd.grad(f(z).sum(), z, create_graph=True)
                acc = torch.zeros(z.shape[0], dtype=tdt)
                for i in range(d):
                    gi, = torch.autograd.grad(g[:, i].sum(), z,
                                              retain_graph=i < d - 1)
                    acc += gi[:, i]
                return acc

            hess = functorch.vmap(functorch.hessian(lambda z: f(z)[0]))

            def by_functorch():
                return hess(xt).diagonal(dim1=1, dim2=2).sum(1)

            def by_forward_laplacian():
                # Collapsed Taylor mode: h, its Jacobian J [B, d, w] and the
                # Laplacian L [B, w] of every layer, one sum per layer.
                with torch.no_grad():
                    h, L = xt, torch.zeros(xt.shape, dtype=tdt)
                    J = torch.eye(d, dtype=tdt).expand(xt.shape[0], d, d)
                    for i, (w, b) in enumerate(tp):
                        z = torch.nn.functional.linear(h, w, b)
                        Jz, Lz = J @ w.T, L @ w.T
                        if i == len(tp) - 1:
                            return Lz[:, 0]
                        a = torch.tanh(z)
                        da = 1 - a * a
                        dda = -2 * a * da
                        h = a
                        J = Jz * da[:, None, :]
                        L = Lz * da + dda * (Jz * Jz).sum(1)

            fns = [by_ntp, by_jets, by_autograd, by_functorch,
                   by_forward_laplacian]
            names = ["ntp", "ntp d jets", "autograd", "functorch",
                     "fwd-lapl"]
            ref = by_ntp().copy()
            diffs = [rel_diff(_numpy(fn()), ref) for fn in fns]
            ms = measure(fns, args.block, args.rounds,
                         statistic=args.statistic)
            rows.append({"dtype": dtype, "d": d, "names": names, "ms": ms,
                         "diff": diffs})
            print("torch worker: %s d=%d done" % (dtype, d), file=sys.stderr)
    out["laplacian"] = rows

    # All 35 partials of total order <= 4 of 3-64-64-64-1, each dtype.
    out["partials35"] = []
    for dtype in (args.dtypes if args.partials else []):
        params, flat, x = load_case(args.data, 3, dtype)
        alphas = all_alphas(3, 4)
        k = ntp.compile(layers_of(3), "tanh", dtype=dtype, partials=alphas,
                        backward=False)
        buf = np.empty((len(alphas), x.shape[0], 1), dtype)
        tp = [(torch.from_numpy(w), torch.from_numpy(b)) for w, b in params]
        xt = torch.from_numpy(x)

        def u(z, layers=tp):
            h = z
            for i, (w, b) in enumerate(layers):
                h = torch.nn.functional.linear(h, w, b)
                if i < len(layers) - 1:
                    h = torch.tanh(h)
            return h[:, 0]

        def by_ntp():
            return k.partials(x, flat, out=buf)

        def nested(layers=tp, training=False):
            # Each partial of order n < 4: one backward pass gives its d
            # children (alpha + e_i); 20 passes in all. Training keeps the
            # last order's graph too (the loss is differentiated again).
            z = xt.detach().requires_grad_(True)
            got = {(0, 0, 0): u(z, layers)}
            for n in range(4):
                for a in [a for a in alphas if sum(a) == n]:
                    g, = torch.autograd.grad(got[a].sum(), z,
                                             create_graph=training or n < 3,
                                             retain_graph=True)
                    for i in range(3):
                        c = tuple(a[j] + (j == i) for j in range(3))
                        got.setdefault(c, g[:, i])
            return torch.stack([got[a] for a in alphas])

        def by_autograd():
            return nested()

        diff = rel_diff(by_autograd().detach().numpy(), by_ntp()[:, :, 0])
        # Per partial, relative to its own largest magnitude.
        a_out = by_autograd().detach().numpy()
        n_out = by_ntp()[:, :, 0]
        worst = max(float(np.abs(a_out[r] - n_out[r]).max() /
                          max(np.abs(a_out[r]).max(), 1e-300))
                    for r in range(len(alphas)))
        ms = measure([by_ntp, by_autograd], args.block, args.rounds,
                     statistic=args.statistic)

        # The training step of the loss L = sum_p mean_b (D^alpha_p u)^2:
        # ntp_partials_save, then ntp_partials_backward_saved with L's
        # cotangent 2 out / batch (the parameter gradient only), against
        # nested autograd with every pass's graph kept and one more backward
        # pass to the parameters.
        kt = ntp.compile(layers_of(3), "tanh", dtype=dtype, partials=alphas)
        saved, ws = kt.partials_save(x, flat)
        pgrad = np.empty(kt.num_params, dtype)

        def ntp_step():
            o, _ = kt.partials_save(x, flat, ws, out=saved)
            return kt.partials_backward_saved(
                x, flat, (2.0 / x.shape[0]) * o, ws, params_grad=pgrad,
                need_x_grad=False)[0]

        leaves = [t.detach().clone().requires_grad_(True)
                  for wb in tp for t in wb]
        trained = list(zip(leaves[0::2], leaves[1::2]))

        def autograd_step():
            loss = (nested(trained, training=True) ** 2).mean(1).sum()
            return torch.autograd.grad(loss, leaves)

        ref = np.concatenate([g.detach().numpy().reshape(-1)
                              for g in autograd_step()])
        train_diff = float(np.abs(ntp_step() - ref).max() /
                           np.abs(ref).max())
        train_ms = measure([ntp_step, autograd_step], args.block,
                           args.rounds, statistic=args.statistic)
        out["partials35"].append({"dtype": dtype, "ms": ms, "diff": diff,
                                  "worst": worst, "count": len(alphas),
                                  "train_ms": train_ms,
                                  "train_diff": train_diff})
    print(json.dumps(out))


#===----------------------------------------------------------------------===#
# The JAX worker (the JAX environment: jax 0.10, numpy 2, folx)
#===----------------------------------------------------------------------===#

def jax_worker(args):
    import numpy as np
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import folx
    import ntp
    import ntp.jax as nj
    try:
        folx_version = __import__("importlib.metadata").metadata.version(
            "folx")
    except Exception:
        folx_version = "?"
    out = {"versions": "jax %s, jaxlib %s, folx %s, numpy %s" % (
        jax.__version__, jax.lib.__version__, folx_version, np.__version__),
        "blas": "JAX: XLA CPU (%s): dots by XLA's own emitters / Eigen, no "
        "external BLAS; numpy: %s" % (
            jax.devices()[0].platform, _numpy_blas(np))}
    rows = []
    for dtype in args.dtypes:
        for d in args.dims:
            params, flat, x = load_case(args.data, d, dtype)
            k = ntp.compile(layers_of(d), "tanh", dtype=dtype,
                            operators=["laplacian"], backward=False)
            lap = np.empty((1, x.shape[0], 1), dtype)
            jp = [(jnp.asarray(w), jnp.asarray(b)) for w, b in params]
            jx = jnp.asarray(x)

            def by_ntp():
                return k.partials(x, flat, out=lap)[0, :, 0]

            ntp_jax = jax.jit(lambda p, z: nj.laplacian(
                p, z, activation="tanh")[:, 0])

            def f(z):  # one point [d] -> scalar
                h = z
                for i, (w, b) in enumerate(jp):
                    h = h @ w.T + b
                    if i < len(jp) - 1:
                        h = jnp.tanh(h)
                return h[0]

            folx_lap = jax.jit(jax.vmap(
                lambda z: folx.forward_laplacian(f)(z).laplacian))
            hess_tr = jax.jit(jax.vmap(lambda z: jnp.trace(jax.hessian(f)(z))))
            fns = [by_ntp, lambda: ntp_jax(jp, jx), lambda: folx_lap(jx),
                   lambda: hess_tr(jx)]
            names = ["ntp", "ntp.jax", "folx", "jax.hessian"]
            ref = by_ntp().copy()
            diffs = [rel_diff(np.asarray(fn()), ref) for fn in fns]
            ms = measure(fns, args.block, args.rounds,
                         sync=lambda r: jax.block_until_ready(r),
                         statistic=args.statistic)
            rows.append({"dtype": dtype, "d": d, "names": names, "ms": ms,
                         "diff": diffs})
            print("jax worker: %s d=%d done" % (dtype, d), file=sys.stderr)
    out["laplacian"] = rows
    print(json.dumps(out))


def _numpy_blas(np):
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        return "%s %s" % (blas.get("name"), blas.get("version"))
    except Exception:
        return "?"


#===----------------------------------------------------------------------===#
# The driver
#===----------------------------------------------------------------------===#

def table(tw, jw, args):
    gf = lambda d, ms: flops_per_sample(d) * args.batch / (ms * 1e-3) / 1e9
    for dtype in args.dtypes:
        print("\n## %s, batch %d: ms per Laplacian of the batch (GFLOP/s) "
              "and the speed-up of ntp over each (its time / ntp's; below "
              "1x: ntp slower)" % (dtype, args.batch))
        head = ["d", "ntp ms (GFLOP/s)", "ntp.jax", "ntp d jets", "autograd",
                "functorch", "fwd-lapl (torch)", "folx", "jax.hessian"]
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for d in args.dims:
            t = next(r for r in tw["laplacian"]
                     if r["dtype"] == dtype and r["d"] == d)
            j = next(r for r in jw["laplacian"]
                     if r["dtype"] == dtype and r["d"] == d)
            tm = dict(zip(t["names"], t["ms"]))
            jm = dict(zip(j["names"], j["ms"]))
            cells = [str(d), "%.3f (%.1f)" % (tm["ntp"], gf(d, tm["ntp"]))]

            def cell(ms, base):
                return "%.3f (%.1f) %.1fx" % (ms, gf(d, ms), ms / base)
            cells.append(cell(jm["ntp.jax"], jm["ntp"]))
            for name in ("ntp d jets", "autograd", "functorch", "fwd-lapl"):
                cells.append(cell(tm[name], tm["ntp"]))
            for name in ("folx", "jax.hessian"):
                cells.append(cell(jm[name], jm["ntp"]))
            print("| " + " | ".join(cells) + " |")
        peak = args.peak_f64 if dtype == "float64" else args.peak_f32
        print("\nntp's share of the FMA peak (%.1f GFLOP/s %s, 2 threads, "
              "measured idle by ntp-bench: benchmarks/results/peak/): %s" % (
                  peak, dtype, ", ".join(
                      "d=%d %.0f%%" % (r["d"], 100 * gf(r["d"], dict(zip(
                          r["names"], r["ms"]))["ntp"]) / peak)
                      for r in tw["laplacian"] if r["dtype"] == dtype)))
        print("ntp as timed in the JAX worker (the base of the JAX "
              "columns): " + ", ".join(
                  "d=%d %.3f ms" % (r["d"], dict(zip(r["names"], r["ms"]))[
                      "ntp"]) for r in jw["laplacian"]
                  if r["dtype"] == dtype))
        print("largest relative difference from ntp over the batch: " +
              "; ".join("d=%d %s" % (
                  r["d"], ", ".join("%s %.1e" % (n, x) for n, x in zip(
                      r["names"], r["diff"]) if n != "ntp"))
                  for w in (tw, jw) for r in w["laplacian"]
                  if r["dtype"] == dtype))


def main():
    def add_options(ap):
        ap.add_argument("--no-partials", dest="partials",
                        action="store_false",
                        help="skip the 35 partials of 3-64-64-64-1")
        ap.add_argument("--peak-f64", type=float, default=116.1,
                        help="the machine's f64 FMA peak, GFLOP/s")
        ap.add_argument("--peak-f32", type=float, default=229.5,
                        help="the machine's f32 FMA peak, GFLOP/s")
    args = parse_args(documented=True, add_options=add_options)
    if args.worker == "torch":
        return torch_worker(args)
    if args.worker == "jax":
        return jax_worker(args)
    start, tw, jw = drive(__file__, args,
                          [] if args.partials else ["--no-partials"])
    print("# ntp's Laplacian beside PyTorch, folx and jax.hessian, %s" %
          time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    print_machine(start)
    print("# network: tanh d-64-64-64-1, batch %d, same weights and points "
          "in every method" % args.batch)
    print("# %s; %s" % (tw["versions"], jw["versions"]))
    print("# BLAS: %s; %s; ntp: none (its own generated loops)" % (
        tw["blas"], jw["blas"]))
    print("# threads: %s; ntp %s; XLA CPU its own pool" % (
        tw["threads"], os.environ.get("NTP_NUM_THREADS", "all CPUs")))
    print("# ms per call: %s, methods taking turns in each worker; a "
          "speed-up is over ntp timed in the same worker (torch columns: the "
          "torch worker's ntp, JAX columns: the JAX worker's); GFLOP/s = %s "
          "flops/sample (the collapsed Laplacian's count, 2 x 2*64*64*(d+2)) "
          "x batch / time" % (per_call(args), "16384 (d + 2)"))
    table(tw, jw, args)
    for p in tw["partials35"]:
        print("\n## all %d partials of total order <= 4, tanh 3-64-64-64-1, "
              "%s, batch %d" % (p["count"], p["dtype"], args.batch))
        print("| ntp ms | nested autograd ms (20 backward passes) | speed-up |")
        print("|---|---|---|")
        print("| %.3f | %.3f | %.1fx |" % (p["ms"][0], p["ms"][1],
                                            p["ms"][1] / p["ms"][0]))
        print("largest difference per partial, relative to that partial's "
              "largest magnitude: %.1e" % p["worst"])
        print("\ntraining step of L = sum_p mean_b (D^alpha_p u)^2 (ntp: "
              "partials_save + partials_backward_saved, the default reverse "
              "mode; autograd: the 20 passes with their graphs, then the "
              "parameter gradient)")
        print("| ntp ms | nested autograd ms | speed-up | largest difference "
              "of the parameter gradient (to its largest magnitude) |")
        print("|---|---|---|---|")
        print("| %.3f | %.3f | %.1fx | %.1e |" % (
            p["train_ms"][0], p["train_ms"][1],
            p["train_ms"][1] / p["train_ms"][0], p["train_diff"]))


if __name__ == "__main__":
    main()
