// ntp-showcase takes one kernel artifact; --help is usage on stdout, a
// missing artifact one sentence and a nonzero status.
// RUN: ntp-showcase --help | FileCheck %s --check-prefix=USAGE
// RUN: not ntp-showcase 2>&1 | FileCheck %s --check-prefix=USAGE
// RUN: not ntp-showcase %t.missing.so 2>&1 | FileCheck %s --check-prefix=MISSING

// USAGE: usage: {{.*}}ntp-showcase <kernel.so>
// MISSING: cannot open kernel artifact '{{.*}}missing.so'
