// RUN: ntp-opt %s -split-input-file -verify-diagnostics -pass-pipeline='builtin.module(gpu.module(ntp-gpu-bare-kernel-args))' | FileCheck %s

// ntp-gpu-bare-kernel-args: each 1-D memref descriptor (allocated, aligned,
// offset, size, stride) of a kernel becomes one bare pointer, noalias, and
// readonly unless it is the last buffer (the output); the offset is 0 and the
// stride 1; scalars stay.

// CHECK-LABEL: llvm.func @net_forward
// CHECK-SAME: (%[[IN:.*]]: !llvm.ptr {llvm.noalias, llvm.readonly}, %[[OUT:.*]]: !llvm.ptr {llvm.noalias}, %[[N:.*]]: i64)
// CHECK-SAME: nvvm.kernel
// CHECK: %[[ZERO:.*]] = llvm.mlir.constant(0 : i64)
// CHECK: %[[ONE:.*]] = llvm.mlir.constant(1 : i64)
// CHECK: %[[P:.*]] = llvm.getelementptr %[[IN]][%[[ZERO]]]
// CHECK: %[[X:.*]] = llvm.load %[[P]]
// CHECK: %[[I:.*]] = llvm.mul %[[N]], %[[ONE]]
// CHECK: %[[Q:.*]] = llvm.getelementptr %[[OUT]][%[[I]]]
// CHECK: llvm.store %[[X]], %[[Q]]
gpu.module @ntp_kernels {
  llvm.func @net_forward(%a0: !llvm.ptr, %a1: !llvm.ptr, %a2: i64, %a3: i64,
                         %a4: i64, %b0: !llvm.ptr, %b1: !llvm.ptr, %b2: i64,
                         %b3: i64, %b4: i64, %n: i64) attributes {nvvm.kernel} {
    %p = llvm.getelementptr %a1[%a2] : (!llvm.ptr, i64) -> !llvm.ptr, f32
    %x = llvm.load %p : !llvm.ptr -> f32
    %i = llvm.mul %n, %b4 : i64
    %q = llvm.getelementptr %b1[%i] : (!llvm.ptr, i64) -> !llvm.ptr, f32
    llvm.store %x, %q : f32, !llvm.ptr
    llvm.return
  }
}

// -----

gpu.module @ntp_kernels {
  // expected-error @below {{kernel arguments are not 1-D memref descriptors and scalars}}
  llvm.func @lone_pointer(%p: !llvm.ptr, %n: i64) attributes {nvvm.kernel} {
    llvm.return
  }
}
