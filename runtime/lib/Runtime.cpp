//===- Runtime.cpp - ntp runtime C API ------------------------------------===//
//
// Implements runtime.h: loading kernel artifacts with dlopen (or wrapping
// in-memory entry points, ntp_kernel_create), validating their manifest, and
// running their tile entry point on the thread pool.
// Every entry point catches C++ exceptions; none crosses the C ABI.
//
//===----------------------------------------------------------------------===//
#include "ntp/runtime.h"

#include "Manifest.h"
#include "ThreadPool.h"

#include <cerrno>
#include <cstring>
#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <memory>
#include <new>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#define NTP_EXPORT extern "C" __attribute__((visibility("default")))

struct ntp_kernel {
  void *handle = nullptr;        // from dlopen; null for ntp_kernel_create
  void *forwardTiles = nullptr;  // ntp_kernel_forward_tiles
  void *backwardTiles = nullptr; // ntp_kernel_backward_tiles, if any
  void (*release)(void *) = nullptr; // ntp_kernel_create's owner callback
  void *releaseArg = nullptr;
  ntp::rt::Manifest manifest;

  ntp_kernel() = default;
  ntp_kernel(const ntp_kernel &) = delete;
  ntp_kernel &operator=(const ntp_kernel &) = delete;
  ~ntp_kernel() {
    if (handle)
      ::dlclose(handle);
    if (release)
      release(releaseArg);
  }
};

namespace {

using ntp::rt::Manifest;

// Tiles each thread must get before a call is split across threads; below
// this, waking workers costs more than it saves.
constexpr int64_t kMinTilesPerThread = 2;

// Bound on the manifest scan, so that a missing NUL cannot run off the end.
constexpr size_t kMaxManifestSize = 64 * 1024;

thread_local std::string lastError;

int fail(ntp_status status, std::string message) {
  lastError = std::move(message);
  return status;
}

/// Runs `body`, turning an escaping exception into NTP_ERROR_INTERNAL.
template <class Fn> int guarded(Fn &&body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc &) {
    lastError = "out of memory"; // fits the small-string buffer: no throw
  } catch (...) {
    try {
      lastError = "internal error in the ntp runtime";
    } catch (...) {
    }
  }
  return NTP_ERROR_INTERNAL;
}

std::string quoted(const std::string &path) { return "'" + path + "'"; }

/// Closes a file descriptor on scope exit.
struct FdGuard {
  int fd;
  ~FdGuard() { ::close(fd); }
};

bool readAt(int fd, void *buf, size_t size, uint64_t offset) {
  return ::pread(fd, buf, size, static_cast<off_t>(offset)) ==
         static_cast<ssize_t>(size);
}

/// Checks that `path` is a complete ELF shared object of this machine's
/// class before dlopen maps it: touching pages mapped past the end of a
/// truncated file raises SIGBUS instead of failing cleanly.
int checkElfFile(const std::string &path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return fail(NTP_ERROR_IO, "cannot open kernel artifact " + quoted(path) +
                                  ": " + std::strerror(errno));
  FdGuard guard{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0)
    return fail(NTP_ERROR_IO, "cannot open kernel artifact " + quoted(path) +
                                  ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode))
    return fail(NTP_ERROR_IO, "cannot open kernel artifact " + quoted(path) +
                                  ": it is not a regular file");
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size == 0)
    return fail(NTP_ERROR_BAD_ARTIFACT,
                quoted(path) + " is empty, not a shared object");

  ElfW(Ehdr) header;
  ssize_t got = ::pread(fd, &header, sizeof(header), 0);
  if (got < SELFMAG || std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0)
    return fail(NTP_ERROR_BAD_ARTIFACT,
                quoted(path) + " is not a shared object (no ELF header)");
  std::string truncated = quoted(path) + " is truncated (" +
                          std::to_string(size) + " bytes) or corrupt";
  if (got != sizeof(header))
    return fail(NTP_ERROR_BAD_ARTIFACT, truncated);
  if (header.e_ident[EI_CLASS] !=
      (sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32))
    return fail(NTP_ERROR_BAD_ARTIFACT,
                quoted(path) + " is an ELF file for another architecture");
  if (header.e_type != ET_DYN)
    return fail(NTP_ERROR_BAD_ARTIFACT,
                quoted(path) + " is an ELF file but not a shared object");

  // Every table and loadable segment must lie inside the file.
  auto fits = [size](uint64_t offset, uint64_t count, uint64_t entry) {
    uint64_t bytes = 0, end = 0;
    return !__builtin_mul_overflow(count, entry, &bytes) &&
           !__builtin_add_overflow(offset, bytes, &end) && end <= size;
  };
  if (header.e_phentsize != sizeof(ElfW(Phdr)) ||
      !fits(header.e_phoff, header.e_phnum, header.e_phentsize) ||
      (header.e_shoff != 0 &&
       !fits(header.e_shoff, header.e_shnum, header.e_shentsize)))
    return fail(NTP_ERROR_BAD_ARTIFACT, truncated);
  std::vector<ElfW(Phdr)> segments(header.e_phnum);
  if (!readAt(fd, segments.data(), segments.size() * sizeof(ElfW(Phdr)),
              header.e_phoff))
    return fail(NTP_ERROR_BAD_ARTIFACT, truncated);
  for (const ElfW(Phdr) & segment : segments)
    if (segment.p_type == PT_LOAD &&
        !fits(segment.p_offset, 1, segment.p_filesz))
      return fail(NTP_ERROR_BAD_ARTIFACT, truncated);
  return NTP_OK;
}

