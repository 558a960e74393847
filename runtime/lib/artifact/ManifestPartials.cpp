//===- ManifestPartials.cpp - A partials kernel's manifest keys -----------===//
//
// The manifest's partials keys: the request (`partials`) and the lowerings
// the compiler recorded (`partials_lowering`, `partials_reverse_lowering`,
// whose rule partialsLoweringProblem also gives the compiler's
// describeKernel).
//
//===----------------------------------------------------------------------===//
#include "ManifestLines.h"

#include <algorithm>

namespace ntp::artifact {

std::string_view partialsLoweringName(std::string_view summary) {
  for (std::string_view name : kPartialsLoweringNames)
    if (summary.substr(0, name.size()) == name &&
        (summary.size() == name.size() || summary[name.size()] == ':' ||
         summary[name.size()] == ';'))
      return name;
  return {};
}

std::string partialsLoweringProblem(std::string_view summary) {
  for (char c : summary)
    if (c < 0x20 || c > 0x7e)
      return "holds a character that is not printable ASCII";
  if (!partialsLoweringName(summary).empty())
    return "";
  std::string names;
  for (std::string_view name : kPartialsLoweringNames)
    names += (names.empty() ? "" : ", ") + std::string(name);
  return detail::quoted(summary) + " does not begin with a lowering name (" +
         names + ")";
}

namespace detail {

bool parsePartialsRequest(ManifestLines &lines, const std::string &text,
                          KernelManifest &m) {
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(';', start);
    std::string_view row(text.data() + start,
                         (end == std::string::npos ? text.size() : end) -
                             start);
    std::vector<int32_t> entries;
    size_t at = 0;
    int64_t total = 0;
    int32_t mark = 0;
    while (at <= row.size()) {
      size_t comma = row.find(',', at);
      std::string_view item = row.substr(
          at, (comma == std::string_view::npos ? row.size() : comma) - at);
      bool negative = !item.empty() && item.front() == '-';
      std::string_view digits = negative ? item.substr(1) : item;
      if (digits.empty() || digits.size() > 3 ||
          !std::all_of(digits.begin(), digits.end(),
                       [](char c) { return c >= '0' && c <= '9'; })) {
        lines.fail("partials row " + quoted(row) +
                   " is not a list of integers");
        return false;
      }
      int32_t value = std::stoi(std::string(digits)) * (negative ? -1 : 1);
      if (value < 0 && value != -2 && value != -4) {
        lines.fail("partials row " + quoted(row) +
                   " has an entry below 0 that is not -2 or -4");
        return false;
      }
      if (value < 0)
        mark = value;
      total += value > 0 ? value : 0;
      entries.push_back(value);
      if (comma == std::string_view::npos)
        break;
      at = comma + 1;
    }
    if (static_cast<int64_t>(entries.size()) != m.inputDim()) {
      lines.fail("partials row " + quoted(row) + " has " +
                 std::to_string(entries.size()) +
                 " entries but the network has " +
                 std::to_string(m.inputDim()) + " inputs");
      return false;
    }
    if ((mark ? -mark : total) > m.order) {
      lines.fail("partials row " + quoted(row) + " is of a higher order than " +
                 std::to_string(m.order));
      return false;
    }
    if (std::find(m.partials.begin(), m.partials.end(), entries) !=
        m.partials.end()) {
      lines.fail("partials row " + quoted(row) + " appears twice");
      return false;
    }
    m.partials.push_back(std::move(entries));
    if (end == std::string::npos)
      break;
    start = end + 1;
  }
  return true;
}

bool parsePartialsLowering(ManifestLines &lines, std::string_view name,
                           const KernelManifest &m, std::string &field) {
  field.clear();
  auto refuse = [&](std::string message) {
    lines.fail(std::move(message));
    return false;
  };
  const std::string *text = lines.optionalKey(name);
  if (!text)
    return true;
  if (m.partials.empty())
    return refuse(std::string(name) + " is only valid for a partials kernel");
  if (name == "partials_reverse_lowering" && !m.backward)
    return refuse("partials_reverse_lowering is only valid with backward=1");
  if (std::string problem = partialsLoweringProblem(*text); !problem.empty())
    return refuse(std::string(name) + " " + problem);
  field = *text;
  return true;
}

} // namespace detail
} // namespace ntp::artifact
