// The jets one tile keeps on the stack (jetStackElementsPerTile: the
// recomputing backward's forward jets and two cotangent buffers) are at most
// kMaxTileStackBytes = 4 MiB. For 1-W-1 at order 9, f32, tile 16 they are
// 10 * 16 * (4 W + 2) floats: W = 1637 fits, 1638 does not. (A forward of
// 1-8192-1 there used to overflow an 8 MiB stack at run time.)
// RUN: ntp-opt %s -split-input-file -ntp-decompose-mlp -verify-diagnostics

// expected-error @below {{the jets of one tile of 16 samples need more than 4194304 bytes of stack (kMaxTileStackBytes); use a smaller tile, narrower layers or a lower order}}
ntp.mlp @too_wide layers [1, 1638, 1] activation "tanh" order 9 : f32

// -----

ntp.mlp @widest layers [1, 1637, 1] activation "tanh" order 9 : f32

// -----

// f64 at order 16 and tile 8: 17 * 8 * (4 W + 2) doubles; W = 963 fits.
// expected-error @below {{the jets of one tile of 8 samples need more than 4194304 bytes of stack}}
ntp.mlp @too_wide_f64 layers [1, 964, 1] activation "tanh" order 16 : f64

// -----

ntp.mlp @widest_f64 layers [1, 963, 1] activation "tanh" order 16 : f64

// -----

// expected-error @below {{the jets of one tile of 8 samples need more than 4194304 bytes of stack}}
ntp.mlp @too_wide_at_max layers [65536, 1] activation "tanh" order 0 : f64
