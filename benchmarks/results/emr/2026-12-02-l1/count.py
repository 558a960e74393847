#!/usr/bin/env python3
"""Counts the cells of an ntp-bench run folder (bench_<net>_t1_<stat>.txt)
that meet issue 17's targets: forward >= 60% and training step >= 55% of
the FMA peak beside the row. Usage: count.py FOLDER"""
import glob
import os
import sys

for stat in ("min", "median"):
    fwd = step = cells = 0
    lo = [100, 100]
    hi = [0, 0]
    for path in sorted(glob.glob(os.path.join(sys.argv[1], "bench_*_t1_%s.txt" % stat))):
        for line in open(path):
            f = [c.strip() for c in line.split("|")]
            if len(f) > 10 and f[1] in ("f32", "f64") and f[2].isdigit():
                a, b = int(f[7].rstrip("%")), int(f[10].rstrip("%"))
                cells += 1
                fwd += a >= 60
                step += b >= 55
                lo = [min(lo[0], a), min(lo[1], b)]
                hi = [max(hi[0], a), max(hi[1], b)]
    print("%s: forward >= 60%% in %d of %d cells (%d-%d%%), training step >= 55%% "
          "in %d of %d (%d-%d%%)" % (stat, fwd, cells, lo[0], hi[0], step, cells,
                                    lo[1], hi[1]))
