//===- TaylorReference.cpp - Independent jet evaluator for tests ----------===//
//
// Propagates normalized Taylor coefficients (c_k = g^(k)(0) / k!) of every
// neuron along t -> x + t v. Affine layers act on the coefficients linearly;
// an activation u = sigma(a) is expanded through the ODE u' = w(t) a'(t),
// where w is the series of sigma'(a):
//   k u_k = sum_{j=1..k} j a_j w_{k-j}.
// w itself follows from u (tanh: w = 1 - u^2, sigmoid: w = u - u^2, exp:
// w = u) or from a companion series (sin: w = cos, with cos' = -sin a';
// softplus: w = sigmoid(a)). Products (silu = a s, gelu = a Phi(a)) are
// Cauchy products; the normal density is exp(g) with g = -a^2 / 2, and the
// tanh-approximated gelu is tanh of the cubic series of its argument.
// Coefficients become derivatives (times k!) at the end. The parameter gradient
// is the hand-written adjoint of exactly these recurrences. Typed layers:
// an adaptive slope multiplies a layer's coefficients, a residual layer adds
// its input's, and a Fourier embedding is the true sin and cos series of
// 2 pi B x (not the compiler's sin(z + pi / 2)), each with its adjoint.
// A gated layer's U + Z (V - U) is a Cauchy product of normalized
// coefficients (no binomials, unlike the compiler's derivative jets); its
// adjoint sums U's and V's cotangents over the layers. The activations'
// series and their adjoints are in TaylorSeries.cpp.
//
//===----------------------------------------------------------------------===//
#include "TaylorReference.h"
#include "TaylorSeries.h"

#include <cmath>
#include <stdexcept>

namespace ntp_ref {
namespace {

using Ld = long double;
using detail::activationSeries;
using detail::activationSeriesAdjoint;
using detail::productAdjoint;

/// Validated shape of one call; every size is checked once here so the
/// numeric code below can index freely.
struct Shape {
  std::vector<int> widths;
  int order = 0;
  int64_t batch = 0;
  int layers = 0; // number of affine layers L
  std::vector<int64_t> weightOffset, biasOffset;
  // Per hidden layer: slope kind (0, 1, 2), its offset, residual flag.
  std::vector<int> slope;
  std::vector<int64_t> slopeOffset;
  std::vector<bool> residual;
  int fourier = 0; // frequencies m of the embedding, B at params[0]
  // Gated: W_u, b_u, W_v, b_v offsets (after B).
  bool gated = false;
  int64_t uWeight = 0, uBias = 0, vWeight = 0, vBias = 0;

