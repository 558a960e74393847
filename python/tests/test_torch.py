# ntp.torch.jet against PyTorch's nested autograd: jets (f64 <= 1e-12 per
# order up to order 8, f32 at the runtime's stated tolerance), gradients for
# every parameter and x, gradcheck, every supported module, the refusals,
# no_grad, threads, double backward, and the AOT path on tensors.
import math
import threading

import pytest

from conftest import need

torch = need("torch")
from torch import nn  # noqa: E402

import ntp  # noqa: E402
import ntp.torch as nt  # noqa: E402

torch.set_num_threads(1)


def make(layers, act, dtype=torch.float64, seed=0):
    torch.manual_seed(seed)
    mods = []
    for i in range(len(layers) - 1):
        mods.append(nn.Linear(layers[i], layers[i + 1]))
        if i + 2 < len(layers):
            mods.append(act())
    return nn.Sequential(*mods).to(dtype)


def nested(net, x, order, v=None):
    """Nested autograd along v: d^k/dt^k net(x + t v), t per sample."""
    v = torch.ones(x.shape[1], dtype=x.dtype) if v is None else v
    t = torch.zeros(x.shape[0], 1, dtype=x.dtype, requires_grad=True)
    y = net(x + t * v)
    outs = [y]
    for _ in range(order):
        if not y.requires_grad:  # identically zero from here on
            outs.append(torch.zeros_like(y))
            continue
        gs = [torch.autograd.grad(y[:, j].sum(), t, create_graph=True,
                                  allow_unused=True)[0]
              for j in range(y.shape[1])]
        y = torch.stack([torch.zeros_like(t[:, 0]) if g is None else g[:, 0]
                         for g in gs], dim=1)
        outs.append(y)
    return torch.stack(outs)


def rel_err_per_order(a, b):
    return [((a[k] - b[k]).abs().max() / b[k].abs().max().clamp_min(1e-300))
            .item() for k in range(a.shape[0])]


SOFTPLUS = lambda: nn.Softplus(threshold=math.inf)  # noqa: E731
ACTIVATIONS = {"tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "sin": nt.Sin,
               "softplus": SOFTPLUS, "identity": nn.Identity,
               "cos": nt.Cos, "silu": nn.SiLU, "gelu": nn.GELU,
               "gelu_tanh": lambda: nn.GELU(approximate="tanh")}


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_f64_jets_match_nested_autograd_to_order_8(act):
    net = make([1, 8, 8, 1], ACTIVATIONS[act])
    x = torch.linspace(-1.5, 1.5, 16, dtype=torch.float64).reshape(-1, 1)
    ref = nested(net, x, 8).detach()
    out = nt.jet(net, x, 8)
    assert out.shape == (9, 16, 1)
    for k, e in enumerate(rel_err_per_order(out.detach(), ref)):
        if act == "identity" and k >= 2:  # exactly zero: absolute check
            assert out[k].abs().max() <= 1e-15
        else:
            assert e <= 1e-12, (act, k, e)


def test_f32_jets_within_the_stated_tolerance():
    net = make([1, 24, 24, 24, 1], nn.Tanh, torch.float32)
    x = torch.linspace(-2, 2, 64).reshape(-1, 1)
    ref = nested(make([1, 24, 24, 24, 1], nn.Tanh), x.double(), 6).detach()
    out = nt.jet(net, x, 6)
    assert out.dtype == torch.float32
    assert max(rel_err_per_order(out.double(), ref)) <= 1e-4


