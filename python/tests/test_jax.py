# ntp.jax: jets through the XLA FFI against JAX's own Taylor mode
# (jax.experimental.jet) and nested jax.jacfwd in float64, gradients against
# jax.grad of the pure-JAX network, jit/vmap/grad compositions, and bad input.
# Runs on the JAX environment's interpreter (ctest ntp-jax-jax), not Debian's.
import os
import subprocess
import sys

import pytest

from conftest import need

jax = need("jax")
import numpy as np  # noqa: E402  (the JAX environment has its own numpy)

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
from jax.experimental import jet as jjet  # noqa: E402

import ntp  # noqa: E402
import ntp.jax as nj  # noqa: E402

ACT = {
    "tanh": jnp.tanh,
    # In primitives jax.experimental.jet has rules for.
    "sigmoid": lambda y: 0.5 * (1 + jnp.tanh(0.5 * y)),
    "sin": jnp.sin,
    "identity": lambda y: y,
    "exp": jnp.exp,
    "softplus": lambda y: jnp.log(1 + jnp.exp(y)),
}


def mlp(params, x, activation):
    """The pure-JAX network: params are (W [out, in], b) pairs."""
    h = x
    for i, (w, b) in enumerate(params):
        h = h @ w.T + b
        if i < len(params) - 1:
            h = ACT[activation](h)
    return h


