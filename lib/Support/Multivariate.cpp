//===- Multivariate.cpp - Truncated multivariate Taylor arithmetic --------===//
//
// The monomial set of a request, its combine weights and the product table
// of the multivariate Taylor lowering; see ntp/Support/Multivariate.h.
//
//===----------------------------------------------------------------------===//

#include "ntp/Support/Multivariate.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <set>

using namespace ntp;
using namespace ntp::partials;

namespace {

/// beta - gamma into `rest` when gamma is componentwise below beta.
bool difference(const Monomial &beta, const Monomial &gamma, Monomial &rest) {
  rest.resize(beta.size());
  for (size_t i = 0; i < beta.size(); ++i) {
    rest[i] = beta[i] - gamma[i];
    if (rest[i] < 0)
      return false;
  }
  return true;
}

int64_t degreeOf(const Monomial &m) {
  return std::accumulate(m.begin(), m.end(), int64_t(0));
}

double factorial(int64_t n) {
  double f = 1;
  for (int64_t i = 2; i <= n; ++i)
    f *= static_cast<double>(i);
  return f;
}

/// Graded: total degree ascending, then lexicographically descending (e_0
/// before e_1).
bool graded(const Monomial &a, const Monomial &b) {
  int64_t da = degreeOf(a), db = degreeOf(b);
  if (da != db)
    return da < db;
  return a > b;
}

/// The monomials a row reads (before the closure).
std::vector<Monomial> rowMonomials(const Row &row) {
  int64_t d = static_cast<int64_t>(row.size());
  std::vector<int64_t> subset;
  for (int64_t i = 0; i < d; ++i)
    if (row[i] < 0)
      subset.push_back(i);
  std::vector<Monomial> out;
  if (subset.empty()) {
    out.push_back(Monomial(row.begin(), row.end()));
    return out;
  }
  bool laplacian = row[subset.front()] == kLaplacian;
  for (size_t s = 0; s < subset.size(); ++s) {
    if (laplacian) {
      Monomial m(d, 0);
      m[subset[s]] = 2;
      out.push_back(m);
      continue;
    }
    for (size_t t = s; t < subset.size(); ++t) {
      Monomial m(d, 0);
      m[subset[s]] += 2;
      m[subset[t]] += 2;
      out.push_back(m);
    }
  }
  return out;
}

} // namespace

std::vector<Monomial>
ntp::partials::requestMonomials(const std::vector<Row> &rows,
                                int64_t inputDim) {
  std::set<Monomial> set;
  set.insert(Monomial(inputDim, 0));
  // The closure: every beta <= alpha, by lowering one entry at a time.
  std::vector<Monomial> work;
  for (const Row &row : rows)
    for (Monomial &m : rowMonomials(row))
      work.push_back(std::move(m));
  while (!work.empty()) {
    Monomial m = std::move(work.back());
    work.pop_back();
    if (!set.insert(m).second)
      continue;
    for (int64_t i = 0; i < inputDim; ++i)
      if (m[i] > 0) {
        Monomial lower = m;
        --lower[i];
        work.push_back(std::move(lower));
      }
  }
  std::vector<Monomial> out(set.begin(), set.end());
  std::sort(out.begin(), out.end(), graded);
  return out;
}

std::vector<Monomial> ntp::partials::splitMonomials(const int64_t *flat,
                                                    size_t size,
                                                    int64_t variables) {
  std::vector<Monomial> monomials;
  for (size_t i = 0; i < size; i += variables)
    monomials.emplace_back(flat + i, flat + i + variables);
  return monomials;
}

std::vector<double>
ntp::partials::monomialWeights(const std::vector<Row> &rows,
                               const std::vector<Monomial> &monomials) {
  std::map<Monomial, int64_t> index;
  for (size_t i = 0; i < monomials.size(); ++i)
    index[monomials[i]] = static_cast<int64_t>(i);
  int64_t columns = static_cast<int64_t>(monomials.size());
  std::vector<double> weights(rows.size() * columns, 0.0);
  for (size_t p = 0; p < rows.size(); ++p) {
    bool isOperator = operatorName(rows[p])[0] != 0;
    for (const Monomial &m : rowMonomials(rows[p])) {
      // D^beta f = beta! c_beta; a biharmonic's mixed term 2 e_i + 2 e_j
      // appears for (i, j) and (j, i).
      double w = 1;
      for (int64_t e : m)
        w *= factorial(e);
      if (isOperator && std::count(m.begin(), m.end(), 2) == 2)
        w *= 2;
      weights[p * columns + index.at(m)] += w;
    }
  }
  return weights;
}

