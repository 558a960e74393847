# ntp.torch with typed layers (issue 14): FourierFeatures, AdaptiveActivation
# (per layer / per neuron), Residual, and combinations with every activation,
# against PyTorch nested autograd of the very same pure-torch modules (f64
# jets, orders 0..6, within 1e-12 of the largest entry of each order, 2.3e-15
# measured; the gradient of a loss with respect to every parameter and x
# within 1e-11); the flat parameter order (net.parameters() is ntp's); f32;
# training through ntp; the refusals (one sentence naming the module);
# ModifiedMLP in plain torch (its parameter order and its formula) and its
# refusal while the compiler has no gated layer.
import copy
import math

import pytest

from conftest import need

torch = need("torch")
from torch import nn  # noqa: E402

import ntp  # noqa: E402
import ntp.torch as nt  # noqa: E402

torch.set_num_threads(1)
F64 = torch.float64
ORDER = 6
# Relative to the largest |entry| of each order of the nested-autograd jet.
JET_TOL, GRAD_TOL = 1e-12, 1e-11


def nested(net, x, order, v):
    """d^k/dt^k net(x + t v) at t = 0, k = 0..order, by nested autograd."""
    t = torch.zeros(x.shape[0], 1, dtype=x.dtype, requires_grad=True)
    y = net(x + t * v)
    outs = [y]
    for _ in range(order):
        gs = [torch.autograd.grad(y[:, j].sum(), t, create_graph=True)[0]
              for j in range(y.shape[1])]
        y = torch.cat(gs, dim=1)
        outs.append(y)
    return torch.stack(outs)


def rel_errors(a, b):
    return [((a[k] - b[k]).abs().max() / b[k].abs().max().clamp_min(1e-300))
            .item() for k in range(b.shape[0])]


def act(name):
    return nt._MODULES[name]()


# Networks mixing the typed layers; each a function of (activation name).
def fourier_net(a):
    return nn.Sequential(nt.FourierFeatures(2, 4, sigma=0.5), nn.Linear(8, 6),
                         act(a), nn.Linear(6, 1))


def fixed_fourier_net(a):
    return nn.Sequential(nt.FourierFeatures(2, 3, trainable=False),
                         nn.Linear(6, 5), act(a), nn.Linear(5, 5), act(a),
                         nn.Linear(5, 2))


def adaptive_layer_net(a):
    return nn.Sequential(nn.Linear(2, 6),
                         nt.AdaptiveActivation(a, "layer", init=1.3),
                         nn.Linear(6, 6),
                         nt.AdaptiveActivation(act(a), "layer", init=0.8),
                         nn.Linear(6, 1))


def adaptive_neuron_net(a):
    return nn.Sequential(nn.Linear(2, 6),
                         nt.AdaptiveActivation(a, "neuron", 6, init=1.1),
                         nn.Linear(6, 4), act(a), nn.Linear(4, 1))


def residual_net(a):
    return nn.Sequential(nn.Linear(2, 6), act(a),
                         nt.Residual(nn.Linear(6, 6), act(a)),
                         nt.Residual(nn.Sequential(
                             nn.Linear(6, 6),
                             nt.AdaptiveActivation(a, "neuron", 6))),
                         nn.Linear(6, 2))


def everything_net(a):
    """Fourier features, both slope kinds, residual blocks, a nested
    Sequential, per-layer activations (a, silu, gelu_tanh)."""
    return nn.Sequential(
        nt.FourierFeatures(2, 3, sigma=0.7),
        nn.Sequential(nn.Linear(6, 5), nt.AdaptiveActivation(a, "neuron", 5)),
        nt.Residual(nn.Linear(5, 5), nt.AdaptiveActivation("silu", "layer")),
        nt.Residual(nn.Linear(5, 5), nn.GELU(approximate="tanh")),
        nn.Linear(5, 1))


NETS = {"fourier": fourier_net, "fixed_fourier": fixed_fourier_net,
        "adaptive_layer": adaptive_layer_net,
        "adaptive_neuron": adaptive_neuron_net, "residual": residual_net,
        "everything": everything_net}
ACTS = ["tanh", "sigmoid", "sin", "cos", "silu", "gelu", "gelu_tanh",
        "softplus"]


