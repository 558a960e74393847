// RUN: ntp-opt %s -split-input-file -verify-diagnostics | FileCheck %s

// The workspace of a partials kernel with the reverse mode is its saved
// rows' worth: workspaceElementsPerTile(layers, 0, tile) = (2 + 3 + 3 + 1) *
// 2 = 18 elements per row here. The Laplacian over 2 inputs saves 6 rows
// per-ray (two rays of orders 0..2), 4 in a reverse mode that follows the
// collapsed forward (row 0, two rays of order 1, the collapsed row); any
// count of rows up to the per-ray one is a valid fact.

// CHECK-LABEL: module attributes {ntp.kernel = #ntp.kernel<"lap"
// CHECK-SAME: workspace_per_tile = 72
module attributes {ntp.kernel = #ntp.kernel<"lap", layers = [2, 3, 1], activation = "tanh", order = 2, element_type = f64, tile = 2, backward = true, workspace_per_tile = 72, entry_points = [@lap_forward_tiles, @lap_backward_tiles, @lap_forward_save_tiles, @lap_backward_saved_tiles], partials = [-2, -2]>} {}

// -----

// CHECK-LABEL: module attributes {ntp.kernel = #ntp.kernel<"lap"
// CHECK-SAME: workspace_per_tile = 108
module attributes {ntp.kernel = #ntp.kernel<"lap", layers = [2, 3, 1], activation = "tanh", order = 2, element_type = f64, tile = 2, backward = true, workspace_per_tile = 108, entry_points = [@lap_forward_tiles, @lap_backward_tiles, @lap_forward_save_tiles, @lap_backward_saved_tiles], partials = [-2, -2]>} {}

// -----

// More rows than the per-ray reverse mode saves.
// expected-error @below {{the reverse mode saves 7 jet coefficient rows per sample, but one of this request saves 1 to 6}}
module attributes {ntp.kernel = #ntp.kernel<"lap", layers = [2, 3, 1], activation = "tanh", order = 2, element_type = f64, tile = 2, backward = true, workspace_per_tile = 126, entry_points = [@lap_forward_tiles, @lap_backward_tiles, @lap_forward_save_tiles, @lap_backward_saved_tiles], partials = [-2, -2]>} {}

// -----

// Not a whole number of rows.
// expected-error @below {{workspace_per_tile must be 108, got 80}}
module attributes {ntp.kernel = #ntp.kernel<"lap", layers = [2, 3, 1], activation = "tanh", order = 2, element_type = f64, tile = 2, backward = true, workspace_per_tile = 80, entry_points = [@lap_forward_tiles, @lap_backward_tiles, @lap_forward_save_tiles, @lap_backward_saved_tiles], partials = [-2, -2]>} {}

// -----

// The lowerings ntp-decompose-mlp recorded, as it summarizes them.
// CHECK-LABEL: module attributes {ntp.kernel = #ntp.kernel<"lap"
// CHECK-SAME: partials_lowering = "collapsed: 1 block of rows 4, request 0 collapsed; 60 flops + 3 primitives per sample", partials_reverse_lowering = "per-ray; 90 flops + 6 primitives per sample">
module attributes {ntp.kernel = #ntp.kernel<"lap", layers = [2, 3, 1], activation = "tanh", order = 2, element_type = f64, tile = 2, backward = true, workspace_per_tile = 108, entry_points = [@lap_forward_tiles, @lap_backward_tiles, @lap_forward_save_tiles, @lap_backward_saved_tiles], partials = [-2, -2], partials_lowering = "collapsed: 1 block of rows 4, request 0 collapsed; 60 flops + 3 primitives per sample", partials_reverse_lowering = "per-ray; 90 flops + 6 primitives per sample">} {}

// -----

// A lowering must begin with a lowering's name.
// expected-error @below {{the recorded partials lowering 'fastest' does not begin with a lowering name (per-ray, multi-direction, collapsed, multivariate)}}
module attributes {ntp.kernel = #ntp.kernel<"lap", layers = [2, 3, 1], activation = "tanh", order = 2, element_type = f64, tile = 2, backward = true, workspace_per_tile = 108, entry_points = [@lap_forward_tiles, @lap_backward_tiles, @lap_forward_save_tiles, @lap_backward_saved_tiles], partials = [-2, -2], partials_lowering = "fastest">} {}

// -----

// Only a partials kernel has rays.
// expected-error @below {{only a partials kernel records how its rays are propagated (partials_lowering)}}
module attributes {ntp.kernel = #ntp.kernel<"jet", layers = [2, 3, 1], activation = "tanh", order = 2, element_type = f64, tile = 2, backward = false, entry_points = [@jet_forward_tiles], partials_lowering = "per-ray">} {}