def make_params(layers, seed=0, scale=1.0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [(jnp.asarray((rng.standard_normal((layers[i + 1], layers[i])) *
                          scale / np.sqrt(layers[i])).astype(dtype)),
             jnp.asarray((rng.standard_normal(layers[i + 1]) * 0.5)
                         .astype(dtype)))
            for i in range(len(layers) - 1)]


def jax_jet(params, x, order, activation, v=None):
    """[(order+1), batch, q] by jax.experimental.jet."""
    v = jnp.ones_like(x) if v is None else jnp.broadcast_to(v, x.shape)
    series = (v,) + tuple(jnp.zeros_like(x) for _ in range(order - 1))
    if order == 0:
        return mlp(params, x, activation)[None]
    y, ys = jjet.jet(lambda z: mlp(params, z, activation), (x,), (series,))
    return jnp.stack([y] + list(ys))


def nested_jacfwd(params, x, order, activation):
    """[(order+1), batch, q] by jax.jacfwd nested `order` times per point
    (one input); each level carries the lower orders as aux, so the program
    traces each level once."""
    def level(h):
        def g(s):
            top, lower = h(s)
            return top, lower + [top]
        return jax.jacfwd(g, has_aux=True)

    def h(s):
        return mlp(params, s[None, None], activation)[0], []
    for _ in range(order):
        h = level(h)

    def all_orders(s):
        top, lower = h(s)
        return jnp.stack(lower + [top])  # [order+1, q]
    out = jax.jit(jax.vmap(all_orders))(x[:, 0])  # [batch, order+1, q]
    return jnp.transpose(out, (1, 0, 2))


def rel_per_order(a, b):
    a, b = np.asarray(a), np.asarray(b)
    scale = np.maximum(np.abs(b).max(axis=(1, 2)), 1e-300)
    return np.abs(a - b).max(axis=(1, 2)) / scale


LAYERS = [1, 12, 10, 1]
X = jnp.linspace(-1.5, 1.5, 37)[:, None]


@pytest.mark.parametrize("activation", sorted(ACT))
def test_jet_matches_jax_jet_to_1e12_per_order(activation):
    params = make_params(LAYERS, seed=1)
    out = nj.jet(params, X, 8, activation=activation)
    assert out.shape == (9, 37, 1) and out.dtype == jnp.float64
    ref = jax_jet(params, X, 8, activation)
    err = rel_per_order(out, ref)
    assert err.max() <= 1e-12, err
    for n in (0, 1, 3):  # lower orders are their own kernels
        assert rel_per_order(nj.jet(params, X, n, activation=activation),
                             ref[:n + 1]).max() <= 1e-12


# (Nested jacfwd of log(1 + exp(y)) itself loses 8e-12 by order 8 in f64;
# softplus is checked against jax.experimental.jet above.)
@pytest.mark.parametrize("activation", ["tanh", "sin"])
def test_jet_matches_nested_jacfwd_to_1e12_per_order(activation):
    params = make_params(LAYERS, seed=2)
    x = X[::3]
    out = nj.jet(params, x, 8, activation=activation)
    err = rel_per_order(out, nested_jacfwd(params, x, 8, activation))
    assert err.max() <= 1e-12, err


def test_several_inputs_and_outputs_along_a_direction():
    layers = [3, 9, 8, 2]
    params = make_params(layers, seed=3)
    x = jnp.asarray(np.random.default_rng(4).standard_normal((21, 3)))
    v = jnp.asarray([0.3, -1.2, 0.5])
    out = nj.jet(params, x, 6, v, activation="tanh")
    assert out.shape == (7, 21, 2)
    assert rel_per_order(out, jax_jet(params, x, 6, "tanh", v)).max() <= 1e-12


def test_float32_against_float64():
    p64 = make_params(LAYERS, seed=5)
    p32 = [(w.astype(jnp.float32), b.astype(jnp.float32)) for w, b in p64]
    o64 = nj.jet(p64, X, 5, activation="tanh")
    o32 = nj.jet(p32, X.astype(jnp.float32), 5, activation="tanh")
    assert o32.dtype == jnp.float32
    assert rel_per_order(o32, o64).max() <= 1e-4


def test_one_dimensional_x_and_eager_call():
    params = make_params(LAYERS)
    a = nj.jet(params, X[:, 0], 3, activation="tanh")
    assert np.array_equal(a, nj.jet(params, X, 3, activation="tanh"))


def test_flax_dict_and_flat_vector_are_the_same_network():
    params = make_params(LAYERS, seed=6)
    ref = nj.jet(params, X, 4, activation="sin")
    # Flax: 'kernel' is [in, out]; Dense_10 sorts after Dense_2.
    flax = {"params": {"Dense_%d" % i: {"kernel": w.T, "bias": b}
                       for i, (w, b) in enumerate(params)}}
    assert np.array_equal(nj.jet(flax, X, 4, activation="sin"), ref)
    flat = jnp.concatenate([a.reshape(-1) for wb in params for a in wb])
    assert np.array_equal(
        nj.jet(flat, X, 4, layers=LAYERS, activation="sin"), ref)
    many = make_params([1] + [3] * 11 + [1], seed=7)
    flax = {"Dense_%d" % i: {"kernel": w.T, "bias": b}
            for i, (w, b) in enumerate(many)}
    assert np.array_equal(nj.jet(flax, X, 2, activation="tanh"),
                          nj.jet(many, X, 2, activation="tanh"))


def loss_of(jet_fn):
    c = jnp.asarray(np.random.default_rng(8).standard_normal((5, 37, 1)))

    def loss(params, x, v):
        return (c * jet_fn(params, x, v) ** 2).sum() + jet_fn(params, x, v)[
            4].sum()
    return loss


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "exp"])
def test_gradients_match_jax_grad_of_the_pure_jax_network(activation):
    params = make_params(LAYERS, seed=9)
    v = jnp.asarray([0.8])
    ours = loss_of(lambda p, x, v: nj.jet(p, x, 4, v, activation=activation))
    ref = loss_of(lambda p, x, v: jax_jet(p, x, 4, activation, v))
    g = jax.grad(ours, argnums=(0, 1, 2))(params, X, v)
    gr = jax.jit(jax.grad(ref, argnums=(0, 1, 2)))(params, X, v)
    for a, b in zip(jax.tree_util.tree_leaves(g), jax.tree_util.tree_leaves(gr)):
        assert np.abs(a - b).max() <= 1e-11 * np.abs(b).max(), (a, b)
    assert np.isclose(ours(params, X, v), ref(params, X, v), rtol=1e-12)


