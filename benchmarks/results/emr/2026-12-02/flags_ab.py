#!/usr/bin/env python3
"""Side by side: the training step (forward-save + backward-saved, batch 256,
one thread pinned to CPU 1) of one network compiled by one ntp-compile with
several sets of flags, timed in turns (min and median of 300 calls per run,
the best over ROUNDS runs of each). The first variant is the reference of the
ratios (> 1: the variant is faster).

  AB_DIR=/tmp/ab ROUNDS=3 python3 flags_ab.py 1,64,64,64,1 9 f64 "" \\
      "--grad-outputs=2 --grad-inputs=2" "--grad-outputs=4 --grad-inputs=2"

run from the repository root (NTP_COMPILE: the compiler, default
build/bin/ntp-compile). The driver is ../../zen3/2026-12-02b/step_driver.c."""
import os
import shlex
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
compiler = os.path.abspath(os.environ.get("NTP_COMPILE", "build/bin/ntp-compile"))
net, orders, dtypes = sys.argv[1], sys.argv[2].split(","), sys.argv[3].split(",")
variants = sys.argv[4:] or [""]
rounds = int(os.environ.get("ROUNDS", "3"))
driver = os.path.join(here, "..", "..", "zen3", "2026-12-02b", "step_driver.c")
os.chdir(os.environ.get("AB_DIR", "."))


def build(flags, dt, order, name):
    subprocess.run([compiler, "--layers", net, "--activation", "tanh", "--order",
                    order, "--dtype", dt, "--target-cpu=native", "--emit=obj",
                    "--symbol-prefix", "k", "-o", name + ".o"] + shlex.split(flags),
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["gcc", "-O2", driver, name + ".o", "-o", name, "-lm"], check=True)


def run(name):
    out = subprocess.run(["taskset", "-c", "1", "./" + name, "300"], check=True,
                         stdout=subprocess.PIPE, text=True).stdout.split()
    return [float(v) for v in out[:6]], float(out[6])


print("| network | dtype | order | flags | forward-save min us | backward-saved min us "
      "| step min us | step median us | step min ratio | backward-saved ratio "
      "| checksum agrees |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for dt in dtypes:
    for order in orders:
        names = ["v%d" % i for i in range(len(variants))]
        for flags, name in zip(variants, names):
            build(flags, dt, order, name)
        best = {n: [1e30] * 6 for n in names}
        sums = {}
        for _ in range(rounds):
            for n in names:
                t, cs = run(n)
                best[n] = [min(u, w) for u, w in zip(best[n], t)]
                sums[n] = cs
        ref = best[names[0]]
        tol = 1e-4 if dt == "f32" else 1e-10
        for flags, n in zip(variants, names):
            b = best[n]
            agree = abs(sums[n] - sums[names[0]]) <= tol * max(abs(sums[names[0]]), 1e-30)
            print("| %s | %s | %s | %s | %.0f | %.0f | %.0f | %.0f | %.2fx | %.2fx | %s |" % (
                net, dt, order, flags or "(default)", b[0], b[1], b[2], b[5],
                ref[2] / b[2], ref[1] / b[1], "yes" if agree else "NO"), flush=True)
