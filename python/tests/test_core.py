# ntp's core binding (numpy): compile, load, forward/backward, workspaces,
# and every argument check. The jets' values are checked against PyTorch's
# nested autograd in test_torch.py; here the paths are checked against each
# other and against finite differences.
import os
import subprocess
import sys

import pytest

from conftest import need

np = need("numpy")
import ntp  # noqa: E402

LAYERS = [1, 6, 5, 1]


@pytest.fixture(scope="module")
def k64():
    return ntp.compile(LAYERS, "tanh", 3, "float64")


@pytest.fixture(scope="module")
def data(k64):
    rng = np.random.default_rng(0)
    x = np.linspace(-1.5, 1.5, 19).reshape(-1, 1)
    p = rng.standard_normal(k64.num_params) * 0.7
    return x, p


def test_import_needs_neither_torch_nor_numpy():
    code = ("import sys, ntp; bad = [m for m in ('torch', 'numpy', 'jax') "
            "if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_kernel_attributes(k64):
    assert k64.layers == tuple(LAYERS)
    assert (k64.order, k64.input_dim, k64.output_dim) == (3, 1, 1)
    assert k64.num_params == 6 * 1 + 6 + 5 * 6 + 5 + 1 * 5 + 1
    assert (k64.dtype, k64.device, k64.activation) == ("float64", "cpu",
                                                       "tanh")
    assert "seconds" in k64.report


def test_order1_is_the_derivative(k64, data):
    x, p = data
    out = k64.forward(x, p)
    assert out.shape == (4, 19, 1)
    h = 1e-5
    fd = (k64.forward(x + h, p)[0] - k64.forward(x - h, p)[0]) / (2 * h)
    assert np.abs(fd - out[1]).max() < 1e-8


def test_one_dimensional_x_for_one_input(k64, data):
    x, p = data
    assert np.array_equal(k64.forward(x[:, 0], p), k64.forward(x, p))


def test_backward_paths_agree_and_match_finite_differences(k64, data):
    x, p = data
    out = k64.forward(x, p)
    c = np.random.default_rng(1).standard_normal(out.shape)
    g, xg = k64.backward(x, p, c)
    out2, ws = k64.forward_save(x, p)
    assert np.array_equal(out, out2)
    g2, xg2 = k64.backward_saved(x, p, c, ws)
    assert np.abs(g - g2).max() <= 1e-14 * np.abs(g).max()
    assert np.abs(xg - xg2).max() <= 1e-14 * np.abs(xg).max()
    u = np.random.default_rng(2).standard_normal(p.shape)
    h = 1e-6
    fd = ((k64.forward(x, p + h * u) - k64.forward(x, p - h * u)) * c).sum() \
        / (2 * h)
    assert abs(fd - g @ u) <= 1e-6 * abs(fd)
    g3, none = k64.backward(x, p, c, need_x_grad=False)
    assert none is None and np.array_equal(g3, g)


def test_caller_buffers_are_written_in_place(k64, data):
    x, p = data
    out = np.zeros((4, 19, 1))
    ws = np.empty(k64.workspace_size(19), np.uint8)
    r, w = k64.forward_save(x, p, ws, out=out)
    assert r is out and w is ws and np.array_equal(out, k64.forward(x, p))


def test_arrays_it_allocates_start_on_cache_lines(k64, data):
    # NumPy aligns to 16 bytes; a tile's vectors (up to 64 bytes) would
    # straddle two cache lines of the outputs and the workspace.
    x, p = data
    out = k64.forward(x, p)
    out_s, ws = k64.forward_save(x, p)
    pg, xg = k64.backward(x, p, np.ones_like(out))
    for a in (out, out_s, ws, pg, xg):
        assert a.ctypes.data % 64 == 0
        assert a.flags.c_contiguous and a.flags.writeable
    assert np.array_equal(out, out_s)
    assert ws.dtype == np.uint8 and ws.shape == (k64.workspace_size(19),)


def test_float32_kernel():
    k = ntp.compile(LAYERS, "sigmoid", 2, "float32")
    x = np.linspace(-1, 1, 33, dtype=np.float32).reshape(-1, 1)
    p = np.random.default_rng(3).standard_normal(k.num_params).astype(
        np.float32)
    k64 = ntp.compile(LAYERS, "sigmoid", 2, "float64")
    a, b = k.forward(x, p), k64.forward(x.astype(np.float64),
                                       p.astype(np.float64))
    assert a.dtype == np.float32
    assert np.abs(a - b).max() <= 1e-5 * np.abs(b).max()


def test_direction_for_several_inputs():
    k = ntp.compile([2, 4, 3], "sin", 2, "float64")
    rng = np.random.default_rng(4)
    x = rng.standard_normal((7, 2))
    p = rng.standard_normal(k.num_params)
    v = np.array([0.3, -1.2])
    out = k.forward(x, p, v)
    h = 1e-5
    fd = (k.forward(x + h * v, p, v)[0] - k.forward(x - h * v, p, v)[0]) / (
        2 * h)
    assert np.abs(fd - out[1]).max() < 1e-8
    with pytest.raises(ntp.Error, match="direction is required"):
        k.forward(x, p)
    with pytest.raises(ntp.Error, match=r"direction has shape \[3\]"):
        k.forward(x, p, np.ones(3))


def test_batch_zero(k64, data):
    _, p = data
    assert k64.forward(np.empty((0, 1)), p).shape == (4, 0, 1)


def test_aot_artifact_matches_the_jit(k64, data, tmp_path):
    compiler = os.environ.get("NTP_COMPILE")
    if not compiler or not os.path.exists(compiler):
        pytest.skip("ntp-compile not built (NTP_COMPILE unset)")
    so = tmp_path / "net.so"
    subprocess.run([compiler, "--layers", ",".join(map(str, LAYERS)),
                    "--activation", "tanh", "--order", "3", "--dtype", "f64",
                    "--target-cpu=native", "-o", str(so)], check=True)
    k = ntp.load(so)
    assert (k.layers, k.order, k.dtype) == (tuple(LAYERS), 3, "float64")
    x, p = data
    a, b = k.forward(x, p), k64.forward(x, p)
    assert np.abs(a - b).max() <= 1e-13 * np.abs(b).max()
    c = np.ones_like(a)
    ga, xa = k.backward(x, p, c)
    gb, xb = k64.backward(x, p, c)
    assert np.abs(ga - gb).max() <= 1e-12 * np.abs(gb).max()


def test_recompiling_to_a_loaded_path(k64, data, tmp_path):
    # A notebook's loop: compile, load, recompile another network to the
    # same path, load again, with the first kernel still alive. ntp-compile
    # replaces the file (the loaded kernel keeps its code: rewriting the
    # file in place crashed it), and the loader loads the new file although
    # glibc still has a library under that name.
    compiler = os.environ.get("NTP_COMPILE")
    if not compiler or not os.path.exists(compiler):
        pytest.skip("ntp-compile not built (NTP_COMPILE unset)")
    so = tmp_path / "net.so"

    def build(order):
        subprocess.run([compiler, "--layers", ",".join(map(str, LAYERS)),
                        "--activation", "tanh", "--order", str(order),
                        "--dtype", "f64", "--target-cpu=native", "-o",
                        str(so)], check=True)
        return ntp.load(so)

    x, p = data
    want = k64.forward(x, p)  # order 3
    first = build(3)
    second = build(2)
    third = build(3)
    assert (first.order, second.order, third.order) == (3, 2, 3)
    scale = np.abs(want).max()
    assert np.abs(first.forward(x, p) - want).max() <= 1e-13 * scale
    assert np.abs(second.forward(x, p) - want[:3]).max() <= 1e-13 * scale
    assert np.abs(third.forward(x, p) - want).max() <= 1e-13 * scale
    del first, second, third
    assert build(2).forward(x, p).shape == want[:3].shape


def test_target_cpu_names_the_loaded_code(k64, data, tmp_path,
                                         monkeypatch):
    # Kernel.target_cpu (ntp_kernel_target_cpu): the host's CPU name for a
    # JIT kernel, the name asked for otherwise, and for an ntp-compile
    # artifact with two CPU variants the one the loader chose: the baseline
    # when NTP_CPU_FEATURES makes this host look like an AVX2 one (read at
    # each load), the first variant whose features the host has otherwise.
    host = k64.target_cpu
    assert isinstance(host, str) and host and host != "native"
    assert ntp.compile(LAYERS, "tanh", 3, "float64",
                       cpu="x86-64-v3").target_cpu == "x86-64-v3"
    compiler = os.environ.get("NTP_COMPILE")
    if not compiler or not os.path.exists(compiler):
        pytest.skip("ntp-compile not built (NTP_COMPILE unset)")
    if os.uname().machine != "x86_64":
        pytest.skip("the x86-64 CPU variants need an x86-64 host")
    so = tmp_path / "variants.so"
    subprocess.run([compiler, "--layers", ",".join(map(str, LAYERS)),
                    "--activation", "tanh", "--order", "3", "--dtype", "f64",
                    "--target-cpu=x86-64-v3,znver4", "-o", str(so)],
                   check=True)
    x, p = data
    want = k64.forward(x, p)
    monkeypatch.setenv("NTP_CPU_FEATURES", "sse4.2,avx,avx2,fma,bmi,bmi2")
    old = ntp.load(so)
    assert old.target_cpu == "x86-64-v3"
    monkeypatch.delenv("NTP_CPU_FEATURES")
    k = ntp.load(so)
    assert k.target_cpu in ("x86-64-v3", "znver4")
    if host == "znver4":
        assert k.target_cpu == "znver4"
    for kernel in (old, k):
        got = kernel.forward(x, p)
        assert np.abs(got - want).max() <= 1e-13 * np.abs(want).max()


#===------------------------------------------------------------------------===#
# Errors: a clear ntp.Error, never a wrong answer
#===------------------------------------------------------------------------===#

def test_load_errors_carry_status_and_message(tmp_path):
    with pytest.raises(ntp.Error) as e:
        ntp.load(tmp_path / "missing.so")
    assert e.value.status == ntp.ERROR_IO
    assert "missing.so" in e.value.message
    bad = tmp_path / "bad.so"
    bad.write_bytes(b"not a kernel")
    with pytest.raises(ntp.Error) as e:
        ntp.load(bad)
    assert e.value.status != ntp.OK and e.value.message


def test_compile_errors():
    with pytest.raises(ntp.Error) as e:
        ntp.compile([1, 4, 1], "relu", 2)
    assert e.value.status != ntp.OK and "relu" in e.value.message
    with pytest.raises(ntp.Error):
        ntp.compile([1], "tanh", 2)
    with pytest.raises(ntp.Error, match="dtype"):
        ntp.compile([1, 4, 1], "tanh", 2, dtype="float16")


@pytest.mark.parametrize("case", [
    "dtype", "shape", "non-contiguous", "params-size", "read-only-out",
    "cotangent-shape", "small-workspace", "pointer-on-cpu", "list"])
def test_bad_arguments(k64, data, case):
    x, p = data
    c = np.ones((4, 19, 1))
    calls = {
        "dtype": (lambda: k64.forward(x.astype(np.float32), p), "dtype"),
        "shape": (lambda: k64.forward(np.ones((19, 2)), p), "shape"),
        "non-contiguous": (lambda: k64.forward(np.ones((38, 1))[::2], p),
                           "not contiguous"),
        "params-size": (lambda: k64.forward(x, p[:-1]), "params has shape"),
        "read-only-out": (lambda: k64.forward(
            x, p, out=np.broadcast_to(np.zeros(1), (4, 19, 1))),
            "not contiguous|read-only"),
        "cotangent-shape": (lambda: k64.backward(x, p, c[:3]),
                            "cotangent has shape"),
        "small-workspace": (lambda: k64.forward_save(
            x, p, np.empty(8, np.uint8)), "workspace holds 8 bytes"),
        "pointer-on-cpu": (lambda: k64.forward(x.ctypes.data, p, batch=19),
                           "only CUDA kernels"),
        "list": (lambda: k64.forward(x.tolist(), p), "numpy array"),
    }
    fn, pattern = calls[case]
    with pytest.raises(ntp.Error, match=pattern) as e:
        fn()
    assert e.value.status == ntp.ERROR_INVALID_ARGUMENT


def test_library_dir_override_comes_first(tmp_path):
    # A directory in $NTP_LIBRARY_DIR is searched before the build's: a
    # broken library there is what gets opened (and fails, naming it).
    (tmp_path / "libntp_runtime.so").write_bytes(b"not a library")
    code = "import ntp; ntp.set_num_threads(0)"
    env = dict(os.environ, NTP_LIBRARY_DIR=str(tmp_path))
    r = subprocess.run([sys.executable, "-c", code], env=env,
                       capture_output=True, text=True)
    assert r.returncode != 0
    assert str(tmp_path / "libntp_runtime.so") in r.stderr
    r = subprocess.run([sys.executable, "-c", code], capture_output=True,
                       text=True, env=dict(os.environ, NTP_LIBRARY_DIR=""))
    assert r.returncode == 0, r.stderr


def test_partials_kernel_against_the_closed_form():
    # f = c exp(w.x + b) + b2: D^a f = c exp(y) w^a (issue 12).
    import math
    k = ntp.compile([2, 1, 1], "exp", dtype="float64", use_cache=False,
                    partials=[[2, 0], [1, 1], [0, 0]],
                    operators=["laplacian", "laplacian:1"])
    assert k.requests == ((2, 0), (1, 1), (0, 0), (-2, -2), (0, -2))
    assert k.order == 2
    params = np.array([0.7, -0.4, 0.1, 1.3, -0.2])
    x = np.array([[0.3, -0.5], [-0.2, 0.8]])
    out = k.partials(x, params)
    assert out.shape == (5, 2, 1)
    for b in range(2):
        e = 1.3 * math.exp(0.7 * x[b, 0] - 0.4 * x[b, 1] + 0.1)
        want = [e * 0.49, e * 0.7 * -0.4, e - 0.2, e * (0.49 + 0.16),
                e * 0.16]
        for p in range(5):
            assert abs(out[p, b, 0] - want[p]) <= 1e-12 * max(1, abs(want[p]))
    with pytest.raises(ntp.Error, match="call ntp_partials"):
        k.forward(x, params, direction=np.array([1.0, 0.0]))
    jet = ntp.compile([2, 1, 1], "exp", 1, "float64", use_cache=False)
    assert jet.requests == ()
    with pytest.raises(ntp.Error, match="call forward"):
        jet.partials(x, params)
    with pytest.raises(ntp.Error, match="repeats request 0"):
        ntp.compile([2, 1, 1], "exp", dtype="float64", use_cache=False,
                    partials=[[1, 1], [1, 1]])
    with pytest.raises(ntp.Error, match="unknown operator"):
        ntp.compile([2, 1, 1], partials=[[1, 0]], operators=["hessian"])
    with pytest.raises(ntp.Error, match="comma-separated integers"):
        ntp.compile([2, 1, 1], operators=["biharmonic:"])
