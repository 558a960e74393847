#===- laplacian_common.py - What the Laplacian benchmarks share -----------===#
#
# laplacian_peers.py and laplacian_train.py time ntp beside PyTorch and JAX,
# which cannot share an interpreter (Debian's torch with numpy 1.24, JAX in
# its own virtual environment with numpy 2). Each script is a driver that
# writes the weights and points once (.npz), runs itself as a torch worker
# under /usr/bin/python3 and as a JAX worker under the JAX environment's
# python, and prints the workers' results (JSON on their last stdout line)
# as tables. This module is that driver/worker set-up, the shared network
# and data, and the timing: the methods take turns, block by block, and the
# best block counts.
#
#===----------------------------------------------------------------------===#
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

HIDDEN = 64


def layers_of(d):
    return [d, HIDDEN, HIDDEN, HIDDEN, 1]


#===----------------------------------------------------------------------===#
# Timing: the methods take turns, block by block; the best block counts
#===----------------------------------------------------------------------===#

def measure(fns, block_s, rounds, sync=lambda r: r, statistic="block"):
    """ms per call of each of fns (no-argument callables), taking turns:
    statistic "block" (the best of `rounds` blocks of ~block_s seconds,
    each block's mean per call) or "min" (the fastest single call over the
    same blocks, each call synced: what a call costs when the host lets it
    run undisturbed, the statistic ntp-bench --statistic=min reports)."""
    reps = []
    for f in fns:
        sync(f())
        t = time.perf_counter()
        sync(f())
        once = time.perf_counter() - t
        reps.append(max(1, int(block_s / max(once, 1e-7))))
    best = [float("inf")] * len(fns)
    for _ in range(rounds):
        for i, f in enumerate(fns):
            if statistic == "min":
                for _ in range(reps[i]):
                    t = time.perf_counter()
                    sync(f())
                    best[i] = min(best[i], time.perf_counter() - t)
                continue
            t = time.perf_counter()
            for _ in range(reps[i]):
                r = f()
            sync(r)
            best[i] = min(best[i], (time.perf_counter() - t) / reps[i])
    return [b * 1e3 for b in best]


def per_call(args):
    """How measure() took the times, for the tables' headers."""
    if args.statistic == "min":
        return ("the fastest single call in %d blocks of ~%.2f s"
                % (args.rounds, args.block))
    return "best of %d blocks of ~%.2f s" % (args.rounds, args.block)


def rel_diff(a, b):
    import numpy as np
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


#===----------------------------------------------------------------------===#
# The data: weights and points of d-64-64-64-1, written once by the driver
#===----------------------------------------------------------------------===#

def write_data(data, dims, batch, seed=0):
    import numpy as np
    rng = np.random.default_rng(seed)
    for d in sorted(set(dims) | {3}):
        w = layers_of(d)
        arrays = {"x": rng.uniform(-1, 1, (batch, d))}
        for i in range(4):
            arrays["W%d" % i] = rng.standard_normal((w[i + 1], w[i])) / \
                np.sqrt(w[i])
            arrays["b%d" % i] = rng.standard_normal(w[i + 1]) * 0.1
        np.savez(os.path.join(data, "d%d.npz" % d), **arrays)


def load_case(data, d, dtype):
    import numpy as np
    z = np.load(os.path.join(data, "d%d.npz" % d))
    params = [(z["W%d" % i].astype(dtype), z["b%d" % i].astype(dtype))
              for i in range(4)]
    flat = np.concatenate([a.reshape(-1) for wb in params for a in wb])
    return params, np.ascontiguousarray(flat), \
        np.ascontiguousarray(z["x"].astype(dtype))


#===----------------------------------------------------------------------===#
# The driver
#===----------------------------------------------------------------------===#

def machine():
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return "%s, %d CPUs" % (cpu, os.cpu_count())


def print_machine(start):
    """The machine line of a report: the load average at `start` and now."""
    print("# machine: %s; load average at start %s, at the end %s "
          "(other builders running: ratios side by side are what count)" % (
              machine(), " ".join("%.1f" % v for v in start),
              " ".join("%.1f" % v for v in os.getloadavg())))


def parse_args(documented=False, add_options=lambda ap: None):
    """The options both scripts take (`documented`: with their help texts),
    `add_options`' own after --rounds; --dims and --dtypes as lists."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker", choices=["torch", "jax"])
    ap.add_argument("--data")
    ap.add_argument("--dims", default="2,8,32")
    ap.add_argument("--dtypes", default="float64,float32")
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--block", type=float, default=0.2,
                    help="seconds per timed block" if documented else None)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--statistic", choices=["block", "min"], default="block",
                    help="ms per call: the best block's mean, or the "
                    "fastest single call" if documented else None)
    add_options(ap)
    ap.add_argument("--torch-threads", type=int, default=0,
                    help="torch.set_num_threads (0: torch's default)"
                    if documented else None)
    ap.add_argument("--torch-python", default="/usr/bin/python3")
    ap.add_argument("--jax-python", default=os.path.join(
        os.environ.get("NTP_JAX_VENV",
                       os.path.expanduser("~/.cache/ntp/jax-venv")),
        "bin", "python"))
    args = ap.parse_args()
    args.dims = [int(v) for v in args.dims.split(",")]
    args.dtypes = args.dtypes.split(",")
    return args


def run_worker(script, python, kind, args, data, flags=()):
    """Runs `script` as the `kind` worker under `python`: its JSON result."""
    cmd = [python, os.path.abspath(script), "--worker", kind,
           "--data", data, "--dims", ",".join(map(str, args.dims)),
           "--dtypes", ",".join(args.dtypes), "--block", str(args.block),
           "--rounds", str(args.rounds), "--statistic", args.statistic,
           "--torch-threads", str(args.torch_threads)] + list(flags)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit("the %s worker failed (%s)" % (kind, " ".join(cmd)))
    return json.loads(r.stdout.strip().splitlines()[-1])


def drive(script, args, flags=()):
    """The driver: the data, then the torch and the JAX worker of `script`.
    Returns the load average at the start and the two workers' results."""
    try:
        import numpy  # noqa: F401  (the driver writes the .npz files)
    except ImportError:  # another python3 first on PATH: the torch one
        os.execv(args.torch_python, [args.torch_python] + sys.argv)
    start = os.getloadavg()
    with tempfile.TemporaryDirectory() as data:
        write_data(data, args.dims, args.batch)
        tw = run_worker(script, args.torch_python, "torch", args, data, flags)
        jw = run_worker(script, args.jax_python, "jax", args, data, flags)
    return start, tw, jw
