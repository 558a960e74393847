// ntp-compile --partials / --operator (issue 12): no --order needed (the
// highest total order), the request on ntp.mlp, in #ntp.kernel and in the
// artifact's manifest; bad requests are one sentence and a nonzero status.
// RUN: ntp-compile --layers 3,8,1 --dtype f64 --partials "2,0,0;0,2,0;1,1,0" --operator laplacian --operator laplacian:0,1 --emit=jets | FileCheck %s --check-prefix=JETS
// RUN: ntp-compile --layers 3,8,1 --dtype f64 --partials "0,0,0" --operator biharmonic:0,2 --target-cpu=x86-64 -o %t.so
// RUN: tail -c 700 %t.so | FileCheck %s --check-prefix=MANIFEST
// RUN: ntp-compile --layers 3,8,1 --dtype f64 --partials "2,0,0" --emit=loops | FileCheck %s --check-prefix=REVERSE
// RUN: not ntp-compile --layers 3,8,1 --partials "1,1" --emit=jets 2>&1 | FileCheck %s --check-prefix=LENGTH
// RUN: not ntp-compile --layers 3,8,1 --partials "1,-1,0" --emit=jets 2>&1 | FileCheck %s --check-prefix=NEGATIVE
// RUN: not ntp-compile --layers 3,8,1 --partials "2,2,0" --order 3 --emit=jets 2>&1 | FileCheck %s --check-prefix=ORDER
// RUN: not ntp-compile --layers 3,8,1 --partials "1,1,0;1,1,0" --emit=jets 2>&1 | FileCheck %s --check-prefix=DUPLICATE
// RUN: not ntp-compile --layers 3,8,1 --operator laplacian:0,3 --emit=jets 2>&1 | FileCheck %s --check-prefix=SUBSET
// RUN: not ntp-compile --layers 3,8,1 --operator hessian --emit=jets 2>&1 | FileCheck %s --check-prefix=UNKNOWN
// RUN: not ntp-compile --layers 3,8,1 --partials "" --emit=jets 2>&1 | FileCheck %s --check-prefix=EMPTY
// RUN: not ntp-compile --layers 3,8,1 --partials "1,x,0" --emit=jets 2>&1 | FileCheck %s --check-prefix=SYNTAX
// RUN: not ntp-compile %s --partials "1,0,0" --emit=jets 2>&1 | FileCheck %s --check-prefix=FILE
// RUN: ntp-compile --layers 3,8,1 --partials "1,0,0" --operator laplacian --target=nvptx --emit=ptx | FileCheck %s --check-prefix=NVPTX
// RUN: ntp-compile --layers 3,8,1 --partials "1,0,0" --target=nvptx --gpu-backward --gpu-format=ptx --chip=sm_80 -o %t.ntp
// RUN: tail -c 700 %t.ntp | FileCheck %s --check-prefix=CUDA
// RUN: ntp-compile --layers 3,8,1 --partials "1,0,0" --operator laplacian --partials-lowering=collapsed --target=nvptx --gpu-backward --emit=ptx 2>&1 | FileCheck %s --check-prefix=CUDA-COLLAPSED

// JETS: module attributes {ntp.kernel = #ntp.kernel<"ntp_kernel", layers = [3, 8, 1], activation = "tanh", order = 2, element_type = f64, {{.*}}partials = [2, 0, 0, 0, 2, 0, 1, 1, 0, -2, -2, -2, -2, -2, 0], partials_lowering = "{{[a-z-]+}}{{[:;]}} {{.*}} flops + {{[0-9]+}} primitives per sample", partials_reverse_lowering = "{{.*}}">{{.*}}}
// JETS-LABEL: func.func @ntp_kernel_forward_tiles
// JETS: ntp.combine_partials
// JETS: ntp.store_jet %{{.*}} into %{{.*}}, %{{.*}}, %{{.*}} live_orders 5

// MANIFEST: order=4
// The reverse mode, as for jets: it follows the collapsed forward the
// count picks (912 flops per sample against multi-direction's 1176: the top
// layer computes the rows the combine weighs) and saves its block's 17
// rows (17 * (3 + 8 + 8 + 1) * 8 elements per tile; per-ray: 25 jet
// coefficients, 4000).
// MANIFEST: backward=1
// MANIFEST: workspace_per_tile=2720
// MANIFEST: partials=0,0,0;-4,0,-4
// The lowerings the compiler chose, as it summarizes them
// (ntp_kernel_partials_lowering reads them back).
// MANIFEST-NEXT: partials_lowering=collapsed: 1 block of rows 17, request 1 collapsed; 800 flops + 8 primitives per sample
// MANIFEST-NEXT: partials_reverse_lowering=collapsed: 1 block of rows 17, request 1 collapsed; 800 flops + 8 primitives per sample

// REVERSE-LABEL: func.func @ntp_kernel_forward_tiles
// REVERSE-LABEL: func.func @ntp_kernel_backward_saved_tiles
// REVERSE-LABEL: func.func @ntp_kernel_forward_save_tiles
// REVERSE-LABEL: func.func @ntp_kernel_backward_tiles

// LENGTH: error: 'ntp.mlp' op request 0 [1,1] has 2 entries but the network has 3 inputs
// NEGATIVE: error: 'ntp.mlp' op request 0 [1,-1,0] has a negative entry
// ORDER: error: 'ntp.mlp' op request 0 [2,2,0] has total order 4, above the maximum 3
// DUPLICATE: error: 'ntp.mlp' op request 1 [1,1,0] repeats request 0
// SUBSET: ntp-compile: error: --operator: the laplacian's coordinate 3 does not exist: the network has 3 inputs (coordinates 0..2)
// UNKNOWN: ntp-compile: error: --operator: unknown operator 'hessian'
// EMPTY: ntp-compile: error: --partials is empty: give at least one multi-index, or leave it out
// SYNTAX: ntp-compile: error: --partials: a multi-index is comma-separated integers, got '1,x,0'
// The GPU (issue 12 item 7): the same request as a CUDA kernel, with the
// reverse mode's kernels, a block's samples as the tile (2 jet coefficients
// * (3 + 8 + 8 + 1) * 128 saved elements per block).
// NVPTX: .visible .entry ntp_kernel_forward(
// CUDA: backward=1
// CUDA: workspace_per_tile=5120
// CUDA: mapping=sample
// CUDA: partials=1,0,0
// CUDA-NEXT: partials_lowering=multi-direction: 1 block of rows 2; 144 flops + 8 primitives per sample
// CUDA-NEXT: partials_reverse_lowering=multi-direction: 1 block of rows 2; 144 flops + 8 primitives per sample
// As on the CPU, the forward keeps the lowering asked for and the reverse
// mode follows it (RaysBackward.cpp, per-sample gradients).
// CUDA-COLLAPSED: partials lowering: collapsed
// CUDA-COLLAPSED: partials reverse mode: collapsed
// CUDA-COLLAPSED: .visible .entry ntp_kernel_forward(
// CUDA-COLLAPSED: .visible .entry ntp_kernel_forward_save(
// FILE: ntp-compile: error: --partials and --operator describe the network with --layers; in an .mlir file, give them on ntp.mlp

ntp.mlp @unused layers [3, 8, 1] activation "tanh" order 1 : f64
