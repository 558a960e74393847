// Bad ntp-bench flags: one sentence and a nonzero status, before any compile.
// RUN: not ntp-bench --batch=-5 --torch=off 2>&1 | FileCheck %s --check-prefix=BATCH
// RUN: not ntp-bench --layers=4 --torch=off 2>&1 | FileCheck %s --check-prefix=LAYERS
// RUN: not ntp-bench --max-order=33 --torch=off 2>&1 | FileCheck %s --check-prefix=ORDER
// RUN: not ntp-bench --num-threads=-1 --torch=off 2>&1 | FileCheck %s --check-prefix=THREADS
// RUN: not ntp-bench --tiles=16,65 --torch=off 2>&1 | FileCheck %s --check-prefix=TILES
// RUN: not ntp-bench --statistic=mean --torch=off 2>&1 | FileCheck %s --check-prefix=STAT
// RUN: not ntp-bench --scaling --num-threads=1 --torch=off 2>&1 | FileCheck %s --check-prefix=SCALING
// RUN: not ntp-bench --schedules=auto,1/2/2/1/2x0 --torch=off 2>&1 | FileCheck %s --check-prefix=GRAD
// RUN: not ntp-bench --schedules=1/2/2/1/9x1 --torch=off 2>&1 | FileCheck %s --check-prefix=GRAD9

// GRAD: ntp-bench: error: --schedules takes auto, base or I/B/K[/H[/OxG]] (I, B in 0..8, K >= 0, H 0 or 1, O and G both in 1..8 or both 0), got 'auto,1/2/2/1/2x0'
// GRAD9: ntp-bench: error: --schedules takes {{.*}} got '1/2/2/1/9x1'
// SCALING: ntp-bench: error: --scaling compares one thread with the kernels' thread count, which is 1: pass --num-threads=2 or more
// SCALING-NOT: FMA peak
// STAT: ntp-bench: error: --statistic is median or min, got 'mean'
// TILES: ntp-bench: error: --tiles takes numbers in 0..64 (0: automatic), got '16,65'
// THREADS: ntp-bench: error: --num-threads must be in 0..4096, got -1
// BATCH: ntp-bench: error: --batch must be in 1..16777216, got -5
// LAYERS: ntp-bench: error: --layers needs at least two widths
// ORDER: ntp-bench: error: --max-order must be in 0..32, got 33