def test_gradient_of_each_input_alone():
    params = make_params(LAYERS, seed=10)
    v = jnp.asarray([1.0])
    ours = loss_of(lambda p, x, v: nj.jet(p, x, 4, v, activation="tanh"))
    ref = loss_of(lambda p, x, v: jax_jet(p, x, 4, "tanh", v))
    for arg in range(3):
        a = jax.tree_util.tree_leaves(jax.grad(ours, argnums=arg)(params, X, v))
        b = jax.tree_util.tree_leaves(
            jax.jit(jax.grad(ref, argnums=arg))(params, X, v))
        for u, w in zip(a, b):
            assert np.abs(u - w).max() <= 1e-11 * np.abs(w).max()


def test_gradients_of_flax_and_flat_parameters():
    params = make_params(LAYERS, seed=11)
    flax = {"params": {"Dense_%d" % i: {"kernel": w.T, "bias": b}
                       for i, (w, b) in enumerate(params)}}
    g = jax.grad(lambda f: (nj.jet(f, X, 3, activation="tanh") ** 2).sum())(
        flax)
    gr = jax.jit(jax.grad(lambda p: (jax_jet(p, X, 3, "tanh") ** 2).sum()))(
        params)
    for i, (w, b) in enumerate(gr):
        d = g["params"]["Dense_%d" % i]
        assert np.abs(d["kernel"] - w.T).max() <= 1e-11 * np.abs(w).max()
        assert np.abs(d["bias"] - b).max() <= 1e-11 * np.abs(b).max()


def test_jit_of_grad_and_value_and_grad():
    params = make_params(LAYERS, seed=12)

    def loss(p, x):
        u = nj.jet(p, x, 2, activation="tanh")
        return ((u[2] + u[0]) ** 2).mean()
    val, g = jax.jit(jax.value_and_grad(loss))(params, X)
    val2, g2 = jax.value_and_grad(loss)(params, X)
    assert val == val2
    for a, b in zip(jax.tree_util.tree_leaves(g), jax.tree_util.tree_leaves(g2)):
        assert np.array_equal(a, b)


def count_ntp_calls(jaxpr_text):
    return {name: jaxpr_text.count(name + "[")
            for name in ("ntp_jet", "ntp_jet_save", "ntp_jet_bwd")}


def test_vmap_over_x_is_one_kernel_call():
    params = make_params(LAYERS, seed=13)
    xs = jnp.linspace(-1, 1, 4 * 37).reshape(4, 37, 1)
    f = jax.vmap(lambda x: nj.jet(params, x, 4, activation="tanh"))
    out = f(xs)
    assert out.shape == (4, 5, 37, 1)
    for i in range(4):
        assert np.array_equal(out[i], nj.jet(params, xs[i], 4,
                                             activation="tanh"))
    text = str(jax.make_jaxpr(f)(xs))
    assert text.count("ntp_jet[") == 1 and "f64[1,148,1]" in text, text
    # Nested vmaps fold too, and jit keeps it.
    xss = xs.reshape(2, 2, 37, 1)
    nested = jax.jit(jax.vmap(jax.vmap(
        lambda x: nj.jet(params, x, 4, activation="tanh"))))(xss)
    assert np.array_equal(nested.reshape(4, 5, 37, 1), out)


