# ntp.jax on a CUDA backend without a GPU: jax.jit(f).trace(...).lower(
# lowering_platforms=("cuda",)) of ntp.jax.jet, ntp.jax.partials and
# ntp.jax.laplacian (forward, value_and_grad: save + backward, and the
# recomputing backward), read as StableHLO: the custom calls' targets (the
# names ntp.jax registers for the CUDA platform with the Cuda handlers of
# NtpJaxFfi.cpp), operand and result shapes and layouts, the workspace
# operand's size (the CUDA kernel's ntp_workspace_size, not the CPU one's)
# and the `kernel` attribute (the CUDA kernel's handle). The kernels are
# compiled for CUDA and loaded through the fake driver
# (test/unit/runtime/fixtures/fake_libcuda.c, $NTP_LIBCUDA), each case in
# its own interpreter (the runtime opens the driver once per process). What
# the handlers do with those operands is JaxFfiCallFrameTest.cpp's and
# JaxFfiPartialsCudaTest.cpp's; what the kernels compute on a GPU is
# untested here.
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import need

need("jax")

FAKE = os.environ.get("NTP_FAKE_LIBCUDA")
if not FAKE or not os.path.exists(FAKE):
    pytest.skip("the fake CUDA driver is not built (NTP_FAKE_LIBCUDA unset; "
                "built with the tests, test/unit/runtime)",
                allow_module_level=True)

PRELUDE = textwrap.dedent(r'''
    import re
    import numpy as np
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import ntp
    import ntp.jax as nj

    assert jax.default_backend() == "cpu"
    # The fake driver runs PTX only (this machine may have ptxas: a cubin).
    nj.CUDA_COMPILE_OPTIONS = {"gpu_format": "ptx"}
    rng = np.random.default_rng(0)
    LAYERS = [2, 6, 5, 1]
    NUM_PARAMS = 2 * 6 + 6 + 6 * 5 + 5 + 5 + 1

    def params(layers=LAYERS, dtype=np.float64):
        return [(jnp.asarray(rng.standard_normal((layers[i + 1], layers[i]))
                             .astype(dtype)),
                 jnp.asarray(rng.standard_normal(layers[i + 1])
                             .astype(dtype)))
                for i in range(len(layers) - 1)]

    def points(n, d=2, dtype=np.float64):
        return jnp.asarray(rng.standard_normal((n, d)).astype(dtype))

    def shape(t):
        # 'tensor<1x8x2xf64>' -> ((1, 8, 2), 'f64')
        *dims, dt = re.fullmatch(r"tensor<(.*)>", str(t)).group(1).split("x")
        return tuple(int(d) for d in dims), dt

    def layouts(attr):
        return [tuple(int(v) for v in l.split(", ")) if l else ()
                for l in re.findall(r"dense<\[([^\]]*)\]>", str(attr))]

    def calls(f, *args):
        # jax.jit(f) lowered for CUDA: its custom calls in program order,
        # as dicts (target, kernel, ins, outs, in_layouts, out_layouts).
        ir = jax.jit(f).trace(*args).lower(
            lowering_platforms=("cuda",)).compiler_ir("stablehlo")
        out = []
        def walk(op):
            for region in op.regions:
                for block in region.blocks:
                    for o in block.operations:
                        o = o.operation
                        if o.name == "stablehlo.custom_call":
                            a = o.attributes
                            cfg = str(a["mhlo.backend_config"])
                            m = re.fullmatch(r"\{kernel = (-?\d+) : i64\}",
                                             cfg)
                            assert m, cfg  # the one attribute, an int64
                            c = dict(
                                target=str(a["call_target_name"]).strip('"'),
                                kernel=int(m.group(1)),
                                ins=[shape(v.type) for v in o.operands],
                                outs=[shape(r.type) for r in o.results],
                                in_layouts=layouts(a["operand_layouts"]),
                                out_layouts=layouts(a["result_layouts"]))
                            # XLA hands the handlers dense row-major buffers.
                            for k, l in (("ins", "in_layouts"),
                                         ("outs", "out_layouts")):
                                assert c[l] == [
                                    tuple(range(len(s) - 1, -1, -1))
                                    for s, _ in c[k]], c
                            out.append(c)
                        walk(o)
        walk(ir.operation)
        return out

    def handle(k):
        return k._h.value

    def refused(f, words, status=None):
        try:
            f()
        except ntp.Error as e:
            assert words in str(e), str(e)
            assert status is None or e.status == status, e.status
            return str(e)
        raise AssertionError("not refused: " + words)

    REQ = dict(partials=[[2, 0], [1, 1], [0, 0]], operators=["laplacian"])
    def cuda_partials_kernel(dtype="float64", activation="tanh", req=REQ):
        return nj.partials_kernel(LAYERS, activation, dtype=dtype,
                                  device="cuda", **req)
''')


