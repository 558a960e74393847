//===- JaxFfiCallFrame.h - XLA FFI call frames built by hand ----*- C++ -*-===//
//
// What the tests of python/jax_ffi/NtpJaxFfi.cpp need to call its handlers
// the way XLA does: a minimal XLA_FFI_Api (errors and the platform stream,
// gStream), Frame, a hand-built XLA_FFI_CallFrame of buffers and the
// `kernel` attribute, and HandlerTest, the fixture that opens the library
// and the fake CUDA driver and compiles kernels. Shared by
// JaxFfiCallFrameTest.cpp and JaxFfiPartialsCudaTest.cpp.
//
//===----------------------------------------------------------------------===//
#ifndef NTP_TEST_UNIT_JAX_JAXFFICALLFRAME_H
#define NTP_TEST_UNIT_JAX_JAXFFICALLFRAME_H

#include "ntp/jit.h"
#include "ntp/runtime.h"

#include "../runtime/fixtures/fake_libcuda.h"

#include "xla/ffi/api/c_api.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

namespace ntp::jaxtest {

//===----------------------------------------------------------------------===//
// A minimal XLA_FFI_Api: what the handlers' bindings call
//===----------------------------------------------------------------------===//

struct FakeError {
  std::string message;
  XLA_FFI_Error_Code code;
};

inline XLA_FFI_Error *errorCreate(XLA_FFI_Error_Create_Args *args) {
  return reinterpret_cast<XLA_FFI_Error *>(
      new FakeError{args->message, args->errc});
}
inline void errorGetMessage(XLA_FFI_Error_GetMessage_Args *args) {
  args->message = reinterpret_cast<FakeError *>(args->error)->message.c_str();
}
inline void errorDestroy(XLA_FFI_Error_Destroy_Args *args) {
  delete reinterpret_cast<FakeError *>(args->error);
}
inline void *gStream = nullptr; // what XLA_FFI_Stream_Get hands out
inline XLA_FFI_Error *streamGet(XLA_FFI_Stream_Get_Args *args) {
  args->stream = gStream;
  return nullptr;
}

inline XLA_FFI_Api makeApi() {
  XLA_FFI_Api api;
  std::memset(&api, 0, sizeof(api));
  api.struct_size = XLA_FFI_Api_STRUCT_SIZE;
  api.api_version = {XLA_FFI_Api_Version_STRUCT_SIZE, nullptr,
                     XLA_FFI_API_MAJOR, XLA_FFI_API_MINOR};
  api.XLA_FFI_Error_Create = errorCreate;
  api.XLA_FFI_Error_GetMessage = errorGetMessage;
  api.XLA_FFI_Error_Destroy = errorDestroy;
  api.XLA_FFI_Stream_Get = streamGet;
  return api;
}

//===----------------------------------------------------------------------===//
// Call frames
//===----------------------------------------------------------------------===//

struct Buffer {
  XLA_FFI_DataType dtype;
  void *data;
  std::vector<int64_t> dims;
  XLA_FFI_Buffer ffi{};
};

class Frame {
public:
  Frame(const XLA_FFI_Api *api, ntp_kernel *k) : api(api) {
    handle = reinterpret_cast<int64_t>(k);
    scalar = {XLA_FFI_DataType_S64, &handle};
    name = {"kernel", 6};
    namePtr = &name;
  }
  void arg(XLA_FFI_DataType t, void *data, std::vector<int64_t> dims) {
    args.push_back({t, data, std::move(dims)});
  }
  void ret(XLA_FFI_DataType t, void *data, std::vector<int64_t> dims) {
    rets.push_back({t, data, std::move(dims)});
  }
  // Calls `handler`; "" on success, else the error's message.
  std::string call(XLA_FFI_Handler *handler) {
    std::vector<void *> argPtrs, retPtrs;
    std::vector<XLA_FFI_ArgType> argTypes(args.size(), XLA_FFI_ArgType_BUFFER);
    std::vector<XLA_FFI_RetType> retTypes(rets.size(), XLA_FFI_RetType_BUFFER);
    for (auto *list : {&args, &rets})
      for (Buffer &b : *list) {
        b.ffi = {
            XLA_FFI_Buffer_STRUCT_SIZE,          nullptr,      b.dtype, b.data,
            static_cast<int64_t>(b.dims.size()), b.dims.data()};
        (list == &args ? argPtrs : retPtrs).push_back(&b.ffi);
      }
    XLA_FFI_AttrType attrType = XLA_FFI_AttrType_SCALAR;
    void *attr = &scalar;
    XLA_FFI_CallFrame frame;
    std::memset(&frame, 0, sizeof(frame));
    frame.struct_size = XLA_FFI_CallFrame_STRUCT_SIZE;
    frame.api = api;
    frame.stage = XLA_FFI_ExecutionStage_EXECUTE;
    frame.args = {XLA_FFI_Args_STRUCT_SIZE, nullptr,
                  static_cast<int64_t>(args.size()), argTypes.data(),
                  argPtrs.data()};
    frame.rets = {XLA_FFI_Rets_STRUCT_SIZE, nullptr,
                  static_cast<int64_t>(rets.size()), retTypes.data(),
                  retPtrs.data()};
    frame.attrs = {
        XLA_FFI_Attrs_STRUCT_SIZE, nullptr, 1, &attrType, &namePtr, &attr};
    XLA_FFI_Error *error = handler(&frame);
    if (!error)
      return "";
    auto *e = reinterpret_cast<FakeError *>(error);
    std::string msg = e->message.empty() ? "(empty error)" : e->message;
    delete e;
    return msg;
  }

private:
  const XLA_FFI_Api *api;
  int64_t handle;
  XLA_FFI_Scalar scalar;
  XLA_FFI_ByteSpan name, *namePtr;
  std::vector<Buffer> args, rets;
};

constexpr XLA_FFI_DataType F64 = XLA_FFI_DataType_F64;
constexpr XLA_FFI_DataType F32 = XLA_FFI_DataType_F32;
constexpr XLA_FFI_DataType U8 = XLA_FFI_DataType_U8;

//===----------------------------------------------------------------------===//
// The fixture
//===----------------------------------------------------------------------===//

/// The handler library opened as XLA opens it (NTP_JAX_FFI), the runtime's
/// CUDA driver the fake one (NTP_FAKE_LIBCUDA, whose recorded launches
/// `state` shows), and JIT-compiled kernels freed after each test.
class HandlerTest : public ::testing::Test {
protected:
  void SetUp() override {
    // Before any CUDA use: the runtime opens the driver once per process.
    ::setenv("NTP_LIBCUDA", NTP_FAKE_LIBCUDA, 1);
    lib = ::dlopen(NTP_JAX_FFI, RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(lib, nullptr) << ::dlerror();
    fake = ::dlopen(NTP_FAKE_LIBCUDA, RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(fake, nullptr) << ::dlerror();
    auto stateFn =
        reinterpret_cast<fake_cuda_state_fn>(::dlsym(fake, "fake_cuda_state"));
    reset =
        reinterpret_cast<fake_cuda_reset_fn>(::dlsym(fake, "fake_cuda_reset"));
    ASSERT_TRUE(stateFn && reset);
    state = stateFn();
  }
  void TearDown() override {
    for (ntp_kernel *k : kernels)
      ntp_kernel_free(k);
    if (fake)
      ::dlclose(fake);
    if (lib)
      ::dlclose(lib);
  }

  /// Looks up the handlers `names` into `slots` (in SetUp: a missing one
  /// fails the test).
  void
  handlers(std::initializer_list<std::pair<const char *, XLA_FFI_Handler **>>
               named) {
    for (auto [name, slot] : named) {
      *slot = reinterpret_cast<XLA_FFI_Handler *>(::dlsym(lib, name));
      ASSERT_NE(*slot, nullptr) << name;
    }
  }

  /// A kernel of `mlir`, or of `layers` at `order` (f64; CUDA: PTX, with
  /// the reverse mode), freed in TearDown; null after a failed expectation.
  ntp_kernel *compile(ntp_device device, int order,
                      const char *mlir = nullptr) {
    ntp_jit_spec spec;
    ntp_jit_spec_init(&spec);
    spec.mlir = mlir;
    spec.layers = layers;
    spec.num_layers = 4;
    spec.order = order;
    spec.dtype = NTP_DTYPE_F64;
    ntp_jit_options options;
    ntp_jit_options_init(&options);
    options.device = device;
    options.use_cache = 0;
    options.gpu_format = NTP_JIT_GPU_PTX;
    ntp_kernel *k = nullptr;
    EXPECT_EQ(ntp_jit_compile(&spec, &options, &k), NTP_OK) << ntp_last_error();
    if (k)
      kernels.push_back(k);
    return k;
  }

  int64_t layers[4] = {1, 6, 5, 1};
  XLA_FFI_Api api = makeApi();
  void *lib = nullptr, *fake = nullptr;
  fake_cuda_state_t *state = nullptr;
  fake_cuda_reset_fn reset = nullptr;
  std::vector<ntp_kernel *> kernels;
};

} // namespace ntp::jaxtest

#endif // NTP_TEST_UNIT_JAX_JAXFFICALLFRAME_H
