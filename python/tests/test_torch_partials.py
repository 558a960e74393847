# ntp.torch.partials and Kernel.partials_backward against PyTorch's nested
# autograd of the same pure-torch network: the partials themselves (mixed,
# the Laplacian, the biharmonic), and the gradients of a loss on them with
# respect to every parameter and to x (autograd through create_graph=True
# nested derivatives). f64 <= 1e-11 relative, f32 <= 1e-4; the refusals.
import pytest

from conftest import need

torch = need("torch")
from torch import nn  # noqa: E402

import ntp  # noqa: E402
import ntp.torch as nt  # noqa: E402

torch.set_num_threads(1)


def make(layers, act, dtype, seed=0):
    torch.manual_seed(seed)
    mods = []
    for i in range(len(layers) - 1):
        mods.append(nn.Linear(layers[i], layers[i + 1]))
        if i + 2 < len(layers):
            mods.append(act())
    return nn.Sequential(*mods).to(dtype)


def derivative(y, x, i):
    """d y / d x_i per sample (y [batch], x [batch, d]), keeping the graph."""
    g, = torch.autograd.grad(y.sum(), x, create_graph=True)
    return g[:, i]


def nested(net, x, alpha):
    """D^alpha net(x) (one output) by nested autograd."""
    y = net(x)[:, 0]
    for i, n in enumerate(alpha):
        for _ in range(n):
            y = derivative(y, x, i)
    return y


def reference(net, x, rows, operators):
    outs = [nested(net, x, r) for r in rows]
    d = x.shape[1]
    for op in operators:
        if op == "laplacian":
            outs.append(sum(nested(net, x, [2 if j == i else 0
                                            for j in range(d)])
                            for i in range(d)))
        elif op == "biharmonic":
            outs.append(sum(nested(net, x, [(2 if j == i else 0) +
                                            (2 if j == k else 0)
                                            for j in range(d)])
                            for i in range(d) for k in range(d)))
    return torch.stack(outs)[:, :, None]  # [P, batch, 1]


def rel(a, b):
    return float((a - b).abs().max() / b.abs().max())


CASES = [
    (nn.Tanh, [2, 8, 8, 1], [[1, 1], [0, 0], [2, 1]], ["laplacian"]),
    (nn.Sigmoid, [3, 6, 1], [[1, 0, 1], [0, 0, 0]], ["laplacian"]),
    (nt.Sin, [2, 6, 5, 1], [[0, 1]], ["biharmonic"]),
    (nn.SiLU, [1, 7, 1], [[3], [1]], []),
]


@pytest.mark.parametrize("act,layers,rows,ops", CASES)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_partials_and_gradients_match_nested_autograd(act, layers, rows, ops,
                                                      dtype):
    net = make(layers, act, dtype)
    torch.manual_seed(1)
    x = (2 * torch.rand(13, layers[0], dtype=torch.float64) - 1).to(dtype)
    c = torch.randn(len(rows) + len(ops), 13, 1, dtype=dtype)
    tol = 1e-11 if dtype == torch.float64 else 1e-4
    # Reference in f64 at the same (rounded) parameters and points.
    ref_net = make(layers, act, torch.float64)
    ref_net.load_state_dict({k: v.double() for k, v in
                             net.state_dict().items()})
    xr = x.detach().double().clone().requires_grad_(True)
    want = reference(ref_net, xr, rows, ops)
    (c.double() * want).sum().backward()
    xa = x.detach().clone().requires_grad_(True)
    got = nt.partials(net, xa, rows, ops)
    assert got.shape == want.shape
    assert got.dtype == dtype
    assert rel(got.double(), want.detach()) <= tol
    (c * got).sum().backward()
    assert rel(xa.grad.double(), xr.grad) <= tol
    for p, q in zip(net.parameters(), ref_net.parameters()):
        # A parameter no requested derivative reads (the last bias, when
        # every request differentiates): autograd leaves its grad None.
        want_grad = torch.zeros_like(q) if q.grad is None else q.grad
        assert float(p.grad.double().abs().max()) == 0 if q.grad is None \
            else rel(p.grad.double(), want_grad) <= tol


def test_no_grad_and_only_x():
    net = make([2, 6, 1], nn.Tanh, torch.float64)
    x = torch.rand(5, 2, dtype=torch.float64)
    with torch.no_grad():
        out = nt.partials(net, x, [[1, 1]], ["laplacian"])
    assert not out.requires_grad
    for p in net.parameters():
        p.requires_grad_(False)
    xa = x.clone().requires_grad_(True)
    nt.partials(net, xa, [[1, 1]], ["laplacian"]).sum().backward()
    xr = x.clone().requires_grad_(True)
    reference(net, xr, [[1, 1]], ["laplacian"]).sum().backward()
    assert rel(xa.grad, xr.grad) <= 1e-11


