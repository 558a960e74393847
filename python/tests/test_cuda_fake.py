# The binding's CUDA path at the pointer level, without a GPU: the runtime
# opens $NTP_LIBCUDA = test/unit/runtime/fixtures/fake_libcuda.c, a driver
# whose one GPU (sm_90) records what it is given and runs nothing. Each case
# runs in its own interpreter (the runtime opens the driver once per
# process). What this cannot test: torch CUDA tensors (Debian's torch has no
# CUDA) and results computed on a GPU.
import os
import subprocess
import sys
import textwrap

import pytest

FAKE = os.environ.get("NTP_FAKE_LIBCUDA")
if not os.environ.get("NTP_COMPILE"):
    pytest.skip("ntp-compile is not built (NTP_COMPILE unset)",
                allow_module_level=True)
if not FAKE or not os.path.exists(FAKE):
    pytest.skip("the fake CUDA driver is not built (NTP_FAKE_LIBCUDA unset; "
                "built with the tests, test/unit/runtime)",
                allow_module_level=True)

PRELUDE = textwrap.dedent(r'''
    import ctypes, os, sys
    import ntp

    # fake_libcuda.h's state, as ctypes lays out the same C struct.
    class Launch(ctypes.Structure):
        _fields_ = [("function", ctypes.c_char * 64),
                    ("grid", ctypes.c_uint * 3), ("block", ctypes.c_uint * 3),
                    ("shared_bytes", ctypes.c_uint),
                    ("stream", ctypes.c_void_p), ("context", ctypes.c_void_p),
                    ("x", ctypes.c_void_p), ("direction", ctypes.c_void_p),
                    ("params", ctypes.c_void_p), ("out", ctypes.c_void_p),
                    ("batch", ctypes.c_int64)]

    class Logged(ctypes.Structure):
        _fields_ = [("function", ctypes.c_char * 64),
                    ("grid", ctypes.c_uint), ("block", ctypes.c_uint),
                    ("stream", ctypes.c_void_p), ("num_args", ctypes.c_int),
                    ("args", ctypes.c_uint64 * 12)]

    class State(ctypes.Structure):
        _fields_ = [("init_calls", ctypes.c_int), ("loads", ctypes.c_int),
                    ("unloads", ctypes.c_int), ("launches", ctypes.c_int),
                    ("retains", ctypes.c_int),
                    ("retained_device", ctypes.c_int),
                    ("image", ctypes.c_char * (1 << 20)),
                    ("image_size", ctypes.c_size_t),
                    ("function", ctypes.c_char * 64),
                    ("load_context", ctypes.c_void_p),
                    ("unload_context", ctypes.c_void_p),
                    ("last_launch", Launch), ("releases", ctypes.c_int),
                    ("logged", ctypes.c_int), ("log", Logged * 16),
                    ("allocs", ctypes.c_int), ("frees", ctypes.c_int),
                    ("alloc_bytes", ctypes.c_uint64),
                    ("live_bytes", ctypes.c_uint64),
                    ("alloc_stream", ctypes.c_void_p),
                    ("free_stream", ctypes.c_void_p),
                    ("last_alloc", ctypes.c_void_p)]

    fake = ctypes.CDLL(os.environ["NTP_LIBCUDA"])
    fake.fake_cuda_state.restype = ctypes.POINTER(State)
    state = lambda: fake.fake_cuda_state().contents

    import subprocess

    # A real CUDA artifact (PTX, no ptxas needed) of the 1-4-1 network,
    # order 2, written by ntp-compile in the runtime's container format.
    def artifact(path, backward=False):
        subprocess.run([os.environ["NTP_COMPILE"], "--layers", "1,4,1",
                        "--order", "2", "--name", "net", "--target=nvptx",
                        "--chip=sm_90", "--gpu-format=ptx", "-o", path] +
                       (["--gpu-backward"] if backward else []),
                       check=True)
        return path
''')

X, V, P, OUT = 0x7f0000001000, 0x7f0000002000, 0x7f0000003000, 0x7f0000004000


