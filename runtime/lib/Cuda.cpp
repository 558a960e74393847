//===- Cuda.cpp - CUDA kernels through the driver API, opened at run time -===//

#include "Cuda.h"

#include "ntp/artifact.hpp"

#include <cstdlib>
#include <dlfcn.h>
#include <map>
#include <mutex>

namespace {

// The few driver API types and functions used, declared here so that the
// runtime needs neither cuda.h nor libcuda at build time.
using CUresult = int;
using CUdevice = int;
using CUcontext = void *;
using CUmodule = void *;
using CUfunction = void *;
using CUstream = void *;
constexpr CUresult CUDA_SUCCESS = 0;
constexpr CUresult kErrorNoDevice = 100; // CUDA_ERROR_NO_DEVICE
constexpr int kAttrComputeCapabilityMajor = 75;
constexpr int kAttrComputeCapabilityMinor = 76;

struct Driver {
  void *handle = nullptr;
  std::string error; // why the driver is unusable, if it is
  CUresult (*cuInit)(unsigned);
  CUresult (*cuDeviceGet)(CUdevice *, int);
  CUresult (*cuDeviceGetCount)(int *);
  CUresult (*cuDeviceGetAttribute)(int *, int, CUdevice);
  CUresult (*cuDeviceGetName)(char *, int, CUdevice);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
  CUresult (*cuDevicePrimaryCtxRelease)(CUdevice);
  CUresult (*cuCtxGetCurrent)(CUcontext *);
  CUresult (*cuCtxSetCurrent)(CUcontext);
  CUresult (*cuCtxGetDevice)(CUdevice *);
  CUresult (*cuModuleLoadDataEx)(CUmodule *, const void *, unsigned, int *,
                                 void **);
  CUresult (*cuModuleUnload)(CUmodule);
  CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned,
                             unsigned, unsigned, unsigned, CUstream, void **,
                             void **);
  CUresult (*cuGetErrorString)(CUresult, const char **);
  // Optional (CUDA 11.2 and later): only ntp_backward on a GPU needs them.
  CUresult (*cuMemAllocAsync)(void **, size_t, CUstream) = nullptr;
  CUresult (*cuMemFreeAsync)(void *, CUstream) = nullptr;

  std::string describe(CUresult result) const {
    const char *text = nullptr;
    if (cuGetErrorString && cuGetErrorString(result, &text) == CUDA_SUCCESS &&
        text)
      return std::string(text) + " (CUDA error " + std::to_string(result) + ")";
    return "CUDA error " + std::to_string(result);
  }
};

template <class Fn> bool resolve(void *handle, Fn &fn, const char *name) {
  fn = reinterpret_cast<Fn>(::dlsym(handle, name));
  return fn != nullptr;
}

/// The driver, opened once per process.
const Driver &driver() {
  static Driver d;
  static std::once_flag once;
  std::call_once(once, [] {
    const char *configured = std::getenv("NTP_LIBCUDA");
    std::string library =
        configured && *configured ? configured : "libcuda.so.1";
    d.handle = ::dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!d.handle) {
      const char *why = ::dlerror();
      d.error = "no CUDA driver: cannot load " + library + " (" +
                (why ? why : "unknown error") + ")";
      return;
    }
#define NTP_RESOLVE(name)                                                      \
  if (!resolve(d.handle, d.name, #name)) {                                     \
    d.error = "no usable CUDA driver: " + library + " lacks " #name;           \
    return;                                                                    \
  }
    NTP_RESOLVE(cuInit)
    NTP_RESOLVE(cuDeviceGet)
    NTP_RESOLVE(cuDeviceGetCount)
    NTP_RESOLVE(cuDeviceGetAttribute)
    NTP_RESOLVE(cuDeviceGetName)
    NTP_RESOLVE(cuDevicePrimaryCtxRetain)
    // cuda.h maps cuDevicePrimaryCtxRelease to its _v2 (CUDA 11 and later);
    // a driver older than that exports only the unversioned name.
    if (!resolve(d.handle, d.cuDevicePrimaryCtxRelease,
                 "cuDevicePrimaryCtxRelease_v2"))
      NTP_RESOLVE(cuDevicePrimaryCtxRelease)
    NTP_RESOLVE(cuCtxGetCurrent)
    NTP_RESOLVE(cuCtxSetCurrent)
    NTP_RESOLVE(cuCtxGetDevice)
    NTP_RESOLVE(cuModuleLoadDataEx)
    NTP_RESOLVE(cuModuleUnload)
    NTP_RESOLVE(cuModuleGetFunction)
    NTP_RESOLVE(cuLaunchKernel)
    NTP_RESOLVE(cuGetErrorString)
#undef NTP_RESOLVE
    // cuda.h names the device pointer type CUdeviceptr (an integer of
    // pointer size): void * here.
    resolve(d.handle, d.cuMemAllocAsync, "cuMemAllocAsync");
    resolve(d.handle, d.cuMemFreeAsync, "cuMemFreeAsync");
    if (CUresult r = d.cuInit(0); r != CUDA_SUCCESS) {
      // A driver on a machine without a GPU fails cuInit with
      // CUDA_ERROR_NO_DEVICE: that is no device, not no driver.
      d.error = r == kErrorNoDevice
                    ? "no CUDA device: cuInit in " + library + " finds no GPU"
                    : "no CUDA driver: cuInit failed in " + library + ": " +
                          d.describe(r);
      return;
    }
    int count = 0;
    if (d.cuDeviceGetCount(&count) != CUDA_SUCCESS || count == 0)
      d.error = "no CUDA device: the driver reports no GPU";
  });
  return d;
}

