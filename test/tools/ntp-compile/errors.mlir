// Bad input to ntp-compile: one clear sentence and a nonzero status.
// RUN: not ntp-compile 2>&1 | FileCheck %s --check-prefix=NOINPUT
// RUN: not ntp-compile --layers 1,x,1 --emit=mlir 2>&1 | FileCheck %s --check-prefix=LAYERS
// RUN: not ntp-compile --layers 1,0,1 --emit=mlir 2>&1 | FileCheck %s --check-prefix=LAYERS
// RUN: not ntp-compile --layers 1,8,1 --dtype f16 --emit=mlir 2>&1 | FileCheck %s --check-prefix=DTYPE
// RUN: not ntp-compile --layers 1,8,1 --activation relu --emit=mlir 2>&1 | FileCheck %s --check-prefix=ACT
// RUN: not ntp-compile --layers 1,8,1 --order -1 --emit=mlir 2>&1 | FileCheck %s --check-prefix=ORDER
// RUN: not ntp-compile --layers 1,8,1 --order 33 --emit=mlir 2>&1 | FileCheck %s --check-prefix=MAXORDER
// RUN: not ntp-compile --layers 1,8,8,1 --activation silu,tanh,cos --emit=mlir 2>&1 | FileCheck %s --check-prefix=ACTCOUNT
// RUN: not ntp-compile --layers 1,8,8,1 --activation silu,relu --emit=mlir 2>&1 | FileCheck %s --check-prefix=ACTLIST
// RUN: not ntp-compile --layers 4 --emit=mlir 2>&1 | FileCheck %s --check-prefix=ONELAYER
// RUN: not ntp-compile --layers 1,8,1 2>&1 | FileCheck %s --check-prefix=NOOUT
// RUN: not ntp-compile %s --layers 1,8,1 --emit=mlir 2>&1 | FileCheck %s --check-prefix=BOTH
// RUN: not ntp-compile %t.does-not-exist.mlir --emit=mlir 2>&1 | FileCheck %s --check-prefix=MISSING
// RUN: not ntp-compile %s --emit=mlir 2>&1 | FileCheck %s --check-prefix=NOMLP
// RUN: not ntp-compile --layers 1,8,1 --emit=asm --target-cpu=not-a-cpu 2>&1 | FileCheck %s --check-prefix=CPU
// RUN: not ntp-compile --layers 1,8,1 --emit=mlir --tile=-3 2>&1 | FileCheck %s --check-prefix=TILE
// RUN: not ntp-compile --layers 1,8,1 --emit=mlir --header=%t.h 2>&1 | FileCheck %s --check-prefix=HEADER
// RUN: not ntp-compile --layers 1,8,1 -o %t.missing-dir/k.so 2>&1 | FileCheck %s --check-prefix=OUTDIR
// RUN: not ntp-compile --layers 1,8,1 --target=nvptx --gpu-mapping=warps --emit=ptx 2>&1 | FileCheck %s --check-prefix=MAPPING
// RUN: not ntp-compile --layers 1,8,1 --target=nvptx --gpu-mapping=lanes --samples-per-block=33 --emit=ptx 2>&1 | FileCheck %s --check-prefix=SLOTS
// RUN: not ntp-compile --layers 1,8,1 --chip=sm_80 --emit=mlir 2>&1 | FileCheck %s --check-prefix=OTHERTARGET
// RUN: not ntp-compile --layers 1,8,1 --target=nvptx --target-cpu=znver4 --emit=ptx 2>&1 | FileCheck %s --check-prefix=OTHERCPU
// RUN: not ntp-compile --layers 1,8,1 --target=nvptx --emit=obj -o %t.o 2>&1 | FileCheck %s --check-prefix=NOOBJ
// RUN: not ntp-compile --layers 1,8,1 --emit=cubin -o %t.cubin 2>&1 | FileCheck %s --check-prefix=NOCUBIN

// NOINPUT: ntp-compile: error: no input: give an .mlir file or --layers (see --help)
// LAYERS: ntp-compile: error: --layers expects comma-separated positive integers
// DTYPE: for the --dtype option: Cannot find option named 'f16'!
// ACT: error: 'ntp.mlp' op unknown activation 'relu'; expected one of tanh, sigmoid, sin, identity, exp, softplus, cos, silu, gelu, gelu_tanh
// ORDER: error: 'ntp.mlp' op derivative order must be in [0, 32], got -1
// MAXORDER: error: 'ntp.mlp' op derivative order must be in [0, 32], got 33
// ACTCOUNT: error: 'ntp.mlp' op expects one activation per hidden layer: 2 hidden layers, 3 activations
// ACTLIST: error: 'ntp.mlp' op unknown activation 'relu'; expected one of
// ONELAYER: error: 'ntp.mlp' op expects at least two layer widths (input and output), got 1
// NOOUT: ntp-compile: error: -o is required for --emit=so{{$}}
// BOTH: ntp-compile: error: give either an input file or --layers, not both
// MISSING: ntp-compile: error: cannot open input file
// NOMLP: error: expected exactly one ntp.mlp in the module, found 0
// CPU: ntp-compile: error: unknown target CPU 'not-a-cpu'
// MAPPING: for the --gpu-mapping option: Cannot find option named 'warps'!
// SLOTS: ntp-compile: error: --samples-per-block must be in 1..32, got 33
// TILE: ntp-compile: error: --tile must be positive (or 0 for automatic), got -3
// HEADER: ntp-compile: error: --header is only meaningful with --emit=obj
// OUTDIR: ntp-compile: error:
// OTHERTARGET: ntp-compile: error: --chip is an option of the nvptx target; add --target=nvptx{{$}}
// OTHERCPU: ntp-compile: error: --target-cpu is an option of the cpu target; add --target=cpu{{$}}
// NOOBJ: ntp-compile: error: the nvptx target cannot emit --emit=obj{{$}}
// NOCUBIN: ntp-compile: error: --emit=cubin needs --target=nvptx{{$}}

func.func @not_a_network() {
  return
}
