/*===- runtime.h - ntp runtime C API --------------------------------------===*
 *
 * The fixed C ABI of ntp kernels (see README.md, "Runtime"). This header and
 * the library behind it link no MLIR or LLVM: a host program that only loads
 * ahead-of-time kernels needs nothing else.
 *
 * A kernel computes the jet of an MLP f along a direction v:
 *   out[k][b][j] = d^k/dt^k f_j(x_b + t v) at t = 0,  k = 0..order.
 * Data layout: x is row-major [batch, input_dim]; direction is [input_dim];
 * params is one flat vector in torch.nn.Linear order (W_1, b_1, ..., W_L, b_L,
 * W_l row-major [out, in]); out is [(order + 1), batch, output_dim].
 * Any alignment of the element type works; buffers on 64-byte boundaries
 * (PyTorch's CPU tensors, aligned_alloc) are fastest: a CPU tile's vectors
 * (up to 64 bytes) then never straddle two cache lines, which malloc's
 * 16-byte alignment makes them do.
 *
 * Errors: every function that can fail returns an ntp_status, NTP_OK (0) on
 * success. ntp_last_error() then says what was wrong in one sentence. It is
 * ONE thread-local channel, shared on purpose by the runtime and the layers
 * on top of it (the JIT, ntp_jit_*, reports through it with
 * ntp_set_last_error): after any failed ntp_* call on a thread, that thread's
 * ntp_last_error() describes it.
 *
 * Naming: ntp_<object>_<verb> for functions on an object (ntp_kernel_load,
 * ntp_kernel_free, ntp_kernel_info_get, ntp_jit_compile), ntp_<verb> for
 * the calls that run a kernel (ntp_forward, ntp_backward, ...), with the
 * suffix _checked for the variant that also takes buffer sizes. Struct
 * types have tags of the same name (struct ntp_kernel_info), so they can
 * be forward-declared.
 *
 * SECURITY: loading an artifact runs its code (a CPU artifact is a shared
 * object: dlopen runs its constructors, and every call runs its machine
 * code). The loader validates the container, its checksum and the manifest
 * before dlopen, which catches damaged and foreign files, not malicious
 * ones: load only artifacts from a trusted source.
 *===----------------------------------------------------------------------===*/
#ifndef NTP_RUNTIME_H
#define NTP_RUNTIME_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Version of the artifact format and calling convention this runtime loads. */
#define NTP_ABI_VERSION 2

/* Returned by every function that can fail; int-sized (the values fit in an
 * int and NTP_STATUS_INT_SIZED_ keeps compilers from choosing a smaller
 * type), so it is ABI-compatible with the int these functions returned
 * before. */
typedef enum ntp_status {
  NTP_OK = 0,
  NTP_ERROR_INVALID_ARGUMENT = 1, /* null pointer, negative batch, bad size */
  NTP_ERROR_IO = 2,               /* artifact missing or unreadable */
  NTP_ERROR_BAD_ARTIFACT = 3,     /* truncated, foreign, or bad manifest */
  NTP_ERROR_ABI_MISMATCH = 4,     /* artifact built for another ABI version */
  NTP_ERROR_UNSUPPORTED = 5,      /* operation not available for this kernel */
  NTP_ERROR_NO_DEVICE = 6,        /* no CUDA driver or device */
  NTP_ERROR_INTERNAL = 7,
  NTP_STATUS_INT_SIZED_ = 0x7fffffff /* not a status */
} ntp_status;

typedef enum ntp_dtype { NTP_DTYPE_F32 = 0, NTP_DTYPE_F64 = 1 } ntp_dtype;
typedef enum ntp_device { NTP_DEVICE_CPU = 0, NTP_DEVICE_CUDA = 1 } ntp_device;

typedef struct ntp_kernel ntp_kernel;

typedef struct ntp_kernel_info {
  int32_t order, input_dim, output_dim;
  int64_t num_params;
  int32_t dtype;  /* 0 = f32, 1 = f64 */
  int32_t device; /* 0 = cpu, 1 = cuda */
} ntp_kernel_info;

/* Loads a kernel artifact made by ntp-compile: a shared object (CPU) or a
 * CUDA image (PTX or cubin), each followed by the artifact trailer
 * (ntp/artifact.hpp, docs/NVPTX.md). Before any of its code is mapped, the
 * whole file is read (non-blocking; not a regular file: NTP_ERROR_IO; over
 * 1 GiB: NTP_ERROR_BAD_ARTIFACT) and its checksum and manifest validated;
 * after dlopen the library's manifest symbol must equal the trailer's and
 * every entry point the manifest promises must exist. An artifact of
 * another ABI version (e.g. 1, from before the trailer) gives
 * NTP_ERROR_ABI_MISMATCH naming it. CPU code built for instruction-set
 * features this CPU lacks (manifest key cpu_features, e.g. avx512f from
 * --target-cpu=native on a newer machine) is refused with
 * NTP_ERROR_UNSUPPORTED rather than run. Loading runs the artifact's code:
 * trusted artifacts only (see the banner). */
