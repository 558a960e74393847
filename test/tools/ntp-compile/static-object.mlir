// An object file plus C header, linked statically into a C program that
// checks one closed-form value: f(x) = w2 tanh(w1 x + b1) + b2 at order 1.
// RUN: ntp-compile %s --emit=obj -o %t.o --header=%t.h
// RUN: FileCheck %s --check-prefix=HEADER < %t.h
// RUN: cc -include %t.h %S/Inputs/static-main.c %t.o -lm -o %t.exe
// RUN: %t.exe | FileCheck %s --check-prefix=EXE

// HEADER: SMALL_ORDER = 1,
// HEADER: SMALL_NUM_PARAMS = 4,
// HEADER: void small_forward_tiles(const double *x, const double *v, const double *params, double *out, int64_t batch, int64_t tile_begin, int64_t tile_end);
// HEADER: static inline void small_forward(
// EXE: ok
ntp.mlp @small layers [1, 1, 1] activation "tanh" order 1 : f64
