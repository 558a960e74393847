// ntp-layers-bench takes the maximum order and optionally the minimum one:
// anything else is one sentence and status 2, before any compile; --help is
// usage.
// RUN: not ntp-layers-bench 9x 2>&1 | FileCheck %s
// RUN: not ntp-layers-bench 33 2>&1 | FileCheck %s
// RUN: not ntp-layers-bench 0 2>&1 | FileCheck %s
// RUN: not ntp-layers-bench 3 4 2>&1 | FileCheck %s
// RUN: not ntp-layers-bench 9 1 1 2>&1 | FileCheck %s
// RUN: ntp-layers-bench --help | FileCheck %s --check-prefix=HELP

// CHECK: ntp-layers-bench: error: the arguments are the maximum order (an integer in 1..32) and optionally the minimum order (an integer in 1..maximum)
// HELP: usage: {{.*}}ntp-layers-bench [max-order [min-order]]