ntp_status ntp_kernel_load(const char *path, ntp_kernel **out);
ntp_status ntp_kernel_info_get(const ntp_kernel *k, ntp_kernel_info *info);

/* Loads a kernel artifact from memory (`size` bytes at `data`, copied).
 * Only CUDA artifacts load this way (the JIT's CUDA path uses it); a CPU
 * shared object must be a file: NTP_ERROR_UNSUPPORTED. */
ntp_status ntp_kernel_load_memory(const void *data, int64_t size,
                                  ntp_kernel **out);

/* The compute capability of CUDA device `device` as one number (9.0: 90),
 * through the driver opened as for CUDA artifacts; NTP_ERROR_NO_DEVICE when
 * there is no driver or no such device. */
ntp_status ntp_cuda_device_arch(int32_t device, int32_t *sm);

/* The entry points of an in-memory kernel, with the signatures of the
 * ntp_kernel_*_tiles symbols an artifact exports; the reverse-mode ones are
 * required when the manifest says backward=1 and ignored otherwise. */
typedef struct ntp_kernel_entry_points {
  void *forward_tiles;
  void *backward_tiles;
  void *forward_save_tiles;
  void *backward_saved_tiles;
} ntp_kernel_entry_points;

/* Wraps entry points that are already in memory (a JIT-compiled kernel, or
 * an object linked statically into the program) into a kernel: `manifest` is
 * the text an artifact exports as ntp_kernel_manifest (parsed and validated
 * by the same parser as ntp_kernel_load's, then copied). ntp_kernel_free(*out)
 * calls release(release_arg) when release is not null. On failure release is
 * not called: the caller still owns what it passed. */
ntp_status ntp_kernel_create_with(const char *manifest,
                                  const ntp_kernel_entry_points *entry,
                                  void (*release)(void *), void *release_arg,
                                  ntp_kernel **out);
/* The same for a forward-only kernel (a manifest with backward=0). */
ntp_status ntp_kernel_create(const char *manifest, void *forward_tiles,
                             void (*release)(void *), void *release_arg,
                             ntp_kernel **out);

/* Jet of the network at `batch` points. Pointers are host pointers for CPU
 * kernels and device pointers for CUDA kernels. batch == 0 is a no-op.
 * Any thread may call this and the reverse-mode functions below: a CPU
 * tile keeps its jets (at most 4 MiB) on the stack of the thread running
 * it, so a caller with less stack left than that (a Python or Java thread)
 * has its tiles run on the runtime's worker threads (8 MiB stacks) and
 * waits. */
ntp_status ntp_forward(ntp_kernel *k, const void *x, const void *direction,
                       const void *params, void *out, int64_t batch);

/* As ntp_forward, on a CUDA stream (a CUstream; null: the default stream):
 * returns once the launch is queued. For a CPU kernel stream must be null
 * and the call is ntp_forward. CUDA artifacts (see docs/NVPTX.md) are loaded
 * through the CUDA driver API, opened at run time (libcuda.so.1, or
 * $NTP_LIBCUDA): without a driver ntp_kernel_load returns
 * NTP_ERROR_NO_DEVICE ("no CUDA driver: ..."). ntp_forward on a CUDA kernel
 * launches on the default stream and does not wait for the result; so do
 * the reverse-mode functions (the artifact must have them: ntp-compile
 * --gpu-backward), each of which has an _async variant taking a stream
 * last, in the same pattern. */
ntp_status ntp_forward_async(ntp_kernel *k, const void *x,
                             const void *direction, const void *params,
                             void *out, int64_t batch, void *stream);

/* As ntp_forward, but also checks the element count of every buffer against
 * the kernel's shapes: x_count = batch * input_dim, direction_count =
 * input_dim, params_count = num_params, out_count = (order + 1) * batch *
 * output_dim. */
ntp_status ntp_forward_checked(ntp_kernel *k, const void *x, int64_t x_count,
                               const void *direction, int64_t direction_count,
                               const void *params, int64_t params_count,
                               void *out, int64_t out_count, int64_t batch);

