// --scaling times every forward and training step at one thread and at the
// kernels' thread count, and an FMA-peak probe at each, call by call in
// turns, and prints the scaling table after the rows; values are not
// checked (they are the machine's), only its shape.
// RUN: ntp-bench --torch=off --layers=1,4,1 --min-order=1 --max-order=2 --dtypes=f32 --min-time-ms=1 --num-threads=2 --scaling | FileCheck %s

// CHECK: Thread scaling (batch 256;
// CHECK: | dtype | n | schedule | fwd 1 thread | fwd 2 threads | fwd speed-up |
// CHECK: | f32 | 1 | auto | {{[0-9.]+}} | {{[0-9.]+}} | {{[0-9.]+}}x |{{.*}}| {{[0-9]+}}% | {{[0-9]+}}% |
// CHECK: | f32 | 2 | auto |
// CHECK: FMA peak, measured again after the kernels