def test_kernel_partials_backward_and_saved_agree():
    k = ntp.compile([2, 5, 1], "tanh", dtype="float64",
                    partials=[[2, 0], [0, 0]], operators=["laplacian"])
    torch.manual_seed(2)
    x = torch.rand(9, 2, dtype=torch.float64)
    params = torch.randn(k.num_params, dtype=torch.float64)
    c = torch.randn(3, 9, 1, dtype=torch.float64)
    pg, xg = k.partials_backward(x, params, c)
    out, ws = k.partials_save(x, params)
    # The forward keeps the count's lowering, the save runs the reverse
    # mode's per-ray rays: the same out within rounding.
    assert torch.allclose(out, k.partials(x, params), rtol=1e-13,
                          atol=1e-13 * float(out.abs().max()))
    pg2, xg2 = k.partials_backward_saved(x, params, c, ws)
    assert torch.allclose(pg2, pg, rtol=1e-14, atol=0)
    assert torch.allclose(xg2, xg, rtol=1e-14, atol=0)
    pg3, none = k.partials_backward(x, params, c, need_x_grad=False)
    assert none is None and torch.equal(pg3, pg)


def test_refusals():
    jet = ntp.compile([2, 4, 1], "tanh", 2, "float64")
    x = torch.rand(3, 2, dtype=torch.float64)
    params = torch.zeros(jet.num_params, dtype=torch.float64)
    with pytest.raises(ntp.Error, match="computes a jet"):
        jet.partials_backward(x, params, torch.zeros(3, 3, 1,
                                                     dtype=torch.float64))
    k = ntp.compile([2, 4, 1], "tanh", dtype="float64", partials=[[1, 1]])
    with pytest.raises(ntp.Error, match="call ntp_partials_backward"):
        k.backward(x, params, torch.zeros(3, 3, 1, dtype=torch.float64),
                   torch.ones(2, dtype=torch.float64))
    with pytest.raises(ntp.Error, match="cotangent"):
        k.partials_backward(x, params, torch.zeros(2, 3, 1,
                                                   dtype=torch.float64))
    net = make([2, 4, 1], nn.Tanh, torch.float64)
    with pytest.raises(ntp.Error, match="both empty"):
        nt.partials(net, x)
    with pytest.raises(ntp.Error, match="expected \\[batch, 2\\]"):
        nt.partials(net, torch.rand(3, 3, dtype=torch.float64), [[1, 1]])
    xa = x.clone().requires_grad_(True)
    out = nt.partials(net, xa, [[1, 1]])
    with pytest.raises(ntp.Error, match="double backward"):
        torch.autograd.grad(out.sum(), xa, create_graph=True)


LOWERINGS = ["auto", "per-ray", "multi-direction", "collapsed", "multivariate"]


@pytest.mark.parametrize("lowering", LOWERINGS)
def test_every_lowering_by_name(lowering):
    # ntp.compile and ntp.torch.partials take ntp-compile's names; the
    # forward (no autograd) is the lowering asked for, autograd runs the
    # per-ray save / backward_saved beside it: all agree with nested
    # autograd.
    net = make([2, 6, 5, 1], nn.Tanh, torch.float64, seed=3)
    rows, ops = [[0, 1], [0, 0]], ["laplacian"]
    torch.manual_seed(4)
    x = 2 * torch.rand(11, 2, dtype=torch.float64) - 1
    xr = x.clone().requires_grad_(True)
    want = reference(net, xr, rows, ops)
    with torch.no_grad():
        got = nt.partials(net, x, rows, ops, partials_lowering=lowering)
    assert rel(got, want.detach()) <= 1e-11
    xa = x.clone().requires_grad_(True)
    nt.partials(net, xa, rows, ops,
                partials_lowering=lowering).sum().backward()
    want.sum().backward()
    assert rel(xa.grad, xr.grad) <= 1e-11
    k = ntp.compile([2, 6, 5, 1], "tanh", dtype="float64", partials=rows,
                    operators=ops, partials_lowering=lowering)
    params = torch.cat([p.detach().reshape(-1) for p in net.parameters()])
    assert rel(k.partials(x, params), want.detach()) <= 1e-11
    # The kernel says what the compiler chose (auto: one of the four), with
    # its exact counts, and its description asks for the same again.
    chosen = k.partials_lowering.split(":")[0].split(";")[0]
    assert chosen == lowering or (lowering == "auto" and chosen in LOWERINGS)
    assert " flops + " in k.partials_lowering
    assert k.partials_reverse_lowering
    assert k.description.endswith(
        '{ntp.partials_lowering = "%s"}' % chosen), k.description