/// "sm_90" / "sm_90a" -> 90; -1 if malformed. At most four digits, so the
/// number cannot overflow (the manifest parser already refused worse).
int smVersion(const std::string &chip) {
  if (chip.size() < 5 || chip.compare(0, 3, "sm_") != 0)
    return -1;
  int value = 0;
  size_t i = 3;
  for (; i < chip.size() && chip[i] >= '0' && chip[i] <= '9'; ++i) {
    if (i - 3 == 4)
      return -1;
    value = value * 10 + (chip[i] - '0');
  }
  if (i < 5 || (i < chip.size() && !(chip[i] == 'a' && i + 1 == chip.size())))
    return -1;
  return value;
}

/// The primary contexts the runtime retained, per device: one driver
/// reference per device, held while any kernel loaded into it is alive (the
/// driver destroys a primary context when its last reference goes). Counted
/// per device rather than per kernel because a later load on the same thread
/// finds the context already current and retains nothing: it depends on the
/// first load's reference.
struct PrimaryContexts {
  struct Entry {
    CUcontext context = nullptr;
    int kernels = 0; // live kernels loaded into `context`
  };
  std::mutex mutex;
  std::map<CUdevice, Entry> devices;

  /// Device `device`'s primary context, retained for one more kernel.
  CUresult acquire(const Driver &d, CUdevice device, CUcontext &context) {
    std::lock_guard<std::mutex> lock(mutex);
    Entry &entry = devices[device];
    if (entry.kernels == 0) {
      if (CUresult r = d.cuDevicePrimaryCtxRetain(&entry.context, device);
          r != CUDA_SUCCESS)
        return r;
    }
    ++entry.kernels;
    context = entry.context;
    return CUDA_SUCCESS;
  }
  /// If `context` is a primary context the runtime retained (still current
  /// on this thread after its kernels were freed, say), counts one more
  /// kernel in it, retaining it again if none is left, and sets `device`;
  /// else leaves `device` at -1: a context of the caller's, which the caller
  /// keeps alive.
  CUresult adopt(const Driver &d, CUcontext context, CUdevice &device) {
    std::lock_guard<std::mutex> lock(mutex);
    for (auto &[ordinal, entry] : devices) {
      if (entry.context != context)
        continue;
      if (entry.kernels == 0) {
        if (CUresult r = d.cuDevicePrimaryCtxRetain(&entry.context, ordinal);
            r != CUDA_SUCCESS)
          return r;
      }
      ++entry.kernels;
      device = ordinal;
      break;
    }
    return CUDA_SUCCESS;
  }
  /// One kernel fewer in `device`'s primary context: the last one releases
  /// the runtime's reference.
  void release(const Driver &d, CUdevice device) {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = devices.find(device);
    if (it == devices.end() || it->second.kernels == 0)
      return;
    if (--it->second.kernels == 0)
      d.cuDevicePrimaryCtxRelease(device);
  }
};

PrimaryContexts &primaryContexts() {
  static PrimaryContexts *contexts = new PrimaryContexts; // never destroyed:
  return *contexts; // kernels may be freed by other static destructors
}

} // namespace

