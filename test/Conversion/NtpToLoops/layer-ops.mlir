// RUN: ntp-opt %s -convert-ntp-to-loops -canonicalize -cse | FileCheck %s

// The typed-layer ops: every order of a neuron is one vector across the
// tile's samples. A slope is loaded and broadcast once per neuron (per
// neuron: params[5 + j]); orders past live_orders are not touched.

// CHECK-LABEL: func.func @scale
// CHECK-SAME: (%[[IN:.*]]: memref<3x4x8xf32>, %[[P:.*]]: memref<?xf32>, %[[OUT:.*]]: memref<3x4x8xf32>)
// CHECK-DAG: %[[C5:.*]] = arith.constant 5 : index
// CHECK: scf.for %[[J:.*]] = %{{.*}} to %{{.*}} step
// CHECK:   %[[AI:.*]] = arith.addi %[[J]], %[[C5]]
// CHECK:   %[[A:.*]] = memref.load %[[P]][%[[AI]]]
// CHECK:   %[[AV:.*]] = vector.broadcast %[[A]] : f32 to vector<8xf32>
// CHECK:   %[[Y0:.*]] = vector.load %[[IN]][%{{.*}}, %[[J]], %{{.*}}]
// CHECK:   %[[S0:.*]] = arith.mulf %[[AV]], %[[Y0]]
// CHECK:   vector.store %[[S0]], %[[OUT]][%{{.*}}, %[[J]], %{{.*}}]
// CHECK:   %[[Y1:.*]] = vector.load %[[IN]]
// CHECK:   %[[S1:.*]] = arith.mulf %[[AV]], %[[Y1]]
// CHECK:   vector.store %[[S1]], %[[OUT]]
// CHECK-NOT: vector.store
// CHECK: } {ntp.neuron_loop}
func.func @scale(%in: memref<3x4x8xf32>, %p: memref<?xf32>, %out: memref<3x4x8xf32>) {
  ntp.scale %in, %p[5] into %out live_orders 2 per_neuron : memref<3x4x8xf32>, memref<?xf32>, memref<3x4x8xf32>
  return
}

// In place (a residual layer's sum): out = lhs + rhs, order by order.
// CHECK-LABEL: func.func @add
// CHECK-SAME: (%[[L:.*]]: memref<3x4x8xf32>, %[[R:.*]]: memref<3x4x8xf32>)
// CHECK: scf.for %[[J:.*]] =
// CHECK-COUNT-3: arith.addf {{.*}} : vector<8xf32>
// CHECK-NOT: arith.addf
// CHECK: } {ntp.neuron_loop}
func.func @add(%a: memref<3x4x8xf32>, %b: memref<3x4x8xf32>) {
  ntp.add_jets %a, %b into %b live_orders 3 : memref<3x4x8xf32>, memref<3x4x8xf32>, memref<3x4x8xf32>
  return
}

// One slope for the layer (params[5]): every neuron adds <outbar, in> over
// the live orders into grad[5], so the neuron loop is not a neuron_loop;
// inbar = a * outbar.
// CHECK-LABEL: func.func @scale_vjp
// CHECK-SAME: (%[[IN:.*]]: memref<3x4x8xf32>, %[[P:.*]]: memref<?xf32>, %[[BAR:.*]]: memref<3x4x8xf32>, %[[G:.*]]: memref<?xf32>, %[[INBAR:.*]]: memref<3x4x8xf32>)
// CHECK-DAG: %[[C5:.*]] = arith.constant 5 : index
// CHECK-DAG: %[[ZERO:.*]] = arith.constant dense<0.000000e+00> : vector<8xf32>
// CHECK: scf.for %[[J:.*]] =
// CHECK:   %[[A:.*]] = memref.load %[[P]][%[[C5]]]
// CHECK:   %[[AV:.*]] = vector.broadcast %[[A]]
// CHECK:   %[[B0:.*]] = vector.load %[[BAR]][%{{.*}}, %[[J]], %{{.*}}]
// CHECK:   %[[Y0:.*]] = vector.load %[[IN]][%{{.*}}, %[[J]], %{{.*}}]
// CHECK:   %[[ACC0:.*]] = math.fma %[[B0]], %[[Y0]], %[[ZERO]]
// CHECK:   %[[I0:.*]] = arith.mulf %[[AV]], %[[B0]]
// CHECK:   vector.store %[[I0]], %[[INBAR]][%{{.*}}, %[[J]], %{{.*}}]
// CHECK:   %[[B1:.*]] = vector.load %[[BAR]]
// CHECK:   %[[Y1:.*]] = vector.load %[[IN]]
// CHECK:   %[[ACC1:.*]] = math.fma %[[B1]], %[[Y1]], %[[ACC0]]
// CHECK:   %[[SUM:.*]] = vector.reduction <add>, %[[ACC1]]
// CHECK:   %[[OLD:.*]] = memref.load %[[G]][%[[C5]]]
// CHECK:   %[[NEW:.*]] = arith.addf %[[OLD]], %[[SUM]]
// CHECK:   memref.store %[[NEW]], %[[G]][%[[C5]]]
// CHECK-NEXT: }
// CHECK-NEXT: return
func.func @scale_vjp(%in: memref<3x4x8xf32>, %p: memref<?xf32>, %bar: memref<3x4x8xf32>, %g: memref<?xf32>, %inbar: memref<3x4x8xf32>) {
  ntp.scale_vjp %in, %p[5], %bar into %g input_cotangent %inbar live_orders 2 : memref<3x4x8xf32>, memref<?xf32>, memref<3x4x8xf32>, memref<?xf32>, memref<3x4x8xf32>
  return
}

