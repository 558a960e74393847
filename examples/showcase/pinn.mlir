// The paper's standard PINN network: 1 -> 24 -> 24 -> 24 -> 1, tanh, and
// every derivative up to order 9 in one forward pass.
ntp.mlp @pinn layers [1, 24, 24, 24, 1] activation "tanh" order 9 : f64