/* Partials kernels (ntp-compile --partials / --operator, ntp.mlp with
 * `partials` / `operators`): out [P, batch, output_dim], out[p][b][j] =
 * D^{alpha_p} f_j(x_b), the requested multi-indices in the order given, then
 * the named operators in the order given. A jet kernel is refused here (and
 * a partials kernel by ntp_forward and the other jet entry points), with a
 * sentence saying which call to make. */
ntp_status ntp_partials(ntp_kernel *k, const void *x, const void *params,
                        void *out, int64_t batch);

/* The P requests of a partials kernel: alphas [P, input_dim]; an operator's
 * row holds -2 (laplacian) or -4 (biharmonic) in the coordinates it sums over
 * and 0 elsewhere. capacity counts int32 entries (P * input_dim are written;
 * alphas may be null to ask for the count only); *count receives P; a jet
 * kernel gives NTP_OK with *count = 0. */
ntp_status ntp_kernel_partials_get(const ntp_kernel *k, int32_t *alphas,
                                   int32_t capacity, int32_t *count);

/* The reverse mode of a partials kernel (one compiled with backward, the
 * default): params_grad [num_params] and/or x_grad [batch, input_dim] (either
 * may be NULL, not both) receive the gradients of
 * sum_{p,b,j} out_cotangent[p][b][j] * out[p][b][j], out_cotangent laid out
 * as ntp_partials' out [P, batch, output_dim]. Writes, does not add;
 * recomputes the forward; the parameter gradient is reduced in a fixed order
 * as for ntp_backward. A jet kernel is refused here (and a partials kernel by
 * ntp_backward, ntp_backward_full, ntp_forward_save, ntp_backward_saved and
 * their variants), with a sentence saying which call to make. */
ntp_status ntp_partials_backward(ntp_kernel *k, const void *x,
                                 const void *params, const void *out_cotangent,
                                 void *params_grad, void *x_grad,
                                 int64_t batch);
/* Training without recomputing, as ntp_forward_save / ntp_backward_saved for
 * jets: ntp_partials_save writes out like ntp_partials and keeps the jets of
 * every ray in `workspace` (ntp_workspace_size bytes for `batch`, header
 * included; the header is checked the same way, with params standing for
 * the direction); ntp_partials_backward_saved computes the gradients of
 * ntp_partials_backward from it. The _checked variants also take the
 * workspace's size in bytes and check it against batch. */
ntp_status ntp_partials_save(ntp_kernel *k, const void *x, const void *params,
                             void *out, void *workspace, int64_t batch);
ntp_status ntp_partials_backward_saved(ntp_kernel *k, const void *x,
                                       const void *params,
                                       const void *out_cotangent,
                                       void *params_grad, void *x_grad,
                                       const void *workspace, int64_t batch);
ntp_status ntp_partials_save_checked(ntp_kernel *k, const void *x,
                                     const void *params, void *out,
                                     void *workspace, int64_t workspace_bytes,
                                     int64_t batch);
ntp_status ntp_partials_backward_saved_checked(
    ntp_kernel *k, const void *x, const void *params, const void *out_cotangent,
    void *params_grad, void *x_grad, const void *workspace,
    int64_t workspace_bytes, int64_t batch);
/* The _async variants: ntp_partials, ntp_partials_backward,
 * ntp_partials_save and ntp_partials_backward_saved on a CUDA stream (a
 * CUstream; null: the default stream, which the calls above use), returning
 * once the launches are queued, as the jet calls' _async variants (device
 * pointers; docs/NVPTX.md). ntp_partials_backward_async allocates its
 * stream-ordered scratch on `stream` and frees it there; the training pair
 * takes the caller's device workspace of ntp_workspace_size bytes (no size
 * argument, as ntp_forward_save_async), which ntp_partials_backward_saved_async
 * checks as ntp_backward_saved does on a GPU. A CPU kernel given a non-null
 * stream is NTP_ERROR_INVALID_ARGUMENT ("a stream was given for a CPU
 * kernel"); with a null stream the call runs as the synchronous one. A jet
 * kernel is refused as by the calls above, naming the jet call's _async
 * form. */
ntp_status ntp_partials_async(ntp_kernel *k, const void *x, const void *params,
                              void *out, int64_t batch, void *stream);
ntp_status ntp_partials_backward_async(ntp_kernel *k, const void *x,
                                       const void *params,
                                       const void *out_cotangent,
                                       void *params_grad, void *x_grad,
                                       int64_t batch, void *stream);
ntp_status ntp_partials_save_async(ntp_kernel *k, const void *x,
                                   const void *params, void *out,
                                   void *workspace, int64_t batch,
                                   void *stream);
