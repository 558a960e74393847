//===- Runtime.cpp - ntp runtime C API ------------------------------------===//
//
// Implements runtime.h: loading kernel artifacts with dlopen (or wrapping
// in-memory entry points, ntp_kernel_create), validating their manifest, and
// running their tile entry point on the thread pool.
// Every entry point catches C++ exceptions; none crosses the C ABI.
//
//===----------------------------------------------------------------------===//
#include "ntp/runtime.h"

#include "Cuda.h"
#include "Manifest.h"
#include "ThreadPool.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#define NTP_EXPORT extern "C" __attribute__((visibility("default")))

struct ntp_kernel {
  void *handle = nullptr;             // from dlopen; null for ntp_kernel_create
  void *forwardTiles = nullptr;       // ntp_kernel_forward_tiles
  void *backwardTiles = nullptr;      // ntp_kernel_backward_tiles, if any
  void *forwardSaveTiles = nullptr;   // ntp_kernel_forward_save_tiles
  void *backwardSavedTiles = nullptr; // ntp_kernel_backward_saved_tiles
  void (*release)(void *) = nullptr;  // ntp_kernel_create's owner callback
  void *releaseArg = nullptr;
  ntp::rt::Manifest manifest;
  /// A CUDA kernel: loaded from a CUDA artifact, launched on the GPU.
  bool cudaArtifact = false;
  ntp::rt::CudaModule *cuda = nullptr;

  ntp_kernel() = default;
  ntp_kernel(const ntp_kernel &) = delete;
  ntp_kernel &operator=(const ntp_kernel &) = delete;
  ~ntp_kernel() {
    if (handle)
      ::dlclose(handle);
    if (release)
      release(releaseArg);
    ntp::rt::cudaUnload(cuda);
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

  // Code for a newer CPU would die of SIGILL in the first call: refuse it
  // while there is still a sentence to say.
  std::vector<std::string> missing =
      ntp::rt::missingCpuFeatures(kernel.manifest.cpuFeatures);
  if (!missing.empty()) {
    std::string list;
    for (const std::string &feature : missing)
      list += (list.empty() ? "" : ", ") + feature;
    return fail(NTP_ERROR_UNSUPPORTED,
                what + " was compiled for the CPU '" +
                    kernel.manifest.targetCpu +
                    "' and needs instructions this CPU lacks (" + list +
                    "): recompile with --target-cpu=native (or an older "
                    "--target-cpu such as x86-64-v3)");
  }
  if (kernel.manifest.device == NTP_DEVICE_CUDA && !kernel.cudaArtifact)
    return fail(NTP_ERROR_UNSUPPORTED,
                what + " describes a CUDA kernel: CUDA kernels are loaded "
                       "from CUDA artifacts with ntp_kernel_load");
  if (kernel.manifest.device != NTP_DEVICE_CUDA && kernel.cudaArtifact)
    return fail(NTP_ERROR_BAD_ARTIFACT,
                what + " is a CUDA artifact whose manifest says device=cpu");
  // The GPU kernels are forward only: ntp_backward & co. would call entry
  // points a CUDA kernel does not have.
  if (kernel.cudaArtifact && kernel.manifest.backward)
    return fail(NTP_ERROR_BAD_ARTIFACT,
                what + " has a malformed manifest: CUDA kernels are forward "
                       "only, but it says backward=1");
  return NTP_OK;
}

constexpr char kCudaMagic[] = "ntp-cuda-artifact\n";
constexpr char kCudaManifestEnd[] = "end-manifest\n";

/// The value of `key` in manifest text, or "".
std::string manifestValue(const std::string &text, const std::string &key) {
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos)
      end = text.size();
    if (text.compare(at, key.size() + 1, key + "=") == 0)
      return text.substr(at + key.size() + 1, end - at - key.size() - 1);
    at = end + 1;
  }
  return "";
}

