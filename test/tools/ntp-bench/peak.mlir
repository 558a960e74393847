// The FMA peak ntp-bench measures and prints before its rows (no kernel is
// compiled with --peak-only); its values are not checked, only that both
// dtypes are measured on one thread and on the kernels' thread count.
// RUN: ntp-bench --peak-only --num-threads=2 | FileCheck %s

// CHECK: FMA peak, measured in this run
// CHECK: | dtype | instruction | 1 thread | 2 threads |
// CHECK: | f32 | {{.*FMA.*}} | {{[0-9.]+}} | {{[0-9.]+}} |
// CHECK: | f64 | {{.*FMA.*}} | {{[0-9.]+}} | {{[0-9.]+}} |
// CHECK-NOT: ntp fwd