/// Looks up `name` in `handle`; null when absent.
void *findSymbol(void *handle, const char *name) {
  ::dlerror();
  return ::dlsym(handle, name);
}

/// Validates the manifest `text` (at most kMaxManifestSize bytes are read)
/// into `kernel`; `what` names the kernel in messages ("'k.so'"). The one
/// path shared by ntp_kernel_load and ntp_kernel_create.
int readManifest(const char *text, const std::string &what,
                 ntp_kernel &kernel) {
  size_t length = ::strnlen(text, kMaxManifestSize);
  if (length == kMaxManifestSize)
    return fail(NTP_ERROR_BAD_ARTIFACT,
                what + " has a malformed manifest: it is longer than " +
                    std::to_string(kMaxManifestSize) + " bytes");
  std::string reason;
  switch (ntp::rt::parseManifest({text, length}, kernel.manifest, reason)) {
  case NTP_OK:
    break;
  case NTP_ERROR_ABI_MISMATCH:
    return fail(NTP_ERROR_ABI_MISMATCH, "cannot load " + what + ": " + reason);
  default:
    return fail(NTP_ERROR_BAD_ARTIFACT,
                what + " has a malformed manifest: " + reason);
  }

  // TODO: load CUDA artifacts (manifest device=cuda) through the driver API.
  if (kernel.manifest.device == NTP_DEVICE_CUDA)
    return fail(NTP_ERROR_NO_DEVICE,
                "loading CUDA kernels is not supported by this runtime build "
                "yet");
  return NTP_OK;
}

int loadKernel(const char *path, ntp_kernel **out) {
  if (out)
    *out = nullptr;
  if (!path)
    return fail(NTP_ERROR_INVALID_ARGUMENT, "path is null");
  if (!out)
    return fail(NTP_ERROR_INVALID_ARGUMENT, "out is null");
  std::string file = path;
  if (int status = checkElfFile(file))
    return status;

  // Without a slash, dlopen would search the library path, not the file the
  // ELF check just read.
  std::string dlPath = file.find('/') == std::string::npos ? "./" + file : file;
  auto kernel = std::make_unique<ntp_kernel>(); // closes the handle on failure
  void *handle = kernel->handle =
      ::dlopen(dlPath.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char *reason = ::dlerror();
    return fail(NTP_ERROR_BAD_ARTIFACT,
                "cannot load kernel artifact " + quoted(file) + ": " +
                    (reason ? reason : "dlopen failed"));
  }

  const char *text =
      static_cast<const char *>(findSymbol(handle, "ntp_kernel_manifest"));
  if (!text)
    return fail(NTP_ERROR_BAD_ARTIFACT,
                quoted(file) + " is not an ntp kernel artifact (no "
                               "ntp_kernel_manifest symbol)");
  if (int status = readManifest(text, quoted(file), *kernel))
    return status;

  kernel->forwardTiles = findSymbol(handle, "ntp_kernel_forward_tiles");
  if (!kernel->forwardTiles)
    return fail(NTP_ERROR_BAD_ARTIFACT,
                quoted(file) + " has no ntp_kernel_forward_tiles symbol");
  kernel->backwardTiles = findSymbol(handle, "ntp_kernel_backward_tiles");
  *out = kernel.release();
  return NTP_OK;
}

int createKernel(const char *manifest, void *forwardTiles,
                 void (*release)(void *), void *releaseArg, ntp_kernel **out) {
  if (out)
    *out = nullptr;
  if (!out)
    return fail(NTP_ERROR_INVALID_ARGUMENT, "out is null");
  if (!manifest)
    return fail(NTP_ERROR_INVALID_ARGUMENT, "manifest is null");
  if (!forwardTiles)
    return fail(NTP_ERROR_INVALID_ARGUMENT, "forward_tiles is null");
  auto kernel = std::make_unique<ntp_kernel>();
  if (int status = readManifest(manifest, "the in-memory kernel", *kernel))
    return status;
  kernel->forwardTiles = forwardTiles;
  // Set last: on failure the caller keeps ownership of what it passed.
  kernel->release = release;
  kernel->releaseArg = releaseArg;
  *out = kernel.release();
  return NTP_OK;
}