struct ntp::rt::CudaModule {
  CUcontext context = nullptr;
  CUdevice primaryDevice = -1; // whose primary context the runtime retained
  CUmodule module = nullptr;
  CUfunction function = nullptr;
  int blockSize = 128;
  int samplesPerBlock = 128;
  // The reverse mode's kernels; null without it.
  CUfunction forwardSave = nullptr, backwardSaved = nullptr, reduce = nullptr;
};

using namespace ntp::rt;

ntp_status ntp::rt::cudaLoad(const std::string &image,
                             const CudaImageInfo &info, CudaModule **out,
                             std::string &error) {
  *out = nullptr;
  const Driver &d = driver();
  if (!d.error.empty()) {
    error = d.error;
    return NTP_ERROR_NO_DEVICE;
  }
  CUcontext context = nullptr;
  if (CUresult r = d.cuCtxGetCurrent(&context); r != CUDA_SUCCESS) {
    error = "cannot query the current CUDA context: " + d.describe(r);
    return NTP_ERROR_NO_DEVICE;
  }
  // The device whose primary context this kernel holds a reference to, given
  // back on every error path below.
  struct Hold {
    const Driver &d;
    CUdevice device = -1;
    ~Hold() {
      if (device >= 0)
        primaryContexts().release(d, device);
    }
  } hold{d};
  if (context) {
    if (CUresult r = primaryContexts().adopt(d, context, hold.device);
        r != CUDA_SUCCESS) {
      error = "cannot retain the current CUDA context: " + d.describe(r);
      return NTP_ERROR_NO_DEVICE;
    }
  } else {
    // No context on this thread: device $NTP_CUDA_DEVICE (default 0)'s
    // primary context, the one the CUDA runtime (and PyTorch) use.
    const char *configured = std::getenv("NTP_CUDA_DEVICE");
    int ordinal = configured && *configured ? std::atoi(configured) : 0;
    CUdevice device;
    if (CUresult r = d.cuDeviceGet(&device, ordinal); r != CUDA_SUCCESS) {
      error =
          "no CUDA device " + std::to_string(ordinal) + ": " + d.describe(r);
      return NTP_ERROR_NO_DEVICE;
    }
    CUresult r = primaryContexts().acquire(d, device, context);
    if (r == CUDA_SUCCESS) {
      hold.device = device;
      r = d.cuCtxSetCurrent(context);
    }
    if (r != CUDA_SUCCESS) {
      error = "cannot create a CUDA context: " + d.describe(r);
      return NTP_ERROR_NO_DEVICE;
    }
  }
  CUdevice device;
  int major = 0, minor = 0;
  char name[128] = "unknown GPU";
  if (d.cuCtxGetDevice(&device) != CUDA_SUCCESS ||
      d.cuDeviceGetAttribute(&major, kAttrComputeCapabilityMajor, device) !=
          CUDA_SUCCESS ||
      d.cuDeviceGetAttribute(&minor, kAttrComputeCapabilityMinor, device) !=
          CUDA_SUCCESS) {
    error = "cannot query the compute capability of the current GPU";
    return NTP_ERROR_NO_DEVICE;
  }
  d.cuDeviceGetName(name, sizeof(name) - 1, device);
  int have = major * 10 + minor, want = smVersion(info.chip);
  std::string gpu = std::string(name) + ", sm_" + std::to_string(have);
  if (want < 0) {
    error = "the artifact names an unknown architecture '" + info.chip + "'";
    return NTP_ERROR_BAD_ARTIFACT;
  }
  if (want > have) {
    error = "the kernel was compiled for " + info.chip +
            ", newer than this GPU (" + gpu +
            "): recompile with ntp-compile --chip=sm_" + std::to_string(have);
    return NTP_ERROR_UNSUPPORTED;
  }
  // sm_90a and the like use architecture-specific instructions: neither
  // their PTX nor their cubin runs on any other architecture.
  if (info.chip.back() == 'a' && want != have) {
    error = "the kernel was compiled for " + info.chip +
            ", whose architecture-specific code runs only on sm_" +
            std::to_string(want) + " GPUs, not this one (" + gpu +
            "): recompile with --chip=sm_" + std::to_string(have);
    return NTP_ERROR_UNSUPPORTED;
  }
  if (!info.isPtx && want / 10 != major) {
    error = "the kernel is a cubin for " + info.chip +
            ", which does not run on this GPU (" + gpu +
            "): recompile with --chip=sm_" + std::to_string(have) +
            ", or ship PTX (--gpu-format=ptx)";
    return NTP_ERROR_UNSUPPORTED;
  }
  CUmodule module = nullptr;
  if (CUresult r =
          d.cuModuleLoadDataEx(&module, image.c_str(), 0, nullptr, nullptr);
      r != CUDA_SUCCESS) {
    error = "the CUDA driver rejected the kernel image (" +
            std::string(info.isPtx ? "PTX" : "cubin") + " for " + info.chip +
            " on " + gpu + "): " + d.describe(r);
    return NTP_ERROR_BAD_ARTIFACT;
  }
  CUfunction function = nullptr;
  if (CUresult r = d.cuModuleGetFunction(&function, module, info.entry.c_str());
      r != CUDA_SUCCESS) {
    d.cuModuleUnload(module);
    error =
        "the kernel image has no entry '" + info.entry + "': " + d.describe(r);
    return NTP_ERROR_BAD_ARTIFACT;
  }
  CUfunction reverse[3] = {nullptr, nullptr, nullptr};
  const std::string *reverseEntries[3] = {
      &info.forwardSaveEntry, &info.backwardSavedEntry, &info.reduceEntry};
  for (int i = 0; i < 3; ++i) {
    const std::string &entry = *reverseEntries[i];
    if (entry.empty())
      continue;
    if (CUresult r = d.cuModuleGetFunction(&reverse[i], module, entry.c_str());
        r != CUDA_SUCCESS) {
      d.cuModuleUnload(module);
      error = "the kernel image has no entry '" + entry + "': " + d.describe(r);
      return NTP_ERROR_BAD_ARTIFACT;
    }
  }
  *out = new CudaModule{context,    hold.device,    module,
                        function,   info.blockSize, info.samplesPerBlock,
                        reverse[0], reverse[1],     reverse[2]};
  hold.device = -1; // the kernel's now, released by cudaUnload
  return NTP_OK;
}

