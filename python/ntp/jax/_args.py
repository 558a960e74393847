#===- jax/_args.py - Arguments and parameter formats -----------------------===#
#
# The checks of ntp.jax's arguments, each refusal one sentence: dtypes (no
# silent casts), the parameter formats flatten_params reads ((W, b) pairs,
# Equinox layers, Flax dicts, flat vectors), partials requests, and x.
#
#===----------------------------------------------------------------------===#
import re

import numpy as np

import jax
import jax.numpy as jnp

from ntp import _fail
from ntp._compile import (_check_partials_lowering,
                          _check_partials_reverse_lowering)
from ._xla import _dims

ACTIVATIONS = ("tanh", "sigmoid", "sin", "identity", "exp", "softplus")
_MAX_ORDER = 16  # kMaxOrder (artifact.hpp)


_DTYPE_NAMES = {"float32": "float32", "f32": "float32",
                "float64": "float64", "f64": "float64"}


def _dtype_name(dtype, what):
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = str(dtype)
    name = _DTYPE_NAMES.get(name)
    if name is None:
        _fail("%s is %s; ntp kernels compute in float32 or float64" %
              (what, dtype))
    return name


def _array(a, dtype, what):
    """`a` as a JAX array of `dtype` (refusing other dtypes: no silent
    casts); numpy and JAX arrays and tracers pass."""
    adt = getattr(a, "dtype", None)
    if adt is None:
        _fail("%s must be an array, not %s" % (what, type(a).__name__))
    if np.dtype(adt).name != dtype:
        _fail("%s has dtype %s but the kernel computes in %s; convert it "
              "first (.astype)" % (what, np.dtype(adt).name, dtype))
    return jnp.asarray(a)


def _natural(name):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _pairs(params):
    """params as a list of (W [out, in], b [out]) pairs, or None for a flat
    vector."""
    if isinstance(params, dict) or hasattr(params, "items"):
        d = dict(params.items())
        if "params" in d and len(d) == 1:
            d = dict(d["params"].items())
        layers = []
        for name in sorted(d, key=_natural):
            sub = d[name]
            if not hasattr(sub, "items") or "kernel" not in sub:
                _fail("params[%r] is not a Flax Dense layer (a dict with "
                      "'kernel' [in, out] and 'bias')" % name)
            if "bias" not in sub:
                _fail("params[%r] has no 'bias' (ntp's layers are affine)" %
                      name)
            layers.append((name, sub["kernel"], sub["bias"], True))
        if not layers:
            _fail("params is an empty dict")
        return layers
    if isinstance(params, (list, tuple)):
        layers = []
        for i, layer in enumerate(params):
            if hasattr(layer, "weight") and hasattr(layer, "bias"):
                w, b = layer.weight, layer.bias  # equinox.nn.Linear
            elif isinstance(layer, (list, tuple)) and len(layer) == 2:
                w, b = layer
            else:
                _fail("params[%d] is not a (W [out, in], b [out]) pair" % i)
            if b is None:
                _fail("params[%d] has no bias (ntp's layers are affine)" % i)
            layers.append(("params[%d]" % i, w, b, False))
        if not layers:
            _fail("params is an empty list")
        return layers
    return None