def test_vmap_over_parameters_and_directions():
    ensemble = [make_params(LAYERS, seed=s) for s in (14, 15, 16)]
    stacked = jax.tree_util.tree_map(lambda *a: jnp.stack(a), *ensemble)
    out = jax.vmap(lambda p: nj.jet(p, X, 3, activation="sin"))(stacked)
    for i, p in enumerate(ensemble):
        assert np.array_equal(out[i], nj.jet(p, X, 3, activation="sin"))
    layers = [2, 7, 1]
    params = make_params(layers, seed=17)
    x = jnp.asarray(np.random.default_rng(18).standard_normal((9, 2)))
    vs = jnp.asarray([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    out = jax.vmap(lambda v: nj.jet(params, x, 4, v, activation="tanh"))(vs)
    for i in range(3):
        assert rel_per_order(out[i], jax_jet(params, x, 4, "tanh",
                                             vs[i])).max() <= 1e-12


def test_per_example_gradients_and_gradient_of_a_vmap():
    params = make_params(LAYERS, seed=19)
    xs = jnp.linspace(-1, 1, 3 * 37).reshape(3, 37, 1)

    def loss(p, x):
        return (nj.jet(p, x, 3, activation="tanh") ** 2).sum()

    def ref(p, x):
        return (jax_jet(p, x, 3, "tanh") ** 2).sum()
    per = jax.jit(jax.vmap(jax.grad(loss), in_axes=(None, 0)))(params, xs)
    per_ref = jax.jit(jax.vmap(jax.grad(ref), in_axes=(None, 0)))(params, xs)
    total = jax.grad(lambda p: jax.vmap(lambda x: loss(p, x))(xs).sum())(
        params)
    for a, b, t in zip(jax.tree_util.tree_leaves(per),
                       jax.tree_util.tree_leaves(per_ref),
                       jax.tree_util.tree_leaves(total)):
        assert a.shape[0] == 3
        assert np.abs(a - b).max() <= 1e-11 * np.abs(b).max()
        assert np.abs(t - a.sum(0)).max() <= 1e-12 * np.abs(t).max()
    xg = jax.vmap(jax.grad(loss, argnums=1), in_axes=(None, 0))(params, xs)
    xg_ref = jax.jit(jax.vmap(jax.grad(ref, argnums=1), in_axes=(None, 0)))(
        params, xs)
    assert np.abs(xg - xg_ref).max() <= 1e-11 * np.abs(xg_ref).max()


def test_kernels_are_compiled_once_per_spec():
    params = make_params(LAYERS)
    nj.jet(params, X, 7, activation="identity")
    k = nj.kernel(LAYERS, "identity", 7, "float64")
    count = len(nj._kernels)
    for _ in range(3):
        jax.jit(lambda p, x: nj.jet(p, x, 7, activation="identity"))(
            params, X * 2)
    assert nj.kernel(LAYERS, "identity", 7, "float64") is k
    assert len(nj._kernels) == count


def test_threads_do_not_change_the_jet():
    params = make_params(LAYERS, seed=20)
    x = jnp.linspace(-1, 1, 1000)[:, None]
    f = jax.jit(lambda p, x: nj.jet(p, x, 6, activation="tanh"))
    ntp.set_num_threads(1)
    one = f(params, x)
    ntp.set_num_threads(2)
    two = f(params, x * 1)
    ntp.set_num_threads(0)
    assert np.array_equal(one, two)


def error(pattern, fn, kind=ntp.Error):
    with pytest.raises(kind) as e:
        fn()
    assert pattern in str(e.value), str(e.value)


def test_bad_inputs_are_clear_errors():
    params = make_params(LAYERS)
    p32 = [(w.astype(jnp.float32), b.astype(jnp.float32)) for w, b in params]
    error("activation 'relu' is not supported",
          lambda: nj.jet(params, X, 2, activation="relu"))
    error("params[0] weight has dtype float32 but the kernel computes in "
          "float64", lambda: nj.jet(p32, X, 2, activation="tanh"))
    error("x has dtype float64 but the kernel computes in float32",
          lambda: nj.jet(p32, X, 2, activation="tanh", dtype="float32"))
    error("x's dtype is int64",
          lambda: nj.jet(params, jnp.arange(4)[:, None], 2,
                         activation="tanh"))
    error("x has shape [37, 2], expected [batch, 1] or [batch]",
          lambda: nj.jet(params, jnp.concatenate([X, X], 1), 2,
                         activation="tanh"))
    error("direction has shape [2], expected [1]",
          lambda: nj.jet(params, X, 2, jnp.ones(2), activation="tanh"))
    two = make_params([2, 5, 1])
    error("direction is required: the network has 2 inputs",
          lambda: nj.jet(two, jnp.ones((3, 2)), 2, activation="tanh"))
    error("order 17 is out of range",
          lambda: nj.jet(params, X, 17, activation="tanh"))
    error("order must be an int", lambda: nj.jet(params, X, 2.0,
                                                 activation="tanh"))
    flat = jnp.concatenate([a.reshape(-1) for wb in params for a in wb])
    error("pass layers=", lambda: nj.jet(flat, X, 2, activation="tanh"))
    error("params holds 165 values but layers [1, 12, 11, 1] have 179",
          lambda: nj.jet(flat, X, 2, layers=[1, 12, 11, 1],
                         activation="tanh"))
    error("params[1] takes 12 inputs but the layer before gives 7",
          lambda: nj.jet([(jnp.ones((7, 1)), jnp.ones(7)), params[1]],
                         X, 2, activation="tanh"))
    error("layers=[1, 5, 1] but params have widths [1, 12, 10, 1]",
          lambda: nj.jet(params, X, 2, layers=[1, 5, 1], activation="tanh"))
    error("has no 'bias'",
          lambda: nj.jet({"Dense_0": {"kernel": jnp.ones((1, 1))}}, X, 1,
                         activation="tanh"))
    error("x must be an array", lambda: nj.jet(params, [[0.0]], 1,
                                               activation="tanh"))
    # Forward-mode differentiation is not provided (a custom VJP).
    error("", lambda: jax.jvp(lambda x: nj.jet(params, x, 1,
                                               activation="tanh"),
                              (X,), (X,)), TypeError)


def test_the_handler_checks_its_buffers():
    # The primitive bound directly with a buffer the kernel cannot take: the
    # FFI handler refuses it with its own sentence (never reads past it).
    params = make_params(LAYERS)
    flat = jnp.concatenate([a.reshape(-1) for wb in params for a in wb])
    spec = ((1, 12, 10, 1), "tanh", 2, "float64")
    nj.jet(params, X, 2, activation="tanh")  # compiles the kernel
    with pytest.raises(Exception) as e:
        nj.jet_p.bind(jnp.ones((1, 4, 1)), jnp.ones((1, 1)),
                      flat[None, :-1], spec=spec)
        jax.block_until_ready(e)
    assert "ntp: params has shape [1, 164], expected [1, 165]" in str(
        e.value), str(e.value)


def test_float64_without_x64_is_refused():
    code = ("import jax, jax.numpy as jnp, ntp, ntp.jax as nj\n"
            "try:\n"
            "    nj.jet([(jnp.ones((2, 1)), jnp.ones(2)), (jnp.ones((1, 2)),"
            " jnp.ones(1))], jnp.ones((3, 1)), 2, activation='tanh',"
            " dtype='float64')\n"
            "except ntp.Error as e:\n"
            "    assert 'jax_enable_x64' in str(e), e\n"
            "else:\n"
            "    raise SystemExit('no error')\n")
    subprocess.run([sys.executable, "-c", code], check=True,
                   env=dict(os.environ, JAX_ENABLE_X64="0"))


def test_the_cuda_paths_direction_gradient_on_the_cpu():
    # On a GPU the direction gradient is a second backward call with the
    # cotangent shifted down one order, summed by XLA (the CUDA handler
    # cannot sum on the host); the same arithmetic here, on the CPU kernel,
    # against the CPU handler's own sum.
    layers = [2, 7, 6, 1]
    params = make_params(layers, seed=21)
    x = jnp.asarray(np.random.default_rng(22).standard_normal((13, 2)))
    v = jnp.asarray([0.4, -0.9])

    def loss(p, x, v):
        u = nj.jet(p, x, 5, v, activation="tanh")
        return (u ** 2).sum() + u[3].sum()
    host = jax.grad(loss, argnums=(0, 1, 2))(params, x, v)
    nj._DIRECTION_GRAD_BY_XLA = True
    try:
        nj._differentiable.cache_clear()
        split = jax.grad(loss, argnums=(0, 1, 2))(params, x, v)
        empty = jax.grad(loss, argnums=2)(params, x[:0], v)
        # The split path ran: two backward calls (x/params, then the
        # shifted cotangent's x gradient).
        text = str(jax.make_jaxpr(jax.grad(loss, argnums=(1, 2)))(
            params, x, v))
        assert text.count("ntp_jet_bwd[") == 2, text
    finally:
        nj._DIRECTION_GRAD_BY_XLA = False
        nj._differentiable.cache_clear()
    for a, b in zip(jax.tree_util.tree_leaves(split),
                    jax.tree_util.tree_leaves(host)):
        assert np.abs(a - b).max() <= 1e-12 * np.abs(b).max()
    assert np.array_equal(empty, np.zeros(2))


def test_jet_handlers_compute_with_ieee_denormals():
    # XLA flushes denormals on its threads, ntp's workers do not: the jet
    # handlers (forward, save, backward) run ntp with IEEE denormals, as the
    # C API does. float32 outputs of 1e-40 from an identity network.
    k = ntp.compile([1, 1], "identity", 1, "float32")
    w = np.array([[1e-20]], np.float32)
    b = np.array([0.0], np.float32)
    x = np.array([[1e-20], [3e-21]], np.float32)
    flat = np.array([1e-20, 0.0], np.float32)
    want = k.forward(x, flat)
    assert want[0, 0, 0] != 0  # a denormal, not flushed
    f = jax.jit(lambda p, z: nj.jet(p, z, 1, activation="identity"))
    assert np.array_equal(np.asarray(f([(w, b)], x)), want)
    # The saved forward and its backward: d/dw sum(c * out) = sum c * x.
    c = np.full((2, 2, 1), 1e-20, np.float32)
    out, vjp = jax.vjp(lambda p: nj.jet(p, x, 1, activation="identity"),
                      [(w, b)])
    assert np.array_equal(np.asarray(out), want)
    pg, _ = k.backward(x, flat, c, need_x_grad=False)
    (gw, gb), = vjp(c)[0]
    assert np.array_equal(np.concatenate([np.ravel(gw), np.ravel(gb)]), pg)


def test_recomputing_backward_gives_the_saved_gradients(monkeypatch):
    # Above RECOMPUTE_ABOVE_BYTES of workspace jax.grad runs ntp_forward and
    # the recomputing ntp_backward_full (handler ntp_jet_bwd_recompute)
    # instead of the saved pair: the same gradients for params, x and the
    # direction under jit, vmap over points and over parameters.
    layers = [2, 9, 7, 1]
    params = make_params(layers, seed=31)
    rng = np.random.default_rng(32)
    x = jnp.asarray(rng.standard_normal((23, 2)) * 0.7)
    v = jnp.asarray([0.6, -0.8])
    cot = jnp.asarray(rng.standard_normal((5, 23, 1)))

    def lin(p, z, w):
        return jnp.sum(nj.jet(p, z, 4, w, activation="tanh") * cot)

    def run():
        g = jax.jit(jax.grad(lin, argnums=(0, 1, 2)))(params, x, v)
        per = jax.jit(jax.vmap(jax.grad(lin, argnums=(0, 2)),
                               in_axes=(None, 0, None)))(
            params, jnp.stack([x, 0.5 * x]), v)
        pp = jax.tree_util.tree_map(lambda a: jnp.stack([a, 0.9 * a]),
                                    params)
        ens = jax.jit(jax.vmap(jax.grad(lin), in_axes=(0, None, None)))(
            pp, x, v)
        return jax.tree_util.tree_leaves((g, per, ens))
    spec = (tuple(layers), "tanh", 4, "float64")
    assert nj._reverse_mode(spec, 23) == "saved"
    saved = run()
    monkeypatch.setattr(nj, "RECOMPUTE_ABOVE_BYTES", -1)
    assert nj._reverse_mode(spec, 23) == "recompute"
    recomputed = run()
    for a, b in zip(saved, recomputed):
        assert np.allclose(a, b, rtol=1e-13, atol=1e-13 * np.abs(a).max())
    # The HLO of the step holds the recomputing call and no workspace.
    hlo = jax.jit(jax.grad(lin)).lower(params, x, v).as_text()
    assert "ntp_jet_bwd_recompute" in hlo and "ntp_jet_save" not in hlo
