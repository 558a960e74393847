//===- Manifest.cpp - ntp kernel artifact manifest ------------------------===//
//
// The manifest is line-oriented: the header line `ntp-kernel-manifest`, then
// `key=value` lines. Unknown keys are ignored so that newer compilers can add
// informational keys without an ABI bump; anything that changes the calling
// convention must bump abi_version instead.
//
//===----------------------------------------------------------------------===//
#include "Manifest.h"

#include <charconv>
#include <map>
#include <optional>

namespace ntp::rt {
namespace {

constexpr std::string_view kHeader = "ntp-kernel-manifest";

/// Parses the whole of `text` as a decimal integer of type T.
template <class T> std::optional<T> parseInt(std::string_view text) {
  T value{};
  const char *end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty())
    return std::nullopt;
  return value;
}

std::string quoted(std::string_view text) {
  return "'" + std::string(text) + "'";
}

class Parser {
public:
  explicit Parser(std::string &error) : error(error) {}

  ntp_status run(std::string_view text, Manifest &m) {
    if (!splitLines(text))
      return NTP_ERROR_BAD_ARTIFACT;

    // The ABI version is checked first: a manifest from another ABI may
    // legitimately lack or redefine the other keys.
    std::optional<int64_t> abi = intKey<int64_t>("abi_version");
    if (!abi)
      return NTP_ERROR_BAD_ARTIFACT;
    if (*abi != NTP_ABI_VERSION) {
      error = "artifact ABI version " + std::to_string(*abi) +
              " does not match this runtime's ABI version " +
              std::to_string(NTP_ABI_VERSION);
      return NTP_ERROR_ABI_MISMATCH;
    }

    std::optional<int32_t> order = intKey<int32_t>("order");
    std::optional<int64_t> numParams = intKey<int64_t>("num_params");
    std::optional<int64_t> tile = intKey<int64_t>("tile");
    const std::string *activation = key("activation");
    const std::string *dtype = key("dtype");
    const std::string *device = key("device");
    const std::string *layers = key("layers");
    if (!order || !numParams || !tile || !activation || !dtype || !device ||
        !layers)
      return NTP_ERROR_BAD_ARTIFACT;

    if (*order < 0)
      return fail("order is " + std::to_string(*order) +
                  "; it must be non-negative");
    if (*tile < 1)
      return fail("tile is " + std::to_string(*tile) + "; it must be positive");
    if (activation->empty())
      return fail("activation is empty");

    if (*dtype == "f32")
      m.dtype = NTP_DTYPE_F32;
    else if (*dtype == "f64")
      m.dtype = NTP_DTYPE_F64;
    else
      return fail("unknown dtype " + quoted(*dtype) + " (expected f32 or f64)");

    if (*device == "cpu")
      m.device = NTP_DEVICE_CPU;
    else if (*device == "cuda")
      m.device = NTP_DEVICE_CUDA;
    else
      return fail("unknown device " + quoted(*device) +
                  " (expected cpu or cuda)");

    if (!parseLayers(*layers, m.layers))
      return NTP_ERROR_BAD_ARTIFACT;
    std::optional<int64_t> expected = countParams(m.layers);
    if (!expected)
      return fail("layers " + quoted(*layers) + " have too many parameters");
    if (*expected != *numParams)
      return fail("num_params is " + std::to_string(*numParams) +
                  " but layers " + quoted(*layers) + " have " +
                  std::to_string(*expected) + " parameters");

    // Optional (artifacts without a backward omit them).
    if (key("backward")) {
      std::optional<int32_t> backward = intKey<int32_t>("backward");
      std::optional<int64_t> workspace = intKey<int64_t>("workspace_per_tile");
      if (!backward || (*backward != 0 && *backward != 1))
        return fail("backward must be 0 or 1");
      if (*backward && (!workspace || *workspace < 1))
        return fail("workspace_per_tile must be positive when backward=1");
      m.backward = *backward == 1;
      m.workspacePerTile = m.backward ? *workspace : 0;
    }

    if (const std::string *cpu = key("target_cpu"))
      m.targetCpu = *cpu;
    m.cpuFeatures.clear();
    if (const std::string *features = key("cpu_features")) {
      std::string_view rest = *features;
      while (!rest.empty()) {
        size_t comma = rest.find(',');
        std::string_view name = rest.substr(0, comma);
        if (name.empty())
          return fail("cpu_features has an empty entry");
        m.cpuFeatures.emplace_back(name);
        rest = comma == std::string_view::npos ? std::string_view()
                                               : rest.substr(comma + 1);
      }
    }

    m.order = *order;
    m.numParams = *numParams;
    m.tile = *tile;
    m.activation = *activation;
    return NTP_OK;
  }

private:
  ntp_status fail(std::string message) {
    error = std::move(message);
    return NTP_ERROR_BAD_ARTIFACT;
  }