def test_bad_lowerings_are_one_sentence():
    net = make([2, 4, 1], nn.Tanh, torch.float64)
    x = torch.rand(3, 2, dtype=torch.float64)
    with pytest.raises(ntp.Error, match="unknown partials_lowering 'fast' "
                       "\\(expected auto, per-ray, multi-direction, "
                       "collapsed or multivariate\\)") as e:
        nt.partials(net, x, [[1, 1]], partials_lowering="fast")
    assert e.value.status == ntp.ERROR_INVALID_ARGUMENT
    with pytest.raises(ntp.Error, match="the collapsed lowering needs an "
                       "operator request"):
        nt.partials(net, x, [[1, 1], [2, 0]], partials_lowering="collapsed")
    with pytest.raises(ntp.Error, match="partials_lowering must be one of"):
        nt.partials(net, x, [[1, 1]], partials_lowering=None)
    with pytest.raises(ntp.Error, match="applies to partials kernels only"):
        ntp.compile([2, 4, 1], "tanh", 2, "float64",
                    partials_lowering="collapsed")


def _grads(net, x, cot, **kw):
    for p in net.parameters():
        p.grad = None
    x = x.detach().clone().requires_grad_(True)
    out = nt.partials(net, x, **kw)
    (out * cot).sum().backward()
    return [p.grad.clone() for p in net.parameters()] + [x.grad.clone()]


def test_recomputing_backward_gives_the_saved_gradients(monkeypatch):
    # Above RECOMPUTE_ABOVE_BYTES of workspace the backward recomputes the
    # rays (ntp_partials_backward) instead of saving them: with a cotangent
    # that does not depend on the forward's rounding, the gradients are the
    # saved pair's to rounding (bit for bit on the machines tried).
    net = make([3, 12, 12, 1], nn.Tanh, torch.float64, seed=5)
    x = torch.rand(33, 3, dtype=torch.float64) * 2 - 1
    kw = dict(partials=[[1, 0, 0], [0, 2, 1]], operators=["laplacian"])
    cot = torch.randn(3, 33, 1, dtype=torch.float64)
    saved = _grads(net, x, cot, **kw)
    monkeypatch.setattr(nt, "RECOMPUTE_ABOVE_BYTES", 0)
    recomputed = _grads(net, x, cot, **kw)
    assert all(torch.allclose(a, b, rtol=1e-13, atol=1e-13 * float(
        a.abs().max())) for a, b in zip(saved, recomputed))
    with torch.no_grad():
        plain = nt.partials(net, x, **kw)
    xr = x.detach().clone().requires_grad_(True)
    # The forward under autograd is then the kernel's own lowering.
    assert torch.equal(nt.partials(net, xr, **kw).detach(), plain)


def test_pooled_workspaces_are_not_shared_while_in_use():
    # Training-step workspaces come from a pool: a graph that is still alive
    # keeps its own, so two forwards before their backwards (and repeated
    # steps) give each graph its own gradients.
    net = make([2, 10, 10, 1], nn.Tanh, torch.float64, seed=6)
    kw = dict(operators=["laplacian"])
    xs = [torch.rand(17, 2, dtype=torch.float64) for _ in range(3)]
    cot = torch.randn(1, 17, 1, dtype=torch.float64)
    want = [_grads(net, x, cot, **kw) for x in xs]
    for _ in range(2):
        graphs = []
        for x in xs:
            xr = x.clone().requires_grad_(True)
            graphs.append((xr, (nt.partials(net, xr, **kw) * cot).sum()))
        for (xr, loss), w in zip(reversed(graphs), reversed(want)):
            for p in net.parameters():
                p.grad = None
            loss.backward()
            got = [p.grad for p in net.parameters()] + [xr.grad]
            assert all(torch.equal(a, b) for a, b in zip(got, w))