def flatten_params(params, dtype, layers=None):
    """(flat parameter vector in DESIGN.md order, widths) from a list of
    (W [out, in], b) pairs (torch/Equinox layout), a Flax parameter dict
    (layers by the natural order of their names, 'kernel' [in, out]
    transposed), or a flat vector (then `layers` is required)."""
    pairs = _pairs(params)
    if pairs is None:
        p = _array(params, dtype, "params")
        if p.ndim != 1:
            _fail("params has shape %s: pass a list of (W, b) pairs, a Flax "
                  "parameter dict or a flat vector" % (list(p.shape),))
        if layers is None:
            _fail("params is a flat vector: pass layers=[d_in, ..., d_out]")
        widths = tuple(int(w) for w in layers)
        want = _dims((widths, None, 0, dtype))[3]
        if p.shape[0] != want:
            _fail("params holds %d values but layers %s have %d parameters" %
                  (p.shape[0], list(widths), want))
        return p, widths
    flat, widths = [], None
    for name, w, b, transposed in pairs:
        w = _array(w, dtype, "%s weight" % name)
        b = _array(b, dtype, "%s bias" % name)
        if transposed:
            if w.ndim != 2:
                _fail("%s kernel has shape %s, expected [in, out]" %
                      (name, list(w.shape)))
            w = w.T
        if w.ndim != 2 or b.shape != (w.shape[0],):
            _fail("%s has weight %s and bias %s, expected [out, in] and "
                  "[out]" % (name, list(w.shape), list(b.shape)))
        if widths is None:
            widths = [w.shape[1]]
        elif w.shape[1] != widths[-1]:
            _fail("%s takes %d inputs but the layer before gives %d" %
                  (name, w.shape[1], widths[-1]))
        widths.append(w.shape[0])
        flat += [w.reshape(-1), b]
    widths = tuple(int(v) for v in widths)
    if layers is not None and tuple(int(v) for v in layers) != widths:
        _fail("layers=%s but params have widths %s" %
              (list(layers), list(widths)))
    return jnp.concatenate(flat), widths


def _requests(partials, operators, d, lowering="auto",
              reverse_lowering="auto"):
    """The request as a hashable (alphas, operators, lowering,
    reverse_lowering) tuple, checked enough for a clear sentence before the
    compiler's own verifier (and the JIT, for the lowerings' names) sees
    it."""
    _check_partials_lowering(lowering)
    _check_partials_reverse_lowering(reverse_lowering)
    if isinstance(partials, str) or isinstance(operators, str):
        _fail("partials must be a list of multi-indices and operators a list "
              "of names (e.g. operators=['laplacian'])")
    alphas = []
    for row in partials or ():
        if isinstance(row, str) or not hasattr(row, "__len__"):
            _fail("partials must be a list of multi-indices (one entry per "
                  "input), not %r" % (row,))
        if any(isinstance(e, bool) or not isinstance(e, (int, np.integer))
               for e in row):
            _fail("multi-index %r must hold integers" % (list(row),))
        alphas.append(tuple(int(e) for e in row))
    ops = []
    for op in operators or ():
        if not isinstance(op, str):
            _fail("operators must be names such as 'laplacian', "
                  "'biharmonic' or 'laplacian:0,1', not %r" % (op,))
        ops.append(op.replace(" ", ""))
    if not alphas and not ops:
        _fail("the request is empty: pass partials=[...] and/or "
              "operators=[...]")
    return tuple(alphas), tuple(ops), lowering, reverse_lowering


def _check_activation(activation):
    if activation not in ACTIVATIONS:
        _fail("activation %r is not supported: ntp compiles %s" % (
            activation, ", ".join(ACTIVATIONS)))


def _prepare(params, x, layers, dtype):
    """(x [batch, d], flat params, widths, dtype name), checked (jet and
    partials, after the activation and their own arguments)."""
    if dtype is None:
        if getattr(x, "dtype", None) is None:
            _fail("x must be an array, not %s" % type(x).__name__)
        dtype = _dtype_name(x.dtype, "x's dtype")
    else:
        dtype = _dtype_name(dtype, "dtype")
    if dtype == "float64" and not jax.config.jax_enable_x64:
        _fail("dtype float64 needs 64-bit JAX: "
              "jax.config.update('jax_enable_x64', True)")
    x = _array(x, dtype, "x")
    p, widths = flatten_params(params, dtype, layers)
    if len(widths) < 2:
        _fail("layers %s: a network needs at least an input and an output "
              "width" % list(widths))
    d = widths[0]
    if x.ndim == 1 and d == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[1] != d:
        _fail("x has shape %s, expected [batch, %d]%s" % (
            list(x.shape), d, " or [batch]" if d == 1 else ""))
    return x, p, widths, dtype
