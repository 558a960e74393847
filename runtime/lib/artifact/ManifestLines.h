//===- ManifestLines.h - The manifest's key=value layer ----------*- C++
//-*-===//
//
// What the parts of the manifest parser share: the text as key=value lines
// (each key once), required and optional keys, whole numbers and the
// one-sentence error. Manifest.cpp parses the kernel's fields with it,
// ManifestPartials.cpp a partials kernel's request and recorded lowerings.
//
//===----------------------------------------------------------------------===//
#ifndef NTP_RUNTIME_ARTIFACT_MANIFESTLINES_H
#define NTP_RUNTIME_ARTIFACT_MANIFESTLINES_H

#include "ntp/artifact.hpp"

#include <charconv>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ntp::artifact::detail {

/// `text` in quotes for a message, bounded, so that a huge damaged value
/// cannot make a huge message.
std::string quoted(std::string_view text);

/// Parses the whole of `text` as a non-negative decimal integer of type T:
/// no sign, no spaces, no trailing characters, no leading zeros (other than
/// "0" itself), no overflow.
template <class T> std::optional<T> parseNumber(std::string_view text) {
  if (text.empty() || text.size() > 20 || text[0] < '0' || text[0] > '9' ||
      (text.size() > 1 && text[0] == '0'))
    return std::nullopt;
  T value{};
  const char *end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end)
    return std::nullopt;
  return value;
}

/// Whether every character of `text` is one of [A-Za-z0-9] or in `extra`.
bool isWord(std::string_view text, std::string_view extra);

/// The comma-separated items of `text` (empty items kept, so that they
/// fail the caller's check).
std::vector<std::string> splitItems(const std::string &text);

/// A manifest's lines by key; every failure sets `error` to one sentence
/// fragment.
class ManifestLines {
public:
  explicit ManifestLines(std::string &error) : error(error) {}

  /// Splits `text` (kManifestMagic, then key=value lines, each ending in a
  /// newline, no key twice); false on the first broken rule.
  bool read(std::string_view text);
  /// The value of `name`, or null with "required key ... is missing".
  const std::string *key(std::string_view name);
  /// The value of `name`, or null.
  const std::string *optionalKey(std::string_view name) const;
  template <class T> std::optional<T> number(std::string_view name) {
    const std::string *text = key(name);
    if (!text)
      return std::nullopt;
    std::optional<T> value = parseNumber<T>(*text);
    if (!value)
      fail(std::string(name) + " is " + quoted(*text) +
           ", not a non-negative integer in range");
    return value;
  }
  /// Sets the error; NTP_ERROR_BAD_ARTIFACT.
  ntp_status fail(std::string message);
  /// Every key and value read.
  const std::map<std::string, std::string, std::less<>> &all() const {
    return values;
  }

protected:
  std::string &error;

private:
  std::map<std::string, std::string, std::less<>> values;
};

/// A partials kernel's request, "2,0,0;-2,-2,0": rows of m.inputDim()
/// integers, each a multi-index of total order <= m.order or an operator row
/// (-2 or -4 marks and 0), none repeated; appended to m.partials.
bool parsePartialsRequest(ManifestLines &lines, const std::string &text,
                          KernelManifest &m);

/// The recorded lowering under key `name` (partials_lowering,
/// partials_reverse_lowering) into `field`: absent is fine; else a partials
/// kernel's, the reverse mode's only with backward=1, and
/// partialsLoweringProblem's rule.
bool parsePartialsLowering(ManifestLines &lines, std::string_view name,
                           const KernelManifest &m, std::string &field);

} // namespace ntp::artifact::detail

#endif // NTP_RUNTIME_ARTIFACT_MANIFESTLINES_H
