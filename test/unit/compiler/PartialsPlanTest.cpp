//===- PartialsPlanTest.cpp - The interpolation of mixed partials ---------===//
//
// ntp::partials (lib/Support/Partials.cpp): the request rules, the exact
// Griewank-Utke-Walther coefficients on known small cases and on the
// identity they must satisfy for every monomial, the number of directions,
// and the growth of the coefficients (printed).
//
//===----------------------------------------------------------------------===//

#include "ntp/Support/Partials.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <map>
#include <numeric>

using namespace ntp::partials;

namespace {

using i128 = __int128;

/// Exact rationals for the checks (independent of Partials.cpp's).
struct Q {
  i128 n = 0, d = 1;
  static i128 gcd(i128 a, i128 b) {
    a = a < 0 ? -a : a;
    b = b < 0 ? -b : b;
    while (b) {
      i128 t = a % b;
      a = b;
      b = t;
    }
    return a ? a : 1;
  }
  static Q of(i128 n, i128 d = 1) {
    if (d < 0)
      n = -n, d = -d;
    i128 g = gcd(n, d);
    return {n / g, d / g};
  }
  Q operator+(Q o) const { return of(n * o.d + o.n * d, d * o.d); }
  Q operator*(Q o) const { return of(n * o.n, d * o.d); }
  bool operator==(Q o) const { return n == o.n && d == o.d; }
};

Q fromRational(const Rational &r) { return Q::of(r.num, r.den); }

i128 factorial(int64_t n) {
  i128 f = 1;
  for (int64_t i = 2; i <= n; ++i)
    f *= i;
  return f;
}

/// Every multi-index of `dim` entries with sum n.
std::vector<std::vector<int64_t>> multiIndices(int64_t dim, int64_t n) {
  std::vector<std::vector<int64_t>> all;
  std::vector<int64_t> a(dim, 0);
  std::function<void(int64_t, int64_t)> rec = [&](int64_t l, int64_t left) {
    if (l + 1 == dim) {
      a[l] = left;
      all.push_back(a);
      return;
    }
    for (int64_t v = left; v >= 0; --v) {
      a[l] = v;
      rec(l + 1, left - v);
    }
  };
  rec(0, n);
  return all;
}

Q monomial(const std::vector<int64_t> &point, const std::vector<int64_t> &a) {
  Q value = Q::of(1);
  for (size_t l = 0; l < a.size(); ++l)
    for (int64_t e = 0; e < a[l]; ++e)
      value = value * Q::of(point[l]);
  return value;
}

std::vector<Row> allRows(int64_t dim, int64_t n) {
  std::vector<Row> rows;
  for (const auto &a : multiIndices(dim, n))
    rows.emplace_back(a.begin(), a.end());
  return rows;
}

} // namespace

TEST(PartialsPlan, MixedSecondPartialInTwoVariables) {
  // d^2 f/dx dy = 1/2! (D_(1,1) - D_(2,0)/4 - D_(0,2)/4), D_j = d^2/dt^2
  // f(x + t j): the textbook case.
  std::vector<DirectionCoefficient> c;
  std::string error;
  ASSERT_TRUE(interpolationCoefficients({1, 1}, c, error)) << error;
  ASSERT_EQ(c.size(), 3u);
  std::map<std::vector<int64_t>, std::string> got;
  for (auto &e : c)
    got[e.direction] = e.gamma.str();
  EXPECT_EQ(got[(std::vector<int64_t>{1, 1})], "1");
  EXPECT_EQ(got[(std::vector<int64_t>{2, 0})], "-1/4");
  EXPECT_EQ(got[(std::vector<int64_t>{0, 2})], "-1/4");
}

TEST(PartialsPlan, PureDerivativeIsOneDirection) {
  // gamma = n!/n^n along j = n e_l: the univariate jet itself.
  for (int64_t n = 1; n <= 8; ++n) {
    std::vector<DirectionCoefficient> c;
    std::string error;
    ASSERT_TRUE(interpolationCoefficients({0, n, 0}, c, error)) << error;
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].direction, (std::vector<int64_t>{0, n, 0}));
    i128 nn = 1;
    for (int64_t i = 0; i < n; ++i)
      nn *= n;
    EXPECT_TRUE(fromRational(c[0].gamma) == Q::of(factorial(n), nn)) << n;
  }
}

// The defining identity: for every |a| = |i| = n,
//   sum_j gamma_{i,j} j^a = i! [a == i]
// (the formula applied to the monomial x^a, whose n-th directional
// derivative along j is n! j^a). Checked exactly.
TEST(PartialsPlan, CoefficientsReproduceEveryMonomialExactly) {
  for (int64_t dim = 1; dim <= 4; ++dim)
    for (int64_t n = 1; n <= (dim <= 2 ? 8 : 5); ++n)
      for (const auto &alpha : multiIndices(dim, n)) {
        std::vector<DirectionCoefficient> c;
        std::string error;
        ASSERT_TRUE(interpolationCoefficients(alpha, c, error)) << error;
        for (const auto &a : multiIndices(dim, n)) {
          Q sum;
          for (auto &e : c)
            sum = sum + fromRational(e.gamma) * monomial(e.direction, a);
          i128 expect = 1;
          for (int64_t v : alpha)
            expect *= factorial(v);
          EXPECT_TRUE(sum == (a == alpha ? Q::of(expect) : Q::of(0)))
              << "dim " << dim << " n " << n;
        }
      }
}

