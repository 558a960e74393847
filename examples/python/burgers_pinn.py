#!/usr/bin/env python3
#===- burgers_pinn.py - The paper's Burgers PINN trained with ntp.torch.jet -===#
#
# Trains the k-th self-similar Burgers profile (1-24-24-24-1 tanh, f64; loss,
# lambda constraint and optimizer schedule of the paper and
# examples/burgers/README.md: Adam lr 1.5e-4, then L-BFGS with history 30
# and a strong Wolfe line search) with every jet from ntp.torch.jet, then
# times one training step (jets, loss, backward, optimizer step) with ntp
# beside the paper's n-TangentProp in PyTorch and nested autograd
# (benchmarks/paper_study.py's implementations), same model, same loss.
#
#   PYTHONPATH=build/python /usr/bin/python3 examples/python/burgers_pinn.py
#   ... --full            the paper's 15k Adam + 30k L-BFGS steps (long)
#   ... --adam-steps N --lbfgs-steps M --k K
#
# The default schedule is short (about a minute here), so lambda is not yet
# converged; the C++ example (examples/burgers) has the full runs.
#
#===----------------------------------------------------------------------===#
import argparse
import copy
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "benchmarks"))
import burgers_problem as bp  # noqa: E402

import ntp  # noqa: E402
import ntp.torch  # noqa: E402


def baselines():
    """The PyTorch jet functions of benchmarks/paper_study.py (tanh MLPs,
    direction 1), with ntp.torch.jet's signature."""
    try:
        import paper_study as ps
    except ImportError as e:  # matplotlib etc. are not needed here
        print("(baselines unavailable: %s)" % e)
        return {}
    ntps = {}

    def ntangent(net, x, n):
        if n not in ntps:
            ntps[n] = ps.NTangentProp(n)
        return torch.stack(ntps[n](net, x))

    def nested(net, x, n):
        return torch.stack(ps.nested_autograd(net, x, n))

    return {"n-TangentProp (PyTorch)": ntangent, "nested autograd": nested}


def adam_step_time(pinn, jet, steps, lr):
    """Seconds per Adam step (jets, loss, backward, step) on a copy."""
    model = copy.deepcopy(pinn)
    opt = torch.optim.Adam(model.parameters(), lr=lr)

    def step():
        opt.zero_grad()
        loss = model.loss(jet)
        loss.backward()
        opt.step()
        return loss

    step()  # warm-up (ntp: kernel compile or cache load)
    start = time.perf_counter()
    for _ in range(steps):
        loss = step()
    return (time.perf_counter() - start) / steps, loss.item()


def main():
    p = argparse.ArgumentParser(
        description="Burgers PINN with ntp.torch.jet (see the header)")
    p.add_argument("--k", type=int, default=0, help="profile (0, 1, 2, ...)")
    p.add_argument("--adam-steps", type=int, default=4000)
    p.add_argument("--lbfgs-steps", type=int, default=20,
                   help="torch.optim.LBFGS steps (up to 20 iterations each)")
    p.add_argument("--full", action="store_true",
                   help="the paper's schedule: 15000 Adam, 30000 L-BFGS")
    p.add_argument("--lr", type=float, default=1.5e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2,
                   help="threads for ntp and for PyTorch")
    p.add_argument("--compare-steps", type=int, default=20,
                   help="Adam steps timed per baseline (0: no comparison)")
    args = p.parse_args()
    if args.full:
        args.adam_steps, args.lbfgs_steps = 15000, 30000
    torch.set_num_threads(args.threads)
    ntp.set_num_threads(args.threads)

    pinn = bp.BurgersPINN(args.k, seed=args.seed)
    exact = 1.0 / (2 * args.k + 2)
    jet = ntp.torch.jet
    print("Burgers profile k=%d: 1-24-24-24-1 tanh f64, jets of order 2 on "
          "301 points and %d on 31; exact lambda = %.10f" % (
              args.k, 2 * args.k + 4, exact))

    t0 = time.perf_counter()
    opt = torch.optim.Adam(pinn.parameters(), lr=args.lr)
    every = max(1, args.adam_steps // 10)
    for step in range(args.adam_steps):
        opt.zero_grad()
        loss = pinn.loss(jet)
        loss.backward()
        opt.step()
        if step % every == 0 or step == args.adam_steps - 1:
            lam = pinn.lam().item()
            print("adam  %6d  loss %.4e  lambda %.10f  |lambda-exact| %.2e"
                  "  %.1f s" % (step, loss.item(), lam, abs(lam - exact),
                                time.perf_counter() - t0), flush=True)
    t_adam = time.perf_counter() - t0

    lbfgs = torch.optim.LBFGS(pinn.parameters(), lr=1, history_size=30,
                              max_iter=20, line_search_fn="strong_wolfe",
                              tolerance_grad=0, tolerance_change=0)

    def closure():
        lbfgs.zero_grad()
        loss = pinn.loss(jet)
        loss.backward()
        return loss

    every = max(1, args.lbfgs_steps // 10)
    for step in range(args.lbfgs_steps):
        loss = lbfgs.step(closure)
        if step % every == 0 or step == args.lbfgs_steps - 1:
            lam = pinn.lam().item()
            print("lbfgs %6d  loss %.4e  lambda %.10f  |lambda-exact| %.2e"
                  "  %.1f s" % (step, loss.item(), lam, abs(lam - exact),
                                time.perf_counter() - t0), flush=True)
    lam = pinn.lam().item()
    print("done in %.1f s (Adam %.1f s): lambda %.10f, |lambda - exact| "
          "%.2e" % (time.perf_counter() - t0, t_adam, lam, abs(lam - exact)))

    if args.compare_steps > 0:
        print("\nTime per Adam training step (jets + loss + backward + step),"
              " %d thread(s), this run:" % args.threads)
        t_ntp, _ = adam_step_time(pinn, jet, max(50, args.compare_steps),
                                  args.lr)
        print("  %-26s %10.3f ms" % ("ntp.torch.jet", 1e3 * t_ntp))
        for name, fn in baselines().items():
            t, _ = adam_step_time(pinn, fn, args.compare_steps, args.lr)
            print("  %-26s %10.3f ms   (%.0fx ntp)" % (name, 1e3 * t,
                                                       t / t_ntp))


if __name__ == "__main__":
    main()