ntp_status ntp_partials_backward_saved_async(ntp_kernel *k, const void *x,
                                             const void *params,
                                             const void *out_cotangent,
                                             void *params_grad, void *x_grad,
                                             const void *workspace,
                                             int64_t batch, void *stream);

/* params_grad = J^T out_cotangent, J = d out / d params: the gradient of
 * sum_{k,b,j} out_cotangent[k][b][j] * out[k][b][j] with respect to params.
 * Writes, does not add. Recomputes the forward. The sum over tiles is
 * reduced in a fixed order for a given thread count (ntp_set_num_threads):
 * equal calls give bitwise equal gradients; another thread count may differ
 * in the last bits. The same holds for ntp_backward_full and
 * ntp_backward_saved. */
ntp_status ntp_backward(ntp_kernel *k, const void *x, const void *direction,
                        const void *params, const void *out_cotangent,
                        void *params_grad, int64_t batch);

/* As ntp_backward, and also the gradient with respect to the points,
 * x_grad [batch, input_dim]. Either output may be null (not both). */
ntp_status ntp_backward_full(ntp_kernel *k, const void *x,
                             const void *direction, const void *params,
                             const void *out_cotangent, void *params_grad,
                             void *x_grad, int64_t batch);

/* Training without paying twice: ntp_forward_save computes the jet like
 * ntp_forward and keeps every layer's jet in `workspace`; ntp_backward_saved
 * then computes the gradients from it without recomputing the forward. The
 * workspace holds (order + 1) * (sum of all layer widths, hidden ones twice)
 * values per sample (rounded up to whole tiles): O(n * batch * width *
 * depth), after a 64-byte header (the jets keep the workspace's alignment
 * up to 64 bytes). Its size in bytes for `batch` points, header included: */
ntp_status ntp_workspace_size(const ntp_kernel *k, int64_t batch,
                              int64_t *bytes);
/* The header records the kernel (a hash of its manifest), batch and hashes
 * of x, direction and params; ntp_backward_saved checks it against its own
 * arguments before reading a jet and returns NTP_ERROR_INVALID_ARGUMENT
 * saying which differs ("the workspace was saved for batch 8, not 64"), so
 * a workspace saved for another call is refused, not misread. (Hashes:
 * one pass over x and params per call, and a 2^-64 chance that changed
 * data goes unnoticed.) Only the size is left to the caller: use the
 * _checked variants, which take the workspace's size in bytes, to have
 * that checked too. */
ntp_status ntp_forward_save(ntp_kernel *k, const void *x, const void *direction,
                            const void *params, void *out, void *workspace,
                            int64_t batch);
ntp_status ntp_backward_saved(ntp_kernel *k, const void *x,
                              const void *direction, const void *params,
                              const void *out_cotangent, void *params_grad,
                              void *x_grad, const void *workspace,
                              int64_t batch);
ntp_status ntp_forward_save_checked(ntp_kernel *k, const void *x,
                                    const void *direction, const void *params,
                                    void *out, void *workspace,
                                    int64_t workspace_bytes, int64_t batch);
ntp_status ntp_backward_saved_checked(ntp_kernel *k, const void *x,
                                      const void *direction, const void *params,
                                      const void *out_cotangent,
                                      void *params_grad, void *x_grad,
                                      const void *workspace,
                                      int64_t workspace_bytes, int64_t batch);
/* CUDA kernels (every pointer a device pointer; docs/NVPTX.md): the
 * workspace is device memory of ntp_workspace_size bytes, which holds
 * beyond the saved jets the per-sample gradients, per-block partial sums
 * and a scratch x gradient; its 64-byte header is left unwritten (reading
 * it back would synchronise the stream). Instead the kernel remembers, for
 * its 64 most recent workspaces, the batch and the addresses of x,
 * direction and params that ntp_forward_save saved for: ntp_backward_saved
 * refuses a workspace it did not save, or saved for another batch or other
 * buffers, but cannot see changed contents at the same addresses.
 * ntp_backward on a CUDA kernel allocates its scratch workspace per call,
 * stream-ordered (cuMemAllocAsync, CUDA 11.2+), and frees it on the same
 * stream. The parameter gradient is reduced without atomics in a fixed
 * order (per block, then over blocks): bitwise reproducible for a given
 * artifact and batch.
 *
 * The _async variants: the same calls on a CUDA stream (a CUstream; null:
 * the default stream), returning once the launches are queued. A CPU kernel
 * given a non-null stream is NTP_ERROR_INVALID_ARGUMENT ("a stream was
 * given for a CPU kernel"); with a null stream the call runs as the
 * synchronous one. */
