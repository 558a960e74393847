// One activation per hidden layer, from flags and from IR; the manifest and
// #ntp.kernel record the list, and "tanh,tanh" is the kernel "tanh".
// RUN: ntp-compile --layers 1,32,32,1 --activation silu,tanh --order 3 --emit=jets | FileCheck %s --check-prefix=FLAGS
// RUN: ntp-compile --layers 1,8,8,1 --activation tanh,tanh --order 2 --emit=jets | FileCheck %s --check-prefix=SAME
// RUN: ntp-compile %s --emit=jets | FileCheck %s --check-prefix=IR

// FLAGS: ntp.kernel = #ntp.kernel<"ntp_kernel", layers = [1, 32, 32, 1], activation = "silu,tanh", order = 3
// FLAGS-LABEL: func.func @ntp_kernel_forward_tiles
// FLAGS: ntp.activate "silu" {{.*}} live_orders 2
// FLAGS: ntp.activate "tanh" {{.*}} live_orders 4

// SAME: activation = "tanh", order = 2

// IR: ntp.kernel = #ntp.kernel<"mixed", layers = [2, 16, 16, 16, 1], activation = "gelu,identity,cos", order = 20, element_type = f64
// IR-LABEL: func.func @mixed_forward_tiles
// IR: ntp.activate "gelu"
// IR: ntp.activate "identity"
// IR: ntp.activate "cos"
ntp.mlp @mixed layers [2, 16, 16, 16, 1] activation ["gelu", "identity", "cos"] order 20 : f64
