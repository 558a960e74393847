#!/usr/bin/env python3
"""Side by side in one process: kernels of one network compiled several ways
(flags, or other ntp-compile builds), linked into one C driver under
different symbol prefixes and called in turns, a few calls of each per
round, so that whatever disturbs the host (other tenants of a VM, frequency
changes) falls on every variant alike. Prints, per variant, the minimum and
the median over all calls of the forward and of the training step
(forward-save + backward-saved), and the ratios to the first variant
(> 1: faster than it).

  python3 benchmarks/ab_interleaved.py --layers 1,128,128,1 --order 9 \\
      --dtype f64 auto= "5x5=--affine-outputs=5 --affine-orders=5"

A variant is NAME=FLAGS or NAME=FLAGS@COMPILER (default build/bin/ntp-compile;
FLAGS are passed to it after the network's own). Run from the repository
root; batch 256 unless --batch, pinned to one CPU with --cpu (taskset)."""
import argparse
import os
import shlex
import subprocess
import tempfile

DRIVER_HEAD = r"""
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
typedef void (*fwd_t)(const void *, const void *, const void *, void *,
                      int64_t, int64_t, int64_t);
typedef void (*save_t)(const void *, const void *, const void *, void *,
                       void *, int64_t, int64_t, int64_t);
typedef void (*bwd_t)(const void *, const void *, const void *, const void *,
                      void *, void *, const void *, int64_t, int64_t,
                      int64_t);
static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}
static int cmpd(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}
static long key(const char *m, const char *k) {
  const char *p = strstr(m, k);
  return p ? atol(p + strlen(k)) : -1;
}
"""