/// Loads the bytes of a CUDA artifact (see docs/NVPTX.md):
/// "ntp-cuda-artifact\n", the manifest, "end-manifest\n", then image_bytes
/// bytes of PTX or cubin. `what` names the artifact in messages.
int loadCudaArtifactData(const std::string &data, const std::string &what,
                         const std::string &loadWhat, ntp_kernel **out) {
  size_t start = sizeof(kCudaMagic) - 1;
  size_t end = data.find(std::string("\n") + kCudaManifestEnd, start);
  if (data.compare(0, start, kCudaMagic) != 0 || end == std::string::npos ||
      end - start > kMaxManifestSize)
    return fail(NTP_ERROR_BAD_ARTIFACT,
                what + " is a truncated or corrupt CUDA artifact (no "
                       "end of manifest)");
  std::string text = data.substr(start, end + 1 - start);
  size_t imageStart = end + 1 + sizeof(kCudaManifestEnd) - 1;
  auto kernel = std::make_unique<ntp_kernel>();
  kernel->cudaArtifact = true;
  if (int status = readManifest(text.c_str(), what, *kernel))
    return status;
  ntp::rt::CudaImageInfo info;
  info.chip = manifestValue(text, "chip");
  std::string format = manifestValue(text, "format");
  info.isPtx = format == "ptx";
  info.entry = manifestValue(text, "entry");
  std::string blockSize = manifestValue(text, "block_size");
  std::string imageBytes = manifestValue(text, "image_bytes");
  info.blockSize = std::atoi(blockSize.c_str());
  // Optional (older artifacts: one sample per thread).
  std::string samplesPerBlock = manifestValue(text, "samples_per_block");
  info.samplesPerBlock = samplesPerBlock.empty()
                             ? info.blockSize
                             : std::atoi(samplesPerBlock.c_str());
  if (info.chip.empty() || (format != "ptx" && format != "cubin") ||
      info.entry.empty() || info.blockSize <= 0 || info.blockSize > 1024 ||
      imageBytes.empty())
    return fail(NTP_ERROR_BAD_ARTIFACT,
                what + " has a malformed manifest: a CUDA artifact "
                       "needs chip, format (ptx or cubin), entry, "
                       "block_size and image_bytes");
  if (info.samplesPerBlock <= 0 || info.samplesPerBlock > info.blockSize ||
      info.blockSize % info.samplesPerBlock != 0)
    return fail(NTP_ERROR_BAD_ARTIFACT,
                what + " has a malformed manifest: samples_per_block must "
                       "divide block_size");
  if (std::to_string(data.size() - imageStart) != imageBytes)
    return fail(NTP_ERROR_BAD_ARTIFACT,
                what + " is truncated or corrupt: the image has " +
                    std::to_string(data.size() - imageStart) +
                    " bytes, the manifest says " + imageBytes);
  std::string image = data.substr(imageStart); // NUL-terminated for PTX
  std::string reason;
  if (ntp_status status = ntp::rt::cudaLoad(image, info, &kernel->cuda, reason))
    return fail(status, "cannot load CUDA kernel " + loadWhat + ": " + reason);
  *out = kernel.release();
  return NTP_OK;
}

int loadCudaArtifact(const std::string &file, ntp_kernel **out) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return fail(NTP_ERROR_IO, "cannot open kernel artifact " + quoted(file) +
                                  ": " + std::strerror(errno));
  FdGuard guard{fd};
  std::string data;
  char buffer[65536];
  for (;;) {
    ssize_t got = ::read(fd, buffer, sizeof(buffer));
    if (got < 0)
      return fail(NTP_ERROR_IO, "cannot read kernel artifact " + quoted(file) +
                                    ": " + std::strerror(errno));
    if (got == 0)
      break;
    data.append(buffer, static_cast<size_t>(got));
  }
  return loadCudaArtifactData(data, quoted(file), quoted(file), out);
}

/// Whether `file` starts with the CUDA artifact magic.
bool isCudaArtifact(const std::string &file) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  FdGuard guard{fd};
  char head[sizeof(kCudaMagic) - 1];
  return readAt(fd, head, sizeof(head), 0) &&
         std::memcmp(head, kCudaMagic, sizeof(head)) == 0;
}