namespace {

/// Makes the module's context current for the scope (the module lives in
/// it) and gives the caller back whatever context was current (another
/// device's, say) afterwards.
struct KernelContext {
  const Driver &d;
  CUcontext previous = nullptr, used = nullptr;
  bool ok = false;
  KernelContext(const Driver &d, CudaModule *m, std::string &error) : d(d) {
    if (CUresult r = d.cuCtxGetCurrent(&previous); r != CUDA_SUCCESS) {
      error = "cannot query the current CUDA context: " + d.describe(r);
      return;
    }
    used = m->context;
    if (previous != used) {
      if (CUresult r = d.cuCtxSetCurrent(used); r != CUDA_SUCCESS) {
        error =
            "cannot make the kernel's CUDA context current: " + d.describe(r);
        return;
      }
    }
    ok = true;
  }
  ~KernelContext() {
    if (previous && previous != used)
      d.cuCtxSetCurrent(previous);
  }
};

/// ceil(batch / perBlock) blocks, or an error past the grid's limit.
ntp_status gridFor(int64_t batch, int64_t perBlock, unsigned &blocks,
                   std::string &error) {
  // Not (batch + perBlock - 1) / perBlock: that overflows near INT64_MAX.
  int64_t n = batch / perBlock + (batch % perBlock != 0);
  if (n > 0x7fffffff) {
    error = "batch " + std::to_string(batch) + " is too large for one launch";
    return NTP_ERROR_INVALID_ARGUMENT;
  }
  blocks = static_cast<unsigned>(n);
  return NTP_OK;
}

ntp_status launch(const Driver &d, CUfunction function, unsigned blocks,
                  unsigned threads, void *stream, void **args,
                  std::string &error) {
  if (CUresult r =
          d.cuLaunchKernel(function, blocks, 1, 1, threads, 1, 1, 0,
                           static_cast<CUstream>(stream), args, nullptr);
      r != CUDA_SUCCESS) {
    error = "launching the CUDA kernel failed: " + d.describe(r);
    return NTP_ERROR_INTERNAL;
  }
  return NTP_OK;
}

/// `base` advanced by `elements` elements of `bytes` bytes.
void *advance(void *base, int64_t elements, int64_t bytes) {
  return static_cast<char *>(base) + elements * bytes;
}

} // namespace

