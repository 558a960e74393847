//===- TaylorReference.h - Independent jet evaluator for tests --*- C++ -*-===//
//
// A reference evaluator for the jets that ntp kernels compute:
//   out[k][b][j] = d^k/dt^k f_j(x_b + t v) at t = 0,  k = 0..order.
// It shares no code with the compiler and uses a different algorithm:
// univariate Taylor arithmetic (ODE recurrences for the activations) in long
// double, instead of Faa di Bruno's formula. Tests compare compiled kernels
// against it.
//
// Data layout matches the ntp runtime: x is row-major [batch, d], v is [d],
// params is one flat vector in torch.nn.Linear order (W_1, b_1, ..., W_L, b_L,
// W_l row-major [out, in]), out is [(order + 1), batch, q].
//
//===----------------------------------------------------------------------===//
#ifndef NTP_TEST_REFERENCE_TAYLORREFERENCE_H
#define NTP_TEST_REFERENCE_TAYLORREFERENCE_H

#include <cstdint>
#include <string>
#include <vector>

namespace ntp_ref {

/// Activation applied after every layer but the last. Silu is y sigmoid(y),
/// Gelu the exact y Phi(y) (Phi the standard normal CDF), GeluTanh the tanh
/// approximation y (1 + tanh(sqrt(2/pi) (y + 0.044715 y^3))) / 2.
enum class Activation {
  Tanh,
  Sigmoid,
  Sin,
  Identity,
  Exp,
  Softplus,
  Cos,
  Silu,
  Gelu,
  GeluTanh
};

/// Parses "tanh", "sigmoid", "sin", "identity", "exp", "softplus", "cos",
/// "silu", "gelu", "gelu_tanh"; throws std::invalid_argument otherwise.
Activation parseActivation(const std::string &name);

/// One activation for every one of `hiddenLayers` hidden layers ("tanh"), or
/// a comma-separated list with one per hidden layer ("silu,tanh"); throws
/// std::invalid_argument on an unknown name or a wrong count.
std::vector<Activation> parseActivationList(const std::string &spec,
                                            int hiddenLayers);

/// Number of parameters of the MLP with layer widths {d, h_1, ..., q}; throws
/// std::invalid_argument if there are fewer than two widths or one is < 1.
int64_t numParams(const std::vector<int> &widths);

/// Jet of the network at `batch` points x (row-major [batch, d]) along
/// direction v ([d]). Returns
///   out[(k * batch + b) * q + j] = d^k/dt^k f_j(x_b + t v) at t = 0,
/// for k = 0..order. Throws std::invalid_argument on inconsistent sizes.
std::vector<long double> jet(const std::vector<int> &widths, Activation act,
                             int order, const std::vector<long double> &params,
                             const std::vector<long double> &x,
                             const std::vector<long double> &v, int64_t batch);

/// The same with one activation per hidden layer (acts.size() must be
/// widths.size() - 2; throws std::invalid_argument otherwise).
std::vector<long double> jet(const std::vector<int> &widths,
                             const std::vector<Activation> &acts, int order,
                             const std::vector<long double> &params,
                             const std::vector<long double> &x,
                             const std::vector<long double> &v, int64_t batch);

/// Gradient with respect to params (same layout as params) of
///   sum_{k,b,j} cotangent[(k * batch + b) * q + j] * out[...],
/// where out is jet(widths, act, order, params, x, v, batch). Computed exactly
/// by a hand-written reverse pass through the Taylor recurrences.
std::vector<long double>
jetParamGradient(const std::vector<int> &widths, Activation act, int order,
                 const std::vector<long double> &params,
                 const std::vector<long double> &x,
                 const std::vector<long double> &v, int64_t batch,
                 const std::vector<long double> &cotangent);

/// The same with one activation per hidden layer.
std::vector<long double> jetParamGradient(
    const std::vector<int> &widths, const std::vector<Activation> &acts,
    int order, const std::vector<long double> &params,
    const std::vector<long double> &x, const std::vector<long double> &v,
    int64_t batch, const std::vector<long double> &cotangent);

/// Typed layers (issue 14), one entry per hidden layer in each non-empty
/// list. Hidden layer l computes A = a_l * (W_l H + b_l) with the adaptive
/// slope a_l (slopes[l]: 0 none, 1 one scalar for the layer, 2 one per
/// neuron), S = act_l(A), and H_l = S, or H_{l-1} + S when residual[l]
/// (equal widths, not the first hidden layer). The slopes follow the
/// layer's bias in params: W_1, b_1, [a_1], W_2, b_2, [a_2], ..., W_L, b_L.
///
/// With fourier = m >= 1 the input x (width d) first becomes
/// [sin(2 pi B x), cos(2 pi B x)] (width 2m), B [m, d] row-major leading
/// params; W_1 is then [h_1, 2m].
///
/// With gated (the modified MLP), X the input (or its embedding) and h the
/// hidden width (every hidden layer has it): U = act_1(W_u X + b_u),
/// V = act_1(W_v X + b_v), H_0 = X, and hidden layer l computes
/// Z = act_l(a_l (W_l H + b_l)) and H_l = U + Z (V - U) (a Cauchy product
/// of series); no residual layers. params: [B], W_u [h, in], b_u, W_v, b_v,
/// then the layers as above.
struct Layers {
  std::vector<int> slopes;
  std::vector<bool> residual;
  int fourier = 0;
  bool gated = false;
};

/// numParams with the slopes of `layers`; throws std::invalid_argument on
/// invalid widths or layers.
int64_t numParams(const std::vector<int> &widths, const Layers &layers);

/// jet with typed layers.
std::vector<long double> jet(const std::vector<int> &widths,
                             const std::vector<Activation> &acts,
                             const Layers &layers, int order,
                             const std::vector<long double> &params,
                             const std::vector<long double> &x,
                             const std::vector<long double> &v, int64_t batch);

/// jetParamGradient with typed layers (slopes get their gradient too).
std::vector<long double> jetParamGradient(
    const std::vector<int> &widths, const std::vector<Activation> &acts,
    const Layers &layers, int order, const std::vector<long double> &params,
    const std::vector<long double> &x, const std::vector<long double> &v,
    int64_t batch, const std::vector<long double> &cotangent);

} // namespace ntp_ref

#endif // NTP_TEST_REFERENCE_TAYLORREFERENCE_H