def run(body, tmp_path, libcuda=None):
    env = dict(os.environ, NTP_LIBCUDA=libcuda or FAKE, JAX_PLATFORMS="cpu")
    env.setdefault("NTP_CACHE_DIR", str(tmp_path / "cache"))
    script = tmp_path / "case.py"
    script.write_text(PRELUDE + textwrap.dedent(body) + '\nprint("ok")\n')
    r = subprocess.run([sys.executable, str(script)], env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and r.stdout.endswith("ok\n"), \
        r.stdout + r.stderr


def test_partials_forward_lowers_to_the_cuda_kernel(tmp_path):
    run('''
        ps, x = params(), points(8)
        f = lambda ps, x: nj.partials(ps, x, activation="tanh", **REQ)
        c, = calls(f, ps, x)
        k = cuda_partials_kernel()
        cpu = nj.partials_kernel(LAYERS, "tanh", dtype="float64", **REQ)
        assert k.device == "cuda" and cpu.device == "cpu"
        assert c["target"] == "ntp_partials"
        assert c["kernel"] == handle(k) != handle(cpu)
        # x [I, N, d], p [I, P] -> out [I, R, N, q]
        assert c["ins"] == [((1, 8, 2), "f64"), ((1, NUM_PARAMS), "f64")]
        assert c["outs"] == [((1, 4, 8, 1), "f64")], c
        # f32, another activation: its own kernel.
        ps32 = params(dtype=np.float32)
        lap = lambda ps, x: nj.laplacian(ps, x, activation="sin")
        c, = calls(lap, ps32, points(8, dtype=np.float32))
        k32 = cuda_partials_kernel("float32", "sin",
                                   dict(operators=["laplacian"]))
        assert c["kernel"] == handle(k32)
        assert c["ins"] == [((1, 8, 2), "f32"), ((1, NUM_PARAMS), "f32")]
        assert c["outs"] == [((1, 1, 8, 1), "f32")], c
        # vmap over x with shared params: the axis joins the points, one
        # call; with per-instance params: instances.
        vm = jax.vmap(lambda x: lap(ps32, x))
        c, = calls(vm, points(12, dtype=np.float32).reshape(3, 4, 2))
        assert c["ins"][0] == ((1, 12, 2), "f32")
        assert c["outs"] == [((1, 1, 12, 1), "f32")], c
        stacked = jax.tree_util.tree_map(lambda a: jnp.stack([a, a]), ps32)
        c, = calls(jax.vmap(lap), stacked,
                   points(8, dtype=np.float32).reshape(2, 4, 2))
        assert c["ins"] == [((2, 4, 2), "f32"), ((2, NUM_PARAMS), "f32")]
        assert c["outs"] == [((2, 1, 4, 1), "f32")], c
    ''', tmp_path)


def test_partials_value_and_grad_lowers_to_the_cuda_save_and_backward(
        tmp_path):
    run('''
        nj._TRACE_DEVICE = "cuda"  # trace as a CUDA backend does
        ps, x = params(), points(40)
        def loss(ps, x):
            return jnp.sum(nj.partials(ps, x, activation="tanh", **REQ) ** 2)
        save, bwd = calls(jax.value_and_grad(loss, argnums=(0, 1)), ps, x)
        k = cuda_partials_kernel()
        cpu = nj.partials_kernel(LAYERS, "tanh", dtype="float64", **REQ)
        ws = k.workspace_size(40)
        assert ws != cpu.workspace_size(40)  # the CUDA kernel's, not the CPU's
        assert save["target"] == "ntp_partials_save"
        assert bwd["target"] == "ntp_partials_bwd"
        assert save["kernel"] == bwd["kernel"] == handle(k)
        X, P = ((1, 40, 2), "f64"), ((1, NUM_PARAMS), "f64")
        out = ((1, 4, 40, 1), "f64")
        assert save["ins"] == [X, P]
        assert save["outs"] == [out, ((1, ws), "ui8")], save
        # x, p, cotangent, workspace -> params_grad, x_grad
        assert bwd["ins"] == [X, P, out, ((1, ws), "ui8")], bwd
        assert bwd["outs"] == [P, X], bwd
        # The parameters alone: x's gradient not wanted (a zero-sized axis).
        _, bwd = calls(jax.grad(loss), ps, x)
        assert bwd["outs"] == [P, ((1, 0, 2), "f64")], bwd
        # f32 and vmap: per-instance workspaces of the f32 CUDA kernel.
        ps32 = params(dtype=np.float32)
        lap = lambda ps, x: jnp.sum(nj.laplacian(ps, x, activation="tanh"))
        xs = points(24, dtype=np.float32).reshape(2, 12, 2)
        save, bwd = calls(jax.vmap(jax.grad(lap, argnums=1), (None, 0)),
                          ps32, xs)
        k32 = cuda_partials_kernel("float32",
                                   req=dict(operators=["laplacian"]))
        ws = k32.workspace_size(12)
        assert save["kernel"] == bwd["kernel"] == handle(k32)
        assert save["outs"] == [((2, 1, 12, 1), "f32"), ((2, ws), "ui8")]
        assert bwd["outs"] == [((2, 0), "f32"), ((2, 12, 2), "f32")], bwd
    ''', tmp_path)


def test_partials_recompute_backward_lowers_to_the_cuda_kernel(tmp_path):
    # jax.grad on CUDA always saves (RECOMPUTE_ABOVE_BYTES is about host
    # memory); the recomputing primitive lowers to its CUDA handler all the
    # same: no workspace operand.
    run('''
        from ntp.jax._partials import partials_bwd_recompute_p
        spec = (tuple(LAYERS), "tanh", nj._requests(REQ["partials"],
                REQ["operators"], 2), "float64")
        f = lambda x, p, c: partials_bwd_recompute_p.bind(
            x, p, c, spec=spec, need_p=True, need_x=True)
        x, p = points(16)[None], jnp.zeros((1, NUM_PARAMS))
        c, = calls(f, x, p, jnp.zeros((1, 4, 16, 1)))
        assert c["target"] == "ntp_partials_bwd_recompute"
        assert c["kernel"] == handle(cuda_partials_kernel())
        assert c["ins"] == [((1, 16, 2), "f64"), ((1, NUM_PARAMS), "f64"),
                            ((1, 4, 16, 1), "f64")], c
        assert c["outs"] == [((1, NUM_PARAMS), "f64"), ((1, 16, 2), "f64")]
        # The recomputing jet backward is CPU only: no CUDA rule.
        from ntp.jax._jet import jet_bwd_recompute_p
        jspec = ((1, 6, 1), "tanh", 3, "float64")
        g = lambda x, v, p, c: jet_bwd_recompute_p.bind(
            x, v, p, c, spec=jspec, need_p=True, need_x=True, need_v=False)
        try:
            calls(g, jnp.zeros((1, 4, 1)), jnp.ones((1, 1)),
                  jnp.zeros((1, 19)), jnp.zeros((1, 4, 4, 1)))
        except NotImplementedError as e:
            assert "cuda" in str(e), e
        else:
            raise AssertionError("the jet recompute lowered for CUDA")
    ''', tmp_path)


def test_jet_lowers_to_the_cuda_kernels(tmp_path):
    run('''
        ps = params([2, 8, 8, 1])
        x, v = points(30), jnp.asarray([0.6, -0.8])
        f = lambda ps, x, v: nj.jet(ps, x, 3, v, activation="tanh")
        c, = calls(f, ps, x, v)
        k = nj.kernel([2, 8, 8, 1], "tanh", 3, "float64", device="cuda")
        P = ((1, 2 * 8 + 8 + 64 + 8 + 8 + 1), "f64")
        X, V, out = ((1, 30, 2), "f64"), ((1, 2), "f64"), ((1, 4, 30, 1),
                                                           "f64")
        assert c["target"] == "ntp_jet" and c["kernel"] == handle(k)
        assert c["ins"] == [X, V, P] and c["outs"] == [out], c
        # value_and_grad for params, x and the direction: the save, the
        # backward for params and x, and a second backward of the shifted
        # cotangent whose x gradient XLA sums into the direction's.
        nj._TRACE_DEVICE = "cuda"
        loss = lambda ps, x, v: jnp.sum(f(ps, x, v) ** 2)
        save, bwd, bwd_v = calls(jax.value_and_grad(loss, argnums=(0, 1, 2)),
                                 ps, x, v)
        ws = k.workspace_size(30)
        assert ws != nj.kernel([2, 8, 8, 1], "tanh", 3,
                               "float64").workspace_size(30)
        assert [save["target"], bwd["target"], bwd_v["target"]] == [
            "ntp_jet_save", "ntp_jet_bwd", "ntp_jet_bwd"]
        assert save["kernel"] == bwd["kernel"] == bwd_v["kernel"] == handle(k)
        W = ((1, ws), "ui8")
        assert save["ins"] == [X, V, P] and save["outs"] == [out, W]
        assert bwd["ins"] == bwd_v["ins"] == [X, V, P, out, W]
        assert bwd["outs"] == [P, X, ((1, 0), "f64")], bwd
        assert bwd_v["outs"] == [((1, 0), "f64"), X, ((1, 0), "f64")], bwd_v
    ''', tmp_path)


def test_reverse_mode_traced_for_the_cpu_is_not_lowered_for_cuda(tmp_path):
    # Its workspace was sized by the CPU kernel: lowering it for CUDA would
    # hand the CUDA kernel a wrong-sized buffer, so it is refused.
    run('''
        ps, x = params(), points(8)
        loss = lambda ps, x: jnp.sum(nj.partials(ps, x, activation="tanh",
                                                 **REQ))
        refused(lambda: calls(jax.grad(loss), ps, x),
                "ntp.jax traced the reverse mode for the cpu but XLA lowers "
                "it for the cuda; set jax's default device before tracing")
        jl = lambda ps, x: jnp.sum(nj.jet(ps, x[:, :1], 2, activation="tanh",
                                          layers=None))
        ps1 = params([1, 4, 1])
        refused(lambda: calls(jax.grad(jl), ps1, x),
                "traced the reverse mode for the cpu")
    ''', tmp_path)


def test_bad_settings_and_inputs_are_refused(tmp_path):
    run('''
        ps, x = params(), points(8)
        f = lambda ps, x: nj.partials(ps, x, activation="tanh", **REQ)
        nj._TRACE_DEVICE = "gpu"
        refused(lambda: f(ps, x), "ntp.jax._TRACE_DEVICE must be None, "
                "'cpu' or 'cuda', not 'gpu'")
        nj._TRACE_DEVICE = "cuda"
        nj.CUDA_COMPILE_OPTIONS = {"gpu_format": "ptx", "tile": 4}
        refused(lambda: f(ps, x), "ntp.jax.CUDA_COMPILE_OPTIONS takes "
                "gpu_format, gpu_mapping, chip, not 'tile'")
        nj.CUDA_COMPILE_OPTIONS = {"gpu_format": "elf"}
        refused(lambda: f(ps, x), "gpu_format must be")
        nj.CUDA_COMPILE_OPTIONS = {"gpu_format": "ptx"}
        refused(lambda: nj.partials_kernel(LAYERS, "tanh", device="tpu",
                                           **REQ),
                "device must be 'cpu' or 'cuda', not 'tpu'")
        # Dtypes: refused before any kernel (no silent casts).
        refused(lambda: nj.partials(ps, x.astype(jnp.float32),
                                    activation="tanh", dtype="float64",
                                    **REQ),
                "x has dtype float32 but the kernel computes in float64")
        refused(lambda: f(ps, x.astype(jnp.float32)),
                "params[0] weight has dtype float64 but the kernel computes "
                "in float32")
        refused(lambda: f(ps, x.astype(jnp.int32)), "x's dtype is int32")
        refused(lambda: nj.laplacian(ps, x, activation="tanh",
                                     dtype="float16"),
                "dtype is float16; ntp kernels compute in float32 or float64")
        # A request the compiler refuses: at the call, one sentence.
        refused(lambda: nj.partials(ps, x, activation="tanh",
                                    partials=[[1, 0, 0]]),
                "request 0 [1,0,0] has 3 entries but the network has 2 "
                "inputs")
    ''', tmp_path)


def test_without_a_cuda_driver_lowering_for_cuda_is_refused(tmp_path):
    run('''
        ps, x = params(), points(8)
        f = lambda ps, x: nj.laplacian(ps, x, activation="tanh")
        refused(lambda: calls(f, ps, x), "no CUDA driver",
                ntp.ERROR_NO_DEVICE)
    ''', tmp_path, libcuda=str(tmp_path / "no-libcuda.so"))
