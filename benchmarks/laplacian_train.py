#!/usr/bin/env python3
#===- laplacian_train.py - Training steps of a Laplacian loss, side by side ===#
#
# Issue 12 item 6, training-step ratios: the forward and the parameter
# gradient of the Laplacian loss L(theta) = mean_b (Laplacian u_theta(x_b))^2
# of the tanh network d-64-64-64-1, batch 1024, float64 and float32,
# d = 2, 8, 32, with the same weights and points (laplacian_peers.py's), by
#
#   ntp           ntp.compile(operators=["laplacian"]) through ctypes:
#                 ntp_partials_save, then ntp_partials_backward_saved with the
#                 loss's cotangent 2 lap / batch (params gradient only)
#   ntp.torch     ntp.torch.partials(net, x, operators=["laplacian"]) and
#                 loss.backward() (the same pair under autograd)
#   fwd-lapl      the forward Laplacian written in PyTorch (collapsed Taylor
#                 mode), loss.backward() through autograd: the fastest
#                 PyTorch Laplacian of laplacian_peers.py
#   autograd      nested PyTorch autograd (the gradient with create_graph,
#                 one second backward per coordinate), loss.backward()
#   ntp.jax       jax.grad of the loss of ntp.jax.laplacian, under jax.jit
#   folx          jax.grad of the loss of folx.forward_laplacian (vmapped),
#                 under jax.jit
#
# and, for the record, ntp's forward alone: ntp_partials of a kernel compiled
# with the reverse mode (the fast lowering the count chooses, collapsed
# here) beside a forward-only kernel's and beside ntp_partials_save (per-ray
# rays, what training runs). Every gradient is checked against ntp's
# (largest relative difference). The timing and the driver/worker split are
# laplacian_peers.py's (PyTorch and JAX cannot share an interpreter; methods
# take turns block by block; a ratio is over ntp timed in the same worker).
#
#   PYTHONPATH=build/python /usr/bin/python3 benchmarks/laplacian_train.py
#       [--dims 2,8,32] [--dtypes float64,float32] [--batch 1024]
#       [--block 0.2] [--rounds 3] [--jax-python ...]
#
#===----------------------------------------------------------------------===#
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from laplacian_common import (drive, layers_of, load_case, measure,  # noqa
                              parse_args, per_call, print_machine, rel_diff)


def ntp_step(ntp, np, d, dtype, x, flat):
    """ntp's training step through ctypes, and the forward-only rows."""
    k = ntp.compile(layers_of(d), "tanh", dtype=dtype,
                    operators=["laplacian"])
    kf = ntp.compile(layers_of(d), "tanh", dtype=dtype,
                     operators=["laplacian"], backward=False)
    batch = x.shape[0]
    out = np.empty((1, batch, 1), dtype)
    out2 = np.empty((1, batch, 1), dtype)
    ws = np.empty(k.workspace_size(batch), np.uint8)
    grad = np.empty(k.num_params, dtype)

    def step():
        lap, _ = k.partials_save(x, flat, ws, out=out)
        cot = (2.0 / batch) * lap
        k.partials_backward_saved(x, flat, cot, ws, params_grad=grad,
                                  need_x_grad=False)
        return grad

    forwards = {
        "forward (reverse-mode kernel)":
            lambda: k.partials(x, flat, out=out2),
        "forward (forward-only kernel)":
            lambda: kf.partials(x, flat, out=out2),
        "save (the reverse mode's lowering)":
            lambda: k.partials_save(x, flat, ws, out=out)[0],
    }
    return step, forwards


#===----------------------------------------------------------------------===#
# The torch worker
#===----------------------------------------------------------------------===#