def test_partials_reverse_lowering():
    # ntp.compile(partials_reverse_lowering=): per-ray beside a collapsed
    # forward saves every ray's jets (a larger workspace_size), with the
    # gradients of the reverse mode that follows the forward; ntp.torch
    # pools its workspaces by the same size. Bad values are one sentence.
    net = make([3, 6, 5, 1], nn.Tanh, torch.float64, seed=3)
    params = torch.cat([p.detach().reshape(-1) for p in net.parameters()])
    x = torch.rand(13, 3, dtype=torch.float64) * 2 - 1
    cot = torch.randn(2, 13, 1, dtype=torch.float64)
    sizes, grads = {}, {}
    for reverse in (None, "auto", "per-ray"):
        k = ntp.compile([3, 6, 5, 1], "tanh", dtype="float64",
                        partials=[[1, 0, 0]], operators=["laplacian"],
                        partials_lowering="collapsed",
                        partials_reverse_lowering=reverse)
        sizes[reverse] = k.workspace_size(13)
        assert k.partials_lowering.startswith("collapsed")
        assert k.partials_reverse_lowering.startswith(
            "per-ray" if reverse == "per-ray" else "collapsed")
        out, ws = k.partials_save(x, params)
        assert ws.numel() == sizes[reverse]
        grads[reverse] = k.partials_backward_saved(x, params, cot, ws)
    assert sizes[None] == sizes["auto"] < sizes["per-ray"]
    for got, want in zip(grads["per-ray"], grads["auto"]):
        assert rel(got, want) <= 1e-12
    with pytest.raises(ntp.Error, match="unknown partials_reverse_lowering "
                       "'fast' \\(expected auto or per-ray\\)") as e:
        ntp.compile([3, 6, 1], "tanh", dtype="float64",
                    operators=["laplacian"], partials_reverse_lowering="fast")
    assert e.value.status == ntp.ERROR_INVALID_ARGUMENT
    with pytest.raises(ntp.Error, match="partials_reverse_lowering must be "
                       "'auto' or 'per-ray', not 1"):
        ntp.compile([3, 6, 1], "tanh", dtype="float64",
                    operators=["laplacian"], partials_reverse_lowering=1)
    with pytest.raises(ntp.Error, match="applies to partials kernels only"):
        ntp.compile([2, 4, 1], "tanh", 2, "float64",
                    partials_reverse_lowering="per-ray")
    # A jet kernel records no lowering; a forward-only one no reverse mode.
    jet = ntp.compile([2, 4, 1], "tanh", 2, "float64")
    assert jet.partials_lowering is None
    assert jet.partials_reverse_lowering is None
    k = ntp.compile([3, 6, 1], "tanh", dtype="float64",
                    operators=["laplacian"], backward=False)
    assert k.partials_lowering and k.partials_reverse_lowering is None


def test_torch_partials_reverse_lowering():
    # ntp.torch.partials(partials_reverse_lowering=) reaches ntp.compile and
    # partials_kernel_for's cache key: forced per-ray beside a collapsed
    # forward is another kernel (a larger workspace) with the same values
    # and gradients as auto, which the nested-autograd reference confirms.
    net = make([3, 6, 5, 1], nn.Tanh, torch.float64, seed=4)
    x = torch.rand(11, 3, dtype=torch.float64) * 2 - 1
    cot = torch.randn(2, 11, 1, dtype=torch.float64)
    kw = dict(partials=[[1, 0, 1]], operators=["laplacian"],
              partials_lowering="collapsed")
    kernels, outs, grads = {}, {}, {}
    for reverse in ("auto", "per-ray"):
        kernels[reverse] = nt.partials_kernel_for(
            (3, 6, 5, 1), "tanh", ((1, 0, 1),), ("laplacian",),
            torch.float64, "collapsed", (), reverse)
        outs[reverse] = nt.partials(net, x, partials_reverse_lowering=reverse,
                                    **kw)
        grads[reverse] = _grads(net, x, cot, partials_reverse_lowering=reverse,
                                **kw)
    assert kernels["auto"] is not kernels["per-ray"]
    assert kernels["auto"].workspace_size(11) < \
        kernels["per-ray"].workspace_size(11)
    # The default is auto: the same cached kernel.
    assert nt.partials_kernel_for(
        (3, 6, 5, 1), "tanh", ((1, 0, 1),), ("laplacian",), torch.float64,
        "collapsed") is kernels["auto"]
    def close(a, b, tol):  # relative; a gradient that is 0 must be 0
        return float((a - b).abs().max()) <= tol * float(b.abs().max())

    assert close(outs["per-ray"], outs["auto"], 1e-13)
    for got, want in zip(grads["per-ray"], grads["auto"]):
        assert close(got, want, 1e-12)
    xr = x.clone().requires_grad_(True)
    want = reference(net, xr, [[1, 0, 1]], ["laplacian"])
    assert close(outs["per-ray"], want, 1e-11)
    # The last bias: no requested derivative reads it (None, i.e. 0).
    inputs = list(net.parameters()) + [xr]
    ref = torch.autograd.grad((want * cot).sum(), inputs, allow_unused=True)
    for got, w, i in zip(grads["per-ray"], ref, inputs):
        assert close(got, torch.zeros_like(i) if w is None else w, 1e-10)
    # A bad name is the JIT's sentence, a non-string the binding's; both
    # before anything is cached or run.
    with pytest.raises(ntp.Error, match="unknown partials_reverse_lowering "
                       "'fast' \\(expected auto or per-ray\\)") as e:
        nt.partials(net, x, partials_reverse_lowering="fast", **kw)
    assert e.value.status == ntp.ERROR_INVALID_ARGUMENT
    with pytest.raises(ntp.Error, match="partials_reverse_lowering must be "
                       "'auto' or 'per-ray', not None"):
        nt.partials(net, x, partials_reverse_lowering=None, **kw)
