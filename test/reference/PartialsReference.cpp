//===- PartialsReference.cpp - Multivariate Taylor arithmetic -------------===//

#include "PartialsReference.h"

#include <map>
#include <stdexcept>

namespace ntp_ref {
namespace {

using Ld = long double;

/// The monomials x^a, |a| <= N, in d variables, and the table of products
/// a + b = c within the truncation.
struct Monomials {
  std::vector<std::vector<int>> exps;
  std::map<std::vector<int>, int> index;
  std::vector<int> lhs, rhs, sum; // exps[lhs] + exps[rhs] == exps[sum]

  Monomials(int d, int n) {
    std::vector<int> a(d, 0);
    enumerate(a, 0, n);
    for (size_t i = 0; i < exps.size(); ++i)
      index[exps[i]] = static_cast<int>(i);
    for (size_t i = 0; i < exps.size(); ++i)
      for (size_t j = 0; j < exps.size(); ++j) {
        std::vector<int> c(d);
        int total = 0;
        for (int l = 0; l < d; ++l)
          total += c[l] = exps[i][l] + exps[j][l];
        if (total > n)
          continue;
        lhs.push_back(static_cast<int>(i));
        rhs.push_back(static_cast<int>(j));
        sum.push_back(index.at(c));
      }
  }
  void enumerate(std::vector<int> &a, size_t l, int left) {
    if (l == a.size()) {
      exps.push_back(a);
      return;
    }
    for (int v = 0; v <= left; ++v) {
      a[l] = v;
      enumerate(a, l + 1, left - v);
    }
    a[l] = 0;
  }
  size_t size() const { return exps.size(); }

