// The tile is 1..kMaxTile (64; 0 picks the default) and the jets of one tile
// must fit kMaxTileStackBytes (4 MiB) of stack (ntp/artifact.hpp). Every tool
// chooses the tile through ntp-decompose-mlp, so every tool gets these errors
// at once (tile 1000000 used to spend minutes in LLVM).
// RUN: ntp-opt %s -split-input-file -ntp-decompose-mlp=tile-size=65 -verify-diagnostics
// RUN: not ntp-opt %s -split-input-file -ntp-decompose-mlp=tile-size=1000000 2>&1 | FileCheck %s --check-prefix=HUGE
// RUN: not ntp-opt %s -split-input-file -ntp-decompose-mlp=tile-size=-1 2>&1 | FileCheck %s --check-prefix=NEGATIVE
// RUN: ntp-opt %s -split-input-file -ntp-decompose-mlp=tile-size=64 | FileCheck %s --check-prefix=MAX
// RUN: not ntp-compile --layers 1,24,24,24,1 --order 9 --tile 1000000 -o %t.so 2>&1 | FileCheck %s --check-prefix=TOOL
// RUN: not ntp-compile --layers 1,2048,1 --order 9 -o %t.so 2>&1 | FileCheck %s --check-prefix=TOOLSTACK

// HUGE: error: tile size must be in [1, 64] (kMaxTile) or 0 for the default, got 1000000
// NEGATIVE: error: tile size must be in [1, 64] (kMaxTile) or 0 for the default, got -1
// MAX: memref.alloca() : memref<10x24x64xf32>
// TOOL: error: tile size must be in [1, 64] (kMaxTile) or 0 for the default, got 1000000
// TOOLSTACK: error: the jets of one tile of 16 samples need more than 4194304 bytes of stack (kMaxTileStackBytes); use a smaller tile, narrower layers or a lower order

// expected-error @below {{tile size must be in [1, 64] (kMaxTile) or 0 for the default, got 65}}
ntp.mlp @pinn layers [1, 24, 24, 24, 1] activation "tanh" order 9 : f32
