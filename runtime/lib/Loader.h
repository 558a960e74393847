//===- Loader.h - From an artifact or entry points to a kernel -*- C++ -*-===//
//
// Every way a kernel comes into being: ntp_kernel_load (a file),
// ntp_kernel_load_memory (bytes) and ntp_kernel_create (entry points already
// in memory). All of them validate the manifest with the one parser of
// ntp/artifact.hpp, and the first two the whole container (size caps,
// checksum) before any of the artifact's code is mapped or run.
//
//===----------------------------------------------------------------------===//
#ifndef NTP_RUNTIME_LOADER_H
#define NTP_RUNTIME_LOADER_H

#include "Kernel.h"

namespace ntp::rt {

int loadKernelFile(const char *path, ntp_kernel **out);
int loadKernelMemory(const void *data, int64_t size, ntp_kernel **out);
int createKernel(const char *manifest, const ntp_kernel_entry_points &entry,
                 void (*release)(void *), void *releaseArg, ntp_kernel **out);

} // namespace ntp::rt

#endif // NTP_RUNTIME_LOADER_H
