/*===- jit.h - ntp in-process JIT C API -----------------------------------===*
 *
 * Compiles a network into a CPU kernel inside the calling process (MLIR
 * pipeline, LLVM codegen, ORC linking; no external compiler or linker) and
 * returns the same ntp_kernel handle that ntp_kernel_load gives for an
 * ahead-of-time artifact. Run it with ntp_forward, free it with
 * ntp_kernel_free. With options->device = NTP_DEVICE_CUDA it compiles an
 * NVPTX kernel instead (LLVM's NVPTX backend in process; ptxas, when found,
 * for a cubin) and loads it through the CUDA driver.
 *
 * Compiled objects are cached on disk, keyed by the spec, the target CPU and
 * its features, and the compiler version (ntp_jit_version()). The directory
 * is, first match wins: options->cache_dir, $NTP_CACHE_DIR,
 * $XDG_CACHE_HOME/ntp, $HOME/.cache/ntp; the value "off" disables caching.
 * Entries are written to a temporary file and renamed, so processes that
 * compile the same kernel at once never see a partial entry; an entry that
 * fails its checks (truncated, corrupted, other format or key) is deleted
 * and rebuilt, never loaded. A cache that cannot be written is not an error:
 * the kernel is still returned, and report->warning says why nothing was
 * stored.
 *
 * Every call returns NTP_OK or an ntp_status; ntp_last_error() then says
 * what was wrong in one sentence (malformed spec, unsupported option, ...).
 * That is the runtime's one thread-local error channel, shared on purpose
 * (runtime.h): the JIT sets it with ntp_set_last_error, so a program reads
 * errors of ntp_jit_* and ntp_* calls the same way. Naming and struct tags
 * follow runtime.h. All functions are thread-safe; compiles run
 * concurrently.
 *===----------------------------------------------------------------------===*/
#ifndef NTP_JIT_H
#define NTP_JIT_H

