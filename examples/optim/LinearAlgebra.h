//===- LinearAlgebra.h - Dense kernels of the optimizers -------*- C++ -*-===//
//
// The few dense operations the optimizers need, on std::vector<double>:
// dot products, the Gram matrix J J^T of a row-major matrix and a Cholesky
// solve. Plain loops (and an AVX2 Gram kernel), no BLAS: the examples link
// nothing but ntp.
//
//===----------------------------------------------------------------------===//
#ifndef NTP_EXAMPLES_OPTIM_LINEARALGEBRA_H
#define NTP_EXAMPLES_OPTIM_LINEARALGEBRA_H

#include <cstddef>
#include <functional>
#include <vector>

namespace optim {

using Vec = std::vector<double>;

/// sum_i a[i] b[i], in four interleaved partial sums (the loop pipelines;
/// the order of the additions is fixed, so results are reproducible).
double dot(const double *a, const double *b, size_t n);
double dot(const Vec &a, const Vec &b);

/// Runs work(first, step) on min(max(threads, 1), items) threads, the
/// caller's included, with first = 0, 1, ... and step the thread count:
/// work visits items first, first + step, ... (interleaved, which balances
/// items of growing cost).
void forEachStride(int threads, size_t items,
                   const std::function<void(size_t first, size_t step)> &work);

/// G = J J^T (m x m, row-major) for the row-major m x p matrix J, on
/// `threads` threads (AVX2 and FMA where the CPU has them). Each entry is
/// summed in one fixed order, so G does not depend on the thread count.
Vec gramRows(const Vec &j, size_t m, size_t p, int threads = 1);

/// Factors the n x n row-major A in place (lower Cholesky factor) and solves
/// A x = b in b. False, with A and b clobbered, unless A is positive
/// definite.
bool choleskySolve(Vec &a, Vec &b, size_t n);

} // namespace optim

#endif // NTP_EXAMPLES_OPTIM_LINEARALGEBRA_H
