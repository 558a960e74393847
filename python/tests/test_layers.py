# Typed layers (issue 14) from Python: a network with a Fourier-feature
# embedding, adaptive slopes and a residual layer, compiled from its ntp.mlp
# text (ntp.compile(mlir=...)), against PyTorch nested autograd of the same
# network written here in torch (the parameter order of the README: B, then
# per layer W, b and the slopes after the bias). Also: the kernel's
# parameter gradient against torch's.
import math

import pytest

from conftest import need

torch = need("torch")
np = need("numpy")
import ntp  # noqa: E402

D, H, M, ORDER = 2, 6, 3, 4
TEXT = ("ntp.mlp @net layers [2, 6, 6, 1] activation [\"silu\", \"tanh\"] "
        "fourier 3 slopes [\"neuron\", \"layer\"] residual [false, true] "
        "order %d : f64" % ORDER)


def split(p):
    """The flat parameters as the layer tensors, in the kernel's order."""
    sizes = [("B", (M, D)), ("W1", (H, 2 * M)), ("b1", (H,)), ("a1", (H,)),
             ("W2", (H, H)), ("b2", (H,)), ("a2", (1,)), ("W3", (1, H)),
             ("b3", (1,))]
    out, at = {}, 0
    for name, shape in sizes:
        n = math.prod(shape)
        out[name] = p[at:at + n].reshape(shape)
        at += n
    assert at == p.numel()
    return out


def net(p, x):
    t = split(p)
    z = 2 * math.pi * x @ t["B"].T
    h0 = torch.cat([torch.sin(z), torch.cos(z)], dim=1)
    h1 = torch.nn.functional.silu(t["a1"] * (h0 @ t["W1"].T + t["b1"]))
    h2 = h1 + torch.tanh(t["a2"] * (h1 @ t["W2"].T + t["b2"]))
    return h2 @ t["W3"].T + t["b3"]


def torch_jet(p, x, v):
    """d^k/dt^k net(x + t v) at t = 0, k = 0..ORDER, by nested autograd."""
    s = torch.zeros(x.shape[0], dtype=x.dtype, requires_grad=True)
    y = net(p, x + s[:, None] * v)[:, 0]
    rows = [y]
    for _ in range(ORDER):
        y = torch.autograd.grad(y.sum(), s, create_graph=True)[0]
        rows.append(y)
    return torch.stack(rows)[:, :, None]


def test_typed_network_matches_pytorch():
    k = ntp.compile(None, mlir=TEXT, use_cache=False)
    assert k.num_params == M * D + (2 * M * H + H + H) + (H * H + H + 1) + H + 1
    assert k.description == TEXT
    rng = np.random.default_rng(3)
    p = rng.uniform(-0.7, 0.7, k.num_params)
    x = rng.uniform(-1, 1, (9, D))
    v = np.array([0.6, -0.8])
    out = k.forward(x, p, direction=v)
    pt = torch.tensor(p, requires_grad=True)
    ref = torch_jet(pt, torch.tensor(x), torch.tensor(v))
    scale = ref.abs().max().item()
    assert np.abs(out - ref.detach().numpy()).max() <= 1e-11 * scale
    # The gradient of <c, out> with respect to every parameter (B, W, b,
    # slopes).
    c = rng.uniform(-1, 1, out.shape)
    grad, _ = k.backward(x, p, c, direction=v, need_x_grad=False)
    (ref * torch.tensor(c)).sum().backward()
    g = pt.grad.numpy()
    assert np.abs(grad - g).max() <= 1e-11 * np.abs(g).max()
