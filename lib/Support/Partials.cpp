//===- Partials.cpp - Mixed partials from univariate jets -----------------===//
//
// The request rules and the exact interpolation coefficients of Griewank,
// Utke and Walther (2000); see ntp/Support/Partials.h.
//
//===----------------------------------------------------------------------===//

#include "ntp/Support/Partials.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <numeric>
#include <sstream>

using namespace ntp::partials;

namespace {

using i128 = __int128;

i128 gcd128(i128 a, i128 b) {
  if (a < 0)
    a = -a;
  if (b < 0)
    b = -b;
  while (b != 0) {
    i128 t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/// Rational arithmetic with overflow detection: any overflow sets `overflow`
/// and the result is meaningless (the caller reports it).
struct Arith {
  bool overflow = false;

  Rational make(i128 num, i128 den) {
    if (den < 0) {
      num = -num;
      den = -den;
    }
    i128 g = gcd128(num, den);
    if (g > 1) {
      num /= g;
      den /= g;
    }
    if (num == 0)
      den = 1;
    return {num, den};
  }
  i128 mul(i128 a, i128 b) {
    i128 r;
    overflow |= __builtin_mul_overflow(a, b, &r);
    return r;
  }
  i128 add(i128 a, i128 b) {
    i128 r;
    overflow |= __builtin_add_overflow(a, b, &r);
    return r;
  }
  Rational mul(Rational a, Rational b) {
    // Cross-reduce first to keep intermediates small.
    i128 g1 = gcd128(a.num, b.den), g2 = gcd128(b.num, a.den);
    if (g1 == 0)
      g1 = 1;
    if (g2 == 0)
      g2 = 1;
    return make(mul(a.num / g1, b.num / g2), mul(a.den / g2, b.den / g1));
  }
  Rational add(Rational a, Rational b) {
    i128 g = gcd128(a.den, b.den);
    i128 den = mul(a.den / g, b.den);
    return make(add(mul(a.num, b.den / g), mul(b.num, a.den / g)), den);
  }
  /// binom(r, m) for rational r and integer m >= 0.
  Rational binom(Rational r, int64_t m) {
    Rational result{1, 1};
    for (int64_t i = 0; i < m; ++i) {
      result = mul(result, add(r, Rational{-i, 1}));
      result = mul(result, make(1, i + 1));
    }
    return result;
  }
  Rational power(Rational r, int64_t n) {
    Rational result{1, 1};
    for (int64_t i = 0; i < n; ++i)
      result = mul(result, r);
    return result;
  }
};

int64_t binomialInt(int64_t n, int64_t k) {
  if (k < 0 || k > n)
    return 0;
  int64_t r = 1;
  for (int64_t i = 1; i <= k; ++i)
    r = r * (n - k + i) / i;
  return r;
}

/// Calls `f` with every vector j >= 0 of length `dim` with sum `n` and
/// j_l = 0 wherever support[l] is false.
template <class F>
void forEachComposition(int64_t n, const std::vector<bool> &support,
                        std::vector<int64_t> &j, size_t l, F &&f) {
  if (l + 1 == j.size() || l == j.size()) {
    if (l == j.size()) {
      if (n == 0)
        f(j);
      return;
    }
    if (n > 0 && !support[l])
      return;
    j[l] = n;
    f(j);
    j[l] = 0;
    return;
  }
  int64_t top = support[l] ? n : 0;
  for (int64_t v = 0; v <= top; ++v) {
    j[l] = v;
    forEachComposition(n - v, support, j, l + 1, f);
  }
  j[l] = 0;
}

std::string rowText(const Row &row) {
  std::string text = "[";
  for (size_t i = 0; i < row.size(); ++i)
    text += (i ? "," : "") + std::to_string(row[i]);
  return text + "]";
}

} // namespace

double Rational::toDouble() const {
  return static_cast<double>(static_cast<long double>(num) /
                             static_cast<long double>(den));
}

long double Rational::toLongDouble() const {
  return static_cast<long double>(num) / static_cast<long double>(den);
}

std::string Rational::str() const {
  auto text = [](i128 v) {
    bool negative = v < 0;
    unsigned __int128 u = negative ? -static_cast<unsigned __int128>(v)
                                   : static_cast<unsigned __int128>(v);
    std::string digits;
    do {
      digits.insert(digits.begin(), char('0' + int(u % 10)));
      u /= 10;
    } while (u != 0);
    return (negative ? "-" : "") + digits;
  };
  return den == 1 ? text(num) : text(num) + "/" + text(den);
}

int64_t ntp::partials::totalOrder(const Row &row) {
  int64_t total = 0;
  for (int32_t e : row) {
    if (e == kLaplacian)
      return 2;
    if (e == kBiharmonic)
      return 4;
    total += e;
  }
  return total;
}

const char *ntp::partials::operatorName(const Row &row) {
  for (int32_t e : row) {
    if (e == kLaplacian)
      return "laplacian";
    if (e == kBiharmonic)
      return "biharmonic";
  }
  return "";
}

bool ntp::partials::validateRequest(const std::vector<Row> &rows,
                                    int64_t inputDim, int64_t maxOrder,
                                    std::string &error) {
  if (rows.empty()) {
    error = "the request is empty: ask for at least one multi-index or "
            "operator";
    return false;
  }
  for (size_t p = 0; p < rows.size(); ++p) {
    const Row &row = rows[p];
    std::string which = "request " + std::to_string(p) + " " + rowText(row);
    if (static_cast<int64_t>(row.size()) != inputDim) {
      error = which + " has " + std::to_string(row.size()) +
              " entries but the network has " + std::to_string(inputDim) +
              " inputs (one entry per input coordinate)";
      return false;
    }
    int32_t marker = 0;
    for (int32_t e : row) {
      if (e >= 0)
        continue;
      if ((e != kLaplacian && e != kBiharmonic) ||
          (marker != 0 && marker != e)) {
        error = which + " has a negative entry: a multi-index has entries "
                        ">= 0, and an operator row holds only -2 "
                        "(laplacian) or -4 (biharmonic) and 0";
        return false;
      }
      marker = e;
    }
    if (marker != 0 &&
        std::any_of(row.begin(), row.end(), [](int32_t e) { return e > 0; })) {
      error = which + " mixes an operator's marks with a multi-index: an "
                      "operator row holds only its mark and 0";
      return false;
    }
    int64_t order = 0;
    for (int32_t e : row)
      order += e > 0 ? e : 0;
    if (marker != 0)
      order = totalOrder(row);
    if (order > maxOrder) {
      error = which + " has total order " + std::to_string(order) +
              ", above the maximum " + std::to_string(maxOrder);
      return false;
    }
    for (size_t q = 0; q < p; ++q)
      if (rows[q] == row) {
        error = which + " repeats request " + std::to_string(q) +
                " (each partial or operator is asked for once)";
        return false;
      }
  }
  return true;
}

bool ntp::partials::operatorRow(int32_t kind,
                                const std::vector<int64_t> &subset,
                                int64_t inputDim, Row &row,
                                std::string &error) {
  const char *name = kind == kLaplacian ? "laplacian" : "biharmonic";
  row.assign(static_cast<size_t>(inputDim), subset.empty() ? kind : 0);
  for (int64_t c : subset) {
    if (c < 0 || c >= inputDim) {
      error = std::string("the ") + name + "'s coordinate " +
              std::to_string(c) + " does not exist: the network has " +
              std::to_string(inputDim) + " inputs (coordinates 0.." +
              std::to_string(inputDim - 1) + ")";
      return false;
    }
    if (row[c] == kind) {
      error = std::string("the ") + name + " names coordinate " +
              std::to_string(c) + " twice";
      return false;
    }
    row[c] = kind;
  }
  return true;
}

static bool parseInts(const std::string &text, std::vector<int64_t> &values) {
  std::stringstream ss(text);
  std::string part;
  if (text.empty())
    return false;
  while (std::getline(ss, part, ',')) {
    size_t b = part.find_first_not_of(" \t"), e = part.find_last_not_of(" \t");
    if (b == std::string::npos)
      return false;
    part = part.substr(b, e - b + 1);
    char *end = nullptr;
    errno = 0;
    long long v = std::strtoll(part.c_str(), &end, 10);
    if (*end != 0 || errno != 0 || v < INT32_MIN || v > INT32_MAX)
      return false;
    values.push_back(v);
  }
  return !text.empty() && text.back() != ',';
}

bool ntp::partials::parseRows(const std::string &text, std::vector<Row> &rows,
                              std::string &error) {
  std::stringstream ss(text);
  std::string part;
  while (std::getline(ss, part, ';')) {
    std::vector<int64_t> values;
    if (!parseInts(part, values)) {
      error = "a multi-index is comma-separated integers, got '" + part +
              "' in '" + text + "'";
      return false;
    }
    rows.emplace_back(values.begin(), values.end());
  }
  if (rows.empty() || text.back() == ';') {
    error = "expected multi-indices separated by ';' (e.g. \"2,0;1,1\"), "
            "got '" +
            text + "'";
    return false;
  }
  return true;
}

bool ntp::partials::parseOperator(const std::string &text, int64_t inputDim,
                                  Row &row, std::string &error) {
  std::string name = text.substr(0, text.find(':'));
  int32_t kind = name == "laplacian"    ? kLaplacian
                 : name == "biharmonic" ? kBiharmonic
                                        : 0;
  if (kind == 0) {
    error = "unknown operator '" + name +
            "' (expected laplacian or biharmonic, optionally with a subset "
            "of coordinates as in laplacian:0,1)";
    return false;
  }
  std::vector<int64_t> subset;
  if (text.find(':') != std::string::npos &&
      !parseInts(text.substr(text.find(':') + 1), subset)) {
    error =
        "the coordinates of '" + text + "' must be comma-separated integers";
    return false;
  }
  return operatorRow(kind, subset, inputDim, row, error);
}

std::string ntp::partials::formatRows(const std::vector<Row> &rows) {
  std::string text;
  for (size_t p = 0; p < rows.size(); ++p) {
    text += p ? ";" : "";
    for (size_t i = 0; i < rows[p].size(); ++i)
      text += (i ? "," : "") + std::to_string(rows[p][i]);
  }
  return text;
}

bool ntp::partials::interpolationCoefficients(
    const std::vector<int64_t> &alpha, std::vector<DirectionCoefficient> &out,
    std::string &error) {
  Arith a;
  out.clear();
  size_t dim = alpha.size();
  int64_t n = std::accumulate(alpha.begin(), alpha.end(), int64_t(0));
  std::vector<bool> support(dim);
  for (size_t l = 0; l < dim; ++l)
    support[l] = alpha[l] > 0;
  std::map<std::vector<int64_t>, Rational> gamma;
  if (n == 0) {
    out.push_back({std::vector<int64_t>(dim, 0), Rational{1, 1}});
    return true;
  }
  // The directions are the j with |j| = n over alpha's support:
  // C(n + s - 1, n) of them; bounded before enumerating any.
  int64_t supportSize = std::count(support.begin(), support.end(), true);
  int64_t directions = 1;
  for (int64_t i = 1; i < supportSize && directions <= kMaxDirections; ++i)
    directions = directions * (n + i) / i;
  if (directions > kMaxDirections) {
    error = "a partial of total order " + std::to_string(n) + " over " +
            std::to_string(supportSize) + " coordinates needs more than " +
            std::to_string(kMaxDirections) +
            " directions (kMaxDirections); ask for fewer coordinates or a "
            "lower order";
    return false;
  }
  // Every k with 0 < k <= alpha.
  std::vector<int64_t> k(dim, 0);
  while (true) {
    size_t l = 0;
    while (l < dim && k[l] == alpha[l])
      k[l++] = 0;
    if (l == dim)
      break;
    ++k[l];
    int64_t s = std::accumulate(k.begin(), k.end(), int64_t(0));
    int64_t cik = 1;
    for (size_t m = 0; m < dim; ++m)
      cik *= binomialInt(alpha[m], k[m]);
    Rational factor =
        a.mul(a.make((n - s) % 2 ? -cik : cik, 1), a.power(a.make(s, n), n));
    std::vector<int64_t> j(dim, 0);
    std::vector<bool> kSupport(dim);
    for (size_t m = 0; m < dim; ++m)
      kSupport[m] = k[m] > 0;
    forEachComposition(n, kSupport, j, 0, [&](const std::vector<int64_t> &j) {
      Rational c = factor;
      for (size_t m = 0; m < dim && c.num != 0; ++m)
        c = a.mul(c, a.binom(a.make(n * k[m], s), j[m]));
      if (c.num == 0)
        return;
      auto [it, inserted] = gamma.emplace(j, c);
      if (!inserted)
        it->second = a.add(it->second, c);
    });
    if (a.overflow)
      break;
  }
  if (a.overflow) {
    error = "the interpolation coefficients of total order " +
            std::to_string(n) + " overflow 128-bit rationals";
    return false;
  }
  for (auto &[j, g] : gamma)
    if (g.num != 0)
      out.push_back({j, g});
  return true;
}

double Plan::maxAbsWeight() const {
  double m = 0;
  for (const auto &row : terms)
    for (const Term &t : row)
      m = std::max(m, std::abs(t.weight.toDouble()));
  return m;
}

int64_t Plan::jetCoefficients() const {
  int64_t total = 0;
  for (int64_t o : rayOrders)
    total += o + 1;
  return total;
}

bool ntp::partials::planPartials(const std::vector<Row> &rows, int64_t inputDim,
                                 Plan &plan, std::string &error) {
  if (!validateRequest(rows, inputDim, 16, error))
    return false;
  plan = Plan();
  plan.inputDim = inputDim;
  Arith a;
  std::map<std::vector<int64_t>, int64_t> rayIndex;
  auto rayOf = [&](std::vector<int64_t> j, int64_t &scale) {
    int64_t g = 0;
    for (int64_t e : j)
      g = std::gcd(g, e);
    scale = g;
    for (int64_t &e : j)
      e /= g;
    auto [it, inserted] =
        rayIndex.emplace(j, static_cast<int64_t>(plan.rays.size()));
    if (inserted) {
      plan.rays.push_back(j);
      plan.rayOrders.push_back(0);
    }
    return it->second;
  };
  std::vector<bool> wantsValue(rows.size(), false);
  for (const Row &row : rows) {
    // The multi-indices this row sums, with their multiplicities.
    std::vector<std::pair<std::vector<int64_t>, int64_t>> alphas;
    std::string op = operatorName(row);
    std::vector<int64_t> coords;
    for (int64_t l = 0; l < inputDim; ++l)
      if (row[l] < 0)
        coords.push_back(l);
    // An operator over m coordinates sums m (Laplacian) or m (m + 1) / 2
    // (biharmonic) multi-indices, each needing at least one ray of its own:
    // refuse a request past the direction limit before expanding it (the
    // expansion alone is m^2 d integers).
    int64_t m = static_cast<int64_t>(coords.size());
    int64_t needed = op == "laplacian" ? m : m * (m + 1) / 2;
    if (!op.empty() && needed > kMaxDirections) {
      error = "the " + op + " over " + std::to_string(m) +
              " coordinates needs at least " + std::to_string(needed) +
              " directions, more than " + std::to_string(kMaxDirections) +
              " (kMaxDirections); ask for fewer coordinates";
      return false;
    }
    if (op.empty()) {
      alphas.push_back({std::vector<int64_t>(row.begin(), row.end()), 1});
    } else if (op == "laplacian") {
      for (int64_t l : coords) {
        std::vector<int64_t> alpha(inputDim, 0);
        alpha[l] = 2;
        alphas.push_back({alpha, 1});
      }
    } else {
      for (size_t x = 0; x < coords.size(); ++x)
        for (size_t y = x; y < coords.size(); ++y) {
          std::vector<int64_t> alpha(inputDim, 0);
          alpha[coords[x]] += 2;
          alpha[coords[y]] += 2;
          alphas.push_back({alpha, x == y ? 1 : 2});
        }
    }
    std::map<std::pair<int64_t, int64_t>, Rational> combined;
    bool value = false;
    for (auto &[alpha, multiplicity] : alphas) {
      int64_t n = std::accumulate(alpha.begin(), alpha.end(), int64_t(0));
      if (n == 0) {
        value = true;
        continue;
      }
      std::vector<DirectionCoefficient> coefficients;
      if (!interpolationCoefficients(alpha, coefficients, error))
        return false;
      Rational nFactorial{1, 1};
      for (int64_t i = 2; i <= n; ++i)
        nFactorial = a.mul(nFactorial, Rational{i, 1});
      for (const DirectionCoefficient &c : coefficients) {
        int64_t g = 1;
        int64_t ray = rayOf(c.direction, g);
        // d^n/dt^n f(x + t g r) = g^n d^n/dt^n f(x + t r).
        Rational w = a.mul(c.gamma, a.power(Rational{g, 1}, n));
        w = a.mul(w, a.make(multiplicity, 1));
        w = a.mul(w, a.make(nFactorial.den, nFactorial.num));
        auto [it, inserted] = combined.emplace(std::make_pair(ray, n), w);
        if (!inserted)
          it->second = a.add(it->second, w);
      }
    }
    if (a.overflow) {
      error = "the interpolation weights of request " + rowText(row) +
              " overflow 128-bit rationals";
      return false;
    }
    std::vector<Plan::Term> terms;
    for (auto &[key, w] : combined)
      if (w.num != 0) {
        terms.push_back({key.first, key.second, w});
        plan.rayOrders[key.first] =
            std::max(plan.rayOrders[key.first], key.second);
      }
    wantsValue[plan.terms.size()] = value;
    plan.terms.push_back(std::move(terms));
  }
  if (static_cast<int64_t>(plan.rays.size()) > kMaxDirections) {
    error = "the request needs " + std::to_string(plan.rays.size()) +
            " directions, more than " + std::to_string(kMaxDirections) +
            " (kMaxDirections)";
    return false;
  }
  // u itself (order 0) is the value along any ray; a request of nothing
  // but u still needs one.
  if (plan.rays.empty()) {
    std::vector<int64_t> e0(inputDim, 0);
    e0[0] = 1;
    plan.rays.push_back(e0);
    plan.rayOrders.push_back(0);
  }
  for (size_t p = 0; p < rows.size(); ++p)
    if (wantsValue[p])
      plan.terms[p].insert(plan.terms[p].begin(), {0, 0, Rational{1, 1}});
  return true;
}
