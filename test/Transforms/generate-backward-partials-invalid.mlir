// RUN: ntp-opt %s -split-input-file -ntp-generate-backward -verify-diagnostics

// Partials kernel functions whose structure the reverse mode cannot read:
// each a clear error on the op or function at fault.

// expected-error @+1 {{the rays propagate 2 jet coefficients but the combine reads 3}}
func.func @short_forward_tiles(%x: memref<?xf64>, %v: memref<?xf64>, %p: memref<?xf64>, %out: memref<?xf64>, %batch: index, %b: index, %e: index) attributes {ntp.kernel, ntp.partials} {
  %d = memref.alloca() : memref<1xf64>
  %c0 = arith.constant 0 : index
  %one = arith.constant 1.0 : f64
  memref.store %one, %d[%c0] : memref<1xf64>
  %seed = memref.alloca() : memref<2x1x2xf64>
  %top = memref.alloca() : memref<2x1x2xf64>
  %rays = memref.alloca() : memref<3x1x2xf64>
  %res = memref.alloca() : memref<1x1x2xf64>
  ntp.seed %x, %d into %seed, %batch, %b : memref<?xf64>, memref<1xf64>, memref<2x1x2xf64>
  ntp.affine %seed, %p[0] into %top live_orders 2 : memref<2x1x2xf64>, memref<?xf64>, memref<2x1x2xf64>
  ntp.combine_partials %rays into %res weights [0.0, 1.0, 0.0] : memref<3x1x2xf64>, memref<1x1x2xf64>
  ntp.store_jet %res into %out, %batch, %b live_orders 1 : memref<1x1x2xf64>, memref<?xf64>
  return
}

// -----

func.func @computed_forward_tiles(%x: memref<?xf64>, %v: memref<?xf64>, %p: memref<?xf64>, %out: memref<?xf64>, %batch: index, %b: index, %e: index) attributes {ntp.kernel, ntp.partials} {
  %seed = memref.alloca() : memref<2x1x2xf64>
  %res = memref.alloca() : memref<1x1x2xf64>
  // expected-error @+1 {{'ntp.seed' op the direction of a partials kernel's ray must be a constant buffer}}
  ntp.seed %x, %v into %seed, %batch, %b : memref<?xf64>, memref<?xf64>, memref<2x1x2xf64>
  ntp.combine_partials %seed into %res weights [0.0, 1.0] : memref<2x1x2xf64>, memref<1x1x2xf64>
  ntp.store_jet %res into %out, %batch, %b live_orders 1 : memref<1x1x2xf64>, memref<?xf64>
  return
}

// -----

// expected-error @+1 {{a partials kernel function must propagate rays, then combine and store them}}
func.func @uncombined_forward_tiles(%x: memref<?xf64>, %v: memref<?xf64>, %p: memref<?xf64>, %out: memref<?xf64>, %batch: index, %b: index, %e: index) attributes {ntp.kernel, ntp.partials} {
  %d = memref.alloca() : memref<1xf64>
  %c0 = arith.constant 0 : index
  %one = arith.constant 1.0 : f64
  memref.store %one, %d[%c0] : memref<1xf64>
  %seed = memref.alloca() : memref<2x1x2xf64>
  %top = memref.alloca() : memref<2x1x2xf64>
  ntp.seed %x, %d into %seed, %batch, %b : memref<?xf64>, memref<1xf64>, memref<2x1x2xf64>
  ntp.affine %seed, %p[0] into %top live_orders 2 : memref<2x1x2xf64>, memref<?xf64>, memref<2x1x2xf64>
  ntp.store_jet %top into %out, %batch, %b live_orders 2 : memref<2x1x2xf64>, memref<?xf64>
  return
}

// -----

// A block of rays is either on the ray ops or multivariate: an
// ntp.activate_poly after an ntp.activate_rays in one block has no
// reverse mode.
func.func @mixed_forward_tiles(%x: memref<?xf64>, %v: memref<?xf64>, %p: memref<?xf64>, %out: memref<?xf64>, %batch: index, %b: index, %e: index) attributes {ntp.kernel, ntp.partials} {
  %d = memref.alloca() : memref<1xf64>
  %c0 = arith.constant 0 : index
  %one = arith.constant 1.0 : f64
  memref.store %one, %d[%c0] : memref<1xf64>
  %seed = memref.alloca() : memref<2x1x2xf64>
  %h0 = memref.alloca() : memref<2x2x2xf64>
  %h1 = memref.alloca() : memref<2x2x2xf64>
  %top = memref.alloca() : memref<2x1x2xf64>
  %res = memref.alloca() : memref<1x1x2xf64>
  ntp.seed_rays %x, %d into %seed, %batch, %b ray_counts [1] ray_orders [1]
      collapse_weights [0.0] collapsed_order 0
      : memref<?xf64>, memref<1xf64>, memref<2x1x2xf64>
  ntp.affine_rays %seed, %p[0] into %h0 live_orders 2 ray_counts [1]
      ray_orders [1] collapse_weights [0.0] collapsed_order 0
      : memref<2x1x2xf64>, memref<?xf64>, memref<2x2x2xf64>
  ntp.activate_rays "tanh" %h0 into %h1 live_orders 2 ray_counts [1]
      ray_orders [1] collapse_weights [0.0] collapsed_order 0
      : memref<2x2x2xf64>, memref<2x2x2xf64>
  ntp.affine_rays %h1, %p[4] into %h0 live_orders 2 ray_counts [1]
      ray_orders [1] collapse_weights [0.0] collapsed_order 0
      : memref<2x2x2xf64>, memref<?xf64>, memref<2x2x2xf64>
  // expected-error @+1 {{'ntp.activate_poly' op may not follow a ray activation or gate in its block}}
  ntp.activate_poly "tanh" %h0 into %h1 monomials [0, 1] variables 1
      : memref<2x2x2xf64>, memref<2x2x2xf64>
  ntp.affine_rays %h1, %p[10] into %top live_orders 2 ray_counts [1]
      ray_orders [1] collapse_weights [0.0] collapsed_order 0
      : memref<2x2x2xf64>, memref<?xf64>, memref<2x1x2xf64>
  ntp.combine_partials %top into %res weights [0.0, 1.0] : memref<2x1x2xf64>, memref<1x1x2xf64>
  ntp.store_jet %res into %out, %batch, %b live_orders 1 : memref<1x1x2xf64>, memref<?xf64>
  return
}
