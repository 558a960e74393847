// ntp-compile --partials-lowering: forces a partials kernel's forward
// lowering and prints the choice and the reverse mode's (which follows it);
// auto prints the automatic one.
// RUN: ntp-compile --layers 3,8,1 --dtype f64 --operator laplacian --partials-lowering=collapsed --emit=jets 2>&1 | FileCheck %s --check-prefix=COLLAPSED
// RUN: ntp-compile --layers 3,8,1 --dtype f64 --operator laplacian --partials-lowering=auto --emit=jets 2>&1 | FileCheck %s --check-prefix=AUTO
// RUN: not ntp-compile --layers 3,8,1 --operator laplacian --partials-lowering=fast --emit=jets 2>&1 | FileCheck %s --check-prefix=BAD

// COLLAPSED: partials lowering: collapsed: 1 block of rows 5, request 0 collapsed;
// COLLAPSED: partials reverse mode: collapsed: 1 block of rows 5, request 0 collapsed;
// COLLAPSED: partials_lowering = "collapsed: 1 block of rows 5, request 0 collapsed;
// COLLAPSED: ntp.seed_rays

// The fewest operations: collapsed (136 flops per sample, against the
// multi-direction lowering's 224; the top layer computes the collapsed row
// alone, the activation feeding it no ray's order 1 and its sums of y1^2
// once per call).
// AUTO: partials lowering: collapsed: 1 block of rows 5, request 0 collapsed; 136 flops
// AUTO: partials reverse mode: collapsed: 1 block of rows 5,

// BAD: --partials-lowering must be auto, per-ray, multi-direction, collapsed or multivariate, got 'fast'
