//===- Workspace.cpp - The header of a saved-jets workspace ---------------===//
#include "Workspace.h"

#include <cstring>

using namespace ntp::artifact;

namespace ntp::rt {
namespace {

constexpr char kMagic[8] = {'N', 'T', 'P', 'W', 'K', 'S', 'P', '\0'};

struct Header {
  char magic[8];
  uint64_t identity;
  int64_t batch;
  uint64_t x, direction, params;
  uint64_t reserved;
  uint64_t checksum;
};
static_assert(sizeof(Header) == kWorkspaceHeaderBytes, "packed 64 bytes");

/// A hash of `bytes` bytes at `data`, eight bytes at a time (FNV-1a's
/// multiply on words): any single changed word changes it, and it runs at
/// memory speed on the parameter vectors of training loops.
uint64_t hashBytes(const void *data, int64_t bytes) {
  uint64_t state = kChecksumSeed ^ static_cast<uint64_t>(bytes);
  auto p = static_cast<const unsigned char *>(data);
  int64_t i = 0;
  for (; i + 8 <= bytes; i += 8) {
    uint64_t word;
    std::memcpy(&word, p + i, 8);
    state = (state ^ word) * 0x100000001b3ull;
    state ^= state >> 29;
  }
  for (; i < bytes; ++i)
    state = (state ^ p[i]) * 0x100000001b3ull;
  return state;
}

Header headerFor(const ntp_kernel &k, const void *x, const void *direction,
                 const void *params, int64_t batch) {
  const KernelManifest &m = k.manifest;
  int64_t e = k.elementBytes();
  Header h{};
  std::memcpy(h.magic, kMagic, sizeof(kMagic));
  h.identity = k.identity;
  h.batch = batch;
  h.x = x ? hashBytes(x, batch * m.inputDim() * e) : 0;
  h.direction = hashBytes(direction, m.inputDim() * e);
  h.params = hashBytes(params, m.numParams * e);
  h.checksum = checksum64(
      {reinterpret_cast<const char *>(&h), offsetof(Header, checksum)});
  return h;
}

} // namespace

void writeWorkspaceHeader(const ntp_kernel &k, void *workspace, const void *x,
                          const void *direction, const void *params,
                          int64_t batch) {
  Header h = headerFor(k, x, direction, params, batch);
  std::memcpy(workspace, &h, sizeof(h));
}

int checkWorkspaceHeader(const ntp_kernel &k, const void *workspace,
                         const void *x, const void *direction,
                         const void *params, int64_t batch) {
  Header saved;
  std::memcpy(&saved, workspace, sizeof(saved));
  auto refuse = [](const std::string &why) {
    return fail(NTP_ERROR_INVALID_ARGUMENT,
                "the workspace " + why +
                    ": call ntp_forward_save with the same arguments first");
  };
  if (std::memcmp(saved.magic, kMagic, sizeof(kMagic)) != 0 ||
      saved.checksum != checksum64({reinterpret_cast<const char *>(&saved),
                                    offsetof(Header, checksum)}))
    return refuse("was not written by ntp_forward_save (or was overwritten)");
  if (saved.identity != k.identity)
    return refuse("was saved by another kernel");
  if (saved.batch != batch)
    return refuse("was saved for batch " + std::to_string(saved.batch) +
                  ", not " + std::to_string(batch));
  Header now = headerFor(k, x, direction, params, batch);
  if (saved.x != now.x)
    return refuse("was saved for other x");
  if (saved.direction != now.direction)
    return refuse("was saved for another direction");
  if (saved.params != now.params)
    return refuse("was saved for other params");
  return NTP_OK;
}

} // namespace ntp::rt