def test_several_inputs_and_outputs_with_a_direction():
    net = make([3, 7, 2], nn.Sigmoid)
    x = torch.randn(9, 3, dtype=torch.float64)
    v = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)
    ref = nested(net, x, 4, v).detach()
    out = nt.jet(net, x, 4, direction=v)
    assert max(rel_err_per_order(out.detach(), ref)) <= 1e-12
    with pytest.raises(ntp.Error, match="direction is required"):
        nt.jet(net, x, 4)
    with pytest.raises(ntp.Error, match="direction has shape"):
        nt.jet(net, x, 4, direction=torch.ones(2, dtype=torch.float64))


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_gradients_match_autograd_for_every_parameter_and_x(act):
    net = make([2, 6, 5, 3], ACTIVATIONS[act], seed=1)
    x = torch.randn(11, 2, dtype=torch.float64)
    v = torch.tensor([0.7, -0.4], dtype=torch.float64)
    w = torch.randn(5, 11, 3, dtype=torch.float64)
    xa = x.clone().requires_grad_(True)
    (nested(net, xa, 4, v) * w).sum().backward()
    ref = [p.grad.clone() for p in net.parameters()] + [xa.grad.clone()]
    net.zero_grad()
    xb = x.clone().requires_grad_(True)
    (nt.jet(net, xb, 4, v) * w).sum().backward()
    got = [p.grad.clone() for p in net.parameters()] + [xb.grad.clone()]
    for name, a, b in zip([n for n, _ in net.named_parameters()] + ["x"],
                          got, ref):
        assert a.shape == b.shape
        assert (a - b).abs().max() <= 1e-11 * b.abs().max().clamp_min(1), name


def mixed_net(dtype=torch.float64, seed=3):
    """Per-layer activations, a linear layer (nn.Identity) among them."""
    torch.manual_seed(seed)
    L = nn.Linear
    return nn.Sequential(L(2, 6), nn.SiLU(), L(6, 5), nn.Identity(), L(5, 5),
                         nn.GELU(approximate="tanh"), L(5, 4), nn.Tanh(),
                         L(4, 4), nn.GELU(), L(4, 3)).to(dtype)


def test_per_layer_activations_match_nested_autograd():
    net = mixed_net()
    widths, act, _ = nt.describe(net)
    assert widths == (2, 6, 5, 5, 4, 4, 3)
    assert act == "silu,identity,gelu_tanh,tanh,gelu"
    x = torch.randn(10, 2, dtype=torch.float64)
    v = torch.tensor([0.3, -0.8], dtype=torch.float64)
    ref = nested(net, x, 6, v).detach()
    out = nt.jet(net, x, 6, v)
    assert max(rel_err_per_order(out.detach(), ref)) <= 1e-12
    k = nt.kernel_for(widths, act, 6, torch.float64, x.device)
    assert k.activation == act
    assert k.description == (
        'ntp.mlp @ntp_kernel layers [2, 6, 5, 5, 4, 4, 3] activation '
        '["silu", "identity", "gelu_tanh", "tanh", "gelu"] order 6 : f64')
    # The same network as an ntp.torch.MLP with a list.
    m = nt.MLP([2, 6, 5, 5, 4, 4, 3],
               ["silu", "identity", "gelu_tanh", "tanh", "gelu"],
               dtype=torch.float64)
    m.load_state_dict({"net." + n: p for n, p in net.state_dict().items()})
    assert torch.equal(nt.jet(m, x, 6, v), out)
    with pytest.raises(ntp.Error, match="3 names for 5 hidden layers"):
        nt.MLP([2, 6, 5, 5, 4, 4, 3], "silu,tanh,cos")


def test_per_layer_gradients_match_autograd():
    net = mixed_net(seed=4)
    x = torch.randn(7, 2, dtype=torch.float64)
    v = torch.tensor([1.0, 0.5], dtype=torch.float64)
    w = torch.randn(5, 7, 3, dtype=torch.float64)
    xa = x.clone().requires_grad_(True)
    (nested(net, xa, 4, v) * w).sum().backward()
    ref = [p.grad.clone() for p in net.parameters()] + [xa.grad.clone()]
    net.zero_grad()
    xb = x.clone().requires_grad_(True)
    (nt.jet(net, xb, 4, v) * w).sum().backward()
    got = [p.grad.clone() for p in net.parameters()] + [xb.grad.clone()]
    for a, b in zip(got, ref):
        assert (a - b).abs().max() <= 1e-11 * b.abs().max().clamp_min(1)


def test_gelu_approximate_changed_after_a_call_is_seen():
    net = make([1, 6, 1], nn.GELU)
    x = torch.linspace(-2, 2, 9, dtype=torch.float64).reshape(-1, 1)
    exact = nt.jet(net, x, 3)
    net[1].approximate = "tanh"
    approx = nt.jet(net, x, 3)
    assert not torch.equal(exact, approx)
    ref = nested(net, x, 3).detach()
    assert max(rel_err_per_order(approx.detach(), ref)) <= 1e-12