def torch_worker(args):
    import numpy as np
    import torch
    import ntp
    import ntp.torch as nt
    if args.torch_threads > 0:
        torch.set_num_threads(args.torch_threads)
    out = {"versions": "torch %s, numpy %s" % (torch.__version__,
                                               np.__version__),
           "threads": "torch %d threads" % torch.get_num_threads()}
    rows = []
    for dtype in args.dtypes:
        tdt = getattr(torch, dtype)
        for d in args.dims:
            params, flat, x = load_case(args.data, d, dtype)
            by_ntp, forwards = ntp_step(ntp, np, d, dtype, x, flat)
            w = layers_of(d)
            net = torch.nn.Sequential(*[m for i in range(4) for m in (
                [torch.nn.Linear(w[i], w[i + 1])] +
                ([torch.nn.Tanh()] if i < 3 else []))]).to(tdt)
            linears = [m for m in net if isinstance(m, torch.nn.Linear)]
            with torch.no_grad():
                for m, (wt, b) in zip(linears, params):
                    m.weight.copy_(torch.from_numpy(wt))
                    m.bias.copy_(torch.from_numpy(b))
            xt = torch.from_numpy(x)

            def grads():
                # The last bias does not reach the Laplacian: autograd
                # leaves its gradient None (ntp writes zeros).
                g = torch.cat([(torch.zeros_like(p) if p.grad is None
                                else p.grad).reshape(-1)
                               for p in net.parameters()])
                net.zero_grad(set_to_none=True)
                return g

            def by_ntp_torch():
                lap = nt.partials(net, xt, operators=["laplacian"])[0, :, 0]
                (lap * lap).mean().backward()
                return grads()

            def f(z):
                return net(z)

            def by_forward_laplacian():
                h, L = xt, torch.zeros(xt.shape, dtype=tdt)
                J = torch.eye(d, dtype=tdt).expand(xt.shape[0], d, d)
                for i, m in enumerate(linears):
                    z = torch.nn.functional.linear(h, m.weight, m.bias)
                    Jz, Lz = J @ m.weight.T, L @ m.weight.T
                    if i == len(linears) - 1:
                        lap = Lz[:, 0]
                        break
                    a = torch.tanh(z)
                    da = 1 - a * a
                    dda = -2 * a * da
                    h = a
                    J = Jz * da[:, None, :]
                    L = Lz * da + dda * (Jz * Jz).sum(1)
                (lap * lap).mean().backward()
                return grads()

            def by_autograd():
                z = xt.detach().requires_grad_(True)
                g, = torch.autograd.grad(f(z).sum(), z, create_graph=True)
                lap = torch.zeros(z.shape[0], dtype=tdt)
                for i in range(d):
                    gi, = torch.autograd.grad(g[:, i].sum(), z,
                                              create_graph=True)
                    lap = lap + gi[:, i]
                (lap * lap).mean().backward()
                return grads()

            fns = [by_ntp, by_ntp_torch, by_forward_laplacian, by_autograd]
            names = ["ntp", "ntp.torch", "fwd-lapl", "autograd"]
            ref = np.array(by_ntp(), copy=True)
            diffs = [rel_diff(np.asarray(fn()), ref) for fn in fns]
            ms = measure(fns, args.block, args.rounds,
                         statistic=args.statistic)
            fwd_names = list(forwards)
            fwd_ms = measure([forwards[n] for n in fwd_names], args.block,
                             args.rounds, statistic=args.statistic)
            fwd_ref = np.array(forwards[fwd_names[1]](), copy=True)
            fwd_diff = [rel_diff(np.array(forwards[n](), copy=True), fwd_ref)
                        for n in fwd_names]
            rows.append({"dtype": dtype, "d": d, "names": names, "ms": ms,
                         "diff": diffs, "fwd_names": fwd_names,
                         "fwd_ms": fwd_ms, "fwd_diff": fwd_diff})
            print("torch worker: %s d=%d done" % (dtype, d), file=sys.stderr)
    out["train"] = rows
    print(json.dumps(out))


#===----------------------------------------------------------------------===#
# The JAX worker
#===----------------------------------------------------------------------===#

def jax_worker(args):
    import numpy as np
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import folx
    import ntp
    import ntp.jax as nj
    out = {"versions": "jax %s, folx %s, numpy %s" % (
        jax.__version__, __import__("importlib.metadata").metadata.version(
            "folx"), np.__version__)}
    rows = []
    for dtype in args.dtypes:
        for d in args.dims:
            params, flat, x = load_case(args.data, d, dtype)
            by_ntp, _ = ntp_step(ntp, np, d, dtype, x, flat)
            jp = [(jnp.asarray(w), jnp.asarray(b)) for w, b in params]
            jx = jnp.asarray(x)

            def flatten(g):
                return jnp.concatenate([a.reshape(-1) for wb in g
                                        for a in wb])

            def ntp_loss(p):
                lap = nj.laplacian(p, jx, activation="tanh")[:, 0]
                return jnp.mean(lap * lap)

            def f_of(p):
                def f(z):
                    h = z
                    for i, (w, b) in enumerate(p):
                        h = h @ w.T + b
                        if i < len(p) - 1:
                            h = jnp.tanh(h)
                    return h[0]
                return f

            def folx_loss(p):
                lap = jax.vmap(lambda z: folx.forward_laplacian(f_of(p))(
                    z).laplacian)(jx)
                return jnp.mean(lap * lap)

            ntp_grad = jax.jit(lambda p: flatten(jax.grad(ntp_loss)(p)))
            folx_grad = jax.jit(lambda p: flatten(jax.grad(folx_loss)(p)))
            fns = [by_ntp, lambda: ntp_grad(jp), lambda: folx_grad(jp)]
            names = ["ntp", "ntp.jax", "folx"]
            ref = np.array(by_ntp(), copy=True)
            diffs = [rel_diff(np.asarray(fn()), ref) for fn in fns]
            ms = measure(fns, args.block, args.rounds,
                         sync=lambda r: jax.block_until_ready(r),
                         statistic=args.statistic)
            rows.append({"dtype": dtype, "d": d, "names": names, "ms": ms,
                         "diff": diffs})
            print("jax worker: %s d=%d done" % (dtype, d), file=sys.stderr)
    out["train"] = rows
    print(json.dumps(out))