def build(kind, a, seed=0, dtype=F64):
    torch.manual_seed(seed)
    net = NETS[kind](a).to(dtype)
    with torch.no_grad():  # slopes away from 1, so that they matter
        for m in net.modules():
            if isinstance(m, nt.AdaptiveActivation):
                m.slope.uniform_(0.6, 1.6)
    return net


def points(n=9, seed=1, dtype=F64):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 2, generator=g, dtype=dtype) * 2 - 1
    v = torch.tensor([0.6, -0.8], dtype=dtype)
    return x, v


CASES = [(kind, a) for kind in sorted(NETS) for a in
         (ACTS if kind in ("adaptive_neuron", "everything") else
          ["tanh", "silu", "gelu"])]


@pytest.mark.parametrize("kind,a", CASES)
def test_jets_match_nested_autograd_to_order_6(kind, a):
    net = build(kind, a)
    x, v = points()
    ref = nested(net, x, ORDER, v).detach()
    out = nt.jet(net, x, ORDER, direction=v)
    assert out.shape == ref.shape
    errs = rel_errors(out.detach(), ref)
    assert max(errs) <= JET_TOL, (kind, a, errs)


@pytest.mark.parametrize("kind", sorted(NETS))
def test_gradients_match_autograd_for_every_parameter_and_x(kind):
    net = build(kind, "tanh", seed=2)
    x, v = points(7, seed=3)
    order = 4
    g = torch.Generator().manual_seed(4)
    w = torch.randn(order + 1, 7, net[-1].out_features, generator=g,
                    dtype=F64)
    xa = x.clone().requires_grad_(True)
    (nested(net, xa, order, v) * w).sum().backward()
    names = [n for n, p in net.named_parameters() if p.requires_grad]
    ref = [p.grad.clone() for p in net.parameters() if p.requires_grad]
    ref.append(xa.grad.clone())
    net.zero_grad()
    xb = x.clone().requires_grad_(True)
    (nt.jet(net, xb, order, v) * w).sum().backward()
    got = [p.grad.clone() for p in net.parameters() if p.requires_grad]
    got.append(xb.grad.clone())
    assert len(got) == len(ref)
    for name, a, b in zip(names + ["x"], got, ref):
        assert a.shape == b.shape, name
        err = ((a - b).abs().max() / b.abs().max().clamp_min(1e-300)).item()
        assert err <= GRAD_TOL, (kind, name, err)
    if kind == "fixed_fourier":  # B is a parameter that is not trained
        assert net[0].B.grad is None


def test_parameters_are_in_ntps_flat_order():
    # net.parameters() of the modules is the kernel's flat vector: the
    # kernel that ntp.compile makes from the keywords, fed the concatenated
    # parameters, gives jet()'s answer.
    net = build("everything", "sin")
    n = nt.describe_network(net)
    assert [getattr(m, name) for _, m, name, _ in n.params] == \
        list(net.parameters())
    assert n.widths == [2, 5, 5, 5, 1] and n.fourier == 3
    assert n.slopes == ["neuron", "layer", "none"]
    assert n.residual == [False, True, True]
    assert n.activation == "sin,silu,gelu_tanh"
    k = ntp.compile([2, 5, 5, 5, 1], "sin,silu,gelu_tanh", 3, fourier=3,
                    slopes=["neuron", "layer", "none"],
                    residual=[False, True, True])
    assert k.num_params == sum(p.numel() for p in net.parameters())
    assert k.description.startswith(
        'ntp.mlp @ntp_kernel layers [2, 5, 5, 5, 1] activation ["sin", '
        '"silu", "gelu_tanh"] fourier 3 slopes ["neuron", "layer", "none"] '
        'residual [false, true, true] order 3')
    x, v = points()
    flat = torch.cat([p.detach().reshape(-1) for p in net.parameters()])
    a = k.forward(x, flat, direction=v)
    b = nt.jet(net, x, 3, direction=v).detach()
    assert (a - b).abs().max() <= 1e-14 * b.abs().max()


def test_one_input_and_no_direction():
    torch.manual_seed(5)
    net = nn.Sequential(nt.FourierFeatures(1, 4), nn.Linear(8, 6),
                        nt.AdaptiveActivation("tanh", "neuron", 6),
                        nt.Residual(nn.Linear(6, 6), nn.SiLU()),
                        nn.Linear(6, 1)).to(F64)
    x = torch.linspace(-1, 1, 11, dtype=F64)
    ref = nested(net, x[:, None], ORDER, torch.ones(1, dtype=F64)).detach()
    assert max(rel_errors(nt.jet(net, x, ORDER).detach(), ref)) <= JET_TOL