DRIVER_MAIN = r"""
int main(int argc, char **argv) {
  long B = atol(argv[1]), rounds = atol(argv[2]), per = atol(argv[3]);
  const char *m = manifests[0];
  long np = key(m, "num_params="), ord = key(m, "\norder="), wsize = 0,
       nts[NV];
  /* Each variant's own tile count: a variant compiled with another --tile
     given the first one's count would run past the batch (masked lanes,
     still computed). */
  for (int v = 0; v < NV; ++v) {
    long T = key(manifests[v], "\ntile=");
    nts[v] = (B + T - 1) / T;
    long size = key(manifests[v], "workspace_per_tile=") * nts[v];
    if (size > wsize)
      wsize = size;
  }
  int f64 = strstr(m, "dtype=f64") != NULL;
  size_t es = f64 ? 8 : 4;
  long in = key(m, "\nlayers="); /* the first width: the input dimension */
  if (in < 1)
    in = 1;
  char *x = aligned_alloc(64, 64 * B * in), *dir = aligned_alloc(64, 64 * in),
       *p = aligned_alloc(64, es * np + 64),
       *o = aligned_alloc(64, es * (ord + 1) * B + 64),
       *c = aligned_alloc(64, es * (ord + 1) * B + 64),
       *g = aligned_alloc(64, es * np + 64),
       *xg = aligned_alloc(64, 64 * B * in),
       *ws = aligned_alloc(64, es * (wsize + 1024));
  srand(7);
#define SET(buf, i, val)                                                       \
  do {                                                                         \
    if (f64)                                                                   \
      ((double *)(buf))[i] = (val);                                            \
    else                                                                       \
      ((float *)(buf))[i] = (float)(val);                                      \
  } while (0)
  for (long j = 0; j < in; ++j)
    SET(dir, j, j == 0 ? 1.0 : 0.0);
  for (long j = 0; j < B * in; ++j)
    SET(x, j, rand() / (double)RAND_MAX - .5);
  for (long j = 0; j < np; ++j)
    SET(p, j, .3 * (rand() / (double)RAND_MAX - .5));
  for (long j = 0; j < (ord + 1) * B; ++j)
    SET(c, j, 1e-3);
  long n = rounds * per;
  double *tf = malloc(8 * n * NV), *tt = malloc(8 * n * NV), sums[NV];
  for (long r = 0; r < rounds; ++r)
    for (int v = 0; v < NV; ++v)
      for (long i = 0; i < per; ++i) {
        double t0 = now();
        fwds[v](x, dir, p, o, B, 0, nts[v]);
        double t1 = now();
        saves[v](x, dir, p, o, ws, B, 0, nts[v]);
        memset(g, 0, es * np);
        bwds[v](x, dir, p, c, g, xg, ws, B, 0, nts[v]);
        double t2 = now();
        tf[v * n + r * per + i] = t1 - t0;
        tt[v * n + r * per + i] = t2 - t1;
        if (r == 0 && i == 0) {
          double cs = 0;
          for (long j = 0; j < np; ++j)
            cs += (f64 ? ((double *)g)[j] : ((float *)g)[j]) * (1 + j % 7);
          sums[v] = cs;
        }
      }
  for (int v = 0; v < NV; ++v) {
    qsort(tf + v * n, n, 8, cmpd);
    qsort(tt + v * n, n, 8, cmpd);
    printf("%d %.2f %.2f %.2f %.2f %.12g\n", v, tf[v * n] * 1e6,
           tf[v * n + n / 2] * 1e6, tt[v * n] * 1e6, tt[v * n + n / 2] * 1e6,
           sums[v]);
  }
  return 0;
}
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layers", required=True)
    ap.add_argument("--order", required=True)
    ap.add_argument("--dtype", default="f64")
    ap.add_argument("--activation", default="tanh")
    ap.add_argument("--target-cpu", default="native")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=60)
    ap.add_argument("--per-round", type=int, default=5)
    ap.add_argument("--cpu", default="1", help="taskset CPU list ('' to not pin)")
    ap.add_argument("--extra", default="", help="flags for every variant")
    ap.add_argument("variants", nargs="+")
    a = ap.parse_args()
    root = os.getcwd()
    work = tempfile.mkdtemp(prefix="ntp-ab-")
    names, objects = [], []
    for v, spec in enumerate(a.variants):
        name, _, rest = spec.partition("=")
        flags, _, compiler = rest.partition("@")
        compiler = compiler or os.path.join(root, "build/bin/ntp-compile")
        obj = os.path.join(work, "v%d.o" % v)
        subprocess.run([compiler, "--layers", a.layers, "--activation", a.activation,
                        "--order", a.order, "--dtype", a.dtype,
                        "--target-cpu=" + a.target_cpu, "--emit=obj",
                        "--symbol-prefix", "k%d" % v, "-o", obj] +
                       shlex.split(a.extra) + shlex.split(flags), check=True,
                       stdout=subprocess.DEVNULL)
        names.append(name)
        objects.append(obj)
    nv = len(names)
    src = [DRIVER_HEAD, "#define NV %d" % nv]
    for v in range(nv):
        src.append("extern const char k%d_manifest[];" % v)
        src.append("void k%d_forward_tiles();void k%d_forward_save_tiles();"
                   "void k%d_backward_saved_tiles();" % (v, v, v))
    src.append("static const char *manifests[] = {%s};" %
               ",".join("k%d_manifest" % v for v in range(nv)))
    for kind, typ in (("forward", "fwd_t"), ("forward_save", "save_t"),
                      ("backward_saved", "bwd_t")):
        src.append("static %s %ss[] = {%s};" % (
            typ, {"forward": "fwd", "forward_save": "save",
                  "backward_saved": "bwd"}[kind],
            ",".join("(%s)k%d_%s_tiles" % (typ, v, kind) for v in range(nv))))
    src.append(DRIVER_MAIN)
    driver = os.path.join(work, "driver.c")
    with open(driver, "w") as f:
        f.write("\n".join(src))
    exe = os.path.join(work, "driver")
    subprocess.run(["gcc", "-O2", "-w", driver] + objects + ["-o", exe, "-lm"],
                   check=True)
    cmd = ([ "taskset", "-c", a.cpu] if a.cpu else []) + [
        exe, str(a.batch), str(a.rounds), str(a.per_round)]
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    rows = [line.split() for line in out.strip().splitlines()]
    ref = [float(x) for x in rows[0][1:5]]
    tol = 1e-4 if a.dtype == "f32" else 1e-10
    print("%s order %s %s batch %d, %d calls each (%d rounds x %d, in turns)" %
          (a.layers, a.order, a.dtype, a.batch, a.rounds * a.per_round, a.rounds,
           a.per_round))
    print("| variant | fwd min us | fwd median | step min | step median | "
          "fwd min ratio | fwd median ratio | step min ratio | step median ratio "
          "| checksum agrees |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    refsum = float(rows[0][5])
    for name, row in zip(names, rows):
        t = [float(x) for x in row[1:5]]
        cs = float(row[5])
        agree = abs(cs - refsum) <= tol * max(abs(refsum), 1e-30)
        print("| %s | %.1f | %.1f | %.1f | %.1f | %.2fx | %.2fx | %.2fx | %.2fx | %s |"
              % (name, t[0], t[1], t[2], t[3], ref[0] / t[0], ref[1] / t[1],
                 ref[2] / t[2], ref[3] / t[3], "yes" if agree else "NO"))


if __name__ == "__main__":
    main()
