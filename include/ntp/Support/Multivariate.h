//===- Multivariate.h - Truncated multivariate Taylor arithmetic -*- C++
//-*-===//
//
// The multivariate Taylor lowering of a partials request
// (PartialsLowering.h, "multivariate"): every neuron carries the Taylor
// coefficients c_beta = D^beta y / beta! of its value over a down-closed set
// M of monomials (c_beta of a layer's output reads only c_gamma, gamma <=
// beta componentwise, of its input), row 0 the constant monomial. An affine
// layer maps every row; an activation composes sigma's Taylor series at y0
// with u = y - y0 truncated to M:
//
//   out = sum_{k=0..n} sigma^(k)(y0) / k! u^k,   n = max |beta| over M,
//
// the powers p_k = p_{k-1} u keeping only the monomials of degree >= k
// (p_k has no lower ones). This header computes M from a request, the
// compile-time product table of the powers (symmetric for u^2), and its
// exact flop count; lib/Conversion/NtpToLoops/PolyToLoops.cpp emits it.
// Plain C++17, no MLIR.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_SUPPORT_MULTIVARIATE_H
#define NTP_SUPPORT_MULTIVARIATE_H

#include "ntp/Support/Partials.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ntp::partials {

using Monomial = std::vector<int64_t>;

/// The monomials of a flat list of `size` exponents, `variables` per
/// monomial (an op's `monomials` attribute); `size` a multiple of
/// `variables`.
std::vector<Monomial> splitMonomials(const int64_t *flat, size_t size,
                                     int64_t variables);

/// The down-closed set of monomials a request needs, graded (total degree
/// ascending, then lexicographically descending: row 0 the zero monomial,
/// then e_0, e_1, ...): each multi-index alpha, a Laplacian over S as
/// {2 e_i : i in S}, a biharmonic as {2 e_i + 2 e_j : i, j in S}, and every
/// monomial below them. The rows must be valid (validateRequest).
std::vector<Monomial> requestMonomials(const std::vector<Row> &rows,
                                       int64_t inputDim);

/// The combine weights [rows.size() x monomials.size()]: alpha! on alpha's
/// row for a multi-index; 2 on each 2 e_i of a Laplacian; 24 on each 4 e_i
/// and 8 on each 2 e_i + 2 e_j (i < j) of a biharmonic.
std::vector<double> monomialWeights(const std::vector<Row> &rows,
                                    const std::vector<Monomial> &monomials);

/// Whether `monomials` (each of `variables` entries) is a valid layout:
/// row 0 the zero monomial, entries >= 0, no repeats, down-closed. False
/// and one sentence naming the broken rule otherwise.
bool checkMonomials(const std::vector<Monomial> &monomials, int64_t variables,
                    std::string &error);

/// The products of the activation of a polynomial over `monomials`
/// (indices are rows): u = the rows >= 1.
struct PolySchedule {
  /// One product u[a] * p[b] (p = u for power 2, where a <= b and a pair
  /// with a != b stands for the two orders of its factors).
  struct Term {
    int64_t a, b;
  };
  /// powers[k][i]: the monomial `row` of p_k and its terms, for
  /// k = 2..degree (powers[0], powers[1] empty); only rows of degree >= k.
  struct Entry {
    int64_t row;
    std::vector<Term> terms;
  };
  int64_t degree = 0;
  std::vector<int64_t> degrees; // total degree of each row
  std::vector<std::vector<Entry>> powers;

  /// Flops per neuron and sample of what PolyToLoops.cpp emits beside the
  /// derivatives sigma^(k)(y0): the scaling 1/k! (k >= 2), the powers (a
  /// chain of m products: 2m - 1; for u^2, the products with a != b summed
  /// apart and doubled: one more add, or an FMA when squares join them)
  /// and the sums out_beta = sum_k c_k p_k[beta] (2 |beta| - 1).
  int64_t flops() const;
};

PolySchedule polySchedule(const std::vector<Monomial> &monomials);

/// The product of two polynomials over `monomials`, truncated to the set
/// (a gated layer's Z (V - U), ntp.gate_poly): for each row beta, the pairs
/// of rows (gamma, beta - gamma) for every gamma below beta, row 0 included
/// (the set is down-closed, so beta - gamma is a row).
std::vector<std::vector<PolySchedule::Term>>
polyProductTable(const std::vector<Monomial> &monomials);

/// Flops per neuron and sample of ntp.gate_poly, out = U + Z (V - U): one
/// subtraction per row and one FMA per pair of the product table (the
/// chain starts at U's row).
int64_t gatePolyFlops(const std::vector<Monomial> &monomials);
/// The same from the set's product table (polyProductTable), for callers
/// that already built it.
int64_t
gatePolyFlops(const std::vector<std::vector<PolySchedule::Term>> &table);

} // namespace ntp::partials

#endif // NTP_SUPPORT_MULTIVARIATE_H
