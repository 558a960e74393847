#!/usr/bin/env python3
"""A/B: the training step (forward-save + backward-saved, batch 256, one
thread pinned to CPU 1) of kernels compiled by two ntp-compile builds, timed
in turns (min and median of 300 calls per run, the best over ROUNDS runs of
each). Here: padded saved-jet planes (NEW) against dense ones (OLD).

  NEW=build/bin/ntp-compile OLD=/work/old/build/bin/ntp-compile \\
  AB_DIR=/tmp/ab ROUNDS=3 python3 planes_ab.py 3,6,9 "1,64,64,64,1;1,128,128,1"

run from the repository root; objects and drivers go to AB_DIR. The driver is
../../zen3/2026-12-02b/step_driver.c (it allocates the workspace the manifest
states)."""
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
new = os.path.abspath(os.environ.get("NEW", "build/bin/ntp-compile"))
old = os.path.abspath(os.environ.get("OLD", "/work/old/build/bin/ntp-compile"))
nets = sys.argv[2].split(";") if len(sys.argv) > 2 else [
    "1,24,24,24,1", "1,64,64,64,1", "1,128,128,1"]
orders = [int(o) for o in (sys.argv[1] if len(sys.argv) > 1 else "3,6,9").split(",")]
dtypes = os.environ.get("DTYPES", "f32,f64").split(",")
rounds = int(os.environ.get("ROUNDS", "3"))
driver = os.path.join(here, "..", "..", "zen3", "2026-12-02b", "step_driver.c")
os.chdir(os.environ.get("AB_DIR", "."))


def build(compiler, net, dt, order, name):
    subprocess.run([compiler, "--layers", net, "--activation", "tanh", "--order",
                    str(order), "--dtype", dt, "--target-cpu=native", "--emit=obj",
                    "--symbol-prefix", "k", "-o", name + ".o"],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["gcc", "-O2", driver, name + ".o", "-o", name, "-lm"], check=True)


def run(name):
    out = subprocess.run(["taskset", "-c", "1", "./" + name, "300"], check=True,
                         stdout=subprocess.PIPE, text=True).stdout.split()
    return [float(v) for v in out[:6]], float(out[6])


print("| network | dtype | order | forward-save min us: padded / dense | ratio "
      "| backward-saved min: padded / dense | ratio | step min: padded / dense "
      "| ratio | step median ratio | gradient checksums agree |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for net in nets:
    for dt in dtypes:
        for order in orders:
            build(new, net, dt, order, "a")
            build(old, net, dt, order, "b")
            best = {"a": [1e30] * 6, "b": [1e30] * 6}
            sums = {}
            for _ in range(rounds):
                for n in ("a", "b"):
                    t, cs = run(n)
                    best[n] = [min(u, w) for u, w in zip(best[n], t)]
                    sums[n] = cs
            a, b = best["a"], best["b"]
            tol = 1e-4 if dt == "f32" else 1e-10
            agree = abs(sums["a"] - sums["b"]) <= tol * max(abs(sums["b"]), 1e-30)
            print("| %s | %s | %d | %.0f / %.0f | %.2fx | %.0f / %.0f | %.2fx | "
                  "%.0f / %.0f | %.2fx | %.2fx | %s |" % (
                      net, dt, order, a[0], b[0], b[0] / a[0], a[1], b[1],
                      b[1] / a[1], a[2], b[2], b[2] / a[2], b[5] / a[5],
                      "yes" if agree else "NO (%g vs %g)" % (sums["a"], sums["b"])),
                  flush=True)