ntp_status ntp::rt::cudaLaunchForwardSave(CudaModule *m, const void *x,
                                          const void *direction,
                                          const void *params, void *out,
                                          void *jets, int64_t batch,
                                          void *stream, std::string &error) {
  const Driver &d = driver();
  KernelContext scope(d, m, error);
  if (!scope.ok)
    return NTP_ERROR_INTERNAL;
  unsigned blocks = 0;
  if (ntp_status status = gridFor(batch, m->samplesPerBlock, blocks, error))
    return status;
  // (T *x, T *v, T *params, T *out, T *jets, i64 batch)
  void *args[] = {&x, &direction, &params, &out, &jets, &batch};
  return launch(d, m->forwardSave, blocks, m->blockSize, stream, args, error);
}

ntp_status ntp::rt::cudaLaunchBackwardSaved(CudaModule *m,
                                            const CudaBackwardCall &c,
                                            void *stream, std::string &error) {
  const Driver &d = driver();
  KernelContext scope(d, m, error);
  if (!scope.ok)
    return NTP_ERROR_INTERNAL;
  unsigned blocks = 0;
  if (ntp_status status = gridFor(c.batch, m->samplesPerBlock, blocks, error))
    return status;
  // The workspace after the jets: gradient columns [P, batch], partials
  // [blocks, P], then the scratch x gradient (cudaWorkspaceElements).
  void *columns = advance(c.jets, c.jetElements, c.elementBytes);
  void *partials = advance(columns, c.numParams * c.batch, c.elementBytes);
  void *xScratch =
      advance(partials, int64_t(blocks) * c.numParams, c.elementBytes);
  void *xGrad = c.xGrad ? c.xGrad : xScratch;
  int64_t batch = c.batch;
  const void *x = c.x, *direction = c.direction, *params = c.params,
             *cotangent = c.cotangent;
  void *jets = c.jets;
  if (batch > 0) {
    // (T *x, T *v, T *params, T *cotangent, T *columns, T *x_grad,
    //  T *jets, T *partials, i64 batch)
    void *args[] = {&x,     &direction, &params,   &cotangent, &columns,
                    &xGrad, &jets,      &partials, &batch};
    if (ntp_status status = launch(d, m->backwardSaved, blocks, m->blockSize,
                                   stream, args, error))
      return status;
  }
  if (!c.paramsGrad)
    return NTP_OK;
  // (T *partials, T *params_grad, i64 rows): a thread per parameter.
  void *paramsGrad = c.paramsGrad;
  int64_t rows = blocks;
  unsigned reduceBlocks = 0;
  gridFor(c.numParams, artifact::kCudaReduceBlockSize, reduceBlocks, error);
  void *args[] = {&partials, &paramsGrad, &rows};
  return launch(d, m->reduce, reduceBlocks,
                static_cast<unsigned>(artifact::kCudaReduceBlockSize), stream,
                args, error);
}

ntp_status ntp::rt::cudaAllocAsync(CudaModule *m, int64_t bytes, void *stream,
                                   void **out, std::string &error) {
  const Driver &d = driver();
  *out = nullptr;
  if (!d.cuMemAllocAsync || !d.cuMemFreeAsync) {
    error = "the CUDA driver lacks cuMemAllocAsync (CUDA 11.2 or later), "
            "which ntp_backward needs for its workspace: use "
            "ntp_forward_save and ntp_backward_saved with a workspace of "
            "your own";
    return NTP_ERROR_UNSUPPORTED;
  }
  KernelContext scope(d, m, error);
  if (!scope.ok)
    return NTP_ERROR_INTERNAL;
  if (CUresult r = d.cuMemAllocAsync(out, static_cast<size_t>(bytes),
                                     static_cast<CUstream>(stream));
      r != CUDA_SUCCESS) {
    error = "cannot allocate the " + std::to_string(bytes) +
            "-byte workspace of ntp_backward on the GPU: " + d.describe(r);
    return NTP_ERROR_INTERNAL;
  }
  return NTP_OK;
}