bool ntp::partials::checkMonomials(const std::vector<Monomial> &monomials,
                                   int64_t variables, std::string &error) {
  if (monomials.empty() || degreeOf(monomials.front()) != 0 ||
      std::any_of(monomials.front().begin(), monomials.front().end(),
                  [](int64_t e) { return e != 0; })) {
    error = "row 0 must be the zero monomial (the constant term)";
    return false;
  }
  std::set<Monomial> set;
  for (const Monomial &m : monomials) {
    if (static_cast<int64_t>(m.size()) != variables) {
      error = "every monomial must have one exponent per variable";
      return false;
    }
    if (std::any_of(m.begin(), m.end(), [](int64_t e) { return e < 0; })) {
      error = "monomial exponents must be nonnegative";
      return false;
    }
    if (!set.insert(m).second) {
      error = "a monomial appears twice";
      return false;
    }
  }
  for (const Monomial &m : monomials)
    for (int64_t i = 0; i < variables; ++i)
      if (m[i] > 0) {
        Monomial lower = m;
        --lower[i];
        if (!set.count(lower)) {
          error = "the monomial set must be down-closed (every monomial "
                  "below one in the set is in it)";
          return false;
        }
      }
  return true;
}

PolySchedule
ntp::partials::polySchedule(const std::vector<Monomial> &monomials) {
  PolySchedule s;
  std::map<Monomial, int64_t> index;
  for (size_t i = 0; i < monomials.size(); ++i) {
    index[monomials[i]] = static_cast<int64_t>(i);
    s.degrees.push_back(degreeOf(monomials[i]));
    s.degree = std::max(s.degree, s.degrees.back());
  }
  int64_t n = static_cast<int64_t>(monomials.size());
  s.powers.resize(std::max<int64_t>(s.degree + 1, 2));
  for (int64_t k = 2; k <= s.degree; ++k)
    for (int64_t beta = 0; beta < n; ++beta) {
      if (s.degrees[beta] < k)
        continue;
      PolySchedule::Entry entry{beta, {}};
      // gamma (a row of u, degree >= 1) below beta with beta - gamma of
      // degree >= k - 1 (a row of p_{k-1}); M is down-closed, so beta -
      // gamma is in it.
      for (int64_t gamma = 1; gamma < n; ++gamma) {
        Monomial rest;
        if (!difference(monomials[beta], monomials[gamma], rest) ||
            degreeOf(rest) < k - 1)
          continue;
        int64_t r = index.at(rest);
        // u^2 is symmetric: the pair {gamma, rest} once.
        if (k == 2 && r < gamma)
          continue;
        entry.terms.push_back({gamma, r});
      }
      s.powers[k].push_back(std::move(entry));
    }
  return s;
}

int64_t PolySchedule::flops() const {
  auto chain = [](int64_t m) { return m > 0 ? 2 * m - 1 : 0; };
  int64_t flops = degree >= 2 ? degree - 1 : 0;
  for (int64_t k = 2; k <= degree; ++k)
    for (const Entry &e : powers[k]) {
      if (k > 2) {
        flops += chain(static_cast<int64_t>(e.terms.size()));
        continue;
      }
      int64_t off = 0, diag = 0;
      for (const Term &t : e.terms)
        (t.a == t.b ? diag : off) += 1;
      flops += chain(off) + chain(diag) + (off && diag ? 2 : off ? 1 : 0);
    }
  for (int64_t d : degrees)
    flops += chain(std::min(d, degree));
  return flops;
}

std::vector<std::vector<PolySchedule::Term>>
ntp::partials::polyProductTable(const std::vector<Monomial> &monomials) {
  std::map<Monomial, int64_t> index;
  for (size_t i = 0; i < monomials.size(); ++i)
    index[monomials[i]] = static_cast<int64_t>(i);
  int64_t n = static_cast<int64_t>(monomials.size());
  std::vector<std::vector<PolySchedule::Term>> table(n);
  for (int64_t beta = 0; beta < n; ++beta)
    for (int64_t gamma = 0; gamma < n; ++gamma) {
      Monomial rest;
      if (difference(monomials[beta], monomials[gamma], rest))
        table[beta].push_back({gamma, index.at(rest)});
    }
  return table;
}

int64_t ntp::partials::gatePolyFlops(const std::vector<Monomial> &monomials) {
  return gatePolyFlops(polyProductTable(monomials));
}

int64_t ntp::partials::gatePolyFlops(
    const std::vector<std::vector<PolySchedule::Term>> &table) {
  // One row of the table per monomial.
  int64_t flops = static_cast<int64_t>(table.size());
  for (const auto &terms : table)
    flops += 2 * static_cast<int64_t>(terms.size());
  return flops;
}