// Per neuron, lane-wise: each neuron's lanes accumulate onto grad[5 + j].
// CHECK-LABEL: func.func @scale_vjp_lanes
// CHECK: scf.for %[[J:.*]] =
// CHECK:   %[[GI:.*]] = arith.addi %[[J]], %{{.*}}
// CHECK:   %[[OLD:.*]] = vector.load %{{.*}}[%[[GI]], %{{.*}}] : memref<40x8xf32>, vector<8xf32>
// CHECK:   math.fma %{{.*}}, %{{.*}}, %[[OLD]]
// CHECK:   vector.store %{{.*}}, %{{.*}}[%[[GI]], %{{.*}}] : memref<40x8xf32>, vector<8xf32>
// CHECK: } {ntp.neuron_loop}
func.func @scale_vjp_lanes(%in: memref<3x4x8xf32>, %p: memref<?xf32>, %bar: memref<3x4x8xf32>, %g: memref<40x8xf32>, %inbar: memref<3x4x8xf32>) {
  ntp.scale_vjp %in, %p[5], %bar into %g input_cotangent %inbar live_orders 1 per_neuron : memref<3x4x8xf32>, memref<?xf32>, memref<3x4x8xf32>, memref<40x8xf32>, memref<3x4x8xf32>
  return
}

// Fourier features, B [3, 2] at params[4]: each row's sums over the input
// (one accumulator per live order), times 2 pi, stored for the sine (row r)
// and, plus pi / 2 at order 0 only, for the cosine (row r + 3).
// CHECK-LABEL: func.func @fourier_project
// CHECK-SAME: (%[[IN:.*]]: memref<3x2x8xf32>, %[[P:.*]]: memref<?xf32>, %[[OUT:.*]]: memref<3x6x8xf32>)
// CHECK-DAG: %[[HALFPI:.*]] = arith.constant dense<1.57079637> : vector<8xf32>
// CHECK-DAG: %[[TWOPI:.*]] = arith.constant dense<6.28318548> : vector<8xf32>
// CHECK: scf.for %[[R:.*]] = %{{.*}} to %{{.*}} step
// CHECK:   %[[S:.*]]:2 = scf.for %[[J:.*]] = {{.*}} iter_args
// CHECK:     memref.load %[[P]]
// CHECK:     math.fma
// CHECK:     math.fma
// CHECK:   %[[COS:.*]] = arith.addi %[[R]], %{{.*}}
// CHECK:   %[[Z0:.*]] = arith.mulf %[[S]]#0, %[[TWOPI]]
// CHECK:   vector.store %[[Z0]], %[[OUT]][%{{.*}}, %[[R]], %{{.*}}]
// CHECK:   %[[C0:.*]] = arith.addf %[[Z0]], %[[HALFPI]]
// CHECK:   vector.store %[[C0]], %[[OUT]][%{{.*}}, %[[COS]], %{{.*}}]
// CHECK:   %[[Z1:.*]] = arith.mulf %[[S]]#1, %[[TWOPI]]
// CHECK:   vector.store %[[Z1]], %[[OUT]][%{{.*}}, %[[R]], %{{.*}}]
// CHECK:   vector.store %[[Z1]], %[[OUT]][%{{.*}}, %[[COS]], %{{.*}}]
// CHECK: } {ntp.neuron_loop}
func.func @fourier_project(%in: memref<3x2x8xf32>, %p: memref<?xf32>, %out: memref<3x6x8xf32>) {
  ntp.fourier_project %in, %p[4] into %out live_orders 2 : memref<3x2x8xf32>, memref<?xf32>, memref<3x6x8xf32>
  return
}

// Its VJP: grad_B[r][j] from the sine's and cosine's cotangents summed,
// then the input cotangent through B^T (two neuron loops).
// CHECK-LABEL: func.func @fourier_project_vjp
// CHECK: scf.for
// CHECK:   arith.addf {{.*}} : vector<8xf32>
// CHECK:   scf.for
// CHECK:     math.fma
// CHECK:     vector.reduction <add>
// CHECK: } {ntp.neuron_loop}
// CHECK: scf.for
// CHECK:   scf.for {{.*}} iter_args
// CHECK:   vector.store
// CHECK: } {ntp.neuron_loop}
func.func @fourier_project_vjp(%in: memref<3x2x8xf32>, %p: memref<?xf32>, %bar: memref<3x6x8xf32>, %g: memref<?xf32>, %inbar: memref<3x2x8xf32>) {
  ntp.fourier_project_vjp %in, %p[4], %bar into %g input_cotangent %inbar live_orders 1 : memref<3x2x8xf32>, memref<?xf32>, memref<3x6x8xf32>, memref<?xf32>, memref<3x2x8xf32>
  return
}