/// Element counts of the buffers of a call with `batch` points.
struct BufferCounts {
  int64_t x, direction, params, out;
};

/// Computes the counts; false when one does not fit in int64_t.
bool bufferCounts(const ntp_kernel &k, int64_t batch, BufferCounts &counts) {
  const Manifest &m = k.manifest;
  int64_t rows = 0;
  counts.direction = m.layers.front();
  counts.params = m.numParams;
  return !__builtin_mul_overflow(batch, int64_t(m.layers.front()), &counts.x) &&
         !__builtin_mul_overflow(batch, int64_t(m.order) + 1, &rows) &&
         !__builtin_mul_overflow(rows, int64_t(m.layers.back()), &counts.out);
}

/// Checks the arguments common to ntp_forward and ntp_forward_checked.
int checkForwardArgs(const ntp_kernel *k, const void *x, const void *direction,
                     const void *params, void *out, int64_t batch,
                     BufferCounts &counts) {
  if (!k)
    return fail(NTP_ERROR_INVALID_ARGUMENT, "kernel is null");
  if (batch < 0)
    return fail(NTP_ERROR_INVALID_ARGUMENT, "batch is " +
                                                std::to_string(batch) +
                                                "; it must be non-negative");
  if (!direction)
    return fail(NTP_ERROR_INVALID_ARGUMENT, "direction is null");
  if (!params)
    return fail(NTP_ERROR_INVALID_ARGUMENT, "params is null");
  if (batch > 0 && !x)
    return fail(NTP_ERROR_INVALID_ARGUMENT,
                "x is null but batch is " + std::to_string(batch));
  if (batch > 0 && !out)
    return fail(NTP_ERROR_INVALID_ARGUMENT,
                "out is null but batch is " + std::to_string(batch));
  if (!bufferCounts(*k, batch, counts))
    return fail(NTP_ERROR_INVALID_ARGUMENT,
                "batch " + std::to_string(batch) +
                    " is too large: the buffer sizes overflow int64_t");
  return NTP_OK;
}

struct ForwardCall {
  void *forwardTiles;
  const void *x, *direction, *params;
  void *out;
  int64_t batch;
};

template <class T>
using ForwardTilesFn = void (*)(const T *, const T *, const T *, T *, int64_t,
                                int64_t, int64_t);

template <class T> void runTiles(void *ctx, int64_t begin, int64_t end) {
  const ForwardCall &c = *static_cast<const ForwardCall *>(ctx);
  reinterpret_cast<ForwardTilesFn<T>>(c.forwardTiles)(
      static_cast<const T *>(c.x), static_cast<const T *>(c.direction),
      static_cast<const T *>(c.params), static_cast<T *>(c.out), c.batch, begin,
      end);
}

int runForward(ntp_kernel &k, const void *x, const void *direction,
               const void *params, void *out, int64_t batch) {
  if (batch == 0)
    return NTP_OK;
  int64_t tile = k.manifest.tile;
  int64_t tiles = batch / tile + (batch % tile != 0);
  ForwardCall call{k.forwardTiles, x, direction, params, out, batch};
  ntp::rt::ThreadPool::instance().parallelFor(
      tiles, kMinTilesPerThread,
      k.manifest.dtype == NTP_DTYPE_F64 ? runTiles<double> : runTiles<float>,
      &call);
  return NTP_OK;
}

std::string countMismatch(const char *buffer, int64_t given, int64_t expected) {
  return std::string(buffer) + " has " + std::to_string(given) +
         " elements but the kernel expects " + std::to_string(expected);
}

} // namespace

NTP_EXPORT int ntp_kernel_load(const char *path, ntp_kernel **out) {
  return guarded([&]() -> int { return loadKernel(path, out); });
}

NTP_EXPORT int ntp_kernel_create(const char *manifest, void *forward_tiles,
                                 void (*release)(void *), void *release_arg,
                                 ntp_kernel **out) {
  return guarded([&]() -> int {
    return createKernel(manifest, forward_tiles, release, release_arg, out);
  });
}