// The plan's weights (rays, their scale g^n, 1/n!, operator sums) on the
// same identity: sum_terms w * n! r^a = D^row (x^a) at 0.
TEST(PartialsPlan, PlanWeightsReproduceMonomials) {
  for (int64_t dim = 1; dim <= 3; ++dim) {
    std::vector<Row> rows;
    for (int64_t n = 0; n <= 4; ++n)
      for (const Row &row : allRows(dim, n))
        rows.push_back(row);
    Row lap, bih, sub;
    std::string error;
    ASSERT_TRUE(operatorRow(kLaplacian, {}, dim, lap, error));
    ASSERT_TRUE(operatorRow(kBiharmonic, {}, dim, bih, error));
    ASSERT_TRUE(operatorRow(kLaplacian, {0}, dim, sub, error));
    rows.push_back(lap);
    rows.push_back(bih);
    if (dim > 1)
      rows.push_back(sub);
    Plan plan;
    ASSERT_TRUE(planPartials(rows, dim, plan, error)) << error;
    for (int64_t n = 0; n <= 4; ++n)
      for (const auto &a : multiIndices(dim, n)) {
        for (size_t p = 0; p < rows.size(); ++p) {
          Q sum;
          for (const Plan::Term &t : plan.terms[p])
            if (t.order == n)
              sum = sum + fromRational(t.weight) * Q::of(factorial(n)) *
                              monomial(plan.rays[t.ray], a);
          // D^row x^a at 0: a! if the row's alphas include a (with their
          // multiplicity), else 0.
          i128 aFact = 1;
          for (int64_t v : a)
            aFact *= factorial(v);
          int64_t multiplicity = 0;
          const Row &row = rows[p];
          if (operatorName(row)[0] == 0) {
            multiplicity = std::equal(a.begin(), a.end(), row.begin());
          } else {
            int32_t mark = row[std::find_if(row.begin(), row.end(),
                                            [](int32_t e) { return e < 0; }) -
                               row.begin()];
            int64_t total = std::accumulate(a.begin(), a.end(), int64_t(0));
            bool inside = true;
            for (int64_t l = 0; l < dim; ++l)
              inside &= a[l] == 0 || row[l] < 0;
            if (mark == kLaplacian && total == 2 && inside)
              multiplicity = *std::max_element(a.begin(), a.end()) == 2;
            if (mark == kBiharmonic && total == 4 && inside) {
              int64_t big = *std::max_element(a.begin(), a.end());
              bool even = std::all_of(a.begin(), a.end(),
                                      [](int64_t v) { return v % 2 == 0; });
              multiplicity = big == 4 ? 1 : (even ? 2 : 0);
            }
          }
          EXPECT_TRUE(sum == Q::of(aFact * multiplicity))
              << "dim " << dim << " row " << p << " n " << n;
        }
      }
  }
}

TEST(PartialsPlan, DirectionCounts) {
  // All partials of total order n in d variables: C(n+d-1, n) directions.
  for (int64_t dim = 1; dim <= 6; ++dim)
    for (int64_t n = 1; n <= 6; ++n) {
      Plan plan;
      std::string error;
      ASSERT_TRUE(planPartials(allRows(dim, n), dim, plan, error)) << error;
      int64_t expect = 1;
      for (int64_t i = 1; i <= n; ++i)
        expect = expect * (n + dim - 1 - n + i) / i;
      EXPECT_EQ(static_cast<int64_t>(plan.rays.size()), expect)
          << "d " << dim << " n " << n;
    }
  // Fewer for a subset: the Laplacian needs one ray per summed coordinate,
  // each along a unit vector with weight 1.
  Row lap;
  std::string error;
  ASSERT_TRUE(operatorRow(kLaplacian, {0, 2}, 4, lap, error));
  Plan plan;
  ASSERT_TRUE(planPartials({lap}, 4, plan, error)) << error;
  ASSERT_EQ(plan.rays.size(), 2u);
  EXPECT_EQ(plan.rays[0], (std::vector<int64_t>{1, 0, 0, 0}));
  EXPECT_EQ(plan.rays[1], (std::vector<int64_t>{0, 0, 1, 0}));
  for (const Plan::Term &t : plan.terms[0]) {
    EXPECT_EQ(t.order, 2);
    EXPECT_EQ(t.weight.str(), "1");
  }
  // A second-order mixed partial and a pure one share the unit rays; lower
  // orders along a ray come from the same jet.
  ASSERT_TRUE(planPartials({{2, 0}, {1, 1}, {1, 0}, {0, 0}}, 2, plan, error));
  EXPECT_EQ(plan.rays.size(), 3u); // (1,0), (1,1), (0,1)
  EXPECT_EQ(plan.rayOrders[0], 2);
}