  int d() const { return widths.front(); }
  /// Inputs of affine layer l: 2m for the first after an embedding.
  int inWidth(int l) const {
    return l == 0 && fourier > 0 ? 2 * fourier : widths[l];
  }
  int q() const { return widths.back(); }
  int n1() const { return order + 1; } // coefficients per series
};

Shape checkShape(const std::vector<int> &widths, const Layers &kinds, int order,
                 const std::vector<Ld> &params, const std::vector<Ld> &x,
                 const std::vector<Ld> &v, int64_t batch) {
  Shape s;
  const int64_t total = numParams(widths, kinds); // validates both
  if (order < 0)
    throw std::invalid_argument("ntp_ref: order must be >= 0");
  if (batch < 0)
    throw std::invalid_argument("ntp_ref: batch must be >= 0");
  if (static_cast<int64_t>(params.size()) != total)
    throw std::invalid_argument("ntp_ref: params has the wrong size");
  if (static_cast<int64_t>(x.size()) != batch * widths.front())
    throw std::invalid_argument("ntp_ref: x must have batch * d elements");
  if (static_cast<int64_t>(v.size()) != widths.front())
    throw std::invalid_argument("ntp_ref: v must have d elements");
  s.widths = widths;
  s.order = order;
  s.batch = batch;
  s.layers = static_cast<int>(widths.size()) - 1;
  s.fourier = kinds.fourier;
  s.gated = kinds.gated;
  int64_t off = static_cast<int64_t>(kinds.fourier) * widths[0];
  if (s.gated) {
    const int64_t h = widths[1], in = s.inWidth(0);
    s.uWeight = off;
    s.uBias = off + h * in;
    s.vWeight = s.uBias + h;
    s.vBias = s.vWeight + h * in;
    off = s.vBias + h;
  }
  for (int l = 0; l < s.layers; ++l) {
    s.weightOffset.push_back(off);
    off += static_cast<int64_t>(widths[l + 1]) * s.inWidth(l);
    s.biasOffset.push_back(off);
    off += widths[l + 1];
    if (l + 1 == s.layers)
      break;
    const int slope = kinds.slopes.empty() ? 0 : kinds.slopes[l];
    s.slope.push_back(slope);
    s.slopeOffset.push_back(off);
    off += slope == 1 ? 1 : slope == 2 ? widths[l + 1] : 0;
    s.residual.push_back(!kinds.residual.empty() && kinds.residual[l]);
  }
  return s;
}

/// Series of one layer for one batch point, each [width][order + 1]. `aux1`
/// and `aux2` hold the companion series the backward pass needs:
///   tanh, sigmoid: aux1 = w = sigma'(a);  sin: aux1 = cos(a);
///   softplus: aux1 = s = sigmoid(a), aux2 = s (1 - s).
///   cos: aux1 = sin(a);  silu: aux1 = s, aux2 = s (1 - s);
///   gelu: aux1 = Phi(a), aux2 = phi(a), aux3 = -a^2 / 2;
///   gelu_tanh: aux1 = T = tanh(z), aux2 = 1 - T^2, aux3 = z.
struct LayerTape {
  std::vector<Ld> a, h, aux1, aux2, aux3;
  // Typed layers: z = W H + b before the slope (a = slope * z), out = the
  // layer's output (h, or its input plus h when residual).
  std::vector<Ld> z, out;
};

void checkActivations(const Shape &s, const std::vector<Activation> &acts) {
  if (static_cast<int>(acts.size()) != s.layers - 1)
    throw std::invalid_argument(
        "ntp_ref: need one activation per hidden layer");
}

/// Series of the input point x_b + t v, [d][order + 1].
std::vector<Ld> inputSeries(const Shape &s, const std::vector<Ld> &x,
                            const std::vector<Ld> &v, int64_t b) {
  const int n1 = s.n1();
  std::vector<Ld> in(static_cast<size_t>(s.d()) * n1, 0);
  for (int m = 0; m < s.d(); ++m) {
    in[m * n1] = x[b * s.d() + m];
    if (s.order >= 1)
      in[m * n1 + 1] = v[m];
  }
  return in;
}

/// The Fourier embedding of the input series: z = 2 pi B in ([m][n1]),
/// out = [sin z; cos z] ([2m][n1]), with the companion series the adjoints
/// need (Activation::Sin and Activation::Cos, each its own series).
struct EmbeddingTape {
  std::vector<Ld> z, sinU, sinAux, cosU, cosAux, out;
};

constexpr Ld kTwoPi = 6.283185307179586476925286766559005768L;

EmbeddingTape embed(const Shape &s, const std::vector<Ld> &params,
                    const std::vector<Ld> &in) {
  const int n1 = s.n1(), m = s.fourier, d = s.d();
  EmbeddingTape e;
  e.z.assign(static_cast<size_t>(m) * n1, 0);
  for (int r = 0; r < m; ++r)
    for (int j = 0; j < d; ++j)
      for (int k = 0; k < n1; ++k)
        e.z[r * n1 + k] += kTwoPi * params[r * d + j] * in[j * n1 + k];
  e.sinU.assign(e.z.size(), 0);
  e.sinAux.assign(3 * e.z.size(), 0);
  e.cosU.assign(e.z.size(), 0);
  e.cosAux.assign(3 * e.z.size(), 0);
  const size_t stride = e.z.size();
  for (int r = 0; r < m; ++r) {
    activationSeries(Activation::Sin, &e.z[r * n1], &e.sinU[r * n1],
                     &e.sinAux[r * n1], &e.sinAux[stride + r * n1],
                     &e.sinAux[2 * stride + r * n1], s.order);
    activationSeries(Activation::Cos, &e.z[r * n1], &e.cosU[r * n1],
                     &e.cosAux[r * n1], &e.cosAux[stride + r * n1],
                     &e.cosAux[2 * stride + r * n1], s.order);
  }
  e.out = e.sinU;
  e.out.insert(e.out.end(), e.cosU.begin(), e.cosU.end());
  return e;
}

/// A gated network's U and V (a: the affine series, h: the activation's).
struct GateTape {
  LayerTape u, v;
};

/// act(W X + b) of series X ([nin][n1]) for a gate of width h, taped.
LayerTape gateSeries(const Shape &s, Activation act,
                     const std::vector<Ld> &params, int64_t weight,
                     int64_t bias, const std::vector<Ld> &X) {
  const int n1 = s.n1(), nin = s.inWidth(0), h = s.widths[1];
  LayerTape t;
  t.a.assign(static_cast<size_t>(h) * n1, 0);
  for (int i = 0; i < h; ++i) {
    for (int m = 0; m < nin; ++m)
      for (int k = 0; k < n1; ++k)
        t.a[i * n1 + k] += params[weight + i * nin + m] * X[m * n1 + k];
    t.a[i * n1] += params[bias + i];
  }
  t.h.assign(t.a.size(), 0);
  t.aux1.assign(t.a.size(), 0);
  t.aux2.assign(t.a.size(), 0);
  t.aux3.assign(t.a.size(), 0);
  for (int i = 0; i < h; ++i)
    activationSeries(act, &t.a[i * n1], &t.h[i * n1], &t.aux1[i * n1],
                     &t.aux2[i * n1], &t.aux3[i * n1], s.order);
  return t;
}

/// Forward pass for batch point b, recording every layer (and a gated
/// network's U and V in `gates`).
std::vector<LayerTape>
forwardPoint(const Shape &s, const std::vector<Activation> &acts,
             const std::vector<Ld> &params, const std::vector<Ld> &x,
             const std::vector<Ld> &v, int64_t b, GateTape *gates = nullptr) {
  const int n1 = s.n1();
  const std::vector<Ld> in = inputSeries(s, x, v, b);
  std::vector<LayerTape> tape(s.layers);
  const std::vector<Ld> *prev = &in;
  EmbeddingTape embedding;
  if (s.fourier) {
    embedding = embed(s, params, in);
    prev = &embedding.out;
  }
  GateTape gate;
  if (s.gated) {
    gate.u = gateSeries(s, acts[0], params, s.uWeight, s.uBias, *prev);
    gate.v = gateSeries(s, acts[0], params, s.vWeight, s.vBias, *prev);
  }
  for (int l = 0; l < s.layers; ++l) {
    const int nin = s.inWidth(l), nout = s.widths[l + 1];
    const Ld *W = params.data() + s.weightOffset[l];
    const Ld *bias = params.data() + s.biasOffset[l];
    LayerTape &t = tape[l];
    t.a.assign(static_cast<size_t>(nout) * n1, 0);
    for (int i = 0; i < nout; ++i) {
      for (int m = 0; m < nin; ++m)
        for (int k = 0; k < n1; ++k)
          t.a[i * n1 + k] += W[i * nin + m] * (*prev)[m * n1 + k];
      t.a[i * n1] += bias[i]; // the bias only shifts the constant term
    }
    if (l + 1 == s.layers)
      break; // no activation after the last layer
    t.z = t.a;
    if (s.slope[l] != 0)
      for (int i = 0; i < nout; ++i) {
        const Ld alpha = params[s.slopeOffset[l] + (s.slope[l] == 2 ? i : 0)];
        for (int k = 0; k < n1; ++k)
          t.a[i * n1 + k] *= alpha; // a jet times a constant: linear
      }
    t.h.assign(t.a.size(), 0);
    t.aux1.assign(t.a.size(), 0);
    t.aux2.assign(t.a.size(), 0);
    t.aux3.assign(t.a.size(), 0);
    for (int i = 0; i < nout; ++i)
      activationSeries(acts[l], &t.a[i * n1], &t.h[i * n1], &t.aux1[i * n1],
                       &t.aux2[i * n1], &t.aux3[i * n1], s.order);
    t.out = t.h;
    if (s.residual[l])
      for (size_t e = 0; e < t.out.size(); ++e)
        t.out[e] += (*prev)[e]; // H + F(H): jets add
    if (s.gated)
      for (int i = 0; i < nout; ++i) {
        // U + Z (V - U): the product of series is a Cauchy product.
        const Ld *u = &gate.u.h[i * n1], *vv = &gate.v.h[i * n1],
                 *z = &t.h[i * n1];
        for (int k = 0; k < n1; ++k) {
          Ld acc = u[k];
          for (int j = 0; j <= k; ++j)
            acc += z[j] * (vv[k - j] - u[k - j]);
          t.out[i * n1 + k] = acc;
        }
      }
    prev = &t.out;
  }
  if (gates)
    *gates = std::move(gate);
  return tape;
}

} // namespace

Activation parseActivation(const std::string &name) {
  if (name == "tanh")
    return Activation::Tanh;
  if (name == "sigmoid")
    return Activation::Sigmoid;
  if (name == "sin")
    return Activation::Sin;
  if (name == "identity")
    return Activation::Identity;
  if (name == "exp")
    return Activation::Exp;
  if (name == "softplus")
    return Activation::Softplus;
  if (name == "cos")
    return Activation::Cos;
  if (name == "silu")
    return Activation::Silu;
  if (name == "gelu")
    return Activation::Gelu;
  if (name == "gelu_tanh")
    return Activation::GeluTanh;
  throw std::invalid_argument("ntp_ref: unknown activation '" + name + "'");
}

std::vector<Activation> parseActivationList(const std::string &spec,
                                            int hiddenLayers) {
  std::vector<Activation> acts;
  size_t begin = 0;
  for (;;) {
    const size_t end = spec.find(',', begin);
    acts.push_back(parseActivation(spec.substr(begin, end - begin)));
    if (end == std::string::npos)
      break;
    begin = end + 1;
  }
  if (acts.size() == 1)
    return std::vector<Activation>(hiddenLayers, acts.front());
  if (static_cast<int>(acts.size()) != hiddenLayers)
    throw std::invalid_argument("ntp_ref: need one activation per hidden "
                                "layer");
  return acts;
}

int64_t numParams(const std::vector<int> &widths) {
  if (widths.size() < 2)
    throw std::invalid_argument(
        "ntp_ref: need at least input and output width");
  int64_t total = 0;
  for (size_t l = 0; l < widths.size(); ++l) {
    if (widths[l] < 1)
      throw std::invalid_argument("ntp_ref: widths must be >= 1");
    if (l > 0)
      total += static_cast<int64_t>(widths[l]) * widths[l - 1] + widths[l];
  }
  return total;
}

int64_t numParams(const std::vector<int> &widths, const Layers &layers) {
  int64_t total = numParams(widths);
  const size_t hidden = widths.size() - 2;
  if (!layers.slopes.empty() && layers.slopes.size() != hidden)
    throw std::invalid_argument("ntp_ref: need one slope kind per hidden "
                                "layer");
  if (!layers.residual.empty() && layers.residual.size() != hidden)
    throw std::invalid_argument("ntp_ref: need one residual flag per hidden "
                                "layer");
  for (size_t l = 0; l < layers.slopes.size(); ++l) {
    if (layers.slopes[l] < 0 || layers.slopes[l] > 2)
      throw std::invalid_argument("ntp_ref: slope kinds are 0, 1, 2");
    total += layers.slopes[l] == 1   ? 1
             : layers.slopes[l] == 2 ? widths[l + 1]
                                     : 0;
  }
  if (layers.fourier < 0)
    throw std::invalid_argument("ntp_ref: fourier must be >= 0");
  if (layers.fourier > 0) // B, and W_1 reads 2m instead of d
    total += static_cast<int64_t>(layers.fourier) * widths[0] +
             (static_cast<int64_t>(2 * layers.fourier) - widths[0]) * widths[1];
  for (size_t l = 0; l < layers.residual.size(); ++l)
    if (layers.residual[l] && (l == 0 || widths[l] != widths[l + 1]))
      throw std::invalid_argument("ntp_ref: a residual layer needs equal "
                                  "widths and a hidden input");
  if (layers.gated) {
    if (hidden < 1)
      throw std::invalid_argument("ntp_ref: a gated network needs a hidden "
                                  "layer");
    for (size_t l = 1; l <= hidden; ++l)
      if (widths[l] != widths[1])
        throw std::invalid_argument("ntp_ref: a gated network's hidden "
                                    "widths must agree");
    for (bool r : layers.residual)
      if (r)
        throw std::invalid_argument("ntp_ref: a gated network has no "
                                    "residual layers");
    const int64_t in =
        layers.fourier > 0 ? 2 * int64_t(layers.fourier) : widths[0];
    total += 2 * (in * widths[1] + widths[1]); // W_u, b_u, W_v, b_v
  }
  return total;
}

std::vector<long double> jet(const std::vector<int> &widths, Activation act,
                             int order, const std::vector<long double> &params,
                             const std::vector<long double> &x,
                             const std::vector<long double> &v, int64_t batch) {
  numParams(widths); // validates widths
  return jet(widths, std::vector<Activation>(widths.size() - 2, act), order,
             params, x, v, batch);
}

std::vector<long double> jet(const std::vector<int> &widths,
                             const std::vector<Activation> &acts, int order,
                             const std::vector<long double> &params,
                             const std::vector<long double> &x,
                             const std::vector<long double> &v, int64_t batch) {
  return jet(widths, acts, Layers(), order, params, x, v, batch);
}

std::vector<long double> jet(const std::vector<int> &widths,
                             const std::vector<Activation> &acts,
                             const Layers &layers, int order,
                             const std::vector<long double> &params,
                             const std::vector<long double> &x,
                             const std::vector<long double> &v, int64_t batch) {
  const Shape s = checkShape(widths, layers, order, params, x, v, batch);
  checkActivations(s, acts);
  const int n1 = s.n1(), q = s.q();
  std::vector<Ld> out(static_cast<size_t>(n1) * batch * q);
  for (int64_t b = 0; b < batch; ++b) {
    const std::vector<LayerTape> tape = forwardPoint(s, acts, params, x, v, b);
    const std::vector<Ld> &a = tape.back().a;
    Ld factorial = 1; // k!: normalized coefficients -> derivatives
    for (int k = 0; k < n1; ++k) {
      if (k > 0)
        factorial *= k;
      for (int j = 0; j < q; ++j)
        out[(k * batch + b) * q + j] = factorial * a[j * n1 + k];
    }
  }
  return out;
}

std::vector<long double>
jetParamGradient(const std::vector<int> &widths, Activation act, int order,
                 const std::vector<long double> &params,
                 const std::vector<long double> &x,
                 const std::vector<long double> &v, int64_t batch,
                 const std::vector<long double> &cotangent) {
  numParams(widths); // validates widths
  return jetParamGradient(widths,
                          std::vector<Activation>(widths.size() - 2, act),
                          order, params, x, v, batch, cotangent);
}

std::vector<long double> jetParamGradient(
    const std::vector<int> &widths, const std::vector<Activation> &acts,
    int order, const std::vector<long double> &params,
    const std::vector<long double> &x, const std::vector<long double> &v,
    int64_t batch, const std::vector<long double> &cotangent) {
  return jetParamGradient(widths, acts, Layers(), order, params, x, v, batch,
                          cotangent);
}

std::vector<long double> jetParamGradient(
    const std::vector<int> &widths, const std::vector<Activation> &acts,
    const Layers &layers, int order, const std::vector<long double> &params,
    const std::vector<long double> &x, const std::vector<long double> &v,
    int64_t batch, const std::vector<long double> &cotangent) {
  const Shape s = checkShape(widths, layers, order, params, x, v, batch);
  checkActivations(s, acts);
  const int n1 = s.n1(), q = s.q();
  if (static_cast<int64_t>(cotangent.size()) != n1 * batch * q)
    throw std::invalid_argument(
        "ntp_ref: cotangent must have (order + 1) * batch * q elements");
  std::vector<Ld> grad(params.size(), 0);
  for (int64_t b = 0; b < batch; ++b) {
    GateTape gate;
    const std::vector<LayerTape> tape =
        forwardPoint(s, acts, params, x, v, b, &gate);
    const std::vector<Ld> in = inputSeries(s, x, v, b);
    // A gated network: U's and V's cotangents, summed over the layers.
    std::vector<Ld> ubar, vbar;
    if (s.gated) {
      ubar.assign(gate.u.h.size(), 0);
      vbar.assign(gate.v.h.size(), 0);
    }
    const EmbeddingTape embedding =
        s.fourier ? embed(s, params, in) : EmbeddingTape();
    // Adjoint of the last pre-activation: out = k! * a_k.
    std::vector<Ld> abar(static_cast<size_t>(q) * n1);
    Ld factorial = 1;
    for (int k = 0; k < n1; ++k) {
      if (k > 0)
        factorial *= k;
      for (int j = 0; j < q; ++j)
        abar[j * n1 + k] = factorial * cotangent[(k * batch + b) * q + j];
    }
    // The cotangent a residual layer passes straight to its input.
    std::vector<Ld> carry;
    for (int l = s.layers - 1; l >= 0; --l) {
      const int nin = s.inWidth(l), nout = s.widths[l + 1];
      const std::vector<Ld> &hin = l > 0       ? tape[l - 1].out
                                   : s.fourier ? embedding.out
                                               : in;
      const Ld *W = params.data() + s.weightOffset[l];
      Ld *Wbar = grad.data() + s.weightOffset[l];
      Ld *biasbar = grad.data() + s.biasOffset[l];
      std::vector<Ld> hbar(static_cast<size_t>(nin) * n1, 0);
      for (int i = 0; i < nout; ++i) {
        biasbar[i] += abar[i * n1];
        for (int m = 0; m < nin; ++m)
          for (int k = 0; k < n1; ++k) {
            Wbar[i * nin + m] += abar[i * n1 + k] * hin[m * n1 + k];
            hbar[m * n1 + k] += W[i * nin + m] * abar[i * n1 + k];
          }
      }
      if (!carry.empty()) {
        for (size_t e = 0; e < hbar.size(); ++e)
          hbar[e] += carry[e];
        carry.clear();
      }
      if (l == 0 && s.gated) {
        // X also feeds U and V: their adjoints (the activation, then
        // W X + b) add to X's cotangent and give W_u, b_u, W_v, b_v.
        const int h = s.widths[1];
        for (int g = 0; g < 2; ++g) {
          const LayerTape &t = g == 0 ? gate.u : gate.v;
          std::vector<Ld> &gbar = g == 0 ? ubar : vbar;
          const int64_t weight = g == 0 ? s.uWeight : s.vWeight;
          const int64_t bias = g == 0 ? s.uBias : s.vBias;
          std::vector<Ld> gabar(gbar.size(), 0);
          for (int i = 0; i < h; ++i)
            activationSeriesAdjoint(acts[0], &t.a[i * n1], &t.h[i * n1],
                                    &t.aux1[i * n1], &t.aux2[i * n1],
                                    &t.aux3[i * n1], &gbar[i * n1],
                                    &gabar[i * n1], s.order);
          for (int i = 0; i < h; ++i) {
            grad[bias + i] += gabar[i * n1];
            for (int m = 0; m < nin; ++m)
              for (int k = 0; k < n1; ++k) {
                grad[weight + i * nin + m] +=
                    gabar[i * n1 + k] * hin[m * n1 + k];
                hbar[m * n1 + k] +=
                    params[weight + i * nin + m] * gabar[i * n1 + k];
              }
          }
        }
      }
      if (l == 0 && s.fourier) {
        // hbar = [sinbar; cosbar]: back through both series to z, then to
        // B (the input series does not depend on params).
        const int m = s.fourier, d = s.d();
        const size_t stride = embedding.z.size();
        std::vector<Ld> zbar(stride, 0);
        for (int r = 0; r < m; ++r) {
          std::vector<Ld> sinBar(hbar.begin() + r * n1,
                                 hbar.begin() + (r + 1) * n1);
          std::vector<Ld> cosBar(hbar.begin() + (m + r) * n1,
                                 hbar.begin() + (m + r + 1) * n1);
          activationSeriesAdjoint(
              Activation::Sin, &embedding.z[r * n1], &embedding.sinU[r * n1],
              &embedding.sinAux[r * n1], &embedding.sinAux[stride + r * n1],
              &embedding.sinAux[2 * stride + r * n1], sinBar.data(),
              &zbar[r * n1], s.order);
          activationSeriesAdjoint(
              Activation::Cos, &embedding.z[r * n1], &embedding.cosU[r * n1],
              &embedding.cosAux[r * n1], &embedding.cosAux[stride + r * n1],
              &embedding.cosAux[2 * stride + r * n1], cosBar.data(),
              &zbar[r * n1], s.order);
        }
        for (int r = 0; r < m; ++r)
          for (int j = 0; j < d; ++j)
            for (int k = 0; k < n1; ++k)
              grad[r * d + j] += kTwoPi * zbar[r * n1 + k] * in[j * n1 + k];
      }
      if (l == 0)
        break; // the input series does not depend on params
      const LayerTape &t = tape[l - 1];
      // hbar is the cotangent of the layer's output: a residual layer
      // hands it on to its input unchanged, besides its activation.
      if (s.residual[l - 1])
        carry = hbar;
      if (s.gated) {
        // out = U + Z W with W = V - U: Z gets the product's adjoint, U
        // and V the rest (summed over the layers).
        std::vector<Ld> zbar(hbar.size(), 0), wbar(hbar.size(), 0);
        for (int m = 0; m < nin; ++m) {
          std::vector<Ld> w(n1);
          for (int k = 0; k < n1; ++k)
            w[k] = gate.v.h[m * n1 + k] - gate.u.h[m * n1 + k];
          productAdjoint(&t.h[m * n1], w.data(), &hbar[m * n1], 1,
                         &zbar[m * n1], &wbar[m * n1], s.order);
        }
        for (size_t e = 0; e < hbar.size(); ++e) {
          ubar[e] += hbar[e] - wbar[e];
          vbar[e] += wbar[e];
        }
        hbar = zbar;
      }
      abar.assign(static_cast<size_t>(nin) * n1, 0);
      for (int m = 0; m < nin; ++m)
        activationSeriesAdjoint(acts[l - 1], &t.a[m * n1], &t.h[m * n1],
                                &t.aux1[m * n1], &t.aux2[m * n1],
                                &t.aux3[m * n1], &hbar[m * n1], &abar[m * n1],
                                s.order);
      // Slopes: a = alpha z, so alphabar += <abar, z> and zbar = alpha abar.
      if (s.slope[l - 1] != 0)
        for (int m = 0; m < nin; ++m) {
          const int64_t at =
              s.slopeOffset[l - 1] + (s.slope[l - 1] == 2 ? m : 0);
          for (int k = 0; k < n1; ++k) {
            grad[at] += abar[m * n1 + k] * t.z[m * n1 + k];
            abar[m * n1 + k] *= params[at];
          }
        }
    }
  }
  return grad;
}

} // namespace ntp_ref
