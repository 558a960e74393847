// ntp-layers-bench's orders are whole numbers in 1..32 (atoi read "9x" as 9
// and "--help" as 0): anything else is one sentence and status 2, before any
// compile; --help is usage on stdout.
// RUN: not ntp-layers-bench --torch off 9x 2>&1 | FileCheck %s --check-prefix=MAX
// RUN: not ntp-layers-bench --torch off 33 2>&1 | FileCheck %s --check-prefix=MAX33
// RUN: not ntp-layers-bench --torch off --min-order 0 2>&1 | FileCheck %s --check-prefix=MIN
// RUN: not ntp-layers-bench --torch off --min-order 5 3 2>&1 | FileCheck %s --check-prefix=ABOVE
// RUN: ntp-layers-bench --help | FileCheck %s --check-prefix=HELP

// MAX: ntp-layers-bench: error: max-order must be an integer in 1..32, got '9x'
// MAX33: ntp-layers-bench: error: max-order must be an integer in 1..32, got '33'
// MIN: ntp-layers-bench: error: --min-order must be an integer in 1..32, got '0'
// ABOVE: ntp-layers-bench: error: --min-order 5 is above the maximum order 3
// HELP: usage: {{.*}}ntp-layers-bench [--torch auto|off]
