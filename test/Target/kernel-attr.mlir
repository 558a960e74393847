// The kernel's facts (#ntp.kernel on the module) as each step stamps them:
// ntp-decompose-mlp (network, tile, forward entry point), then
// ntp-generate-backward (reverse mode, workspace per tile), then a target
// (the CPU name and its recorded features; the CUDA chip, mapping and block
// shape).
// RUN: ntp-opt %s -ntp-decompose-mlp | FileCheck %s --check-prefix=JETS
// RUN: ntp-opt %s -ntp-decompose-mlp="tile-size=4" | FileCheck %s --check-prefix=TILE
// RUN: ntp-opt %s -ntp-decompose-mlp -ntp-generate-backward | FileCheck %s --check-prefix=BACKWARD
// RUN: ntp-compile %s --emit=mlir --target-cpu=x86-64-v3 | FileCheck %s --check-prefix=CPU
// RUN: ntp-compile %s --emit=mlir --target-cpu=x86-64-v2 --tile=4 | FileCheck %s --check-prefix=CPU2
// RUN: ntp-opt %s -ntp-gpu-pipeline="chip=sm_80 mapping=lanes samples-per-block=2" | FileCheck %s --check-prefix=LANES
// RUN: ntp-compile %s --target=nvptx --chip=sm_86 --block-size=64 --emit=mlir | FileCheck %s --check-prefix=CUDA

// JETS: module attributes {ntp.kernel = #ntp.kernel<"pinn", layers = [1, 24, 1], activation = "tanh", order = 3, element_type = f32, tile = 16, backward = false, entry_points = [@pinn_forward_tiles]>}
// TILE: module attributes {ntp.kernel = #ntp.kernel<"pinn", layers = [1, 24, 1], activation = "tanh", order = 3, element_type = f32, tile = 4, backward = false, entry_points = [@pinn_forward_tiles]>}
// (1 + 2 * 24 + 1) widths * 4 orders * 16 samples = 3200
// BACKWARD: module attributes {ntp.kernel = #ntp.kernel<"pinn", layers = [1, 24, 1], activation = "tanh", order = 3, element_type = f32, tile = 16, backward = true, workspace_per_tile = 3200, entry_points = [@pinn_forward_tiles, @pinn_backward_tiles, @pinn_forward_save_tiles, @pinn_backward_saved_tiles]>}
// CPU: module attributes {ntp.kernel = #ntp.kernel<"pinn", layers = [1, 24, 1], activation = "tanh", order = 3, element_type = f32, tile = 16, backward = true, workspace_per_tile = 3200, entry_points = [@pinn_forward_tiles, @pinn_backward_tiles, @pinn_forward_save_tiles, @pinn_backward_saved_tiles], target_cpu = "x86-64-v3", cpu_features = ["sse4.2", "avx", "avx2", "fma", "bmi", "bmi2"]>}
// CPU2: module attributes {ntp.kernel = #ntp.kernel<"pinn", layers = [1, 24, 1], activation = "tanh", order = 3, element_type = f32, tile = 4, backward = true, workspace_per_tile = 800, entry_points = [@pinn_forward_tiles, @pinn_backward_tiles, @pinn_forward_save_tiles, @pinn_backward_saved_tiles], target_cpu = "x86-64-v2", cpu_features = ["sse4.2"]>}
// LANES: module attributes {gpu.container_module, ntp.kernel = #ntp.kernel<"pinn", layers = [1, 24, 1], activation = "tanh", order = 3, element_type = f32, device = "cuda", tile = 2, backward = false, entry_points = [@pinn_forward], chip = "sm_80", mapping = "lanes", block_size = 64, samples_per_block = 2>}
// CUDA: module attributes {gpu.container_module, ntp.kernel = #ntp.kernel<"pinn", layers = [1, 24, 1], activation = "tanh", order = 3, element_type = f32, device = "cuda", tile = 64, backward = false, entry_points = [@pinn_forward], chip = "sm_86", mapping = "sample", block_size = 64, samples_per_block = 64>}
ntp.mlp @pinn layers [1, 24, 1] activation "tanh" order 3 : f32
