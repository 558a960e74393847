// The workspace a partials kernel states is what its reverse mode saves:
// workspaceElementsPerTile(layers, 0, tile) = (3 + 8 + 8 + 1) * 8 = 160
// elements per saved row here (f64, tile 8). The Laplacian over 3 inputs:
// a reverse mode that follows the collapsed forward saves its block's 5
// rows (row 0, three rays of order 1, the collapsed row): 800; forced
// per-ray (--partials-reverse-lowering=per-ray) every ray's 3 coefficients:
// 9 rows, 1440. --backward=false compiles the forward only (no workspace).
// RUN: ntp-compile --layers 3,8,1 --dtype f64 --operator laplacian --partials-lowering=collapsed --target-cpu=x86-64 -o %t.fast.so 2>&1 | FileCheck %s --check-prefix=FAST-LOG
// RUN: tail -c 400 %t.fast.so | FileCheck %s --check-prefix=FAST
// RUN: ntp-compile --layers 3,8,1 --dtype f64 --operator laplacian --partials-lowering=collapsed --partials-reverse-lowering=per-ray --target-cpu=x86-64 -o %t.perray.so 2>&1 | FileCheck %s --check-prefix=PERRAY-LOG
// RUN: tail -c 400 %t.perray.so | FileCheck %s --check-prefix=PERRAY
// RUN: ntp-compile --layers 3,8,1 --dtype f64 --operator laplacian --partials-lowering=multi-direction --partials-reverse-lowering=auto --emit=loops 2>&1 | FileCheck %s --check-prefix=AUTO
// RUN: ntp-compile --layers 3,8,1 --dtype f64 --operator laplacian --backward=false --target-cpu=x86-64 -o %t.fwd.so
// RUN: tail -c 400 %t.fwd.so | FileCheck %s --check-prefix=FORWARD
// RUN: ntp-compile --layers 3,8,1 --dtype f64 --operator laplacian --backward=false --emit=loops | FileCheck %s --check-prefix=FORWARD-IR
// RUN: ntp-compile --layers 1,4,1 --order 2 --backward=false --target-cpu=x86-64 -o %t.jet.so
// RUN: tail -c 400 %t.jet.so | FileCheck %s --check-prefix=FORWARD
// RUN: not ntp-compile --layers 3,8,1 --operator laplacian --partials-reverse-lowering=collapsed --emit=jets 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: not ntp-compile --layers 1,4,1 --order 2 --partials-reverse-lowering=per-ray --emit=jets 2>&1 | FileCheck %s --check-prefix=JET
// RUN: not ntp-compile --layers 3,8,1 --operator laplacian --target=nvptx --backward=false --emit=ptx 2>&1 | FileCheck %s --check-prefix=NVPTX

// FAST-LOG: partials lowering: collapsed: 1 block of rows 5, request 0 collapsed;
// FAST-LOG: partials reverse mode: collapsed: 1 block of rows 5, request 0 collapsed;
// FAST: backward=1
// FAST-NEXT: workspace_per_tile=800
// FAST: partials=-2,-2,-2

// PERRAY-LOG: partials lowering: collapsed: 1 block of rows 5, request 0 collapsed;
// PERRAY-LOG: partials reverse mode: per-ray;
// PERRAY: backward=1
// PERRAY-NEXT: workspace_per_tile=1440

// AUTO: partials reverse mode: multi-direction: 1 block of rows 7;
// AUTO: #ntp.kernel<"ntp_kernel", {{.*}}backward = true, workspace_per_tile = 1120,

// FORWARD: backward=0
// FORWARD-NEXT: workspace_per_tile=0

// FORWARD-IR: #ntp.kernel<"ntp_kernel", {{.*}}backward = false,
// FORWARD-IR-NOT: partials_reverse_lowering
// FORWARD-IR: func.func @ntp_kernel_forward_tiles
// FORWARD-IR-NOT: _backward_tiles
// FORWARD-IR-NOT: _forward_save_tiles

// BAD: ntp-compile: error: --partials-reverse-lowering must be auto or per-ray, got 'collapsed'
// JET: ntp-compile: error: --partials-reverse-lowering=per-ray applies to partials kernels only (--partials or --operator, or partials / operators on the ntp.mlp)
// NVPTX: ntp-compile: error: --backward is an option of the cpu target; add --target=cpu
