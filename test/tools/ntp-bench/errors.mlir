// Bad ntp-bench flags: one sentence and a nonzero status, before any compile.
// RUN: not ntp-bench --batch=-5 --torch=off 2>&1 | FileCheck %s --check-prefix=BATCH
// RUN: not ntp-bench --layers=4 --torch=off 2>&1 | FileCheck %s --check-prefix=LAYERS
// RUN: not ntp-bench --max-order=33 --torch=off 2>&1 | FileCheck %s --check-prefix=ORDER

// BATCH: ntp-bench: error: --batch must be in 1..16777216, got -5
// LAYERS: ntp-bench: error: --layers needs at least two widths
// ORDER: ntp-bench: error: --max-order must be in 0..32, got 33
