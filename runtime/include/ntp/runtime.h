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
 *
 * Every call returns 0 (NTP_OK) on success and a nonzero ntp_status otherwise;
 * ntp_last_error() then says what was wrong in one sentence (thread-local).
 *===----------------------------------------------------------------------===*/
#ifndef NTP_RUNTIME_H
#define NTP_RUNTIME_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Version of the artifact format and calling convention this runtime loads. */
#define NTP_ABI_VERSION 1

typedef enum {
  NTP_OK = 0,
  NTP_ERROR_INVALID_ARGUMENT = 1, /* null pointer, negative batch, bad size */
  NTP_ERROR_IO = 2,               /* artifact missing or unreadable */
  NTP_ERROR_BAD_ARTIFACT = 3,     /* truncated, foreign, or bad manifest */
  NTP_ERROR_ABI_MISMATCH = 4,     /* artifact built for another ABI version */
  NTP_ERROR_UNSUPPORTED = 5,      /* operation not available for this kernel */
  NTP_ERROR_NO_DEVICE = 6,        /* no CUDA driver or device */
  NTP_ERROR_INTERNAL = 7
} ntp_status;

typedef enum { NTP_DTYPE_F32 = 0, NTP_DTYPE_F64 = 1 } ntp_dtype;
typedef enum { NTP_DEVICE_CPU = 0, NTP_DEVICE_CUDA = 1 } ntp_device;

typedef struct ntp_kernel ntp_kernel;

typedef struct {
  int32_t order, input_dim, output_dim;
  int64_t num_params;
  int32_t dtype;  /* 0 = f32, 1 = f64 */
  int32_t device; /* 0 = cpu, 1 = cuda */
} ntp_kernel_info;

/* Loads a kernel artifact (a shared object made by ntp-compile). */
int ntp_kernel_load(const char *path, ntp_kernel **out);
int ntp_kernel_info_get(const ntp_kernel *k, ntp_kernel_info *info);

/* Wraps an entry point that is already in memory (a JIT-compiled kernel, or
 * an object linked statically into the program) into a kernel: `manifest` is
 * the text an artifact exports as ntp_kernel_manifest (validated exactly as
 * by ntp_kernel_load, then copied) and `forward_tiles` has the signature of
 * ntp_kernel_forward_tiles. ntp_kernel_free(*out) calls release(release_arg)
 * when release is not null. On failure release is not called: the caller
 * still owns what it passed. */
int ntp_kernel_create(const char *manifest, void *forward_tiles,
                      void (*release)(void *), void *release_arg,
                      ntp_kernel **out);

/* Jet of the network at `batch` points. Pointers are host pointers for CPU
 * kernels and device pointers for CUDA kernels. batch == 0 is a no-op. */
int ntp_forward(ntp_kernel *k, const void *x, const void *direction,
                const void *params, void *out, int64_t batch);

/* As ntp_forward, but also checks the element count of every buffer against
 * the kernel's shapes: x_count = batch * input_dim, direction_count =
 * input_dim, params_count = num_params, out_count = (order + 1) * batch *
 * output_dim. */
int ntp_forward_checked(ntp_kernel *k, const void *x, int64_t x_count,
                        const void *direction, int64_t direction_count,
                        const void *params, int64_t params_count, void *out,
                        int64_t out_count, int64_t batch);

/* params_grad = J^T out_cotangent, J = d out / d params. Writes, does not
 * add. */
int ntp_backward(ntp_kernel *k, const void *x, const void *direction,
                 const void *params, const void *out_cotangent,
                 void *params_grad, int64_t batch);

void ntp_kernel_free(ntp_kernel *k);
const char *ntp_last_error(void);
/* Sets this thread's ntp_last_error() message; for libraries layered on the
 * runtime (the JIT) that report through the same channel. */
void ntp_set_last_error(const char *message);

/* Layer widths (input_dim, hidden..., output_dim): writes up to `capacity`
 * entries to `widths` and the total count to `*count`. */
int ntp_kernel_layers(const ntp_kernel *k, int32_t *widths, int32_t capacity,
                      int32_t *count);
/* Name of the activation ("tanh", ...); NULL on a null kernel. */
const char *ntp_kernel_activation(const ntp_kernel *k);

/* Number of worker threads CPU kernels use (default: NTP_NUM_THREADS or the
 * hardware concurrency). n <= 0 restores the default. */
int ntp_set_num_threads(int32_t n);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* NTP_RUNTIME_H */
