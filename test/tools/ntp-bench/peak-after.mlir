// Beside every row (its last column) and after all rows ntp-bench measures
// the FMA peak again, so that a machine whose capacity changed during the
// run (a shared host) is visible; values are not checked, only that both
// tables, the row between them and its peak column exist.
// RUN: ntp-bench --torch=off --layers=1,4,1 --min-order=1 --max-order=1 --dtypes=f64 --min-time-ms=1 --num-threads=1 | FileCheck %s

// CHECK: FMA peak, measured in this run before the kernels
// CHECK: speed-up total | FMA peak beside the row |
// CHECK: | f64 | 1 | {{[0-9]+}} | auto |{{.*}}| {{[0-9.]+}} |{{$}}
// CHECK: FMA peak, measured again after the kernels
// CHECK: | f32 | {{.*FMA.*}} | {{[0-9.]+}} | {{[0-9.]+}} |
// CHECK: | f64 | {{.*FMA.*}} | {{[0-9.]+}} | {{[0-9.]+}} |
