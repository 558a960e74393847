//===- JitTestUtil.h - Helpers of the JIT's tests ---------------*- C++ -*-===//
//
// For ntp-jit-tests (JitTest.cpp, JitCacheTest.cpp, JitConcurrencyTest.cpp):
// a temporary directory, structured specs, compiling (expecting success or
// an error), deterministic inputs and the output's bytes, files.
//
//===----------------------------------------------------------------------===//
#ifndef NTP_TEST_UNIT_JIT_JITTESTUTIL_H
#define NTP_TEST_UNIT_JIT_JITTESTUTIL_H

#include "ntp/JIT/Jit.h"
#include "ntp/jit.h"
#include "ntp/runtime.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <dirent.h>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

namespace ntp::jit_test {

/// A private temporary directory, removed (with its files) at the end.
class TempDir {
public:
  TempDir() {
    std::string pattern = ::testing::TempDir() + "ntp-jit-XXXXXX";
    path_ = ::mkdtemp(pattern.data()) ? pattern : "";
    EXPECT_FALSE(path_.empty());
  }
  ~TempDir() {
    std::string command = "rm -rf '" + path_ + "'";
    EXPECT_EQ(std::system(command.c_str()), 0);
  }
  const std::string &path() const { return path_; }
  std::vector<std::string> files() const {
    std::vector<std::string> names;
    if (DIR *d = ::opendir(path_.c_str())) {
      while (dirent *e = ::readdir(d))
        if (e->d_name[0] != '.')
          names.push_back(e->d_name);
      ::closedir(d);
    }
    std::sort(names.begin(), names.end());
    return names;
  }

private:
  std::string path_;
};

struct KernelDeleter {
  void operator()(ntp_kernel *k) const { ntp_kernel_free(k); }
};
using KernelPtr = std::unique_ptr<ntp_kernel, KernelDeleter>;

/// A structured spec whose layer widths live as long as it does.
struct Spec {
  std::vector<int64_t> layers;
  std::string activation = "tanh";
  int32_t order = 0;
  int32_t dtype = NTP_DTYPE_F32;
  std::string mlir;

  ntp_jit_spec c() const {
    ntp_jit_spec s;
    ntp_jit_spec_init(&s);
    s.layers = layers.data();
    s.num_layers = static_cast<int32_t>(layers.size());
    s.activation = activation.c_str();
    s.order = order;
    s.dtype = dtype;
    s.mlir = mlir.empty() ? nullptr : mlir.c_str();
    return s;
  }
};

inline ntp_jit_options options(const std::string &cacheDir) {
  ntp_jit_options o;
  ntp_jit_options_init(&o);
  o.cache_dir = cacheDir.c_str();
  return o;
}

/// Compiles, expecting success; fills `report` when given.
inline KernelPtr compileOrDie(const Spec &spec, const ntp_jit_options &o,
                              ntp_jit_report *report = nullptr) {
  ntp_jit_spec s = spec.c();
  ntp_kernel *k = nullptr;
  EXPECT_EQ(ntp_jit_compile_report(&s, &o, &k, report), NTP_OK)
      << ntp_last_error();
  return KernelPtr(k);
}

/// Compiles, expecting `status`; returns ntp_last_error().
inline std::string compileError(const Spec &spec, const ntp_jit_options &o,
                                int status) {
  ntp_jit_spec s = spec.c();
  ntp_kernel *k = reinterpret_cast<ntp_kernel *>(1);
  EXPECT_EQ(ntp_jit_compile(&s, &o, &k), status);
  EXPECT_EQ(k, nullptr);
  return ntp_last_error();
}

inline const ntp_jit_options kNoCache = [] {
  ntp_jit_options o;
  ntp_jit_options_init(&o);
  o.use_cache = 0;
  return o;
}();

/// Deterministic inputs for `k`: x, v, params, as float or double bytes.
struct Inputs {
  std::vector<double> x, v, params;
  int64_t batch;
};

inline Inputs inputsFor(ntp_kernel *k, int64_t batch, unsigned seed = 7) {
  ntp_kernel_info info;
  EXPECT_EQ(ntp_kernel_info_get(k, &info), NTP_OK);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  Inputs in;
  in.batch = batch;
  in.x.resize(size_t(batch * info.input_dim));
  in.v.resize(size_t(info.input_dim));
  in.params.resize(size_t(info.num_params));
  for (auto *vec : {&in.x, &in.v, &in.params})
    for (double &e : *vec)
      e = u(rng);
  return in;
}

/// Runs `k` on `in`; the output as raw bytes, for bitwise comparison.
inline std::vector<unsigned char> run(ntp_kernel *k, const Inputs &in) {
  ntp_kernel_info info;
  EXPECT_EQ(ntp_kernel_info_get(k, &info), NTP_OK);
  size_t outCount =
      size_t(info.order + 1) * size_t(in.batch) * size_t(info.output_dim);
  auto convert = [&](const std::vector<double> &d) {
    std::vector<unsigned char> bytes;
    for (double e : d) {
      if (info.dtype == NTP_DTYPE_F32) {
        float f = float(e);
        auto *p = reinterpret_cast<unsigned char *>(&f);
        bytes.insert(bytes.end(), p, p + sizeof f);
      } else {
        auto *p = reinterpret_cast<unsigned char *>(&e);
        bytes.insert(bytes.end(), p, p + sizeof e);
      }
    }
    return bytes;
  };
  std::vector<unsigned char> x = convert(in.x), v = convert(in.v),
                             p = convert(in.params);
  size_t elem = info.dtype == NTP_DTYPE_F32 ? 4 : 8;
  std::vector<unsigned char> out(outCount * elem, 0xAB);
  EXPECT_EQ(ntp_forward(k, x.data(), v.data(), p.data(), out.data(), in.batch),
            NTP_OK)
      << ntp_last_error();
  return out;
}

inline std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

inline void writeFile(const std::string &path, const std::string &bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

/// The C++ spec of a plain network, its other fields at their defaults
/// (named, as an aggregate would leave them to -Wmissing-field-initializers).
inline ntp::MlpSpec mlpSpec(std::vector<int64_t> layers, std::string activation,
                            int order, ntp::Dtype dtype = ntp::Dtype::F32) {
  ntp::MlpSpec spec;
  spec.layers = std::move(layers);
  spec.activation = std::move(activation);
  spec.order = order;
  spec.dtype = dtype;
  return spec;
}

inline ntp::JitOptions cppNoCache() {
  ntp::JitOptions o;
  o.useCache = false;
  return o;
}

inline const Spec kSmall{{2, 8, 8, 1}, "tanh", 3, NTP_DTYPE_F32, ""};

} // namespace ntp::jit_test

#endif // NTP_TEST_UNIT_JIT_JITTESTUTIL_H