#include "ntp/runtime.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What to compile: either `mlir` (the text of a module holding one ntp.mlp,
 * as ntp-compile reads it) or the structured fields below it. Networks with
 * typed layers (adaptive slopes, residual connections, Fourier features,
 * the modified MLP's gates: ntp.mlp's `slopes`, `residual`, `fourier`,
 * `gated`) are described by `mlir`, e.g.
 *   ntp.mlp @net layers [2, 32, 32, 1] activation "tanh" fourier 8
 *       slopes "neuron" residual [false, true] order 4 : f64
 *   ntp.mlp @modified layers [2, 32, 32, 1] activation "tanh" gated
 *       order 4 : f64
 * (the text ntp_kernel_description returns; C++: MlpSpec's fields). */
typedef struct ntp_jit_spec {
  const char *mlir;      /* when non-null, the fields below are ignored */
  const int64_t *layers; /* widths, input to output (at least two) */
  int32_t num_layers;
  const char *activation; /* a name from the compiler's activation table
                             (lib/Support/ActivationRules.cpp; listed by
                             ntp-compile --help, and in the error for an
                             unknown name) for every hidden layer, or one
                             name per hidden layer separated by commas
                             ("silu,identity,tanh"; "identity" makes a
                             linear layer); NULL means tanh */
  int32_t order;          /* derivative order n: out has n + 1 rows */
  int32_t dtype;          /* ntp_dtype */
  /* Read also with `mlir`: how a partials kernel's forward (ntp_partials)
   * propagates its rays, as ntp-compile --partials-lowering spells it:
   * "auto" (the fewest operations), "per-ray", "multi-direction",
   * "multivariate" or "collapsed" (needs a laplacian or biharmonic
   * request); NULL or "": the ntp.mlp's own ntp.partials_lowering attribute,
   * else auto. The reverse mode (ntp_partials_backward, _save,
   * _backward_saved) follows a multi-direction, collapsed or multivariate
   * forward (see partials_reverse_lowering) where its blocks fit the stack
   * bound; else it comes from smaller multi-direction or collapsed blocks
   * beside the forward, beside the others from per-ray jets.
   * Anything but auto on a jet kernel is an error. */
  const char *partials_lowering;
  /* Read also with `mlir`: how a partials kernel's reverse mode is made, as
   * ntp-compile --partials-reverse-lowering spells it: "auto" (it follows
   * the forward's lowering where it can) or "per-ray" (from per-ray jets
   * beside the forward, a larger workspace); NULL or "": the ntp.mlp's own
   * ntp.partials_reverse_lowering attribute, else auto. Part of the cache
   * key. Anything but auto on a jet kernel is an error. */
  const char *partials_reverse_lowering;
} ntp_jit_spec;

typedef struct ntp_jit_options {
  const char *cpu;       /* LLVM CPU name; NULL or "native": this machine */
  const char *features;  /* extra LLVM features ("+avx2,-avx512f"); may be
                            NULL */
  int32_t device;        /* ntp_device: NTP_DEVICE_CPU or NTP_DEVICE_CUDA
                            (an NVPTX kernel, loaded through the driver as
                            ntp_kernel_load_memory does) */
  int32_t tile;          /* samples per tile; 0 picks the default */
  int32_t use_cache;     /* 0: neither read nor write the disk cache */
  int32_t backward;      /* 1 (default): also compile the reverse-mode entry
                            points (ntp_backward, ntp_forward_save, ...;
                            ntp_partials_backward, ... for a partials
                            kernel; for CUDA the kernels of ntp-compile
                            --gpu-backward); 0: forward only, about half
                            the compile time */
  const char *cache_dir; /* NULL: environment default (see above); "off":
                            no cache */
  /* NTP_DEVICE_CUDA only: */
  const char *chip;    /* sm_XX; NULL or "": the compute capability of CUDA
                          device $NTP_CUDA_DEVICE (default 0), asked of the
                          driver (NTP_ERROR_NO_DEVICE without one) */
  int32_t gpu_format;  /* ntp_jit_gpu_format of the image */
  int32_t gpu_mapping; /* ntp_jit_gpu_mapping: work per GPU thread */
} ntp_jit_options;

typedef enum ntp_jit_gpu_mapping {
  NTP_JIT_GPU_SAMPLE = 0, /* a thread per sample (default) */
  NTP_JIT_GPU_LANES = 1   /* a warp per sample, a neuron per lane (the jets
                             in shared memory; docs/NVPTX.md) */
} ntp_jit_gpu_mapping;

typedef enum ntp_jit_gpu_format {
  NTP_JIT_GPU_AUTO = 0, /* cubin when ptxas is found, else PTX */
  NTP_JIT_GPU_PTX = 1,  /* PTX: the driver compiles it for its GPU */
  NTP_JIT_GPU_CUBIN = 2 /* cubin from ptxas for exactly `chip` */
} ntp_jit_gpu_format;

/* What a compile did, for callers that want to know (benchmarks, tests). */
typedef struct ntp_jit_report {
  int32_t cache_hit;     /* loaded from the cache: nothing was compiled */
  int32_t cache_stored;  /* compiled and written to the cache */
  int32_t cache_rebuilt; /* an unusable entry was found, deleted, rebuilt */
  double seconds;        /* wall time of the call */
  char cache_path[1024]; /* the entry's path; empty when caching is off */
  char warning[1024];    /* a non-fatal problem (cache not writable) or "" */
} ntp_jit_report;

/* Defaults: no layers, tanh, order 0, f32. */
void ntp_jit_spec_init(ntp_jit_spec *spec);
/* Defaults: native CPU, no extra features, CPU device, default tile, cache
 * on in the default directory. */
void ntp_jit_options_init(ntp_jit_options *options);

/* Compiles `spec` (options NULL: defaults) into *out. */
ntp_status ntp_jit_compile(const ntp_jit_spec *spec,
                           const ntp_jit_options *options, ntp_kernel **out);
/* As ntp_jit_compile, and fills *report (which may be NULL). */
ntp_status ntp_jit_compile_report(const ntp_jit_spec *spec,
                                  const ntp_jit_options *options,
                                  ntp_kernel **out, ntp_jit_report *report);

/* The compiler version that is part of every cache key. */
const char *ntp_jit_version(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* NTP_JIT_H */