  bool splitLines(std::string_view text) {
    bool first = true;
    while (!text.empty() || first) {
      size_t eol = text.find('\n');
      std::string_view line = text.substr(0, eol);
      text = eol == std::string_view::npos ? std::string_view()
                                           : text.substr(eol + 1);
      if (first) {
        first = false;
        if (line != kHeader) {
          fail("the first line is " + quoted(line) + ", not " +
               quoted(kHeader));
          return false;
        }
        continue;
      }
      if (line.empty())
        continue;
      size_t eq = line.find('=');
      if (eq == std::string_view::npos || eq == 0) {
        fail("line " + quoted(line) + " is not of the form key=value");
        return false;
      }
      std::string name(line.substr(0, eq));
      if (!values.emplace(name, std::string(line.substr(eq + 1))).second) {
        fail("key " + quoted(name) + " appears more than once");
        return false;
      }
    }
    return true;
  }

  const std::string *key(const char *name) {
    auto it = values.find(name);
    if (it != values.end())
      return &it->second;
    fail("required key " + quoted(name) + " is missing");
    return nullptr;
  }

  template <class T> std::optional<T> intKey(const char *name) {
    const std::string *text = key(name);
    if (!text)
      return std::nullopt;
    std::optional<T> value = parseInt<T>(*text);
    if (!value)
      fail(std::string(name) + " is " + quoted(*text) +
           ", not an integer in range");
    return value;
  }

  bool parseLayers(std::string_view text, std::vector<int32_t> &widths) {
    std::string_view rest = text;
    while (true) {
      size_t comma = rest.find(',');
      std::optional<int32_t> width = parseInt<int32_t>(rest.substr(0, comma));
      if (!width || *width < 1) {
        fail("layers " + quoted(text) + " is not a list of positive integers");
        return false;
      }
      widths.push_back(*width);
      if (comma == std::string_view::npos)
        break;
      rest = rest.substr(comma + 1);
    }
    if (widths.size() < 2) {
      fail("layers " + quoted(text) +
           " needs at least an input and an output width");
      return false;
    }
    return true;
  }

  /// Sum over layers of out * in + out, or nullopt on int64 overflow.
  static std::optional<int64_t> countParams(const std::vector<int32_t> &w) {
    int64_t total = 0;
    for (size_t l = 1; l < w.size(); ++l) {
      int64_t layer = 0;
      if (__builtin_mul_overflow(int64_t(w[l]), int64_t(w[l - 1]) + 1,
                                 &layer) ||
          __builtin_add_overflow(total, layer, &total))
        return std::nullopt;
    }
    return total;
  }

  std::string &error;
  std::map<std::string, std::string, std::less<>> values;
};

} // namespace

ntp_status parseManifest(std::string_view text, Manifest &manifest,
                         std::string &error) {
  Manifest parsed;
  ntp_status status = Parser(error).run(text, parsed);
  if (status == NTP_OK)
    manifest = std::move(parsed);
  return status;
}

} // namespace ntp::rt

std::vector<std::string>
ntp::rt::missingCpuFeatures(const std::vector<std::string> &features) {
  std::vector<std::string> missing;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  // __builtin_cpu_supports takes a literal: one row per feature the
  // compiler records (lib/Target/Cpu: kRecordedCpuFeatures).
  __builtin_cpu_init();
  static const struct {
    const char *name;
    bool present;
  } table[] = {
      {"sse4.2", __builtin_cpu_supports("sse4.2") != 0},
      {"avx", __builtin_cpu_supports("avx") != 0},
      {"avx2", __builtin_cpu_supports("avx2") != 0},
      {"fma", __builtin_cpu_supports("fma") != 0},
      {"bmi", __builtin_cpu_supports("bmi") != 0},
      {"bmi2", __builtin_cpu_supports("bmi2") != 0},
      {"avx512f", __builtin_cpu_supports("avx512f") != 0},
      {"avx512dq", __builtin_cpu_supports("avx512dq") != 0},
      {"avx512cd", __builtin_cpu_supports("avx512cd") != 0},
      {"avx512bw", __builtin_cpu_supports("avx512bw") != 0},
      {"avx512vl", __builtin_cpu_supports("avx512vl") != 0},
      {"avx512ifma", __builtin_cpu_supports("avx512ifma") != 0},
      {"avx512vbmi", __builtin_cpu_supports("avx512vbmi") != 0},
      {"avx512vnni", __builtin_cpu_supports("avx512vnni") != 0},
      {"avx512bf16", __builtin_cpu_supports("avx512bf16") != 0},
      {"avx512fp16", __builtin_cpu_supports("avx512fp16") != 0},
  };
  for (const std::string &feature : features)
    for (const auto &row : table)
      if (feature == row.name && !row.present)
        missing.push_back(feature);
#else
  (void)features;
#endif
  return missing;
}