def run(body, tmp_path):
    script = PRELUDE + "\nTMP = %r\n" % str(tmp_path) + textwrap.dedent(body)
    env = dict(os.environ, NTP_LIBCUDA=FAKE)
    r = subprocess.run([sys.executable, "-c", script], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def test_device_pointers_reach_the_launch(tmp_path):
    run('''
        k = ntp.load(artifact(os.path.join(TMP, "k.ntp")))
        assert (k.device, k.dtype, k.layers, k.order) == ("cuda", "float32",
                                                          (1, 4, 1), 2)
        r = k.forward(%d, %d, %d, out=%d, batch=300)
        assert r == %d
        l = state().last_launch
        assert state().launches == 1
        assert (l.x, l.direction, l.params, l.out, l.batch) == (
            %d, %d, %d, %d, 300), (l.x, l.direction, l.params, l.out, l.batch)
        assert tuple(l.grid) == (3, 1, 1) and tuple(l.block) == (128, 1, 1)
        assert l.stream is None
        k.forward(%d, %d, %d, out=%d, batch=5, stream=0x5000)
        assert state().last_launch.stream == 0x5000
    ''' % (X, P, V, OUT, OUT, X, V, P, OUT, X, P, V, OUT), tmp_path)


def test_cuda_misuse_is_an_error(tmp_path):
    run('''
        import numpy as np
        k = ntp.load(artifact(os.path.join(TMP, "k.ntp")))
        def error(fn, pattern, status=ntp.ERROR_INVALID_ARGUMENT):
            try:
                fn()
            except ntp.Error as e:
                assert pattern in e.message and e.status == status, e
            else:
                raise AssertionError("no error: " + pattern)
        error(lambda: k.forward(np.zeros((3, 1), np.float32), %d),
              "x is a numpy array but the kernel runs on cuda")
        error(lambda: k.forward(%d, %d, out=%d, batch=3),
              "direction is required with device pointers")
        error(lambda: k.forward(%d, %d, %d, batch=3), "out is required")
        error(lambda: k.forward(%d, %d, %d, out=%d), "pass batch=")
        # The runtime's own refusal, with its sentence: no CUDA backward.
        error(lambda: k.backward(%d, %d, %d, %d, params_grad=%d, x_grad=%d,
                                 batch=3), "", ntp.ERROR_UNSUPPORTED)
        assert state().launches == 0
    ''' % (P, X, P, OUT, X, P, V, X, P, V, OUT, X, P, OUT, V, P, X),
        tmp_path)


def test_jit_cuda_kernel_through_the_fake_driver(tmp_path):
    run('''
        k = ntp.compile([1, 8, 1], "tanh", 3, "float32", device="cuda",
                        chip="sm_90", gpu_format="ptx", use_cache=False)
        assert k.device == "cuda" and k.order == 3
        assert k.target_cpu is None  # no CPU code (no error either)
        assert b".entry" in state().image[:state().image_size]
        k.forward(%d, %d, %d, out=%d, batch=1000)
        l = state().last_launch
        assert (l.x, l.params, l.out, l.batch) == (%d, %d, %d, 1000)
    ''' % (X, P, V, OUT, X, P, OUT), tmp_path)


def test_reverse_mode_launches_on_the_fake_driver(tmp_path):
    # An artifact with the reverse mode (--gpu-backward): forward_save,
    # backward_saved and backward reach the driver as the C tests expect
    # (launch order, grid, stream, arguments), on the stream given.
    run('''
        k = ntp.load(artifact(os.path.join(TMP, "k.ntp"), backward=True))
        WS, G, XG, C = 0x7f0000100000, 0x7f0000006000, 0x7f0000007000, 0x7f0000005000
        size = k.workspace_size(300)
        k.forward_save(%d, %d, WS, %d, out=%d, batch=300, stream=0x77)
        k.backward_saved(%d, %d, C, WS, %d, params_grad=G, x_grad=XG,
                         batch=300, stream=0x77)
        s = state()
        names = [s.log[i].function for i in range(s.logged)]
        assert names == [b"net_forward_save", b"net_backward_saved",
                         b"net_reduce_params_grad"], names
        assert all(s.log[i].stream == 0x77 for i in range(3))
        assert [s.log[i].grid for i in range(3)] == [3, 3, 1]
        fs, bs, red = s.log[0], s.log[1], s.log[2]
        assert list(fs.args[:6]) == [%d, %d, %d, %d, WS + 64, 300]
        assert list(bs.args[:4]) == [%d, %d, %d, C] and bs.args[5] == XG
        assert bs.args[6] == WS + 64 and bs.args[8] == 300
        assert list(red.args[:3]) == [bs.args[7], G, 3]
        assert WS + 64 < bs.args[4] < bs.args[7] < WS + size
        k.backward(%d, %d, C, %d, params_grad=G, x_grad=XG, batch=300)
        s = state()
        assert s.logged == 6 and s.allocs == 1 and s.frees == 1
        assert s.live_bytes == 0
    ''' % (X, P, V, OUT, X, P, V, X, V, P, OUT, X, V, P, X, P, V), tmp_path)


def test_partials_kernel_on_the_fake_driver(tmp_path):
    # Issue 12 item 7: a CUDA partials kernel (u_xx, u and its Laplacian,
    # with the reverse mode) through ntp.load and Kernel.partials* with
    # device pointers; `params` stands in for the direction argument.
    run('''
        path = os.path.join(TMP, "p.ntp")
        subprocess.run([os.environ["NTP_COMPILE"], "--layers", "2,4,1",
                        "--partials", "2,0;0,0", "--operator", "laplacian",
                        "--name", "net", "--target=nvptx", "--chip=sm_90",
                        "--gpu-format=ptx", "--gpu-backward", "-o", path],
                       check=True)
        k = ntp.load(path)
        assert k.device == "cuda"
        assert [list(r) for r in k.requests] == [[2, 0], [0, 0], [-2, -2]]
        k.partials(%d, %d, out=%d, batch=300)
        l = state().last_launch
        assert l.function == b"net_forward"
        assert (l.x, l.direction, l.params, l.out, l.batch) == (
            %d, %d, %d, %d, 300)
        assert tuple(l.grid) == (3, 1, 1)
        WS, G, XG, C = 0x7f0000100000, 0x7f0000006000, 0x7f0000007000, 0x7f0000005000
        k.partials_save(%d, %d, WS, out=%d, batch=300)
        k.partials_backward_saved(%d, %d, C, WS, params_grad=G, x_grad=XG,
                                  batch=300)
        s = state()
        names = [s.log[i].function for i in range(s.logged)]
        assert names == [b"net_forward", b"net_forward_save",
                         b"net_backward_saved",
                         b"net_reduce_params_grad"], names
        assert list(s.log[1].args[:3]) == [%d, %d, %d]
        k.partials_backward(%d, %d, C, params_grad=G, x_grad=XG, batch=300)
        s = state()
        assert s.logged == 7 and s.allocs == 1 and s.frees == 1
    ''' % (X, P, OUT, X, P, P, OUT, X, P, OUT, X, P, X, P, P, X, P), tmp_path)
