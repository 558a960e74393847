//===- Workspace.h - The header of a saved-jets workspace -------*- C++ -*-===//
//
// ntp_forward_save writes a header at the start of the workspace, and the
// saved jets after it; ntp_backward_saved checks the header against its own
// arguments before reading any jet, so that a workspace saved by another
// kernel, for another batch, or for other x, direction or params is refused
// with a sentence instead of read out of bounds or silently used.
//
// Layout (kWorkspaceHeaderBytes = 64, so jets keep the caller's alignment up
// to 64 bytes): magic "NTPWKSP\0" | kernel identity (checksum of its
// manifest) | batch | hash of x | hash of direction | hash of params |
// reserved (0) | checksum of the 56 bytes before it. Host byte order: a
// workspace never leaves the process.
//
//===----------------------------------------------------------------------===//
#ifndef NTP_RUNTIME_WORKSPACE_H
#define NTP_RUNTIME_WORKSPACE_H

#include "Kernel.h"

namespace ntp::rt {

inline constexpr int64_t kWorkspaceHeaderBytes = 64;

inline void *workspaceJets(void *workspace) {
  return static_cast<char *>(workspace) + kWorkspaceHeaderBytes;
}
inline const void *workspaceJets(const void *workspace) {
  return static_cast<const char *>(workspace) + kWorkspaceHeaderBytes;
}

void writeWorkspaceHeader(const ntp_kernel &k, void *workspace, const void *x,
                          const void *direction, const void *params,
                          int64_t batch);

/// NTP_OK, or NTP_ERROR_INVALID_ARGUMENT with a sentence naming what
/// differs.
int checkWorkspaceHeader(const ntp_kernel &k, const void *workspace,
                         const void *x, const void *direction,
                         const void *params, int64_t batch);

} // namespace ntp::rt

#endif // NTP_RUNTIME_WORKSPACE_H