def test_f32_within_the_stated_tolerance():
    net64 = build("everything", "tanh")
    net = copy.deepcopy(net64).float()
    x, v = points(dtype=torch.float32)
    ref = nested(net64, x.double(), 4, v.double())
    out = nt.jet(net, x, 4, direction=v)
    assert out.dtype == torch.float32
    assert max(rel_errors(out.double(), ref.detach())) <= 1e-4


def test_training_through_ntp_moves_every_parameter_kind():
    # A few Adam steps on a loss of the jet: B, W, b and both slope kinds get
    # gradients and change; the loss goes down.
    net = build("everything", "tanh", seed=6)
    x, v = points(32, seed=7)
    target = torch.sin(3 * x[:, :1])
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    before = [p.detach().clone() for p in net.parameters()]
    losses = []
    for _ in range(30):
        opt.zero_grad()
        out = nt.jet(net, x, 2, direction=v)
        loss = ((out[0] - target) ** 2).mean() + 1e-3 * (out[2] ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    for p, q in zip(net.parameters(), before):
        assert (p.detach() - q).abs().max() > 0


def test_changes_after_the_first_call_are_seen():
    net = build("residual", "tanh")
    x, v = points()
    nt.jet(net, x, 2, direction=v)
    net[2].body[1] = nn.ReLU()  # inside a Residual block
    with pytest.raises(ntp.Error, match=r"module 2.body.1 \(ReLU\)"):
        nt.jet(net, x, 2, direction=v)
    net[2].body[1] = nn.Sigmoid()
    ref = nested(net, x, 3, v).detach()
    assert max(rel_errors(nt.jet(net, x, 3, direction=v).detach(), ref)) \
        <= JET_TOL
    net[3].body[1].activation = nn.SiLU()  # the activation of a slope
    ref = nested(net, x, 3, v).detach()
    assert max(rel_errors(nt.jet(net, x, 3, direction=v).detach(), ref)) \
        <= JET_TOL
    net[3].body[1].slope = nn.Parameter(torch.ones(5, dtype=F64))
    with pytest.raises(ntp.Error, match=r"module 3.body.1's slope has shape "
                       r"\[5\] but the network needs \[6\]"):
        nt.jet(net, x, 2, direction=v)


def refusal(net, pattern):
    x, v = points()
    with pytest.raises(ntp.Error, match=pattern):
        nt.jet(net.to(F64), x, 2, direction=v)


def test_unsupported_modules_are_named():
    refusal(nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1)),
            r"module 1 \(ReLU\): not an activation ntp has")
    refusal(nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.LayerNorm(4),
                          nn.Linear(4, 1)),
            r"module 2 \(LayerNorm\): expected an nn.Linear")
    refusal(nn.Sequential(nn.Linear(2, 4), nn.Tanh(),
                          nt.Residual(nn.Linear(4, 4), nn.ReLU()),
                          nn.Linear(4, 1)),
            r"module 2.body.1 \(ReLU\)")
    refusal(nn.Sequential(nn.Linear(2, 4),
                          nt.AdaptiveActivation(nn.ReLU(), "layer"),
                          nn.Linear(4, 1)),
            r"module 1.activation \(ReLU\)")
    refusal(nn.Sequential(nn.Linear(2, 4), nn.Tanh(),
                          nt.Residual(nn.Linear(4, 4), nn.Tanh(),
                                      nn.Dropout()),
                          nn.Linear(4, 1)),
            r"module 2 \(Residual\): ntp's residual layer is one nn.Linear "
            r"followed by one activation")