int loadKernel(const char *path, ntp_kernel **out) {
  if (out)
    *out = nullptr;
  if (!path)
    return fail(NTP_ERROR_INVALID_ARGUMENT, "path is null");
  if (!out)
    return fail(NTP_ERROR_INVALID_ARGUMENT, "out is null");
  std::string file = path;
  if (isCudaArtifact(file))
    return loadCudaArtifact(file, out);
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
  if (kernel->manifest.backward) {
    kernel->backwardTiles = findSymbol(handle, "ntp_kernel_backward_tiles");
    kernel->forwardSaveTiles =
        findSymbol(handle, "ntp_kernel_forward_save_tiles");
    kernel->backwardSavedTiles =
        findSymbol(handle, "ntp_kernel_backward_saved_tiles");
    if (!kernel->backwardTiles || !kernel->forwardSaveTiles ||
        !kernel->backwardSavedTiles)
      return fail(NTP_ERROR_BAD_ARTIFACT,
                  quoted(file) + " declares backward=1 but lacks its entry "
                                 "points");
  }
  *out = kernel.release();
  return NTP_OK;
}

int createKernel(const char *manifest, const ntp_kernel_entry_points &entry,
                 void (*release)(void *), void *releaseArg, ntp_kernel **out) {
  if (out)
    *out = nullptr;
  if (!out)
    return fail(NTP_ERROR_INVALID_ARGUMENT, "out is null");
  if (!manifest)
    return fail(NTP_ERROR_INVALID_ARGUMENT, "manifest is null");
  if (!entry.forward_tiles)
    return fail(NTP_ERROR_INVALID_ARGUMENT, "forward_tiles is null");
  auto kernel = std::make_unique<ntp_kernel>();
  if (int status = readManifest(manifest, "the in-memory kernel", *kernel))
    return status;
  if (kernel->manifest.backward &&
      (!entry.backward_tiles || !entry.forward_save_tiles ||
       !entry.backward_saved_tiles))
    return fail(NTP_ERROR_INVALID_ARGUMENT,
                "the manifest declares backward=1 but a reverse-mode entry "
                "point is null");
  kernel->forwardTiles = entry.forward_tiles;
  if (kernel->manifest.backward) {
    kernel->backwardTiles = entry.backward_tiles;
    kernel->forwardSaveTiles = entry.forward_save_tiles;
    kernel->backwardSavedTiles = entry.backward_saved_tiles;
  }
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
               const void *params, void *out, int64_t batch,
               void *stream = nullptr) {
  if (batch == 0)
    return NTP_OK;
  if (k.cuda) {
    std::string reason;
    if (ntp_status status = ntp::rt::cudaLaunchForward(
            k.cuda, x, direction, params, out, batch, stream, reason))
      return fail(status, reason);
    return NTP_OK;
  }
  int64_t tile = k.manifest.tile;
  int64_t tiles = batch / tile + (batch % tile != 0);
  ForwardCall call{k.forwardTiles, x, direction, params, out, batch};
  ntp::rt::ThreadPool::instance().parallelFor(
      tiles, kMinTilesPerThread,
      k.manifest.dtype == NTP_DTYPE_F64 ? runTiles<double> : runTiles<float>,
      &call);
  return NTP_OK;
}

//===----------------------------------------------------------------------===//
// Reverse mode
//===----------------------------------------------------------------------===//

/// One backward call: the generated entry point adds the parameter gradient
/// of its tiles into a grad buffer and writes x_grad for its tiles. Every
/// tile contributes to every parameter, so each chunk of tiles gets a private
/// buffer, summed under a mutex at its end.
struct BackwardCall {
  void *tiles; // backward_tiles or backward_saved_tiles
  const void *x, *direction, *params, *cotangent;
  void *xGrad;           // never null (scratch if the caller passed none)
  const void *workspace; // null for the recomputing backward
  int64_t batch, numParams;
  std::mutex mutex;
  void *total; // T[numParams], zeroed
};

template <class T>
using BackwardTilesFn = void (*)(const T *, const T *, const T *, const T *,
                                 T *, T *, int64_t, int64_t, int64_t);
template <class T>
using BackwardSavedTilesFn = void (*)(const T *, const T *, const T *,
                                      const T *, T *, T *, const T *, int64_t,
                                      int64_t, int64_t);

