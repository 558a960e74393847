//===- ManifestLines.cpp - The manifest's key=value layer -----------------===//
//
// Implements ManifestLines.h.
//
//===----------------------------------------------------------------------===//
#include "ManifestLines.h"

#include <algorithm>

namespace ntp::artifact::detail {

std::string quoted(std::string_view text) {
  if (text.size() > 80)
    return "'" + std::string(text.substr(0, 77)) + "...'";
  return "'" + std::string(text) + "'";
}

bool isWord(std::string_view text, std::string_view extra) {
  return std::all_of(text.begin(), text.end(), [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || extra.find(c) != std::string_view::npos;
  });
}

std::vector<std::string> splitItems(const std::string &text) {
  std::vector<std::string> items;
  size_t start = 0;
  for (;;) {
    size_t end = text.find(',', start);
    items.push_back(text.substr(start, end - start));
    if (end == std::string::npos)
      return items;
    start = end + 1;
  }
}

ntp_status ManifestLines::fail(std::string message) {
  error = std::move(message);
  return NTP_ERROR_BAD_ARTIFACT;
}

bool ManifestLines::read(std::string_view text) {
  size_t eol = text.find('\n');
  std::string_view first = text.substr(0, eol);
  if (first != kManifestMagic) {
    fail("the first line is " + quoted(first) + ", not " +
         quoted(kManifestMagic));
    return false;
  }
  text =
      eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
  while (!text.empty()) {
    eol = text.find('\n');
    if (eol == std::string_view::npos) {
      fail("the last line " + quoted(text) + " does not end with a newline");
      return false;
    }
    std::string_view line = text.substr(0, eol);
    text = text.substr(eol + 1);
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

const std::string *ManifestLines::key(std::string_view name) {
  auto it = values.find(name);
  if (it != values.end())
    return &it->second;
  fail("required key " + quoted(name) + " is missing");
  return nullptr;
}

const std::string *ManifestLines::optionalKey(std::string_view name) const {
  auto it = values.find(name);
  return it == values.end() ? nullptr : &it->second;
}

} // namespace ntp::artifact::detail