def test_misplaced_typed_layers_are_refused():
    refusal(nn.Sequential(nn.Linear(2, 6), nn.Tanh(),
                          nt.FourierFeatures(6, 3), nn.Linear(6, 1)),
            r"module 2 \(FourierFeatures\): a Fourier embedding must be the "
            r"first module")
    refusal(nn.Sequential(nt.Residual(nn.Linear(2, 2), nn.Tanh()),
                          nn.Linear(2, 1)),
            r"module 0 \(Residual\): the first hidden layer cannot be "
            r"residual")
    refusal(nn.Sequential(nn.Linear(2, 4), nn.Tanh(),
                          nt.Residual(nn.Linear(4, 3), nn.Tanh()),
                          nn.Linear(3, 1)),
            r"maps 4 features to 3, but a residual layer keeps its width")
    refusal(nn.Sequential(nn.Linear(2, 4), nn.Tanh(),
                          nt.Residual(nn.Linear(4, 4), nn.Tanh())),
            r"module 2 \(Residual\): a residual layer cannot be the output "
            r"layer")
    refusal(nn.Sequential(nt.FourierFeatures(2, 3), nn.Linear(5, 4),
                          nn.Tanh(), nn.Linear(4, 1)),
            r"in_features 5 does not match the Fourier embedding's 6")
    refusal(nn.Sequential(nt.FourierFeatures(2, 3)),
            r"there is no layer after the embedding")
    refusal(nn.Sequential(nn.Linear(2, 4),
                          nt.AdaptiveActivation("tanh", "neuron", 5),
                          nn.Linear(4, 1)),
            r"module 1 \(AdaptiveActivation\): its slope has shape \[5\], "
            r"but per='neuron' after a layer of width 4 needs \[4\]")
    with pytest.raises(ntp.Error, match="use ntp.torch.describe_network"):
        nt.describe(build("residual", "tanh"))
    with pytest.raises(ValueError, match="per must be 'layer' or 'neuron'"):
        nt.AdaptiveActivation("tanh", "channel")
    with pytest.raises(ValueError, match="activation must be a module or "
                       "one of"):
        nt.AdaptiveActivation("relu")


def nested_partials(net, x):
    """u_x, u_yy, u_xy and the Laplacian of net's first output at x (two
    inputs) by nested autograd, keeping the graph."""
    xa = x.clone().requires_grad_(True)
    y = net(xa)[:, 0]
    g = torch.autograd.grad(y.sum(), xa, create_graph=True)[0]
    gxx = torch.autograd.grad(g[:, 0].sum(), xa, create_graph=True)[0]
    gyy = torch.autograd.grad(g[:, 1].sum(), xa, create_graph=True)[0]
    return torch.stack([g[:, 0], gyy[:, 1], gxx[:, 1], gxx[:, 0] + gyy[:, 1]])


@pytest.mark.parametrize("kind", ["fourier", "adaptive_neuron", "residual",
                                  "everything"])
def test_typed_partials_match_nested_autograd(kind):
    # Partials kernels take typed layers (issue 14 item 2): u_x, u_yy, u_xy
    # and the Laplacian of Fourier, slope and residual networks against
    # nested autograd, and the gradient of a loss through the kernel's
    # reverse mode against autograd through net.
    net = build(kind, "tanh", seed=4)
    x, _ = points()
    ref = nested_partials(net, x)
    for lowering in ("per-ray", "multi-direction"):
        with torch.no_grad():
            out = nt.partials(net, x, [[1, 0], [0, 2], [1, 1]],
                              ["laplacian"], partials_lowering=lowering)
        err = (out[:, :, 0] - ref.detach()).abs().max()
        assert err <= 1e-11 * max(1.0, ref.abs().max().item()), (lowering, err)
    out = nt.partials(net, x, [[1, 0], [0, 2], [1, 1]], ["laplacian"])
    loss = (out[:, :, 0] ** 2).sum()
    params = list(net.parameters())
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    want = torch.autograd.grad((ref ** 2).sum(), params, allow_unused=True)
    for p, got, exp in zip(params, grads, want):
        got = torch.zeros_like(p) if got is None else got
        exp = torch.zeros_like(p) if exp is None else exp
        assert (got - exp).abs().max() <= 1e-10 * max(1.0,
                                                      exp.abs().max().item())


def modified_reference(flat, x, layers, slopes):
    """The modified MLP from a flat parameter vector in the documented order
    (W_u, b_u, W_v, b_v, per hidden layer W_l, b_l [, a_l], W_out, b_out),
    written out independently of the module."""
    d, h, q = layers[0], layers[1], layers[-1]
    at = 0

    def take(*shape):
        nonlocal at
        n = math.prod(shape)
        t = flat[at:at + n].reshape(shape)
        at += n
        return t
    wu, bu, wv, bv = take(h, d), take(h), take(h, d), take(h)
    u, v = torch.tanh(x @ wu.T + bu), torch.tanh(x @ wv.T + bv)
    hcur, width = x, d
    for kind in slopes:
        w, b = take(h, width), take(h)
        a = 1 if kind is None else take(1 if kind == "layer" else h)
        z = torch.tanh(a * (hcur @ w.T + b))
        hcur, width = (1 - z) * u + z * v, h
    w, b = take(q, h), take(q)
    assert at == flat.numel()
    return hcur @ w.T + b


