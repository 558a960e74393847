// After its rows ntp-bench measures the FMA peak again, so that a machine
// whose capacity changed during the run (a shared host) is visible; values
// are not checked, only that both tables and the row between them exist.
// RUN: ntp-bench --torch=off --layers=1,4,1 --min-order=1 --max-order=1 --dtypes=f64 --min-time-ms=1 --num-threads=1 | FileCheck %s

// CHECK: FMA peak, measured in this run before the kernels
// CHECK: | f64 | 1 | {{[0-9]+}} | auto |
// CHECK: FMA peak, measured again after the kernels
// CHECK: | f32 | {{.*FMA.*}} | {{[0-9.]+}} | {{[0-9.]+}} |
// CHECK: | f64 | {{.*FMA.*}} | {{[0-9.]+}} | {{[0-9.]+}} |
