//===- LayerKinds.hpp - Typed layers and parameter counts -------*- C++ -*-===//
//
// Part of ntp/artifact.hpp (include that): what the hidden layers of a
// network add to dense + activation (slopes, residual connections, a
// Fourier embedding, gates) and the one definition of its parameter
// count.
//
//===----------------------------------------------------------------------===//
#ifndef NTP_ARTIFACT_LAYERKINDS_HPP
#define NTP_ARTIFACT_LAYERKINDS_HPP

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ntp::artifact {

/// Typed layers (issue 14): what a hidden layer adds to dense + activation.
/// Hidden layer l (1-based, widths layers[l - 1] -> layers[l]) computes
///   Y = W_l H + b_l,  A = a_l * Y (adaptive slope),  S = sigma_l(A),
///   H_l = S, or H_{l-1} + S when residual.
/// a_l is one trainable scalar (Slope::Layer) or one per neuron
/// (Slope::Neuron); it follows b_l in the flat parameter vector, so the
/// order is W_1, b_1, [a_1], W_2, b_2, [a_2], ..., W_L, b_L: the order of
/// module.parameters() of nn.Sequential(nn.Linear, Adaptive(a), sigma, ...).
/// A residual layer needs layers[l - 1] == layers[l] and l >= 2 (its input
/// is a hidden layer's output, not the network input).
///
/// A Fourier-feature input embedding of m frequencies (`fourier` = m >= 1)
/// maps the input x (width d = layers[0]) to H_0 = [sin(2 pi B x),
/// cos(2 pi B x)] (width 2m) before the first layer, with B [m, d]
/// row-major trainable and first in the parameter vector: B, W_1 [h_1, 2m],
/// b_1, ... (module.parameters() of nn.Sequential(FourierFeatures(B),
/// nn.Linear(2m, h_1), ...)). A fixed B is the same kernel whose B entries
/// the caller does not update.
///
/// A gated network (`gated`: the modified MLP of Wang, Teng and Perdikaris
/// 2021, jaxpi's ModifiedMlp) computes, from X (the input, or its Fourier
/// features), U = sigma_1(W_u X + b_u) and V = sigma_1(W_v X + b_v) (the
/// first hidden layer's activation, no slopes), H_0 = X and per hidden layer
/// l: Z_l = sigma_l(a_l * (W_l H_{l-1} + b_l)), H_l = U + Z_l * (V - U)
/// (= (1 - Z_l) U + Z_l V), then the output layer. Every hidden width is the
/// width h of U and V, and no layer is residual. W_u [h, in] and W_v precede
/// the hidden layers: [B], W_u, b_u, W_v, b_v, W_1, b_1, [a_1], ..., W_L,
/// b_L (module.parameters() of a module registering the u-encoder Linear,
/// the v-encoder Linear, the hidden Linears, then the output Linear).
enum class Slope : int32_t { None = 0, Layer = 1, Neuron = 2 };

constexpr std::string_view slopeName(Slope slope) {
  return slope == Slope::Layer    ? "layer"
         : slope == Slope::Neuron ? "neuron"
                                  : "none";
}
constexpr std::optional<Slope> parseSlope(std::string_view name) {
  if (name == "none")
    return Slope::None;
  if (name == "layer")
    return Slope::Layer;
  if (name == "neuron")
    return Slope::Neuron;
  return std::nullopt;
}

/// The typed-layer facts of a network: empty vectors for a plain MLP (what
/// every kernel before issue 14 is), else one entry per hidden layer.
struct LayerKinds {
  std::vector<Slope> slopes;
  std::vector<bool> residual;
  /// Frequencies m of the Fourier-feature input embedding; 0: none.
  int64_t fourier = 0;
  /// The modified MLP's gates U and V around every hidden layer.
  bool gated = false;

  /// The width the first layer reads: 2m with a Fourier embedding, else d.
  int64_t firstInputWidth(int64_t d) const {
    return fourier > 0 ? 2 * fourier : d;
  }

  bool empty() const {
    if (fourier != 0 || gated)
      return false;
    for (Slope s : slopes)
      if (s != Slope::None)
        return false;
    for (bool r : residual)
      if (r)
        return false;
    return true;
  }
  /// Of hidden layer `hidden` (0-based).
  Slope slope(size_t hidden) const {
    return hidden < slopes.size() ? slopes[hidden] : Slope::None;
  }
  bool isResidual(size_t hidden) const {
    return hidden < residual.size() && residual[hidden];
  }
  /// Trainable slopes of hidden layer `hidden` of width `width`.
  int64_t slopeCount(size_t hidden, int64_t width) const {
    Slope s = slope(hidden);
    return s == Slope::Layer ? 1 : s == Slope::Neuron ? width : 0;
  }
  /// The canonical manifest spellings: "none,neuron" / "0,1", or "" when no
  /// hidden layer has one.
  std::string slopesText() const {
    bool any = false;
    for (Slope s : slopes)
      any |= s != Slope::None;
    std::string text;
    for (size_t i = 0; any && i < slopes.size(); ++i)
      text += (i ? "," : "") + std::string(slopeName(slopes[i]));
    return text;
  }
  std::string residualText() const {
    bool any = false;
    for (bool r : residual)
      any |= r;
    std::string text;
    for (size_t i = 0; any && i < residual.size(); ++i)
      text += std::string(i ? "," : "") + (residual[i] ? "1" : "0");
    return text;
  }
  /// One sentence naming the broken rule for a network with these widths,
  /// or "" when the kinds are valid (slopes/residual empty or one per hidden
  /// layer; residual layers square and not the first).
  std::string check(const std::vector<int64_t> &layers) const {
    size_t hidden = layers.size() < 2 ? 0 : layers.size() - 2;
    if (fourier < 0 || fourier > (int64_t(1) << 15))
      return "a Fourier embedding has 1.." + std::to_string(int64_t(1) << 15) +
             " frequencies (2m <= kMaxWidth), got " + std::to_string(fourier);
    if (!slopes.empty() && slopes.size() != hidden)
      return "slopes lists " + std::to_string(slopes.size()) +
             " entries but the network has " + std::to_string(hidden) +
             " hidden layers";
    if (!residual.empty() && residual.size() != hidden)
      return "residual lists " + std::to_string(residual.size()) +
             " entries but the network has " + std::to_string(hidden) +
             " hidden layers";
    if (std::string broken = checkGated(layers); !broken.empty())
      return broken;
    for (size_t i = 0; i < residual.size(); ++i) {
      if (!residual[i])
        continue;
      if (i == 0)
        return "the first hidden layer cannot be residual: its input is the "
               "network input, not a hidden layer's output";
      if (layers[i] != layers[i + 1])
        return "residual hidden layer " + std::to_string(i + 1) +
               " maps width " + std::to_string(layers[i]) + " to " +
               std::to_string(layers[i + 1]) +
               "; a residual layer H + F(H) needs equal widths";
    }
    return "";
  }
  /// The gated network's rules (see Slope above), or "".
  std::string checkGated(const std::vector<int64_t> &layers) const {
    if (!gated)
      return "";
    if (layers.size() < 3)
      return "a gated network needs at least one hidden layer (U and V gate "
             "the hidden layers)";
    for (size_t i = 2; i + 1 < layers.size(); ++i)
      if (layers[i] != layers[1])
        return "a gated layer's branches differ in width: U and V have the "
               "first hidden width " +
               std::to_string(layers[1]) + " but hidden layer " +
               std::to_string(i) + " has width " + std::to_string(layers[i]) +
               "; every hidden layer of a gated network has the width of U "
               "and V";
    for (bool r : residual)
      if (r)
        return "a gated network has no residual layers: each hidden layer's "
               "output is already the gate U + Z (V - U)";
    return "";
  }
  /// Parameters of the gates U and V (W_u, b_u, W_v, b_v), 0 when not
  /// gated; nullopt on overflow.
  std::optional<int64_t> gateParams(const std::vector<int64_t> &layers) const {
    if (!gated || layers.size() < 3)
      return 0;
    int64_t in = firstInputWidth(layers[0]), count = 0;
    if (__builtin_add_overflow(in, int64_t(1), &count) ||
        __builtin_mul_overflow(count, layers[1], &count) ||
        __builtin_mul_overflow(count, int64_t(2), &count))
      return std::nullopt;
    return count;
  }
};

/// The number of parameters of an MLP with these widths: sum over layers of
/// out * in + out (torch.nn.Linear order), plus the slopes of `kinds`.
/// nullopt on fewer than two widths, a width < 1, or int64 overflow. The one
/// definition: the verifier, the passes, the manifest and the runtime all
/// call it.
inline std::optional<int64_t> countParams(const std::vector<int64_t> &layers,
                                          const LayerKinds &kinds = {}) {
  if (layers.size() < 2 || kinds.fourier < 0)
    return std::nullopt;
  int64_t total = 0;
  // A Fourier embedding: B [m, d], and the first layer reads 2m.
  if (kinds.fourier > 0 && layers[0] > 0 &&
      __builtin_mul_overflow(kinds.fourier, layers[0], &total))
    return std::nullopt;
  for (size_t l = 0; l < layers.size(); ++l) {
    if (layers[l] < 1)
      return std::nullopt;
    if (l == 0)
      continue;
    int64_t layer = 0;
    // A gated network: W_u, b_u, W_v, b_v before the first hidden layer.
    std::optional<int64_t> gates = kinds.gateParams(layers);
    if (l == 1 && (!gates || __builtin_add_overflow(total, *gates, &total)))
      return std::nullopt;
    int64_t in = l == 1 ? kinds.firstInputWidth(layers[0]) : layers[l - 1];
    if (__builtin_add_overflow(in, int64_t(1), &layer) ||
        __builtin_mul_overflow(layer, layers[l], &layer) ||
        __builtin_add_overflow(total, layer, &total))
      return std::nullopt;
    if (l + 1 < layers.size() &&
        __builtin_add_overflow(total, kinds.slopeCount(l - 1, layers[l]),
                               &total))
      return std::nullopt;
  }
  return total;
}

} // namespace ntp::artifact

#endif // NTP_ARTIFACT_LAYERKINDS_HPP
