// REQUIRES: aarch64-registered-target
// RUN: ntp-compile %s --target-triple=aarch64-linux-gnu --target-cpu=neoverse-v2 --emit=asm | FileCheck %s --check-prefix=NEON
// RUN: ntp-compile %s --target-triple=aarch64-linux-gnu --target-cpu=a64fx --sve-vector-bits=512 --emit=asm | FileCheck %s --check-prefix=SVE
// RUN: ntp-compile %s --target-triple=aarch64-linux-gnu --target-cpu=neoverse-v2 --emit=obj -o %t.o && llvm-readobj --file-headers %t.o | FileCheck %s --check-prefix=OBJ

// AArch64 code from this x86-64 machine (issue 17 item 4): the same lowering,
// with the schedule derived from the AArch64 CPU's LLVM scheduling model.
// Neoverse V2 (NEON vectors): a 16-lane f32 jet coefficient is four q registers,
// enough independent FMAs per neuron, so one neuron per call. A64FX with
// 512-bit SVE (vscale_range from --sve-vector-bits): one z register per
// coefficient and a 9-cycle FMA on two pipes, so three neurons interleaved.
// Both take the primitives hoisted out of the neuron loop (_p).

// NEON-NOT: _x{{[0-9]}}:
// NEON-LABEL: __ntp_jet_tanh_o3_l4_v16f32_taylor_p:
// NEON: fmla v{{[0-9]+}}.4s
// NEON-LABEL: ntp_kernel_forward_tiles:
// NEON: bl __ntp_jet_tanh_o3_l4_v16f32_taylor_p
// NEON-NOT: _x{{[0-9]}}:

// SVE-LABEL: __ntp_jet_tanh_o3_l4_v16f32_taylor_x3_p:
// SVE: fm{{la|ad}} z{{[0-9]+}}.s
// SVE-LABEL: ntp_kernel_forward_tiles:
// SVE: bl __ntp_jet_tanh_o3_l4_v16f32_taylor_x3_p

// OBJ: Format: elf64-littleaarch64
// OBJ: Machine: EM_AARCH64
ntp.mlp @net layers [1, 8, 8, 1] activation "tanh" order 3 : f32