  std::vector<Ld> multiply(const std::vector<Ld> &u,
                           const std::vector<Ld> &v) const {
    std::vector<Ld> w(size(), 0);
    for (size_t t = 0; t < sum.size(); ++t)
      w[sum[t]] += u[lhs[t]] * v[rhs[t]];
    return w;
  }
};

/// sigma^(k)(y0), k = 0..n, from the univariate reference: the jet of
/// sigma(y0 + t) is that of the network 1-1-1 with unit weights.
std::vector<Ld> activationDerivatives(Activation act, Ld y0, int n) {
  std::vector<Ld> params = {1, 0, 1, 0};
  return jet({1, 1, 1}, act, n, params, {y0}, {1}, 1);
}

} // namespace

std::vector<long double>
partials(const std::vector<int> &widths, Activation act,
         const std::vector<long double> &params,
         const std::vector<long double> &x, int64_t batch,
         const std::vector<std::vector<int>> &requests) {
  if (widths.size() < 2)
    throw std::invalid_argument("a network needs at least two widths");
  return partials(widths, std::vector<Activation>(widths.size() - 2, act),
                  Layers(), params, x, batch, requests);
}

std::vector<long double>
partials(const std::vector<int> &widths, const std::vector<Activation> &acts,
         const Layers &layers, const std::vector<long double> &params,
         const std::vector<long double> &x, int64_t batch,
         const std::vector<std::vector<int>> &requests) {
  if (numParams(widths, layers) != static_cast<int64_t>(params.size()))
    throw std::invalid_argument("params has the wrong size");
  if (acts.size() != widths.size() - 2)
    throw std::invalid_argument("one activation per hidden layer");
  int d = widths.front(), q = widths.back();
  if (static_cast<int64_t>(x.size()) != batch * d)
    throw std::invalid_argument("x has the wrong size");
  int n = 0;
  for (const std::vector<int> &r : requests) {
    if (static_cast<int>(r.size()) != d)
      throw std::invalid_argument("a request has the wrong length");
    int total = 0, mark = 0;
    for (int e : r) {
      if (e < 0 && e != -2 && e != -4)
        throw std::invalid_argument("a request has a bad negative entry");
      if (e < 0)
        mark = e;
      total += e > 0 ? e : 0;
    }
    n = std::max(n, mark ? -mark : total);
  }
  Monomials m(d, n);
  std::vector<Ld> factorial(n + 1, 1);
  for (int k = 1; k <= n; ++k)
    factorial[k] = factorial[k - 1] * k;
  // sigma(y0 + h) = sum_k sigma^(k)(y0) h^k / k!
  auto compose = [&](Activation a, const std::vector<Ld> &y) {
    std::vector<Ld> sig = activationDerivatives(a, y[0], n);
    std::vector<Ld> h = y, power(m.size(), 0), z(m.size(), 0);
    h[0] = 0;
    power[0] = 1;
    for (int k = 0; k <= n; ++k) {
      for (size_t c = 0; c < m.size(); ++c)
        z[c] += sig[k] / factorial[k] * power[c];
      if (k < n)
        power = m.multiply(power, h);
    }
    return z;
  };
  using Series = std::vector<std::vector<Ld>>; // [neuron][monomial]
  // W [out, in] at `offset`, then b [out].
  auto affine = [&](const Series &in, int outW, size_t &offset) {
    int inW = static_cast<int>(in.size());
    Series next(outW, std::vector<Ld>(m.size(), 0));
    for (int i = 0; i < outW; ++i) {
      for (int j = 0; j < inW; ++j) {
        Ld w = params[offset + i * inW + j];
        for (size_t c = 0; c < m.size(); ++c)
          next[i][c] += w * in[j][c];
      }
      next[i][0] += params[offset + outW * inW + i];
    }
    offset += outW * inW + outW;
    return next;
  };
  std::vector<Ld> out(requests.size() * batch * q, 0);
  for (int64_t b = 0; b < batch; ++b) {
    // The inputs: x_l + (the variable l).
    Series layer(d, std::vector<Ld>(m.size(), 0));
    for (int l = 0; l < d; ++l) {
      layer[l][0] = x[b * d + l];
      std::vector<int> e(d, 0);
      if (n >= 1) {
        e[l] = 1;
        layer[l][m.index.at(e)] = 1;
      }
    }
    size_t offset = 0;
    if (int f = layers.fourier) {
      // [sin(2 pi B x), cos(2 pi B x)], B [f, d] leading params.
      const Ld twoPi = 2 * 3.141592653589793238462643383279502884L;
      Series features(2 * f);
      for (int r = 0; r < f; ++r) {
        std::vector<Ld> z(m.size(), 0);
        for (int l = 0; l < d; ++l)
          for (size_t c = 0; c < m.size(); ++c)
            z[c] += twoPi * params[r * d + l] * layer[l][c];
        features[r] = compose(Activation::Sin, z);
        features[r + f] = compose(Activation::Cos, z);
      }
      offset = static_cast<size_t>(f) * d;
      layer = std::move(features);
    }
    Series u, v;
    if (layers.gated) {
      u = affine(layer, widths[1], offset);
      v = affine(layer, widths[1], offset);
      for (auto *g : {&u, &v})
        for (std::vector<Ld> &y : *g)
          y = compose(acts[0], y);
    }
    for (size_t L = 1; L < widths.size(); ++L) {
      Series next = affine(layer, widths[L], offset);
      if (L + 1 < widths.size()) {
        size_t hidden = L - 1;
        int slope = hidden < layers.slopes.size() ? layers.slopes[hidden] : 0;
        for (int i = 0; slope && i < widths[L]; ++i) {
          Ld a = params[offset + (slope == 2 ? i : 0)];
          for (Ld &c : next[i])
            c *= a;
        }
        offset += slope == 2 ? widths[L] : slope == 1 ? 1 : 0;
        for (std::vector<Ld> &y : next)
          y = compose(acts[hidden], y);
        if (layers.gated) {
          // H = U + Z (V - U)
          for (int i = 0; i < widths[L]; ++i) {
            std::vector<Ld> diff(m.size());
            for (size_t c = 0; c < m.size(); ++c)
              diff[c] = v[i][c] - u[i][c];
            std::vector<Ld> zd = m.multiply(next[i], diff);
            for (size_t c = 0; c < m.size(); ++c)
              next[i][c] = u[i][c] + zd[c];
          }
        } else if (hidden < layers.residual.size() && layers.residual[hidden]) {
          for (int i = 0; i < widths[L]; ++i)
            for (size_t c = 0; c < m.size(); ++c)
              next[i][c] += layer[i][c];
        }
      }
      layer = std::move(next);
    }
    // Coefficients are D^a f / a!.
    auto partial = [&](const std::vector<int> &a, int j) {
      Ld scale = 1;
      for (int e : a)
        scale *= factorial[e];
      return scale * layer[j][m.index.at(a)];
    };
    for (size_t p = 0; p < requests.size(); ++p) {
      const std::vector<int> &r = requests[p];
      std::vector<int> coords;
      int mark = 0;
      for (int l = 0; l < d; ++l)
        if (r[l] < 0) {
          coords.push_back(l);
          mark = r[l];
        }
      for (int j = 0; j < q; ++j) {
        Ld value = 0;
        if (!mark) {
          value = partial(r, j);
        } else if (mark == -2) {
          for (int l : coords) {
            std::vector<int> a(d, 0);
            a[l] = 2;
            value += partial(a, j);
          }
        } else {
          for (int l : coords)
            for (int k : coords) {
              std::vector<int> a(d, 0);
              a[l] += 2;
              a[k] += 2;
              value += partial(a, j);
            }
        }
        out[(p * batch + b) * q + j] = value;
      }
    }
  }
  return out;
}

} // namespace ntp_ref
