# Two processes on 127.0.0.1 (torch.multiprocessing + torch.distributed,
# gloo) train the Burgers PINN under DistributedDataParallel with the
# collocation points sharded: the all-reduced gradient must equal the
# single-process gradient over all points, and 5 Adam steps must give the
# same parameters. Bounded: 60 s process-group timeout, 150 s for the run.
import os
import sys

import pytest

from conftest import ROOT, need

torch = need("torch")
import torch.distributed as dist  # noqa: E402

if not dist.is_available() or not dist.is_gloo_available():
    pytest.skip("torch.distributed with gloo is not available",
                allow_module_level=True)

sys.path.insert(0, os.path.join(ROOT, "examples", "python"))
import burgers_ddp  # noqa: E402
import burgers_problem as bp  # noqa: E402

import ntp.torch  # noqa: E402

STEPS, LR = 5, 1e-3


def test_ddp_gradient_and_adam_steps_match_one_process(tmp_path):
    burgers_ddp.run(2, STEPS, LR, 0, str(tmp_path), timeout_s=150,
                    verbose=False)
    ddp = torch.load(os.path.join(str(tmp_path), "rank0.pt"))

    pinn = bp.BurgersPINN(0)
    opt = torch.optim.Adam(pinn.parameters(), lr=LR)
    grad = None
    for _ in range(STEPS):
        opt.zero_grad()
        pinn.loss(ntp.torch.jet).backward()
        if grad is None:
            grad = [p.grad.clone() for p in pinn.parameters()]
        opt.step()
    for name, a, b in zip([n for n, _ in pinn.named_parameters()],
                          ddp["grad"], grad):
        assert (a - b).abs().max() <= 1e-12 * b.abs().max(), name
    for name, a, b in zip([n for n, _ in pinn.named_parameters()],
                          ddp["params"], pinn.parameters()):
        b = b.detach()
        assert (a - b).abs().max() <= 1e-12 * b.abs().max(), name
    assert not torch.equal(ddp["params"][0],
                           bp.BurgersPINN(0).net[0].weight.detach())