ntp_status ntp::rt::cudaFreeAsync(CudaModule *m, void *pointer, void *stream,
                                  std::string &error) {
  const Driver &d = driver();
  KernelContext scope(d, m, error);
  if (!scope.ok)
    return NTP_ERROR_INTERNAL;
  if (CUresult r = d.cuMemFreeAsync(pointer, static_cast<CUstream>(stream));
      r != CUDA_SUCCESS) {
    error = "cannot free the workspace of ntp_backward on the GPU: " +
            d.describe(r);
    return NTP_ERROR_INTERNAL;
  }
  return NTP_OK;
}

ntp_status ntp::rt::cudaLaunchForward(CudaModule *m, const void *x,
                                      const void *direction, const void *params,
                                      void *out, int64_t batch, void *stream,
                                      std::string &error) {
  const Driver &d = driver();
  // The module lives in the context it was loaded into: launch there, and
  // give the caller back whatever context was current (another device's,
  // say) afterwards.
  CUcontext previous = nullptr;
  if (CUresult r = d.cuCtxGetCurrent(&previous); r != CUDA_SUCCESS) {
    error = "cannot query the current CUDA context: " + d.describe(r);
    return NTP_ERROR_INTERNAL;
  }
  if (previous != m->context) {
    if (CUresult r = d.cuCtxSetCurrent(m->context); r != CUDA_SUCCESS) {
      error = "cannot make the kernel's CUDA context current: " + d.describe(r);
      return NTP_ERROR_INTERNAL;
    }
  }
  struct Restore {
    const Driver &d;
    CUcontext previous, used;
    ~Restore() {
      if (previous && previous != used)
        d.cuCtxSetCurrent(previous);
    }
  } restore{d, previous, m->context};
  // Not (batch + blockSize - 1) / blockSize: that overflows near INT64_MAX.
  int64_t blocks =
      batch / m->samplesPerBlock + (batch % m->samplesPerBlock != 0);
  if (blocks > 0x7fffffff) {
    error = "batch " + std::to_string(batch) + " is too large for one launch";
    return NTP_ERROR_INVALID_ARGUMENT;
  }
  // Kernel parameters: (T *x, T *v, T *params, T *out, i64 batch).
  void *args[] = {&x, &direction, &params, &out, &batch};
  if (CUresult r =
          d.cuLaunchKernel(m->function, static_cast<unsigned>(blocks), 1, 1,
                           static_cast<unsigned>(m->blockSize), 1, 1, 0,
                           static_cast<CUstream>(stream), args, nullptr);
      r != CUDA_SUCCESS) {
    error = "launching the CUDA kernel failed: " + d.describe(r);
    return NTP_ERROR_INTERNAL;
  }
  return NTP_OK;
}

void ntp::rt::cudaUnload(CudaModule *m) {
  if (!m)
    return;
  const Driver &d = driver();
  if (d.error.empty() && m->module) {
    // The driver unloads from the current context: the thread freeing the
    // kernel (a garbage collector's) may have none, or another one.
    CUcontext current = nullptr;
    bool switched = d.cuCtxGetCurrent(&current) == CUDA_SUCCESS &&
                    current != m->context &&
                    d.cuCtxSetCurrent(m->context) == CUDA_SUCCESS;
    d.cuModuleUnload(m->module);
    if (switched)
      d.cuCtxSetCurrent(current);
  }
  // After the unload: the module must not outlive its context.
  if (d.error.empty() && m->primaryDevice >= 0)
    primaryContexts().release(d, m->primaryDevice);
  delete m;
}

ntp_status ntp::rt::cudaDeviceArch(int ordinal, int32_t &sm,
                                   std::string &error) {
  const Driver &d = driver();
  if (!d.error.empty()) {
    error = d.error;
    return NTP_ERROR_NO_DEVICE;
  }
  CUdevice device;
  int major = 0, minor = 0;
  if (CUresult r = d.cuDeviceGet(&device, ordinal); r != CUDA_SUCCESS) {
    error = "no CUDA device " + std::to_string(ordinal) + ": " + d.describe(r);
    return NTP_ERROR_NO_DEVICE;
  }
  if (d.cuDeviceGetAttribute(&major, kAttrComputeCapabilityMajor, device) !=
          CUDA_SUCCESS ||
      d.cuDeviceGetAttribute(&minor, kAttrComputeCapabilityMinor, device) !=
          CUDA_SUCCESS) {
    error = "cannot query the compute capability of CUDA device " +
            std::to_string(ordinal);
    return NTP_ERROR_NO_DEVICE;
  }
  sm = major * 10 + minor;
  return NTP_OK;
}
