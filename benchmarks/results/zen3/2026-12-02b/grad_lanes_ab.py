#!/usr/bin/env python3
"""A/B: the training step (forward-save + backward-saved, batch 256, one thread
pinned to CPU 1) with the lane-wise gradient accumulators folded to one vector
register (ntp-compile's default) against one lane per sample (--grad-lane-bits 0),
compiled by the same ntp-compile and timed in turns (min and median of 300
calls per run, the best over ROUNDS runs of each).

  AB_DIR=/tmp/ab ROUNDS=5 python3 grad_lanes_ab.py 3,6,9 "1,64,64,64,1;1,128,128,1"

run from the repository root (NTP_COMPILE: the compiler, default
build/bin/ntp-compile); objects and drivers go to AB_DIR."""
import subprocess, sys, os
C = os.path.abspath(os.environ.get("NTP_COMPILE", "build/bin/ntp-compile"))
nets = sys.argv[2].split(";") if len(sys.argv) > 2 else ["1,24,24,24,1", "1,64,64,64,1", "1,128,128,1"]
orders = [int(o) for o in (sys.argv[1] if len(sys.argv) > 1 else "3,6,9").split(",")]
rounds = int(os.environ.get("ROUNDS", "3"))
DRIVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "step_driver.c")
os.chdir(os.environ.get("AB_DIR", "."))
def build(net, dt, order, lanes, name):
    cmd = [C, "--layers", net, "--activation", "tanh", "--order", str(order), "--dtype", dt,
           "--target-cpu=native", "--emit=obj", "--symbol-prefix", "k", "-o", name + ".o"]
    if lanes is not None:
        cmd += ["--grad-lane-bits", str(lanes)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["gcc", "-O2", DRIVER, name + ".o", "-o", name, "-lm"], check=True)
def run(name):
    out = subprocess.run(["taskset", "-c", "1", "./" + name, "300"], check=True,
                         stdout=subprocess.PIPE, text=True).stdout.split()
    return [float(v) for v in out[:6]], float(out[6])
print("| network | dtype | order | step min us: folded / per-sample lanes | ratio | step median us: folded / per-sample | ratio | backward-saved min: folded / per-sample | gradient checksums agree |")
print("|---|---|---|---|---|---|---|---|---|")
for net in nets:
    for dt in ("f32", "f64"):
        for order in orders:
            build(net, dt, order, None, "a")
            build(net, dt, order, 0, "b")
            best = {"a": [1e30] * 6, "b": [1e30] * 6}
            sums = {}
            for _ in range(rounds):
                for n in ("a", "b"):
                    t, cs = run(n)
                    best[n] = [min(u, w) for u, w in zip(best[n], t)]
                    sums[n] = cs
            a, b = best["a"], best["b"]
            agree = abs(sums["a"] - sums["b"]) <= 1e-4 * max(abs(sums["b"]), 1e-30) if dt == "f32" else abs(sums["a"] - sums["b"]) <= 1e-10 * max(abs(sums["b"]), 1e-30)
            print("| %s | %s | %d | %.0f / %.0f | %.2fx | %.0f / %.0f | %.2fx | %.0f / %.0f | %s |" % (
                net, dt, order, a[2], b[2], b[2] / a[2], a[5], b[5], b[5] / a[5], a[1], b[1], "yes" if agree else "NO (%g vs %g)" % (sums["a"], sums["b"])), flush=True)
