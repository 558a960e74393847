// The shared object ntp-compile writes is sealed into an artifact: the
// library, then its manifest, then the trailer (ntp/artifact.hpp, ABI 2).
// RUN: ntp-compile %s --target-cpu=x86-64 -o %t.so
// RUN: tail -c 400 %t.so | FileCheck %s
// RUN: not test -e %t.so.unsealed.tmp
// RUN: not test -e %t.so.sealed.tmp

// CHECK: ntp-kernel-manifest
// CHECK-NEXT: abi_version=2
// CHECK-NEXT: name=small
// CHECK-NEXT: activation=tanh
// CHECK-NEXT: order=1
// CHECK-NEXT: dtype=f64
// CHECK-NEXT: device=cpu
// CHECK-NEXT: layers=1,2,1
// CHECK-NEXT: num_params=7
// CHECK-NEXT: tile=8
// CHECK-NEXT: backward=1
// CHECK-NEXT: workspace_per_tile=96
// CHECK-NEXT: target_cpu=x86-64
// CHECK-NEXT: cpu_features={{$}}
// CHECK: NTPARTF
ntp.mlp @small layers [1, 2, 1] activation "tanh" order 1 : f64
