//===- Partials.h - Mixed partials from univariate jets ---------*- C++ -*-===//
//
// The request of a partials kernel (multi-indices and named operators) and
// how it is computed from univariate jets by interpolation (Griewank, Utke,
// Walther, "Evaluating higher derivative tensors by forward propagation of
// univariate Taylor series", Math. Comp. 69, 2000): for |i| = n,
//
//   D^i f(x) = 1/n! sum_{|j| = n} gamma_{i,j} d^n/dt^n f(x + t j) |_{t=0},
//   gamma_{i,j} = sum_{0 < k <= i} (-1)^{|i-k|} C(i,k) C(n k/|k|, j) (|k|/n)^n
//
// with every coefficient an exact rational computed here. Directions that
// are multiples of one another are one ray (d^n/dt^n f(x + t g r) =
// g^n d^n/dt^n f(x + t r)), so requests of different orders share jets.
// Plain C++17, no MLIR: the verifier, describeKernel, the tools, the JIT and
// unit tests all call it.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_SUPPORT_PARTIALS_H
#define NTP_SUPPORT_PARTIALS_H

#include <cstdint>
#include <string>
#include <vector>

namespace ntp::partials {

/// One request, an entry per input coordinate: a multi-index alpha (every
/// entry >= 0), or a named operator holding kLaplacian or kBiharmonic in
/// the coordinates it sums over and 0 elsewhere (the encoding of the C ABI's
/// ntp_kernel_partials_get).
using Row = std::vector<int32_t>;
inline constexpr int32_t kLaplacian = -2;
inline constexpr int32_t kBiharmonic = -4;

/// The most directions (univariate jets) one kernel propagates: all
/// partials of order 6 in 6 variables need 462. Each is unrolled in the
/// kernel, so compile time grows with them.
inline constexpr int64_t kMaxDirections = 512;

/// The total order of a valid row: |alpha|, 2 (Laplacian) or 4
/// (biharmonic).
int64_t totalOrder(const Row &row);

/// Checks `rows` against the network's input count and the highest total
/// order allowed: each row has `inputDim` entries, is a multi-index or an
/// operator row, has total order <= `maxOrder`, and appears once; there is
/// at least one row. False and one sentence naming the broken rule in
/// `error` otherwise.
bool validateRequest(const std::vector<Row> &rows, int64_t inputDim,
                     int64_t maxOrder, std::string &error);

/// The row of the operator `kind` (kLaplacian, kBiharmonic) over the
/// coordinates `subset` (empty: all of them). False and a sentence if a
/// coordinate does not exist or repeats.
bool operatorRow(int32_t kind, const std::vector<int64_t> &subset,
                 int64_t inputDim, Row &row, std::string &error);

/// "laplacian", "biharmonic"; "" for a multi-index.
const char *operatorName(const Row &row);

/// Parses "2,0,0;0,2,0;1,1,0" (rows separated by ';', entries by ','):
/// integers only; false and a sentence otherwise. Rows are not validated.
bool parseRows(const std::string &text, std::vector<Row> &rows,
               std::string &error);
/// Parses "laplacian", "laplacian:0,1", "biharmonic:2" into its row.
bool parseOperator(const std::string &text, int64_t inputDim, Row &row,
                   std::string &error);
/// The text parseRows reads back ("2,0,0;-2,-2,0").
std::string formatRows(const std::vector<Row> &rows);

/// An exact rational number, always normalized (den > 0, gcd 1).
struct Rational {
  __int128 num = 0, den = 1;
  double toDouble() const;
  long double toLongDouble() const;
  std::string str() const;
  bool operator==(const Rational &o) const {
    return num == o.num && den == o.den;
  }
};

/// gamma_{i,j} of the formula above for every direction j with |j| = |i|
/// and gamma != 0. False (with a sentence) if an intermediate overflows 128
/// bits.
struct DirectionCoefficient {
  std::vector<int64_t> direction;
  Rational gamma;
};
bool interpolationCoefficients(const std::vector<int64_t> &alpha,
                               std::vector<DirectionCoefficient> &out,
                               std::string &error);

/// How a kernel computes a request: the univariate jets it propagates (one
/// per ray, up to the highest order any request needs along it) and each
/// request as a linear combination of their coefficients.
struct Plan {
  struct Term {
    int64_t ray;   // index into rays
    int64_t order; // k: the term reads d^k/dt^k f(x + t ray)
    Rational weight;
  };
  int64_t inputDim = 0;
  std::vector<std::vector<int64_t>> rays; // primitive integer directions
  std::vector<int64_t> rayOrders;         // highest order read along each
  std::vector<std::vector<Term>> terms;   // per request row, in order
  /// The largest |weight| over all terms (the coefficient growth).
  double maxAbsWeight() const;
  /// Jet coefficients propagated: sum over rays of (order + 1).
  int64_t jetCoefficients() const;
};

/// The plan for `rows` (validated first with maxOrder = 16). False and a
/// sentence on invalid rows or overflow.
bool planPartials(const std::vector<Row> &rows, int64_t inputDim, Plan &plan,
                  std::string &error);

} // namespace ntp::partials

#endif // NTP_SUPPORT_PARTIALS_H