class _JetModule(nn.Module):
    def __init__(self, net, order):
        super().__init__()
        self.net, self.order = net, order

    def forward(self, x):
        return nt.jet(self.net, x, self.order)


def test_gradcheck_f64_parameters_and_x():
    # functional_call swaps the given tensors in for the parameters, so
    # gradcheck perturbs each of them (and x) through ntp.torch.jet.
    m = _JetModule(make([1, 4, 3, 1], nn.Tanh, seed=2), 3)
    names = [n for n, _ in m.named_parameters()]

    def f(x, *ps):
        return torch.nn.utils.stateless.functional_call(
            m, dict(zip(names, ps)), (x,))

    x = torch.linspace(-1, 1, 5, dtype=torch.float64).reshape(-1, 1)
    inputs = (x.requires_grad_(True),) + tuple(
        p.detach().clone().requires_grad_(True) for p in m.parameters())
    assert torch.autograd.gradcheck(f, inputs)


def test_no_grad_and_inputs_without_requires_grad():
    net = make([1, 5, 1], nn.Tanh)
    x = torch.linspace(-1, 1, 8, dtype=torch.float64).reshape(-1, 1)
    with torch.no_grad():
        out = nt.jet(net, x, 3)
    assert not out.requires_grad
    out2 = nt.jet(net, x, 3)  # params require grad, x does not
    assert out2.requires_grad and torch.equal(out, out2.detach())
    out2.sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    for p in net.parameters():
        p.requires_grad_(False)
    out3 = nt.jet(net, x.clone().requires_grad_(True), 3)
    out3.sum().backward()  # x only


def test_double_backward_is_refused():
    net = make([1, 5, 1], nn.Tanh)
    x = torch.linspace(-1, 1, 8, dtype=torch.float64).reshape(-1, 1)
    x.requires_grad_(True)
    out = nt.jet(net, x, 2)
    with pytest.raises(ntp.Error, match="double backward"):
        torch.autograd.grad(out.sum(), x, create_graph=True)