template <class T>
void runBackwardTiles(void *ctx, int64_t begin, int64_t end) {
  BackwardCall &c = *static_cast<BackwardCall *>(ctx);
  std::vector<T> grad(static_cast<size_t>(c.numParams), T(0));
  auto x = static_cast<const T *>(c.x);
  auto v = static_cast<const T *>(c.direction);
  auto p = static_cast<const T *>(c.params);
  auto cot = static_cast<const T *>(c.cotangent);
  auto xGrad = static_cast<T *>(c.xGrad);
  if (c.workspace)
    reinterpret_cast<BackwardSavedTilesFn<T>>(c.tiles)(
        x, v, p, cot, grad.data(), xGrad, static_cast<const T *>(c.workspace),
        c.batch, begin, end);
  else
    reinterpret_cast<BackwardTilesFn<T>>(c.tiles)(x, v, p, cot, grad.data(),
                                                  xGrad, c.batch, begin, end);
  std::lock_guard<std::mutex> lock(c.mutex);
  T *total = static_cast<T *>(c.total);
  for (size_t i = 0; i < grad.size(); ++i)
    total[i] += grad[i];
}

template <class T>
void runBackwardTyped(ntp_kernel &k, BackwardCall &call, void *paramsGrad,
                      void *xGrad) {
  const Manifest &m = k.manifest;
  std::vector<T> total(static_cast<size_t>(m.numParams), T(0));
  std::vector<T> xScratch;
  if (!xGrad) {
    xScratch.resize(static_cast<size_t>(call.batch * m.layers.front()));
    xGrad = xScratch.data();
  }
  call.total = total.data();
  call.xGrad = xGrad;
  int64_t tiles = call.batch / m.tile + (call.batch % m.tile != 0);
  ntp::rt::ThreadPool::instance().parallelFor(tiles, kMinTilesPerThread,
                                              runBackwardTiles<T>, &call);
  if (paramsGrad)
    std::copy(total.begin(), total.end(), static_cast<T *>(paramsGrad));
}

/// Checks what every reverse-mode call needs beyond the forward's checks.
int checkBackwardArgs(const ntp_kernel *k, const char *function, const void *x,
                      const void *direction, const void *params,
                      const void *cotangent, const void *paramsGrad,
                      const void *xGrad, int64_t batch) {
  BufferCounts counts;
  // The cotangent has the shape of out; reuse the forward's checks for it.
  if (int status =
          checkForwardArgs(k, x, direction, params,
                           const_cast<void *>(cotangent), batch, counts))
    return status == NTP_ERROR_INVALID_ARGUMENT &&
                   lastError.rfind("out is null", 0) == 0
               ? fail(NTP_ERROR_INVALID_ARGUMENT,
                      "out_cotangent is null but batch is " +
                          std::to_string(batch))
               : status;
  if (!k->manifest.backward)
    return fail(NTP_ERROR_UNSUPPORTED,
                std::string(function) +
                    " is not supported by this kernel: it was compiled "
                    "without the reverse-mode entry points");
  if (!paramsGrad && !xGrad)
    return fail(NTP_ERROR_INVALID_ARGUMENT,
                "params_grad and x_grad are both null; nothing to compute");
  return NTP_OK;
}

int runBackward(ntp_kernel &k, void *tiles, const void *x,
                const void *direction, const void *params,
                const void *cotangent, void *paramsGrad, void *xGrad,
                const void *workspace, int64_t batch) {
  const Manifest &m = k.manifest;
  if (batch == 0) {
    // The gradient of an empty sum is zero.
    if (paramsGrad)
      std::memset(paramsGrad, 0,
                  static_cast<size_t>(m.numParams) *
                      (m.dtype == NTP_DTYPE_F64 ? 8 : 4));
    return NTP_OK;
  }
  BackwardCall call;
  call.tiles = tiles;
  call.x = x;
  call.direction = direction;
  call.params = params;
  call.cotangent = cotangent;
  call.workspace = workspace;
  call.batch = batch;
  call.numParams = m.numParams;
  if (m.dtype == NTP_DTYPE_F64)
    runBackwardTyped<double>(k, call, paramsGrad, xGrad);
  else
    runBackwardTyped<float>(k, call, paramsGrad, xGrad);
  return NTP_OK;
}

/// Elements of the workspace for `batch` points; false on overflow.
bool workspaceCount(const ntp_kernel &k, int64_t batch, int64_t &count) {
  int64_t tiles = batch / k.manifest.tile + (batch % k.manifest.tile != 0);
  return !__builtin_mul_overflow(tiles, k.manifest.workspacePerTile, &count);
}

struct ForwardSaveCall {
  void *tiles;
  const void *x, *direction, *params;
  void *out, *workspace;
  int64_t batch;
};