def test_modified_mlp_in_plain_torch_and_its_parameter_order():
    torch.manual_seed(8)
    slopes = ["neuron", None, "layer"]
    m = nt.ModifiedMLP([2, 8, 8, 8, 3], "tanh", slopes=slopes).to(F64)
    names = [n for n, _ in m.named_parameters()]
    assert names == ["u.weight", "u.bias", "v.weight", "v.bias",
                     "gates.0.0.weight", "gates.0.0.bias", "gates.0.1.slope",
                     "gates.1.0.weight", "gates.1.0.bias",
                     "gates.2.0.weight", "gates.2.0.bias", "gates.2.1.slope",
                     "out.weight", "out.bias"]
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nt.AdaptiveActivation):
                mod.slope.uniform_(0.5, 1.5)
    x, v = points()
    flat = torch.cat([p.reshape(-1) for p in m.parameters()])
    ref = modified_reference(flat, x, [2, 8, 8, 8, 3], slopes)
    assert (m(x) - ref).abs().max() <= 1e-14
    # Nested autograd of itself: the jet of the module and of the formula
    # agree (what ntp's kernel will be checked against once it has the
    # gated layer).
    a = nested(m, x, 4, v)
    b = nested(lambda y: modified_reference(flat, y, [2, 8, 8, 8, 3],
                                            slopes), x, 4, v)
    assert max(rel_errors(a.detach(), b.detach())) <= 1e-13
    # Its describe_network order is net.parameters(), B first with an
    # embedding in front.
    net = nn.Sequential(nt.FourierFeatures(2, 4), nt.ModifiedMLP(
        [8, 6, 6, 1], "silu")).to(F64)
    n = nt.describe_network(net)
    assert [getattr(mod, name) for _, mod, name, _ in n.params] == \
        list(net.parameters())
    assert n.widths == [2, 6, 6, 1] and n.fourier == 4 and n.gated == "1"
    with pytest.raises(ValueError, match="all have the width of U and V"):
        nt.ModifiedMLP([2, 8, 4, 1])


def modified_nets():
    """ModifiedMLPs: plain, with slopes of both kinds and per-layer
    activations, behind a Fourier embedding."""
    torch.manual_seed(10)
    a = nt.ModifiedMLP([2, 6, 6, 1], "tanh")
    b = nt.ModifiedMLP([2, 5, 5, 5, 2], ["silu", "tanh", "gelu"],
                       slopes=["neuron", None, "layer"])
    c = nn.Sequential(nt.FourierFeatures(2, 3, sigma=0.6),
                      nt.ModifiedMLP([6, 5, 5, 1], "sin", slopes="neuron"))
    nets = {"plain": a, "slopes_and_activations": b, "fourier": c}
    with torch.no_grad():
        for net in nets.values():
            for m in net.modules():
                if isinstance(m, nt.AdaptiveActivation):
                    m.slope.uniform_(0.6, 1.5)
    return {k: v.to(F64) for k, v in nets.items()}


@pytest.mark.parametrize("kind", ["plain", "slopes_and_activations",
                                  "fourier"])
def test_modified_mlp_jets_and_gradients_match_nested_autograd(kind):
    if not nt._HAS_GATED:
        pytest.skip("this build's compiler has no gated layer (ntp.torch "
                    "refuses ModifiedMLP: the next test)")
    net = modified_nets()[kind]
    x, v = points()
    ref = nested(net, x, ORDER, v).detach()
    out = nt.jet(net, x, ORDER, direction=v)
    assert max(rel_errors(out.detach(), ref)) <= JET_TOL
    w = torch.randn(5, x.shape[0], ref.shape[2], dtype=F64,
                    generator=torch.Generator().manual_seed(11))
    xa = x.clone().requires_grad_(True)
    (nested(net, xa, 4, v) * w).sum().backward()
    want = [p.grad.clone() for p in net.parameters()] + [xa.grad.clone()]
    net.zero_grad()
    xb = x.clone().requires_grad_(True)
    (nt.jet(net, xb, 4, v) * w).sum().backward()
    got = [p.grad.clone() for p in net.parameters()] + [xb.grad.clone()]
    for name, a, b in zip([n for n, _ in net.named_parameters()] + ["x"],
                          got, want):
        err = ((a - b).abs().max() / b.abs().max().clamp_min(1e-300)).item()
        assert err <= GRAD_TOL, (kind, name, err)