def test_threads_calling_at_once():
    net = make([1, 16, 16, 1], nn.Tanh)
    xs = [torch.linspace(-1, 1, 40 + i, dtype=torch.float64).reshape(-1, 1)
          for i in range(6)]

    def run(x):
        xx = x.clone().requires_grad_(True)
        out = nt.jet(net, xx, 5)
        g = torch.autograd.grad(out.square().sum(), [xx] + list(
            net.parameters()))
        return out.detach(), g

    serial = [run(x) for x in xs]
    results = [None] * len(xs)
    errors = []

    def worker(i):
        try:
            for _ in range(5):
                results[i] = run(xs[i])
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,))
               for i in range(len(xs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    for (a, ga), (b, gb) in zip(serial, results):
        assert torch.equal(a, b)
        # Gradients sum over tiles; the order of that sum may follow the
        # thread pool's split, so equal to rounding, not to the bit.
        assert all(torch.allclose(u, w, rtol=1e-13, atol=0)
                   for u, w in zip(ga, gb))


def test_the_kernel_is_compiled_once_per_shape():
    net = make([1, 3, 1], nn.Tanh)
    x = torch.zeros(2, 1, dtype=torch.float64)
    nt.jet(net, x, 2)
    k = nt.kernel_for((1, 3, 1), "tanh", 2, torch.float64, x.device)
    nt.jet(make([1, 3, 1], nn.Tanh, seed=5), x, 2)
    assert nt.kernel_for((1, 3, 1), "tanh", 2, torch.float64,
                         x.device) is k


def test_parameters_are_read_live():
    net = make([1, 4, 1], nn.Tanh)
    x = torch.linspace(-1, 1, 4, dtype=torch.float64).reshape(-1, 1)
    a = nt.jet(net, x, 1).detach()
    with torch.no_grad():
        net[0].weight.mul_(2)
    b = nt.jet(net, x, 1).detach()
    assert not torch.equal(a, b)
    assert torch.allclose(b, nested(net, x, 1).detach(), rtol=1e-12)


def test_mlp_module_and_nested_sequential():
    m = nt.MLP([1, 6, 6, 1], "sin", dtype=torch.float64)
    x = torch.linspace(-1, 1, 8, dtype=torch.float64).reshape(-1, 1)
    assert max(rel_err_per_order(nt.jet(m, x, 4).detach(),
                                 nested(m, x, 4).detach())) <= 1e-12
    inner = nn.Sequential(nn.Linear(1, 4), nn.Tanh())
    net = nn.Sequential(inner, nn.Linear(4, 1)).double()
    assert max(rel_err_per_order(nt.jet(net, x, 3).detach(),
                                 nested(net, x, 3).detach())) <= 1e-12
    assert nt.jet(net, x[:, 0], 3).shape == (4, 8, 1)  # [batch] for one input


def test_non_contiguous_x_is_copied_and_right():
    net = make([1, 4, 1], nn.Tanh)
    big = torch.linspace(-1, 1, 16, dtype=torch.float64).reshape(-1, 1)
    x = big[::2]
    assert not x.is_contiguous() or x.stride() != (1, 1)
    assert torch.equal(nt.jet(net, x, 2), nt.jet(net, x.contiguous(), 2))


@pytest.mark.parametrize("case,pattern", [
    ("relu", r"module 1 \(ReLU\)"),
    ("nobias", r"module 0 \(Linear without bias\)"),
    ("gelu-approximate", r"module 1 \(nn.GELU\(approximate='erf'\)\)"),
    ("custom", r"a Custom.*nn.Sequential"),
    ("softplus-threshold", r"threshold=20.*threshold=float\('inf'\)"),
    ("softplus-beta", r"beta=2"),
    ("trailing", r"module 3 \(Tanh\).*after the last Linear"),
    ("dropout", r"module 1 \(Dropout\)"),
    ("dtype", r"x is torch.float32"),
    ("half", r"float32 or float64"),
])
def test_refusals_name_the_module(case, pattern):
    L = lambda a, b, **kw: nn.Linear(a, b, **kw).double()  # noqa: E731
    x = torch.zeros(3, 1, dtype=torch.float64)

    class Custom(nn.Module):
        def forward(self, x):
            return x

    nets = {
        "relu": nn.Sequential(L(1, 4), nn.ReLU(), L(4, 1)),
        "nobias": nn.Sequential(L(1, 4, bias=False), nn.Tanh(), L(4, 1)),
        "gelu-approximate": nn.Sequential(L(1, 4), nn.GELU(), L(4, 1)),
        "custom": Custom(),
        "softplus-threshold": nn.Sequential(L(1, 4), nn.Softplus(), L(4, 1)),
        "softplus-beta": nn.Sequential(L(1, 4), nn.Softplus(
            beta=2, threshold=math.inf), L(4, 1)),
        "trailing": nn.Sequential(L(1, 4), nn.Tanh(), L(4, 1), nn.Tanh()),
        "dropout": nn.Sequential(L(1, 4), nn.Dropout(), L(4, 1)),
        "dtype": nn.Sequential(L(1, 4), nn.Tanh(), L(4, 1)),
        "half": nn.Sequential(L(1, 4), nn.Tanh(), L(4, 1)).half(),
    }
    nets["gelu-approximate"][1].approximate = "erf"
    xx = {"dtype": x.float(), "half": x.half()}.get(case, x)
    with pytest.raises(ntp.Error, match=pattern):
        nt.jet(nets[case], xx, 2)


def test_kernel_methods_on_tensors_check_their_arguments():
    k = ntp.compile([1, 4, 1], "tanh", 2, "float64")
    p = torch.randn(k.num_params, dtype=torch.float64)
    x = torch.linspace(-1, 1, 6, dtype=torch.float64).reshape(-1, 1)
    out = k.forward(x, p)
    assert isinstance(out, torch.Tensor) and out.shape == (3, 6, 1)
    with pytest.raises(ntp.Error, match="not contiguous"):
        k.forward(torch.zeros(12, 1, dtype=torch.float64)[::2], p)
    with pytest.raises(ntp.Error, match="dtype float32"):
        k.forward(x.float(), p)
    pg, xg = k.backward(x, p, torch.ones_like(out))
    assert isinstance(pg, torch.Tensor) and xg.shape == x.shape


def test_aot_kernel_on_tensors_matches_jet(tmp_path):
    import os
    import subprocess
    compiler = os.environ.get("NTP_COMPILE")
    if not compiler or not os.path.exists(compiler):
        pytest.skip("ntp-compile not built (NTP_COMPILE unset)")
    so = tmp_path / "n.so"
    subprocess.run([compiler, "--layers", "1,5,5,1", "--activation", "tanh",
                    "--order", "4", "--dtype", "f64", "--target-cpu=native",
                    "-o", str(so)], check=True)
    k = ntp.load(so)
    net = make([1, 5, 5, 1], nn.Tanh)
    flat = torch.cat([p.detach().reshape(-1) for p in net.parameters()])
    x = torch.linspace(-1, 1, 10, dtype=torch.float64).reshape(-1, 1)
    a, b = k.forward(x, flat), nt.jet(net, x, 4).detach()
    assert (a - b).abs().max() <= 1e-13 * b.abs().max()


def test_a_weight_of_the_wrong_shape_is_an_error():
    net = make([1, 4, 1], nn.Tanh)
    net[2].weight = nn.Parameter(torch.zeros(1, 5, dtype=torch.float64))
    x = torch.zeros(3, 1, dtype=torch.float64)
    with pytest.raises(ntp.Error, match="wrong shape"):
        nt.jet(net, x, 2)  # with autograd
    with torch.no_grad(), pytest.raises(ntp.Error, match="wrong shape"):
        nt.jet(net, x, 2)
    # The same number of values in the wrong shape (a transposed weight) is
    # refused too: ntp would read it as [out, in] and answer wrongly.
    net[2].weight = nn.Parameter(torch.zeros(4, 1, dtype=torch.float64))
    with pytest.raises(ntp.Error, match=r"layer 1's weight has shape "
                       r"\[4, 1\].*need \[1, 4\]"):
        nt.jet(net, x, 2)


def test_changes_after_the_first_call_are_seen():
    # jet() keeps the module walk per net; every change that could make the
    # kept walk wrong must be seen at the next call.
    net = make([1, 4, 4, 1], nn.Tanh)
    x = torch.linspace(-1, 1, 5, dtype=torch.float64).reshape(-1, 1)
    nt.jet(net, x, 2).sum().backward()
    net[1] = nn.ReLU()  # a module replaced
    with pytest.raises(ntp.Error, match=r"module 1 \(ReLU\)"):
        nt.jet(net, x, 2)
    net[1] = nn.Sigmoid()
    net[3] = nn.Sigmoid()
    assert torch.allclose(nt.jet(net, x, 2), nested(net, x, 2), rtol=1e-12)
    net.append(nn.Sigmoid())  # a module added
    with pytest.raises(ntp.Error, match="after the last Linear"):
        nt.jet(net, x, 2)
    del net[5]
    nt.jet(net, x, 2)
    net[0].bias = None  # a parameter removed
    with pytest.raises(ntp.Error, match="bias is None"):
        nt.jet(net, x, 2)
    net[0].bias = nn.Parameter(torch.zeros(4, dtype=torch.float64))
    net[2].weight = nn.Parameter(net[2].weight.detach().float())  # a dtype
    with pytest.raises(ntp.Error, match="mix dtypes"):
        nt.jet(net, x, 2)
    net[2].weight = nn.Parameter(net[2].weight.detach().double())
    net[2].bias.requires_grad_(False)  # requires_grad read at each call
    for p in net.parameters():
        p.grad = None
    nt.jet(net, x, 2).sum().backward()
    assert net[2].bias.grad is None and net[2].weight.grad is not None
    sp = nn.Softplus(threshold=math.inf)
    net[1] = sp
    net[3] = nn.Softplus(threshold=math.inf)
    nt.jet(net, x, 2)
    sp.threshold = 20.0  # an attribute, not structure
    with pytest.raises(ntp.Error, match="threshold=20"):
        nt.jet(net, x, 2)
    inner = nn.Sequential(nn.Linear(1, 4), nn.Tanh()).double()
    outer = nn.Sequential(inner, nn.Linear(4, 1).double())
    nt.jet(outer, x, 2)
    inner[1] = nn.ReLU()  # a module replaced inside a nested Sequential
    with pytest.raises(ntp.Error, match=r"module 0.1 \(ReLU\)"):
        nt.jet(outer, x, 2)


def test_a_workspace_is_reused_only_once_its_graph_is_gone():
    # jet() reuses a workspace when nothing holds it any more; graphs alive
    # at once (retain_graph, jets kept around) must each keep their own.
    net = make([1, 5, 1], nn.Tanh)
    x = torch.linspace(-1, 1, 6, dtype=torch.float64).reshape(-1, 1)

    def grads(out):
        return torch.autograd.grad(out.square().sum(), list(
            net.parameters()), retain_graph=True)

    ref1 = grads(nt.jet(net, x, 3))
    outs = [nt.jet(net, x, 3) for _ in range(5)]  # five graphs alive
    with torch.no_grad():
        net[0].weight.mul_(1.5)
    ref2 = grads(nt.jet(net, x, 3))
    later = nt.jet(net, x, 3)  # params changed: a different workspace
    for out in outs + outs:  # each twice (retain_graph)
        assert all(torch.equal(a, b) for a, b in zip(grads(out), ref1))
    assert all(torch.equal(a, b) for a, b in zip(grads(later), ref2))
    del outs, later
    for _ in range(3):  # a training loop's pattern, reusing workspaces
        assert all(torch.equal(a, b)
                   for a, b in zip(grads(nt.jet(net, x, 3)), ref2))



def test_the_workspace_pool_is_bounded_in_bytes(monkeypatch):
    # Workspaces of any size are pooled (a fresh one over 32 MiB is mapped
    # and paged in anew at every step), up to _POOL_MAX_BYTES per kernel:
    # below the bound a step reuses the previous step's buffer, above it
    # each step gets its own and the pool stays within the bound.
    import gc
    import ntp.torch as ntm
    net = make([1, 7, 1], nn.Tanh)
    x = torch.linspace(-1, 1, 40, dtype=torch.float64).reshape(-1, 1)
    y = torch.linspace(-1, 1, 41, dtype=torch.float64).reshape(-1, 1)
    k = ntm.kernel_for((1, 7, 1), "tanh", 2, torch.float64,
                       torch.device("cpu"))
    size = k.workspace_size(40)
    monkeypatch.setattr(ntm, "_POOL_MAX_BYTES", size)  # room for one

    def step(z):
        out = nt.jet(net, z, 2)
        ws = out.grad_fn.ntp[6]
        out.square().sum().backward()
        return ws.data_ptr()
    first = step(x)
    assert step(x) == first  # the pooled one, its graph gone
    step(y)  # another batch: over the bound, not pooled
    fast, = [f for f in gc.get_objects()
             if isinstance(f, ntm._Fast) and f.kernel is k]
    assert fast.pooled == size and 41 not in fast.free
    assert step(x) == first


def test_recomputing_backward_gives_the_saved_gradients(monkeypatch):
    # Above RECOMPUTE_ABOVE_BYTES of workspace autograd runs ntp_forward and
    # the recomputing ntp_backward_full instead of the saved pair: the same
    # jet and the same gradients (params and x), and no workspace is held.
    import ntp.torch as ntm
    net = make([2, 8, 6, 1], nn.Tanh)
    x0 = torch.rand(19, 2, dtype=torch.float64) * 2 - 1
    v = torch.tensor([0.6, -0.8], dtype=torch.float64)
    cot = torch.randn(5, 19, 1, dtype=torch.float64)

    def run():
        for p in net.parameters():
            p.grad = None
        x = x0.clone().requires_grad_(True)
        out = nt.jet(net, x, 4, v)
        held = out.grad_fn.ntp[6]
        (out * cot).sum().backward()
        return out.detach(), held, [p.grad.clone() for p in
                                    net.parameters()] + [x.grad.clone()]
    out1, held1, saved = run()
    assert held1 is not None
    monkeypatch.setattr(ntm, "RECOMPUTE_ABOVE_BYTES", -1)
    out2, held2, recomputed = run()
    assert held2 is None and torch.equal(out1, out2)
    for a, b in zip(saved, recomputed):
        assert torch.allclose(a, b, rtol=1e-13,
                              atol=1e-13 * float(a.abs().max()))