template <class T>
using ForwardSaveTilesFn = void (*)(const T *, const T *, const T *, T *, T *,
                                    int64_t, int64_t, int64_t);

template <class T>
void runForwardSaveTiles(void *ctx, int64_t begin, int64_t end) {
  const ForwardSaveCall &c = *static_cast<const ForwardSaveCall *>(ctx);
  reinterpret_cast<ForwardSaveTilesFn<T>>(c.tiles)(
      static_cast<const T *>(c.x), static_cast<const T *>(c.direction),
      static_cast<const T *>(c.params), static_cast<T *>(c.out),
      static_cast<T *>(c.workspace), c.batch, begin, end);
}

std::string countMismatch(const char *buffer, int64_t given, int64_t expected) {
  return std::string(buffer) + " has " + std::to_string(given) +
         " elements but the kernel expects " + std::to_string(expected);
}

} // namespace

NTP_EXPORT int ntp_kernel_load(const char *path, ntp_kernel **out) {
  return guarded([&]() -> int { return loadKernel(path, out); });
}

NTP_EXPORT int ntp_kernel_load_memory(const void *data, int64_t size,
                                      ntp_kernel **out) {
  return guarded([&]() -> int {
    if (out)
      *out = nullptr;
    if (!data)
      return fail(NTP_ERROR_INVALID_ARGUMENT, "data is null");
    if (!out)
      return fail(NTP_ERROR_INVALID_ARGUMENT, "out is null");
    if (size < 0)
      return fail(NTP_ERROR_INVALID_ARGUMENT,
                  "size is " + std::to_string(size) + "; it must be >= 0");
    std::string bytes(static_cast<const char *>(data),
                      static_cast<size_t>(size));
    if (bytes.compare(0, sizeof(kCudaMagic) - 1, kCudaMagic) != 0)
      return fail(NTP_ERROR_UNSUPPORTED,
                  "the in-memory artifact is not a CUDA artifact: only CUDA "
                  "artifacts load from memory; load shared objects with "
                  "ntp_kernel_load");
    return loadCudaArtifactData(bytes, "the in-memory CUDA artifact",
                                "from memory", out);
  });
}

NTP_EXPORT int ntp_cuda_device_arch(int32_t device, int32_t *sm) {
  return guarded([&]() -> int {
    if (!sm)
      return fail(NTP_ERROR_INVALID_ARGUMENT, "sm is null");
    *sm = 0;
    if (device < 0)
      return fail(NTP_ERROR_INVALID_ARGUMENT,
                  "device is " + std::to_string(device) + "; it must be >= 0");
    std::string reason;
    if (ntp_status status = ntp::rt::cudaDeviceArch(device, *sm, reason))
      return fail(status, reason);
    return NTP_OK;
  });
}

NTP_EXPORT int ntp_kernel_create(const char *manifest, void *forward_tiles,
                                 void (*release)(void *), void *release_arg,
                                 ntp_kernel **out) {
  return guarded([&]() -> int {
    ntp_kernel_entry_points entry = {forward_tiles, nullptr, nullptr, nullptr};
    return createKernel(manifest, entry, release, release_arg, out);
  });
}

