// ntp-burgers' flags: a number must be a whole number (atoi used to read
// "--k two" as k = 0 and train the wrong profile); --help is usage on stdout.
// RUN: not ntp-burgers --k two 2>&1 | FileCheck %s --check-prefix=K
// RUN: not ntp-burgers --adam-lr 1e-3x 2>&1 | FileCheck %s --check-prefix=LR
// RUN: not ntp-burgers --seed -1 2>&1 | FileCheck %s --check-prefix=SEED
// RUN: not ntp-burgers --k 7 2>&1 | FileCheck %s --check-prefix=USAGE
// RUN: ntp-burgers --help | FileCheck %s --check-prefix=USAGE

// K: ntp-burgers: error: --k needs an integer in {{.*}}, got 'two'
// LR: ntp-burgers: error: --adam-lr needs a finite number, got '1e-3x'
// SEED: ntp-burgers: error: --seed needs an integer in 0..4294967295, got '-1'
// USAGE: usage: {{.*}}ntp-burgers [--k 0..5]
