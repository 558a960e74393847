// RUN: ntp-opt %s -split-input-file -ntp-expand-activation-jets="formulation=taylor" -canonicalize -cse | FileCheck %s
// RUN: ntp-opt %s -split-input-file -ntp-expand-activation-jets="formulation=auto outline=1" | FileCheck %s --check-prefix=AUTO
// RUN: ntp-opt %s -split-input-file -ntp-expand-activation-jets="formulation=faa-di-bruno outline=1" | FileCheck %s --check-prefix=FDB
// RUN: not ntp-opt %s -split-input-file -ntp-expand-activation-jets="formulation=bell" 2>&1 | FileCheck %s --check-prefix=ERR

// The Taylor formulation of tanh at order 3, every input order live. On
// normalized coefficients a_k = y_k / k! and t_k (t = tanh(y0)):
//   D = 1 - t^2,  k t_k = sum_{j=1..k} (j a_j) D_{k-j},
//   (t^2)_k by the symmetric Cauchy product, D_k = -(t^2)_k (k >= 1),
// with j a_j = y_j / (j-1)! and z_m = m! t_m (m! / m folded exactly):
//   z1 = y1 D0,  z2 = y2 D0 + y1 D1 (= 2 t_2),
//   z3 = 2 (y3/2 D0 + y2 D1 + y1 D2) (= 6 t_3).
// Each sum takes its terms oldest first (JetExpressionGraph::sumOfProducts),
// so that its chain of FMAs waits only for the newest coefficient, entered
// last: z3's chain starts from D0 and ends with y1 D2. Where that newest
// factor is a constant times a node (D_k = -1 (t^2)_k, t_2 = w_2 / 2), the
// constant moves onto the older factor: y1 D_k as (-y1) (t^2)_k, (2t) t_2 as
// t w_2 (2 * 1/2 exact), so each order adds two operations to the chain.

// CHECK-LABEL: func.func @tanh_order3
// CHECK-DAG: %[[TWO:.*]] = arith.constant dense<2.000000e+00> : vector<4xf64>
// CHECK-DAG: %[[M1:.*]] = arith.constant dense<-1.000000e+00> : vector<4xf64>
// CHECK-DAG: %[[ONE:.*]] = arith.constant dense<1.000000e+00> : vector<4xf64>
// CHECK-DAG: %[[HALF:.*]] = arith.constant dense<5.000000e-01> : vector<4xf64>
// CHECK: scf.for %[[I:.*]] =
// CHECK:   %[[Y0:.*]] = vector.load %{{.*}}[%{{.*}}, %[[I]], %{{.*}}]
// CHECK:   %[[Y1:.*]] = vector.load
// CHECK:   %[[Y2:.*]] = vector.load
// CHECK:   %[[Y3:.*]] = vector.load
// CHECK:   %[[A3:.*]] = arith.mulf %[[Y3]], %[[HALF]]
// CHECK:   %[[T:.*]] = math.tanh %[[Y0]]
// CHECK:   %[[T2:.*]] = arith.mulf %[[T]], %[[T]]
// CHECK:   %[[D0:.*]] = math.fma %[[T2]], %[[M1]], %[[ONE]]
// CHECK:   %[[T1:.*]] = arith.mulf %[[Y1]], %[[D0]]
// CHECK:   %[[TWOT:.*]] = arith.mulf %[[T]], %[[TWO]]
// CHECK:   %[[S1:.*]] = arith.mulf %[[T1]], %[[TWOT]]
// CHECK:   %[[D1:.*]] = arith.mulf %[[S1]], %[[M1]]
// CHECK:   %[[W2A:.*]] = arith.mulf %[[Y2]], %[[D0]]
// CHECK:   %[[NY1:.*]] = arith.mulf %[[Y1]], %[[M1]]
// CHECK:   %[[W2:.*]] = math.fma %[[S1]], %[[NY1]], %[[W2A]]
// CHECK:   %[[S2A:.*]] = arith.mulf %[[T1]], %[[T1]]
// CHECK:   %[[S2:.*]] = math.fma %[[T]], %[[W2]], %[[S2A]]
// CHECK:   %[[W3A:.*]] = arith.mulf %[[A3]], %[[D0]]
// CHECK:   %[[W3B:.*]] = math.fma %[[Y2]], %[[D1]], %[[W3A]]
// CHECK:   %[[W3:.*]] = math.fma %[[NY1]], %[[S2]], %[[W3B]]
// CHECK:   %[[Z3:.*]] = arith.mulf %[[W3]], %[[TWO]]
// CHECK:   vector.store %[[T]], %{{.*}}[%{{.*}}, %[[I]], %{{.*}}]
// CHECK:   vector.store %[[T1]]
// CHECK:   vector.store %[[W2]]
// CHECK:   vector.store %[[Z3]]
func.func @tanh_order3(%in: memref<4x2x4xf64>, %out: memref<4x2x4xf64>) {
  ntp.activate "tanh" %in into %out live_orders 4 : memref<4x2x4xf64>, memref<4x2x4xf64>
  return
}

// The option is an enum: an unknown formulation is refused when it is parsed.
// ERR: for the --formulation option: Cannot find option named 'bell'!

// -----

// auto takes the formulation with fewer flops per op, and the outlined
// function's name says which: at order 9 tanh's Taylor recurrence (162
// flops, all orders live) beats the Faà di Bruno DAG (376), forward and VJP;
// sin's first layer (two live orders) stays Faà di Bruno (19 vs 45 flops).

// AUTO-LABEL: func.func @order9
// AUTO: func.call @__ntp_jet_tanh_o9_l10_v16f32_taylor(
// AUTO: func.call @__ntp_jet_sin_o9_l2_v16f32(
// AUTO: func.call @__ntp_jet_vjp_tanh_o9_l10_v16f32_taylor(
// AUTO-DAG: func.func private @__ntp_jet_tanh_o9_l10_v16f32_taylor(
// AUTO-DAG: func.func private @__ntp_jet_sin_o9_l2_v16f32(
// AUTO-DAG: func.func private @__ntp_jet_vjp_tanh_o9_l10_v16f32_taylor(

// FDB-LABEL: func.func @order9
// FDB: func.call @__ntp_jet_tanh_o9_l10_v16f32(
// FDB: func.call @__ntp_jet_sin_o9_l2_v16f32(
// FDB: func.call @__ntp_jet_vjp_tanh_o9_l10_v16f32(
func.func @order9(%a: memref<10x3x16xf32>, %b: memref<10x3x16xf32>) {
  ntp.activate "tanh" %a into %b live_orders 10 : memref<10x3x16xf32>, memref<10x3x16xf32>
  ntp.activate "sin" %b into %a live_orders 2 : memref<10x3x16xf32>, memref<10x3x16xf32>
  ntp.activate_vjp "tanh" %a, %b into %b live_orders 10 : memref<10x3x16xf32>, memref<10x3x16xf32>, memref<10x3x16xf32>
  return
}