TEST(PartialsPlan, CoefficientGrowthByOrder) {
  // Printed for docs: the largest |weight| over all partials of total order
  // n in d variables (cancellation grows with it).
  std::printf("interpolation weight growth: max |w| over all partials of "
              "total order n in d variables\n  n:");
  for (int64_t n = 1; n <= 6; ++n)
    std::printf(" %10lld", static_cast<long long>(n));
  std::printf("\n");
  for (int64_t dim : {1, 2, 3, 4, 6}) {
    std::printf("d=%lld:", static_cast<long long>(dim));
    double last = 0;
    for (int64_t n = 1; n <= 6; ++n) {
      Plan plan;
      std::string error;
      ASSERT_TRUE(planPartials(allRows(dim, n), dim, plan, error)) << error;
      double w = plan.maxAbsWeight();
      std::printf(" %10.4g", w);
      EXPECT_GT(w, 0);
      if (dim > 1)
        EXPECT_GE(w, last * 0.999) << "d " << dim << " n " << n;
      last = w;
    }
    std::printf("\n");
  }
}

TEST(PartialsPlan, BadRequestsAreOneSentence) {
  std::string error;
  EXPECT_FALSE(validateRequest({}, 3, 6, error));
  EXPECT_NE(error.find("empty"), std::string::npos) << error;
  EXPECT_FALSE(validateRequest({{1, 1}}, 3, 6, error));
  EXPECT_NE(error.find("has 2 entries but the network has 3 inputs"),
            std::string::npos)
      << error;
  EXPECT_FALSE(validateRequest({{1, -1, 0}}, 3, 6, error));
  EXPECT_NE(error.find("negative entry"), std::string::npos) << error;
  EXPECT_FALSE(validateRequest({{-2, 1, 0}}, 3, 6, error));
  EXPECT_NE(error.find("mixes"), std::string::npos) << error;
  EXPECT_FALSE(validateRequest({{-2, -4, 0}}, 3, 6, error));
  EXPECT_NE(error.find("negative entry"), std::string::npos) << error;
  EXPECT_FALSE(validateRequest({{4, 3, 0}}, 3, 6, error));
  EXPECT_NE(error.find("total order 7, above the maximum 6"), std::string::npos)
      << error;
  EXPECT_FALSE(validateRequest({{-4, -4, 0}}, 3, 3, error));
  EXPECT_NE(error.find("total order 4"), std::string::npos) << error;
  EXPECT_FALSE(validateRequest({{1, 1, 0}, {2, 0, 0}, {1, 1, 0}}, 3, 6, error));
  EXPECT_NE(error.find("request 2 [1,1,0] repeats request 0"),
            std::string::npos)
      << error;
  Plan plan;
  EXPECT_FALSE(planPartials({{2, 2, 2, 2, 2, 2, 2, 2}}, 8, plan, error));
  EXPECT_NE(error.find("over 8 coordinates needs more than 512 directions"),
            std::string::npos)
      << error;
  // Operators past the direction limit are refused before their expansion
  // (m^2 d integers: a Laplacian over 65536 inputs ran out of memory).
  EXPECT_FALSE(planPartials({Row(65536, -2)}, 65536, plan, error));
  EXPECT_NE(error.find("the laplacian over 65536 coordinates needs at least "
                       "65536 directions, more than 512"),
            std::string::npos)
      << error;
  EXPECT_FALSE(planPartials({Row(32, -4)}, 32, plan, error));
  EXPECT_NE(error.find("the biharmonic over 32 coordinates needs at least "
                       "528 directions"),
            std::string::npos)
      << error;
  EXPECT_TRUE(planPartials({Row(512, -2)}, 512, plan, error)) << error;
  Row row;
  EXPECT_FALSE(operatorRow(kLaplacian, {0, 3}, 3, row, error));
  EXPECT_NE(error.find("coordinate 3 does not exist"), std::string::npos)
      << error;
  EXPECT_FALSE(operatorRow(kLaplacian, {1, 1}, 3, row, error));
  EXPECT_NE(error.find("twice"), std::string::npos) << error;
  EXPECT_FALSE(parseOperator("hessian", 3, row, error));
  EXPECT_NE(error.find("unknown operator 'hessian'"), std::string::npos);
  EXPECT_FALSE(parseOperator("laplacian:0,x", 3, row, error));
  std::vector<Row> rows;
  EXPECT_FALSE(parseRows("2,0;1,a", rows, error));
  EXPECT_NE(error.find("'1,a'"), std::string::npos) << error;
  rows.clear();
  EXPECT_FALSE(parseRows("2,0;", rows, error));
  rows.clear();
  ASSERT_TRUE(parseRows("2,0,0;0,2,0;1,1,0", rows, error)) << error;
  ASSERT_TRUE(parseOperator("laplacian:0,1", 3, row, error)) << error;
  rows.push_back(row);
  EXPECT_EQ(formatRows(rows), "2,0,0;0,2,0;1,1,0;-2,-2,0");
  EXPECT_TRUE(validateRequest(rows, 3, 2, error)) << error;
}
