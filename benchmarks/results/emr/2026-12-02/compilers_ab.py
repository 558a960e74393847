#!/usr/bin/env python3
"""Side by side: the forward and the training step (forward-save +
backward-saved) of kernels for this machine (--target-cpu=native, batch 256,
one thread pinned to CPU 1), compiled by several ntp-compile builds (or one
build under several environments), timed in turns: min of 300 calls per run,
the best over ROUNDS runs of each. The first variant is the reference of the
ratios (> 1: the variant is faster).

  AB_DIR=/tmp/ab ROUNDS=3 python3 compilers_ab.py 3,6,9 "1,64,64,64,1" \\
      "new=build/bin/ntp-compile" "old=/work/old/build/bin/ntp-compile"

A variant is name=compiler[@ENV=value]. TARGET_CPU: the --target-cpu
(default native). Run from the repository root; the driver is
step_driver.c beside this script."""
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
orders = sys.argv[1].split(",")
nets = sys.argv[2].split(";")
variants = []
for arg in sys.argv[3:]:
    name, rest = arg.split("=", 1)
    compiler, _, env = rest.partition("@")
    variants.append((name, os.path.abspath(compiler), env))
dtypes = os.environ.get("DTYPES", "f32,f64").split(",")
rounds = int(os.environ.get("ROUNDS", "3"))
target = os.environ.get("TARGET_CPU", "native")
driver = os.path.join(here, "step_driver.c")
os.chdir(os.environ.get("AB_DIR", "."))


def build(variant, net, dt, order):
    name, compiler, env = variant
    environ = dict(os.environ)
    if env:
        k, _, v = env.partition("=")
        environ[k] = v
    subprocess.run([compiler, "--layers", net, "--activation", "tanh", "--order",
                    order, "--dtype", dt, "--target-cpu=" + target, "--emit=obj",
                    "--symbol-prefix", "k", "-o", name + ".o"],
                   check=True, stdout=subprocess.DEVNULL, env=environ)
    subprocess.run(["gcc", "-O2", driver, name + ".o", "-o", name, "-lm"], check=True)


def run(name):
    out = subprocess.run(["taskset", "-c", "1", "./" + name, "300"], check=True,
                         stdout=subprocess.PIPE, text=True).stdout.split()
    return [float(v) for v in out[:6]], float(out[6])


ref = variants[0][0]
print("| network | dtype | order | variant | forward min us | forward-save min | "
      "backward-saved min | step min | forward ratio | backward-saved ratio | "
      "step ratio | checksum agrees |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for net in nets:
    for dt in dtypes:
        for order in orders:
            for v in variants:
                build(v, net, dt, order)
            best = {v[0]: [1e30] * 6 for v in variants}
            sums = {}
            for _ in range(rounds):
                for v in variants:
                    t, cs = run(v[0])
                    best[v[0]] = [min(a, b) for a, b in zip(best[v[0]], t)]
                    sums[v[0]] = cs
            r = best[ref]
            tol = 1e-4 if dt == "f32" else 1e-10
            for name, _, _ in variants:
                b = best[name]
                agree = abs(sums[name] - sums[ref]) <= tol * max(abs(sums[ref]), 1e-30)
                print("| %s | %s | %s | %s | %.0f | %.0f | %.0f | %.0f | %.2fx | %.2fx "
                      "| %.2fx | %s |" % (net, dt, order, name, b[0], b[1], b[2], b[3],
                                          r[0] / b[0], r[2] / b[2], r[3] / b[3],
                                          "yes" if agree else "NO"), flush=True)