ntp_status ntp_backward_async(ntp_kernel *k, const void *x,
                              const void *direction, const void *params,
                              const void *out_cotangent, void *params_grad,
                              int64_t batch, void *stream);
ntp_status ntp_backward_full_async(ntp_kernel *k, const void *x,
                                   const void *direction, const void *params,
                                   const void *out_cotangent, void *params_grad,
                                   void *x_grad, int64_t batch, void *stream);
ntp_status ntp_forward_save_async(ntp_kernel *k, const void *x,
                                  const void *direction, const void *params,
                                  void *out, void *workspace, int64_t batch,
                                  void *stream);
ntp_status ntp_backward_saved_async(ntp_kernel *k, const void *x,
                                    const void *direction, const void *params,
                                    const void *out_cotangent,
                                    void *params_grad, void *x_grad,
                                    const void *workspace, int64_t batch,
                                    void *stream);

void ntp_kernel_free(ntp_kernel *k);
const char *ntp_last_error(void);
/* Sets this thread's ntp_last_error() message; for libraries layered on the
 * runtime (the JIT) that report through the same channel. */
void ntp_set_last_error(const char *message);

/* Layer widths (input_dim, hidden..., output_dim): writes up to `capacity`
 * entries to `widths` and the total count to `*count`. */
ntp_status ntp_kernel_layers(const ntp_kernel *k, int32_t *widths,
                             int32_t capacity, int32_t *count);
/* Name of the activation ("tanh", ...), or with one activation per hidden
 * layer their comma-separated list ("silu,tanh"); NULL on a null kernel. */
const char *ntp_kernel_activation(const ntp_kernel *k);
/* The LLVM CPU name the loaded CPU code was compiled for ("x86-64-v3",
 * "znver4", ...): for an artifact carrying several CPU variants
 * (ntp-compile --target-cpu=a,b,...), the one ntp_kernel_load chose for
 * this host (the first listed in the artifact whose instruction-set
 * features the host has; none: ntp_kernel_load gives NTP_ERROR_UNSUPPORTED).
 * The environment variable NTP_CPU_FEATURES (a comma-separated list of
 * LLVM feature names, e.g. "sse4.2,avx,avx2,fma,bmi,bmi2") makes loads
 * treat the host as having only those of its features: an older CPU, to try
 * the fallback variants. NULL on a null kernel or a CUDA kernel. */
const char *ntp_kernel_target_cpu(const ntp_kernel *k);
/* The whole network as the canonical one-line IR of its ntp.mlp, e.g.
 *   ntp.mlp @p layers [1, 8, 8, 1] activation ["silu", "tanh"] order 9 : f64
 * with one name per hidden layer (or, when every hidden layer has the same,
 * activation "tanh"): writes up to `capacity` bytes of it, NUL included, to
 * `text` (truncated, still NUL-terminated, when capacity is smaller; text
 * may be NULL when capacity is 0) and its length without the NUL to
 * `*length`. */
ntp_status ntp_kernel_description(const ntp_kernel *k, char *text,
                                  int64_t capacity, int64_t *length);
/* How a partials kernel propagates its rays, as the compiler chose and
 * summarized it: the lowering's name (per-ray, multi-direction, collapsed or
 * multivariate), then its blocks of rays and exact counts per sample, e.g.
 *   "multivariate: 35 monomials of degree <= 4; 694080 flops + 192
 *    primitives per sample"
 * reverse = 0: the forward's (ntp_partials); 1: the reverse mode's
 * (ntp_partials_backward, _save, _backward_saved). "" for a jet kernel, for
 * the reverse mode of a kernel compiled without it, and for an artifact
 * whose compiler did not record it; NULL (ntp_last_error says why) on a
 * null kernel or a `reverse` other than 0 or 1. */
const char *ntp_kernel_partials_lowering(const ntp_kernel *k, int32_t reverse);

/* Number of threads CPU kernels use, the caller's included (default:
 * NTP_NUM_THREADS or the CPUs this process may run on). n <= 0 restores the
 * default. n > 4096: NTP_ERROR_INVALID_ARGUMENT, the setting unchanged. A
 * call never uses more threads than it has tiles (two per thread at
 * least), and the pool never starts more workers than calls have used. */
ntp_status ntp_set_num_threads(int32_t n);

#ifdef __cplusplus
} /* extern "C" */
static_assert(sizeof(ntp_status) == sizeof(int), "ntp_status is int-sized");
#endif

#endif /* NTP_RUNTIME_H */
