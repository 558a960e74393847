# ntp.jax.partials / ntp.jax.laplacian: partial derivatives through the XLA
# FFI (ntp_partials) against the derivative tensors of the pure-JAX network
# (jax.hessian and nested jax.jacfwd) in float64, jit/vmap compositions,
# jax.grad against jax.grad of the pure-JAX network, and bad input. Runs on
# the JAX environment's interpreter (ctest ntp-jax-jax_partials).
import itertools

import pytest

from conftest import need

jax = need("jax")
import numpy as np  # noqa: E402

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402

import ntp  # noqa: E402
import ntp.jax as nj  # noqa: E402

ACT = {"tanh": jnp.tanh, "sin": jnp.sin,
       "sigmoid": jax.nn.sigmoid, "softplus": jax.nn.softplus,
       "exp": jnp.exp, "identity": lambda y: y}


def mlp(params, x, activation):
    h = x
    for i, (w, b) in enumerate(params):
        h = h @ w.T + b
        if i < len(params) - 1:
            h = ACT[activation](h)
    return h


def make_params(layers, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [(jnp.asarray((rng.standard_normal((layers[i + 1], layers[i])) /
                          np.sqrt(layers[i])).astype(dtype)),
             jnp.asarray((rng.standard_normal(layers[i + 1]) * 0.5)
                         .astype(dtype)))
            for i in range(len(layers) - 1)]


def points(n, d, seed=1, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return jnp.asarray((rng.standard_normal((n, d)) * 0.8).astype(dtype))


def derivative_tensors(params, x, activation, order):
    """T[n] [batch, q, d, ..., d] (n input axes) for n = 0..order, by nested
    jax.jacfwd of the pure-JAX network at each point."""
    def f(z):
        return mlp(params, z[None], activation)[0]
    out, g = [], f
    for n in range(order + 1):
        out.append(jax.jit(jax.vmap(g))(x))
        g = jax.jacfwd(g)
    return out


def reference(params, x, activation, alphas, operators):
    """[P, batch, q] from the derivative tensors (not the interpolation)."""
    d = x.shape[1]
    order = max([sum(a) for a in alphas] +
                [2 if op.startswith("laplacian") else 4 for op in operators])
    t = derivative_tensors(params, x, activation, order)
    rows = []
    for a in alphas:
        idx = sum(([i] * k for i, k in enumerate(a)), [])
        rows.append(t[len(idx)][(slice(None), slice(None)) + tuple(idx)])
    for op in operators:
        name, _, sub = op.partition(":")
        coords = [int(c) for c in sub.split(",")] if sub else range(d)
        if name == "laplacian":
            rows.append(sum(t[2][:, :, i, i] for i in coords))
        else:
            rows.append(sum(t[4][:, :, i, i, j, j]
                            for i in coords for j in coords))
    return jnp.stack(rows)


def rel_err(out, ref, alphas, operators):
    """Per request: max |out - ref| over the batch relative to the largest
    |ref| of that request, floored at 1e-10 x the largest partial of that
    total order (identically zero partials are judged fairly)."""
    out, ref = np.asarray(out), np.asarray(ref)
    orders = [sum(a) for a in alphas] + [
        2 if op.startswith("laplacian") else 4 for op in operators]
    top = {}
    for r, n in enumerate(orders):
        top[n] = max(top.get(n, 0.0), np.abs(ref[r]).max())
    return np.array([np.abs(out[r] - ref[r]).max() /
                     max(np.abs(ref[r]).max(), 1e-10 * top[n], 1e-300)
                     for r, n in enumerate(orders)])


def all_alphas(d, max_order):
    return [a for n in range(max_order + 1)
            for a in itertools.product(range(n + 1), repeat=d) if sum(a) == n]


@pytest.mark.parametrize("activation", sorted(ACT))
def test_all_partials_to_order_two_match_jax_hessian(activation):
    layers = [3, 10, 8, 2]
    params = make_params(layers, seed=2)
    x = points(23, 3)
    alphas = all_alphas(3, 2)  # 10 requests: u, grad, the Hessian
    out = nj.partials(params, x, activation=activation, partials=alphas,
                      operators=["laplacian", "laplacian:0,2"])
    assert out.shape == (12, 23, 2) and out.dtype == jnp.float64
    # jax.hessian of the pure-JAX network, point by point.
    def f(z):
        return mlp(params, z[None], activation)[0]
    hess = jax.jit(jax.vmap(jax.hessian(f)))(x)  # [batch, q, d, d]
    ref = reference(params, x, activation, alphas,
                    ["laplacian", "laplacian:0,2"])
    for r, a in enumerate(alphas):
        if sum(a) == 2:
            i, j = [k for k in range(3) for _ in range(a[k])]
            h = hess[:, :, i, j]
            assert np.abs(ref[r] - h).max() <= 1e-13 * np.abs(h).max()
    err = rel_err(out, ref, alphas, ["laplacian", "laplacian:0,2"])
    assert err.max() <= 1e-10, err


@pytest.mark.parametrize("activation", ["tanh", "sin"])
def test_mixed_partials_to_order_four_and_the_biharmonic(activation):
    layers = [2, 9, 9, 1]
    params = make_params(layers, seed=3)
    x = points(17, 2, seed=4)
    alphas = [(4, 0), (3, 1), (2, 2), (1, 3), (0, 4), (2, 1), (1, 0)]
    ops = ["biharmonic", "laplacian"]
    out = nj.partials(params, x, activation=activation, partials=alphas,
                      operators=ops)
    err = rel_err(out, reference(params, x, activation, alphas, ops),
                  alphas, ops)
    assert err.max() <= 1e-10, err


def test_laplacian_over_all_inputs_and_a_subset():
    layers = [4, 12, 12, 1]
    params = make_params(layers, seed=5)
    x = points(31, 4, seed=6)
    lap = nj.laplacian(params, x, activation="tanh")
    assert lap.shape == (31, 1)
    sub = nj.laplacian(params, x, activation="tanh", coordinates=[0, 1, 2])
    ref = reference(params, x, "tanh", [], ["laplacian", "laplacian:0,1,2"])
    assert rel_err(jnp.stack([lap, sub]), ref, [],
                   ["laplacian", "laplacian:0,1,2"]).max() <= 1e-10
    # Flax dicts and flat vectors are the same network.
    flat = jnp.concatenate([a.reshape(-1) for wb in params for a in wb])
    assert np.array_equal(nj.laplacian(flat, x, layers=layers,
                                       activation="tanh"), lap)


def test_float32_against_float64():
    p64 = make_params([3, 16, 16, 1], seed=7)
    p32 = [(w.astype(jnp.float32), b.astype(jnp.float32)) for w, b in p64]
    x = points(40, 3, seed=8)
    alphas = [(1, 1, 0), (0, 0, 2), (0, 0, 0)]
    o64 = nj.partials(p64, x, activation="tanh", partials=alphas,
                      operators=["laplacian"])
    o32 = nj.partials(p32, x.astype(jnp.float32), activation="tanh",
                      partials=alphas, operators=["laplacian"])
    assert o32.dtype == jnp.float32
    assert rel_err(o32, o64, alphas, ["laplacian"]).max() <= 1e-4


def count(jaxpr_text, name):
    return jaxpr_text.count(name + "[")


def test_jit_and_vmap_over_points_is_one_kernel_call():
    params = make_params([2, 8, 8, 1], seed=9)
    xs = points(4 * 13, 2, seed=10).reshape(4, 13, 2)
    alphas = [(2, 0), (0, 2), (1, 1), (0, 0)]

    def f(x):
        return nj.partials(params, x, activation="sin", partials=alphas)
    out = jax.vmap(f)(xs)
    assert out.shape == (4, 4, 13, 1)
    for i in range(4):
        assert np.array_equal(out[i], f(xs[i]))
    text = str(jax.make_jaxpr(jax.vmap(f))(xs))
    assert count(text, "ntp_partials") == 1 and "f64[1,52,2]" in text, text
    assert np.array_equal(jax.jit(jax.vmap(jax.vmap(f)))(
        xs.reshape(2, 2, 13, 2)).reshape(4, 4, 13, 1), out)
    # vmap over a leading axis of points, as a residual would use it.
    lap = jax.jit(jax.vmap(lambda z: nj.laplacian(
        params, z[None], activation="sin")[0, 0]))(xs[0])
    assert np.array_equal(lap, out[0, 0, :, 0] + out[0, 1, :, 0]) or \
        np.abs(lap - (out[0, 0, :, 0] + out[0, 1, :, 0])).max() <= 1e-12


def test_vmap_over_parameters_runs_one_call_per_instance():
    ensemble = [make_params([3, 7, 1], seed=s) for s in (11, 12, 13)]
    stacked = jax.tree_util.tree_map(lambda *a: jnp.stack(a), *ensemble)
    x = points(9, 3, seed=14)
    out = jax.jit(jax.vmap(lambda p: nj.laplacian(p, x, activation="tanh")))(
        stacked)
    for i, p in enumerate(ensemble):
        assert np.array_equal(out[i], nj.laplacian(p, x, activation="tanh"))


def test_kernels_are_compiled_once_per_request():
    params = make_params([2, 5, 1], seed=15)
    x = points(6, 2)
    nj.partials(params, x, activation="tanh", partials=[[1, 1]])
    k = nj.partials_kernel([2, 5, 1], "tanh", [[1, 1]], (), "float64")
    n = len(nj._kernels)
    jax.jit(lambda x: nj.partials(params, x, activation="tanh",
                                  partials=[(1, 1)]))(x)
    assert nj.partials_kernel([2, 5, 1], "tanh", [[1, 1]], (),
                              "float64") is k
    assert len(nj._kernels) == n
    assert k.requests == ((1, 1),)


def loss(params, x, fn):
    u = fn(params, x)
    return (u[0] ** 2).sum() + (u[1] * u[2]).sum()


def pure_partials(params, x, activation, alphas, ops):
    return reference(params, x, activation, alphas, ops)


def test_gradients_match_jax_grad():
    layers = [2, 8, 6, 1]
    params = make_params(layers, seed=17)
    x = points(19, 2, seed=18)
    alphas = [(2, 0), (1, 1), (0, 0)]
    ops = ["laplacian"]

    def ours(p, x):
        return nj.partials(p, x, activation="tanh", partials=alphas,
                           operators=ops)

    def ref(p, x):
        return pure_partials(p, x, "tanh", alphas, ops)
    g = jax.grad(loss, argnums=(0, 1))(params, x, ours)
    gr = jax.grad(loss, argnums=(0, 1))(params, x, ref)
    for a, b in zip(jax.tree_util.tree_leaves(g),
                    jax.tree_util.tree_leaves(gr)):
        assert np.abs(a - b).max() <= 1e-10 * np.abs(b).max()
    # jit(value_and_grad) and per-example gradients under vmap.
    val, g2 = jax.jit(jax.value_and_grad(loss), static_argnums=2)(
        params, x, ours)
    assert np.isclose(val, loss(params, x, ref), rtol=1e-12)
    per = jax.vmap(jax.grad(lambda p, z: loss(p, z, ours)),
                   in_axes=(None, 0))(params, x.reshape(1, 19, 2))
    for a, b in zip(jax.tree_util.tree_leaves(per),
                    jax.tree_util.tree_leaves(g2)):
        assert np.abs(a[0] - b).max() <= 1e-12 * np.abs(b).max()


def error(pattern, fn, kind=ntp.Error):
    with pytest.raises(kind) as e:
        fn()
    assert pattern in str(e.value), str(e.value)


def test_bad_requests_and_inputs_are_clear_errors():
    params = make_params([2, 5, 1])
    x = points(4, 2)
    p32 = [(w.astype(jnp.float32), b.astype(jnp.float32)) for w, b in params]

    def call(**kw):
        kw.setdefault("activation", "tanh")
        return lambda: nj.partials(kw.pop("params", params),
                                   kw.pop("x", x), **kw)
    error("the request is empty", call())
    error("the request is empty", call(partials=[], operators=[]))
    # The compiler's verifier: a sentence naming the broken rule.
    error("request 0 [1,0,1] has 3 entries but the network has 2 inputs",
          call(partials=[[1, 0, 1]]))
    error("request 0 [-1,1] has a negative entry", call(partials=[[-1, 1]]))
    error("request 0 [17,0] has total order 17, above the maximum 16",
          call(partials=[[17, 0]]))
    error("request 1 [1,1] repeats request 0",
          call(partials=[[1, 1], (1, 1)]))
    error("request 2 [-2,-2] repeats request 1",
          call(partials=[[1, 1]], operators=["laplacian", "laplacian"]))
    error("the laplacian's coordinate 5 does not exist: the network has 2 "
          "inputs", call(operators=["laplacian:0,5"]))
    error("unknown operator 'hessian'", call(operators=["hessian"]))
    error("operators must be names", call(operators=[3]))
    error("partials must be a list of multi-indices and operators a list",
          call(operators="laplacian"))
    error("multi-index [1.0, 1] must hold integers",
          call(partials=[[1.0, 1]]))
    error("activation 'relu' is not supported",
          call(partials=[[1, 1]], activation="relu"))
    error("params[0] weight has dtype float32 but the kernel computes in "
          "float64", call(params=p32, partials=[[1, 1]]))
    error("x has shape [4, 3], expected [batch, 2]",
          call(x=points(4, 3), partials=[[1, 1]]))
    error("coordinates must be a non-empty list",
          lambda: nj.laplacian(params, x, activation="tanh", coordinates=[]))
    error("coordinates must be a non-empty list",
          lambda: nj.laplacian(params, x, activation="tanh",
                               coordinates=["x"]))


def test_every_lowering_by_name_forward_and_grad():
    # partials_lowering takes ntp-compile's names; the forward is that
    # lowering, jax.grad runs the per-ray save / backward beside it.
    layers = [2, 7, 5, 1]
    params = make_params(layers, seed=21)
    x = points(9, 2, seed=22)
    alphas, ops = [(0, 1), (0, 0)], ["laplacian"]
    want = pure_partials(params, x, "tanh", alphas, ops)
    gr = jax.grad(loss, argnums=(0, 1))(
        params, x, lambda p, z: pure_partials(p, z, "tanh", alphas, ops))
    for lowering in ("auto", "per-ray", "multi-direction", "collapsed"):
        def ours(p, z):
            return nj.partials(p, z, activation="tanh", partials=alphas,
                               operators=ops, partials_lowering=lowering)
        got = jax.jit(ours)(params, x)
        assert np.abs(got - want).max() <= 1e-11 * np.abs(want).max()
        lap = nj.laplacian(params, x, activation="tanh",
                           partials_lowering=lowering)
        assert np.abs(lap - want[2]).max() <= 1e-11 * np.abs(want[2]).max()
        g = jax.grad(loss, argnums=(0, 1))(params, x, ours)
        for a, b in zip(jax.tree_util.tree_leaves(g),
                        jax.tree_util.tree_leaves(gr)):
            assert np.abs(a - b).max() <= 1e-10 * np.abs(b).max()
    error("unknown partials_lowering 'fast' (expected auto, per-ray, "
          "multi-direction, collapsed or multivariate)",
          lambda: nj.partials(params, x, activation="tanh", partials=alphas,
                              partials_lowering="fast"))
    error("the collapsed lowering needs an operator request",
          lambda: nj.partials(params, x, activation="tanh", partials=alphas,
                              partials_lowering="collapsed"))
    error("partials_lowering must be one of",
          lambda: nj.partials(params, x, activation="tanh", partials=alphas,
                              partials_lowering=2))


def test_partials_reverse_lowering_forward_and_grad():
    # partials_reverse_lowering reaches ntp.compile and the kernel cache:
    # forced per-ray beside a collapsed forward is another kernel (a larger
    # workspace) with the values and jax.grad of auto and of pure JAX.
    layers = [2, 7, 5, 1]
    params = make_params(layers, seed=31)
    x = points(9, 2, seed=32)
    alphas, ops = [(0, 1), (0, 0)], ["laplacian"]
    want = pure_partials(params, x, "tanh", alphas, ops)
    gr = jax.grad(loss, argnums=(0, 1))(
        params, x, lambda p, z: pure_partials(p, z, "tanh", alphas, ops))
    kernels, grads = {}, {}
    for reverse in ("auto", "per-ray"):
        kernels[reverse] = nj.partials_kernel(
            layers, "tanh", alphas, ops, partials_lowering="collapsed",
            partials_reverse_lowering=reverse)

        def ours(p, z):
            return nj.partials(p, z, activation="tanh", partials=alphas,
                               operators=ops, partials_lowering="collapsed",
                               partials_reverse_lowering=reverse)
        got = jax.jit(ours)(params, x)
        assert np.abs(got - want).max() <= 1e-11 * np.abs(want).max()
        lap = nj.laplacian(params, x, activation="tanh",
                           partials_lowering="collapsed",
                           partials_reverse_lowering=reverse)
        assert np.abs(lap - want[2]).max() <= 1e-11 * np.abs(want[2]).max()
        grads[reverse] = jax.grad(loss, argnums=(0, 1))(params, x, ours)
        for a, b in zip(jax.tree_util.tree_leaves(grads[reverse]),
                        jax.tree_util.tree_leaves(gr)):
            assert np.abs(a - b).max() <= 1e-10 * np.abs(b).max()
        lap_grad = jax.grad(lambda p: nj.laplacian(
            p, x, activation="tanh", partials_lowering="collapsed",
            partials_reverse_lowering=reverse).sum())(params)
        lap_ref = jax.grad(lambda p: pure_partials(
            p, x, "tanh", [], ["laplacian"])[0].sum())(params)
        for a, b in zip(jax.tree_util.tree_leaves(lap_grad),
                        jax.tree_util.tree_leaves(lap_ref)):
            assert np.abs(a - b).max() <= 1e-10 * max(np.abs(b).max(), 1e-300)
    assert kernels["auto"].workspace_size(9) < \
        kernels["per-ray"].workspace_size(9)
    for a, b in zip(jax.tree_util.tree_leaves(grads["per-ray"]),
                    jax.tree_util.tree_leaves(grads["auto"])):
        assert np.abs(a - b).max() <= 1e-12 * np.abs(b).max()
    error("unknown partials_reverse_lowering 'fast' (expected auto or "
          "per-ray)",
          lambda: nj.partials(params, x, activation="tanh", partials=alphas,
                              partials_reverse_lowering="fast"))
    error("partials_reverse_lowering must be 'auto' or 'per-ray', not 2",
          lambda: nj.laplacian(params, x, activation="tanh",
                               partials_reverse_lowering=2))


def test_the_handler_checks_its_buffers():
    params = make_params([2, 5, 1])
    flat = jnp.concatenate([a.reshape(-1) for wb in params for a in wb])
    nj.partials(params, points(3, 2), activation="tanh", partials=[[1, 1]])
    spec = ((2, 5, 1), "tanh", (((1, 1),), (), "auto", "auto"), "float64")
    with pytest.raises(Exception) as e:
        jax.block_until_ready(nj.partials_p.bind(
            jnp.ones((1, 4, 2)), flat[None, :-1], spec=spec))
    assert "ntp: params has shape [1, 20], expected [1, 21]" in str(
        e.value), str(e.value)


def _flat(params):
    return np.concatenate([np.asarray(a).ravel() for w, b in params
                           for a in (w, b)])


def test_laplacian_picks_the_lowering_ntp_compile_picks():
    # ntp.jax compiles its kernels with the reverse mode; their forward must
    # still be the lowering ntp.compile chooses without it (the collapsed
    # Laplacian here), not the reverse mode's per-ray rays: the same bits as
    # the forward-only kernel, and not those of the per-ray lowering.
    for dtype in (np.float64, np.float32):
        layers = [8, 16, 16, 1]
        params = make_params(layers, seed=21, dtype=dtype)
        x = points(40, 8, seed=22, dtype=dtype)
        got = np.asarray(jax.jit(lambda p, z: nj.laplacian(
            p, z, activation="tanh"))(params, x))
        name = np.dtype(dtype).name

        def direct(lowering):
            k = ntp.compile(layers, "tanh", dtype=name, backward=False,
                            operators=["laplacian"],
                            partials_lowering=lowering)
            return k.partials(np.asarray(x), _flat(params))[0]
        assert np.array_equal(got, direct("auto"))
        assert not np.array_equal(got, direct("per-ray"))


def test_recomputing_backward_gives_the_saved_gradients(monkeypatch):
    # Above RECOMPUTE_ABOVE_BYTES of workspace jax.grad runs ntp_partials and
    # the recomputing ntp_partials_backward instead of the saved pair: with
    # a cotangent that does not depend on the forward's rounding the same
    # gradients (jit, vmap over points and over parameters), and the forward
    # under grad is then the plain forward.
    layers = [3, 10, 10, 1]
    params = make_params(layers, seed=23)
    x = points(21, 3, seed=24)
    alphas, ops = [(1, 0, 0), (0, 2, 1)], ["laplacian"]
    cot = jnp.asarray(np.random.default_rng(25).standard_normal((3, 21, 1)))

    def f(p, z):
        return nj.partials(p, z, activation="tanh", partials=alphas,
                           operators=ops)

    def lin(p, z):
        return jnp.sum(f(p, z) * cot)

    def run():
        g = jax.jit(jax.grad(lin, argnums=(0, 1)))(params, x)
        v = jax.jit(jax.vmap(jax.grad(lin), in_axes=(None, 0)))(
            params, jnp.stack([x, 0.5 * x]))
        pp = jax.tree_util.tree_map(lambda a: jnp.stack([a, 1.1 * a]),
                                    params)
        w = jax.jit(jax.vmap(jax.grad(lin)))(pp, jnp.stack([x, x]))
        val, _ = jax.vjp(f, params, x)
        return jax.tree_util.tree_leaves((g, v, w)), val
    spec = (tuple(layers), "tanh", nj._requests(alphas, ops, 3), "float64")
    assert nj._reverse_mode(spec, 21) == "saved"
    saved, _ = run()
    monkeypatch.setattr(nj, "RECOMPUTE_ABOVE_BYTES", -1)
    recomputed, val = run()
    assert nj._reverse_mode(spec, 21) == "recompute"
    for a, b in zip(saved, recomputed):
        assert np.allclose(a, b, rtol=1e-13, atol=1e-13 * np.abs(a).max())
    assert np.array_equal(val, f(params, x))


def test_handlers_compute_with_ieee_denormals():
    # XLA runs its programs with denormals flushed to zero, ntp's worker
    # threads do not: the handlers run ntp with IEEE denormals, so a call
    # gives the C API's bits whichever thread runs its tiles. An identity
    # network whose outputs are float32 denormals (1e-20 * 1e-20 = 1e-40).
    k = ntp.compile([1, 1], "identity", dtype="float32",
                    operators=["laplacian"], partials=[[0], [1]])
    w = np.array([[1e-20]], np.float32)
    b = np.array([0.0], np.float32)
    x = np.array([[1e-20], [3e-21], [-2e-20]], np.float32)
    want = k.partials(x, np.array([1e-20, 0.0], np.float32))
    assert want[0, 0, 0] != 0  # a denormal, not flushed
    got = jax.jit(lambda p, z: nj.partials(
        p, z, activation="identity", partials=[[0], [1]],
        operators=["laplacian"]))([(w, b)], x)
    assert np.array_equal(np.asarray(got), want)
