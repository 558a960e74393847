#!/usr/bin/env python3
#===- burgers_ddp.py - The Burgers PINN on N processes (DDP, gloo) ---------===#
#
# Data-parallel training of examples/python/burgers_problem.py with ntp jets:
# the collocation points are split among the ranks, each rank computes its
# part of the loss with ntp.torch.jet, and DistributedDataParallel
# all-reduces the gradients, so every rank takes the same Adam step as one
# process over all points would.
#
#   PYTHONPATH=build/python /usr/bin/python3 examples/python/burgers_ddp.py --nproc 2
#   PYTHONPATH=build/python torchrun --nproc_per_node 2 examples/python/burgers_ddp.py
#
# (Debian's torchrun, torch 1.13 on Python 3.11, fails inside its own
# launcher before starting the script; the torchrun environment, RANK,
# WORLD_SIZE, MASTER_ADDR, MASTER_PORT, was tested by setting it by hand.)
#
# Gloo on 127.0.0.1 only (CPU kernels; NCCL and CUDA tensors need ntp's CUDA
# backward, which does not exist yet).
#
#===----------------------------------------------------------------------===#
import argparse
import datetime
import os
import socket
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import burgers_problem as bp  # noqa: E402

import ntp  # noqa: E402
import ntp.torch  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train(rank, world, port, steps, lr, k, out_dir=None, threads=1,
          verbose=True):
    """One rank: DDP over ShardLoss; Adam for `steps` steps. Rank 0 saves
    the all-reduced gradient of step 0 and the final parameters to
    out_dir/rank0.pt when out_dir is given."""
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    if port is not None:
        os.environ["MASTER_PORT"] = str(port)
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    torch.set_num_threads(1)
    ntp.set_num_threads(threads)
    dist.init_process_group("gloo", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=60))
    try:
        pinn = bp.BurgersPINN(k)
        model = torch.nn.parallel.DistributedDataParallel(
            bp.ShardLoss(pinn, ntp.torch.jet, rank, world))
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        first_grad = None
        start = time.perf_counter()
        for step in range(steps):
            opt.zero_grad()
            loss = model()
            loss.backward()
            if first_grad is None:
                first_grad = [p.grad.clone() for p in pinn.parameters()]
            opt.step()
            if verbose and (step % max(1, steps // 10) == 0
                            or step == steps - 1):
                total = loss.detach().clone()  # a collective: every rank
                dist.all_reduce(total)
                if rank == 0:
                    print("step %5d  loss %.6e  lambda %.8f  (%.2f ms/step)"
                          % (step, total.item() / world, pinn.lam().item(),
                             1e3 * (time.perf_counter() - start)
                             / (step + 1)), flush=True)
        if out_dir is not None and rank == 0:
            torch.save({"grad": first_grad,
                        "params": [p.detach().clone()
                                   for p in pinn.parameters()]},
                       os.path.join(out_dir, "rank0.pt"))
    finally:
        dist.destroy_process_group()


def _spawned(rank, world, port, steps, lr, k, out_dir, threads, verbose):
    train(rank, world, port, steps, lr, k, out_dir, threads, verbose)


def run(world, steps, lr=1.5e-4, k=0, out_dir=None, timeout_s=120,
        threads=1, verbose=True):
    """Starts `world` processes with torch.multiprocessing and waits at most
    timeout_s; raises if any fails or the time runs out."""
    ctx = mp.start_processes(_spawned, args=(world, free_port(), steps, lr, k,
                                             out_dir, threads, verbose),
                             nprocs=world, join=False, start_method="spawn")
    deadline = time.monotonic() + timeout_s
    while not ctx.join(timeout=1):
        if time.monotonic() > deadline:
            for p in ctx.processes:
                if p.is_alive():
                    p.terminate()
            raise TimeoutError("the %d ranks did not finish within %d s"
                               % (world, timeout_s))


def main():
    p = argparse.ArgumentParser(
        description="Burgers PINN on N ranks with DDP (see the header)")
    p.add_argument("--nproc", type=int, default=2,
                   help="processes to start (ignored under torchrun)")
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--lr", type=float, default=1.5e-4)
    p.add_argument("--k", type=int, default=0)
    p.add_argument("--threads", type=int, default=1,
                   help="ntp threads per rank")
    args = p.parse_args()
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:  # torchrun
        train(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), None,
              args.steps, args.lr, args.k, threads=args.threads)
    else:
        run(args.nproc, args.steps, args.lr, args.k, threads=args.threads,
            timeout_s=3600)


if __name__ == "__main__":
    main()
