// RUN: ntp-opt %s -split-input-file -verify-diagnostics | FileCheck %s

// #ntp.kernel round-trips, and its verifier holds every derived fact to
// ntp::describeKernel (tile, workspace, entry points, CUDA launch shape).

// CHECK: module attributes {ntp.kernel = #ntp.kernel<"k", layers = [2, 3, 1], activation = "sin", order = 2, element_type = f64, tile = 8, backward = true, workspace_per_tile = 216, entry_points = [@k_forward_tiles, @k_backward_tiles, @k_forward_save_tiles, @k_backward_saved_tiles], target_cpu = "x86-64-v3", cpu_features = ["avx2", "fma"]>}
module attributes {ntp.kernel = #ntp.kernel<"k", layers = [2, 3, 1], activation = "sin", order = 2, element_type = f64, tile = 8, backward = true, workspace_per_tile = 216, entry_points = [@k_forward_tiles, @k_backward_tiles, @k_forward_save_tiles, @k_backward_saved_tiles], target_cpu = "x86-64-v3", cpu_features = ["avx2", "fma"]>} {}

// -----

// CHECK: module attributes {ntp.kernel = #ntp.kernel<"g", layers = [1, 4, 1], activation = "tanh", order = 3, element_type = f32, device = "cuda", tile = 2, backward = false, entry_points = [@g_forward], chip = "sm_90", mapping = "lanes", block_size = 64, samples_per_block = 2>}
module attributes {ntp.kernel = #ntp.kernel<"g", layers = [1, 4, 1], activation = "tanh", order = 3, element_type = f32, device = "cuda", tile = 2, backward = false, entry_points = [@g_forward], chip = "sm_90", mapping = "lanes", block_size = 64, samples_per_block = 2>} {}

// -----

// expected-error @+1 {{workspace_per_tile must be 216, got 5}}
module attributes {ntp.kernel = #ntp.kernel<"k", layers = [2, 3, 1], activation = "sin", order = 2, element_type = f64, tile = 8, backward = true, workspace_per_tile = 5, entry_points = [@k_forward_tiles, @k_backward_tiles, @k_forward_save_tiles, @k_backward_saved_tiles]>} {}

// -----

// expected-error @+1 {{entry_points must be [@k_forward_tiles]}}
module attributes {ntp.kernel = #ntp.kernel<"k", layers = [2, 3, 1], activation = "sin", order = 2, element_type = f64, tile = 8, backward = false, entry_points = [@k_forward_tiles, @k_backward_tiles]>} {}

// -----

// expected-error @+1 {{element_type must be f32 or f64, got 'i32'}}
module attributes {ntp.kernel = #ntp.kernel<"k", layers = [2, 1], activation = "sin", order = 2, element_type = i32, tile = 8, backward = false, entry_points = [@k_forward_tiles]>} {}

// -----

// expected-error @+1 {{unknown activation 'relu'}}
module attributes {ntp.kernel = #ntp.kernel<"k", layers = [2, 1], activation = "relu", order = 2, element_type = f32, tile = 16, backward = false, entry_points = [@k_forward_tiles]>} {}

// -----

// expected-error @+1 {{parameter count that fits in int64}}
module attributes {ntp.kernel = #ntp.kernel<"k", layers = [4294967296, 4294967296], activation = "tanh", order = 1, element_type = f32, tile = 16, backward = false, entry_points = [@k_forward_tiles]>} {}

// -----

// expected-error @+1 {{tile must be 128, got 2}}
module attributes {ntp.kernel = #ntp.kernel<"g", layers = [1, 4, 1], activation = "tanh", order = 3, element_type = f32, device = "cuda", tile = 2, backward = false, entry_points = [@g_forward], chip = "sm_90", mapping = "sample", block_size = 128, samples_per_block = 128>} {}

// -----

// expected-error @+1 {{block_size must be 32 * samples_per_block with the lanes mapping, got 128}}
module attributes {ntp.kernel = #ntp.kernel<"g", layers = [1, 4, 1], activation = "tanh", order = 3, element_type = f32, device = "cuda", tile = 2, backward = false, entry_points = [@g_forward], chip = "sm_90", mapping = "lanes", block_size = 128, samples_per_block = 2>} {}

// -----

// expected-error @+1 {{a CPU kernel has no chip, mapping or block shape}}
module attributes {ntp.kernel = #ntp.kernel<"k", layers = [2, 1], activation = "tanh", order = 1, element_type = f32, tile = 16, backward = false, entry_points = [@k_forward_tiles], chip = "sm_90">} {}

// -----

// expected-error @+1 {{'ntp.kernel' on a module must be an #ntp.kernel, got 3 : i64}}
module attributes {ntp.kernel = 3} {}

// -----

// The device names are artifact::kDevices'.
// expected-error @+1 {{device must be "cpu" or "cuda", got "rocm"}}
module attributes {ntp.kernel = #ntp.kernel<"k", layers = [2, 1], activation = "tanh", order = 1, element_type = f32, device = "rocm", tile = 16, backward = false, entry_points = [@k_forward_tiles]>} {}