NTP_EXPORT int ntp_kernel_info_get(const ntp_kernel *k, ntp_kernel_info *info) {
  if (!k)
    return fail(NTP_ERROR_INVALID_ARGUMENT, "kernel is null");
  if (!info)
    return fail(NTP_ERROR_INVALID_ARGUMENT, "info is null");
  const Manifest &m = k->manifest;
  info->order = m.order;
  info->input_dim = m.layers.front();
  info->output_dim = m.layers.back();
  info->num_params = m.numParams;
  info->dtype = m.dtype;
  info->device = m.device;
  return NTP_OK;
}

NTP_EXPORT int ntp_forward(ntp_kernel *k, const void *x, const void *direction,
                           const void *params, void *out, int64_t batch) {
  return guarded([&]() -> int {
    BufferCounts counts;
    if (int status =
            checkForwardArgs(k, x, direction, params, out, batch, counts))
      return status;
    return runForward(*k, x, direction, params, out, batch);
  });
}

NTP_EXPORT int ntp_forward_checked(ntp_kernel *k, const void *x,
                                   int64_t x_count, const void *direction,
                                   int64_t direction_count, const void *params,
                                   int64_t params_count, void *out,
                                   int64_t out_count, int64_t batch) {
  return guarded([&]() -> int {
    BufferCounts counts;
    if (int status =
            checkForwardArgs(k, x, direction, params, out, batch, counts))
      return status;
    if (x_count != counts.x)
      return fail(NTP_ERROR_INVALID_ARGUMENT,
                  countMismatch("x", x_count, counts.x));
    if (direction_count != counts.direction)
      return fail(
          NTP_ERROR_INVALID_ARGUMENT,
          countMismatch("direction", direction_count, counts.direction));
    if (params_count != counts.params)
      return fail(NTP_ERROR_INVALID_ARGUMENT,
                  countMismatch("params", params_count, counts.params));
    if (out_count != counts.out)
      return fail(NTP_ERROR_INVALID_ARGUMENT,
                  countMismatch("out", out_count, counts.out));
    return runForward(*k, x, direction, params, out, batch);
  });
}

NTP_EXPORT int ntp_backward(ntp_kernel *k, const void *, const void *,
                            const void *, const void *, void *, int64_t) {
  return guarded([&]() -> int {
    if (!k)
      return fail(NTP_ERROR_INVALID_ARGUMENT, "kernel is null");
    if (!k->backwardTiles)
      return fail(NTP_ERROR_UNSUPPORTED,
                  "ntp_backward is not supported by this kernel yet (the "
                  "artifact has no backward entry point)");
    // TODO: validate the arguments like ntp_forward and run
    // ntp_kernel_backward_tiles(x, v, params, cotangent, grad, batch,
    // tile_begin, tile_end) over the tiles; per-thread partial gradients
    // must then be summed, since every tile contributes to all of params.
    return fail(NTP_ERROR_UNSUPPORTED,
                "ntp_backward is not supported by this runtime build yet "
                "(it cannot call ntp_kernel_backward_tiles)");
  });
}

NTP_EXPORT void ntp_kernel_free(ntp_kernel *k) { delete k; }

NTP_EXPORT const char *ntp_last_error(void) { return lastError.c_str(); }

NTP_EXPORT void ntp_set_last_error(const char *message) {
  try {
    lastError = message ? message : "";
  } catch (...) {
    lastError.clear();
  }
}

NTP_EXPORT int ntp_kernel_layers(const ntp_kernel *k, int32_t *widths,
                                 int32_t capacity, int32_t *count) {
  return guarded([&]() -> int {
    if (!k)
      return fail(NTP_ERROR_INVALID_ARGUMENT, "kernel is null");
    if (!count)
      return fail(NTP_ERROR_INVALID_ARGUMENT, "count is null");
    if (capacity < 0)
      return fail(NTP_ERROR_INVALID_ARGUMENT, "capacity is " +
                                                  std::to_string(capacity) +
                                                  "; it must be non-negative");
    if (capacity > 0 && !widths)
      return fail(NTP_ERROR_INVALID_ARGUMENT,
                  "widths is null but capacity is " + std::to_string(capacity));
    const std::vector<int32_t> &layers = k->manifest.layers;
    *count = static_cast<int32_t>(layers.size());
    for (size_t i = 0; i < layers.size() && i < size_t(capacity); ++i)
      widths[i] = layers[i];
    return NTP_OK;
  });
}

NTP_EXPORT const char *ntp_kernel_activation(const ntp_kernel *k) {
  if (!k) {
    fail(NTP_ERROR_INVALID_ARGUMENT, "kernel is null");
    return nullptr;
  }
  return k->manifest.activation.c_str();
}

NTP_EXPORT int ntp_set_num_threads(int32_t n) {
  return guarded([&]() -> int {
    ntp::rt::ThreadPool::instance().setNumThreads(n);
    return NTP_OK;
  });
}