#===----------------------------------------------------------------------===#
# The driver
#===----------------------------------------------------------------------===#

def tables(tw, jw, args):
    for dtype in args.dtypes:
        print("\n## %s, batch %d: ms per training step (forward + params "
              "gradient of mean(Laplacian^2)) and the speed-up of ntp over "
              "each (its time / ntp's)" % (dtype, args.batch))
        head = ["d", "ntp ms", "ntp.torch", "fwd-lapl + autograd",
                "nested autograd", "ntp.jax (jax.grad)", "folx + jax.grad"]
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for d in args.dims:
            t = next(r for r in tw["train"]
                     if r["dtype"] == dtype and r["d"] == d)
            j = next(r for r in jw["train"]
                     if r["dtype"] == dtype and r["d"] == d)
            tm = dict(zip(t["names"], t["ms"]))
            jm = dict(zip(j["names"], j["ms"]))
            cells = [str(d), "%.3f" % tm["ntp"]]
            for name in ("ntp.torch", "fwd-lapl", "autograd"):
                cells.append("%.3f %.1fx" % (tm[name], tm[name] / tm["ntp"]))
            for name in ("ntp.jax", "folx"):
                cells.append("%.3f %.1fx" % (jm[name], jm[name] / jm["ntp"]))
            print("| " + " | ".join(cells) + " |")
        print("ntp as timed in the JAX worker (the base of the JAX "
              "columns): " + ", ".join(
                  "d=%d %.3f ms" % (r["d"], dict(zip(r["names"], r["ms"]))[
                      "ntp"]) for r in jw["train"] if r["dtype"] == dtype))
        print("largest relative difference of the params gradient from "
              "ntp's: " + "; ".join("d=%d %s" % (
                  r["d"], ", ".join("%s %.1e" % (n, x) for n, x in zip(
                      r["names"], r["diff"]) if n != "ntp"))
                  for w in (tw, jw) for r in w["train"]
                  if r["dtype"] == dtype))
        print("\nntp's forward alone (ms; ntp_partials of the kernel with "
              "the reverse mode keeps the count's lowering, and the save "
              "runs the same lowering's blocks of rays, RaysBackward.cpp):")
        names = tw["train"][0]["fwd_names"]
        print("| d | " + " | ".join(names) + " |")
        print("|" + "---|" * (len(names) + 1))
        for r in tw["train"]:
            if r["dtype"] != dtype:
                continue
            base = r["fwd_ms"][1]
            print("| %d | " % r["d"] + " | ".join(
                "%.3f (%.2fx)" % (ms, ms / base) for ms in r["fwd_ms"]) +
                " |")
        print("largest relative difference of out from the forward-only "
              "kernel's: " + "; ".join("d=%d %s" % (r["d"], ", ".join(
                  "%.1e" % x for x in r["fwd_diff"]))
                  for r in tw["train"] if r["dtype"] == dtype))


def main():
    args = parse_args()
    if args.worker == "torch":
        return torch_worker(args)
    if args.worker == "jax":
        return jax_worker(args)
    start, tw, jw = drive(__file__, args)
    print("# Training steps of a Laplacian loss: ntp beside PyTorch and "
          "folx, %s" % time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    print_machine(start)
    print("# network: tanh d-64-64-64-1, batch %d, same weights and points "
          "in every method; loss mean_b (Laplacian u(x_b))^2, gradient "
          "with respect to every parameter" % args.batch)
    print("# %s; %s; %s" % (tw["versions"], tw["threads"], jw["versions"]))
    print("# ms per step: %s, methods taking turns in each worker; a "
          "speed-up is over ntp timed in the same worker" % per_call(args))
    tables(tw, jw, args)


if __name__ == "__main__":
    main()
