// ntp-poisson's flags: numbers are whole and in range (a negative --depth
// used to resize the network to 2^64 layers); --help is usage on stdout.
// RUN: not ntp-poisson --depth -1 2>&1 | FileCheck %s --check-prefix=DEPTH
// RUN: not ntp-poisson --lr fast 2>&1 | FileCheck %s --check-prefix=LR
// RUN: not ntp-poisson --points 1 2>&1 | FileCheck %s --check-prefix=POINTS
// RUN: not ntp-poisson --bogus 2>&1 | FileCheck %s --check-prefix=USAGE
// RUN: ntp-poisson --help | FileCheck %s --check-prefix=USAGE

// DEPTH: ntp-poisson: error: --depth needs an integer in 1..64, got '-1'
// LR: ntp-poisson: error: --lr needs a finite number, got 'fast'
// POINTS: ntp-poisson: error: --points needs an integer in 2..16384, got '1'
// USAGE: usage: {{.*}}ntp-poisson [--width N]
