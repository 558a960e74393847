// A partials kernel's object file plus C header (--header): the requests,
// sizes and forward entry point, linked statically into a C program that
// checks closed-form values of f(x) = w2 tanh(a x0 + b x1 + b1) + b2:
// f_xy = w2 a b tanh''(y), the Laplacian w2 (a^2 + b^2) tanh''(y) and f.
// RUN: ntp-compile %s --emit=obj -o %t.o --header=%t.h
// RUN: FileCheck %s --check-prefix=HEADER < %t.h
// RUN: cc -include %t.h %S/Inputs/partials-main.c %t.o -lm -o %t.exe
// RUN: %t.exe | FileCheck %s --check-prefix=EXE

// HEADER: partials kernel 'small' (tanh, layers 2 1 1, 3 requests, f64
// HEADER: SMALL_NUM_REQUESTS = 3,
// HEADER: SMALL_MAX_ORDER = 2,
// HEADER: SMALL_INPUT_DIM = 2,
// HEADER: SMALL_NUM_PARAMS = 5,
// HEADER: static const int32_t small_requests[SMALL_NUM_REQUESTS * SMALL_INPUT_DIM] = {
// HEADER-NEXT: 1, 1,
// HEADER-NEXT: 0, 0,
// HEADER-NEXT: -2, -2};
// HEADER: void small_forward_tiles(const double *x, const double *v, const double *params, double *out, int64_t batch, int64_t tile_begin, int64_t tile_end);
// HEADER: static inline void small_partials(const double *x, const double *params, double *out, int64_t batch) {
// EXE: ok
ntp.mlp @small layers [2, 1, 1] activation "tanh" order 2
    partials [[1, 1], [0, 0]] operators [#ntp.laplacian] : f64