@pytest.mark.parametrize("lowering", ["multivariate", "multi-direction",
                                      "per-ray"])
def test_modified_mlp_partials_match_nested_autograd(lowering):
    # The modified MLP's partials in every lowering that takes a gate
    # (multivariate: ntp.gate_poly; collapsed needs an operator alone):
    # u_x, u_yy, u_xy and the Laplacian against nested autograd.
    if not nt._HAS_GATED:
        pytest.skip("this build's compiler has no gated layer")
    net = modified_nets()["slopes_and_activations"]
    x, _ = points()
    ref = nested_partials(net, x)
    with torch.no_grad():
        out = nt.partials(net, x, [[1, 0], [0, 2], [1, 1]], ["laplacian"],
                          partials_lowering=lowering)
    err = (out[:, :, 0] - ref.detach()).abs().max()
    assert err <= 1e-11 * max(1.0, ref.abs().max().item()), (lowering, err)


def test_modified_mlp_is_refused_until_the_compiler_has_the_gated_layer():
    if nt._HAS_GATED:
        pytest.skip("this build's compiler has the gated layer (the test "
                    "above runs instead)")
    nets = modified_nets()
    x, v = points()
    with pytest.raises(ntp.Error, match=r"module net \(ModifiedMLP\): this "
                       r"build of ntp has no modified-MLP gated layer yet"):
        nt.jet(nets["plain"], x, 2, direction=v)
    with pytest.raises(ntp.Error, match=r"module 1 \(ModifiedMLP\)"):
        nt.jet(nets["fourier"], x, 2, direction=v)


def test_modified_mlp_structure_is_checked():
    m = nt.ModifiedMLP([2, 6, 6, 1], "tanh").to(F64)
    m.gates[0][1] = nn.SiLU()  # U and V use the first gate's activation
    with pytest.raises(ntp.Error, match=r"module net.gates.0.1: ntp's U and "
                       r"V use the first gate's activation, but the module's "
                       r"activation is tanh and the first gate's silu"):
        nt.describe_network(m)
    m = nt.ModifiedMLP([2, 6, 6, 1], "tanh").to(F64)
    m.gates[1] = nn.Sequential(nn.Linear(6, 6), nn.ReLU())
    with pytest.raises(ntp.Error, match=r"module net.gates.1.1 \(ReLU\)"):
        nt.describe_network(m)
    net = nn.Sequential(nn.Linear(2, 2), nt.ModifiedMLP([2, 6, 1]))
    with pytest.raises(ntp.Error, match=r"module 1 \(ModifiedMLP\): a "
                       r"ModifiedMLP is the whole network"):
        nt.describe_network(net)
    with pytest.raises(ValueError, match="activation lists 1 entries for 2"):
        nt.ModifiedMLP([2, 6, 6, 1], ["tanh"])


def test_per_layer_activations_reach_partials_kernels():
    # ntp.compile spells "silu,tanh" as the IR list ["silu", "tanh"] in the
    # ntp.mlp text of partials and typed kernels (one string holding a comma
    # is no activation), and ntp.torch.partials of such a net is right.
    k = ntp.compile([2, 4, 4, 1], "silu,tanh", 0, partials=[[1, 0], [0, 2]])
    assert 'activation ["silu", "tanh"]' in k.description
    torch.manual_seed(9)
    net = nn.Sequential(nn.Linear(2, 4), nn.SiLU(), nn.Linear(4, 4),
                        nn.Tanh(), nn.Linear(4, 1)).to(F64)
    x, _ = points()
    out = nt.partials(net, x, [[1, 0], [0, 2]]).detach()
    xa = x.clone().requires_grad_(True)
    g = torch.autograd.grad(net(xa).sum(), xa, create_graph=True)[0]
    gyy = torch.autograd.grad(g[:, 1].sum(), xa)[0][:, 1]
    assert (out[0, :, 0] - g[:, 0]).abs().max() <= 1e-12
    assert (out[1, :, 0] - gyy).abs().max() <= 1e-12 * gyy.abs().max()