NTP_EXPORT int ntp_kernel_create_with(const char *manifest,
                                      const ntp_kernel_entry_points *entry,
                                      void (*release)(void *),
                                      void *release_arg, ntp_kernel **out) {
  return guarded([&]() -> int {
    if (!entry) {
      if (out)
        *out = nullptr;
      return fail(NTP_ERROR_INVALID_ARGUMENT, "entry points are null");
    }
    return createKernel(manifest, *entry, release, release_arg, out);
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

NTP_EXPORT int ntp_forward_async(ntp_kernel *k, const void *x,
                                 const void *direction, const void *params,
                                 void *out, int64_t batch, void *stream) {
  return guarded([&]() -> int {
    BufferCounts counts;
    if (int status =
            checkForwardArgs(k, x, direction, params, out, batch, counts))
      return status;
    if (!k->cuda && stream)
      return fail(NTP_ERROR_INVALID_ARGUMENT,
                  "a stream was given for a CPU kernel");
    return runForward(*k, x, direction, params, out, batch, stream);
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

NTP_EXPORT int ntp_backward(ntp_kernel *k, const void *x, const void *direction,
                            const void *params, const void *out_cotangent,
                            void *params_grad, int64_t batch) {
  return guarded([&]() -> int {
    if (!params_grad)
      return fail(NTP_ERROR_INVALID_ARGUMENT, "params_grad is null");
    if (int status =
            checkBackwardArgs(k, "ntp_backward", x, direction, params,
                              out_cotangent, params_grad, nullptr, batch))
      return status;
    return runBackward(*k, k->backwardTiles, x, direction, params,
                       out_cotangent, params_grad, nullptr, nullptr, batch);
  });
}

NTP_EXPORT int ntp_backward_full(ntp_kernel *k, const void *x,
                                 const void *direction, const void *params,
                                 const void *out_cotangent, void *params_grad,
                                 void *x_grad, int64_t batch) {
  return guarded([&]() -> int {
    if (int status =
            checkBackwardArgs(k, "ntp_backward_full", x, direction, params,
                              out_cotangent, params_grad, x_grad, batch))
      return status;
    return runBackward(*k, k->backwardTiles, x, direction, params,
                       out_cotangent, params_grad, x_grad, nullptr, batch);
  });
}

NTP_EXPORT int ntp_workspace_size(const ntp_kernel *k, int64_t batch,
                                  int64_t *bytes) {
  return guarded([&]() -> int {
    if (!k)
      return fail(NTP_ERROR_INVALID_ARGUMENT, "kernel is null");
    if (!bytes)
      return fail(NTP_ERROR_INVALID_ARGUMENT, "bytes is null");
    if (batch < 0)
      return fail(NTP_ERROR_INVALID_ARGUMENT, "batch is " +
                                                  std::to_string(batch) +
                                                  "; it must be non-negative");
    if (!k->manifest.backward)
      return fail(NTP_ERROR_UNSUPPORTED,
                  "this kernel was compiled without the reverse-mode entry "
                  "points, so it has no workspace");
    int64_t count;
    if (!workspaceCount(*k, batch, count) ||
        __builtin_mul_overflow(
            count, int64_t(k->manifest.dtype == NTP_DTYPE_F64 ? 8 : 4), bytes))
      return fail(NTP_ERROR_INVALID_ARGUMENT,
                  "batch " + std::to_string(batch) +
                      " is too large: the workspace size overflows int64_t");
    return NTP_OK;
  });
}

NTP_EXPORT int ntp_forward_save(ntp_kernel *k, const void *x,
                                const void *direction, const void *params,
                                void *out, void *workspace, int64_t batch) {
  return guarded([&]() -> int {
    BufferCounts counts;
    if (int status =
            checkForwardArgs(k, x, direction, params, out, batch, counts))
      return status;
    if (!k->manifest.backward)
      return fail(NTP_ERROR_UNSUPPORTED,
                  "ntp_forward_save is not supported by this kernel: it was "
                  "compiled without the reverse-mode entry points");
    if (batch > 0 && !workspace)
      return fail(NTP_ERROR_INVALID_ARGUMENT,
                  "workspace is null but batch is " + std::to_string(batch));
    if (batch == 0)
      return NTP_OK;
    int64_t tiles = batch / k->manifest.tile + (batch % k->manifest.tile != 0);
    ForwardSaveCall call{k->forwardSaveTiles, x,    direction, params, out,
                         workspace,           batch};
    ntp::rt::ThreadPool::instance().parallelFor(
        tiles, kMinTilesPerThread,
        k->manifest.dtype == NTP_DTYPE_F64 ? runForwardSaveTiles<double>
                                           : runForwardSaveTiles<float>,
        &call);
    return NTP_OK;
  });
}

NTP_EXPORT int ntp_backward_saved(ntp_kernel *k, const void *x,
                                  const void *direction, const void *params,
                                  const void *out_cotangent, void *params_grad,
                                  void *x_grad, const void *workspace,
                                  int64_t batch) {
  return guarded([&]() -> int {
    if (int status =
            checkBackwardArgs(k, "ntp_backward_saved", x, direction, params,
                              out_cotangent, params_grad, x_grad, batch))
      return status;
    if (batch > 0 && !workspace)
      return fail(NTP_ERROR_INVALID_ARGUMENT,
                  "workspace is null but batch is " + std::to_string(batch));
    return runBackward(*k, k->backwardSavedTiles, x, direction, params,
                       out_cotangent, params_grad, x_grad, workspace, batch);
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
