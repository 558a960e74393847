//===- JitTest.cpp - Tests of the in-process JIT and its kernel cache -----===//
//
// The JIT kernel against the ahead-of-time artifact (bit for bit, same CPU)
// and against a closed form; cache misses, hits and corrupt entries;
// concurrent compiles (threads and processes) and concurrent calls; bad
// input of every kind, which must give a status and a sentence, never a
// crash or output on stderr.
//
//===----------------------------------------------------------------------===//
#include "ntp/JIT/Jit.h"
#include "ntp/jit.h"
#include "ntp/runtime.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

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

ntp_jit_options options(const std::string &cacheDir) {
  ntp_jit_options o;
  ntp_jit_options_init(&o);
  o.cache_dir = cacheDir.c_str();
  return o;
}

/// Compiles, expecting success; fills `report` when given.
KernelPtr compileOrDie(const Spec &spec, const ntp_jit_options &o,
                       ntp_jit_report *report = nullptr) {
  ntp_jit_spec s = spec.c();
  ntp_kernel *k = nullptr;
  EXPECT_EQ(ntp_jit_compile_report(&s, &o, &k, report), NTP_OK)
      << ntp_last_error();
  return KernelPtr(k);
}

/// Compiles, expecting `status`; returns ntp_last_error().
std::string compileError(const Spec &spec, const ntp_jit_options &o,
                         int status) {
  ntp_jit_spec s = spec.c();
  ntp_kernel *k = reinterpret_cast<ntp_kernel *>(1);
  EXPECT_EQ(ntp_jit_compile(&s, &o, &k), status);
  EXPECT_EQ(k, nullptr);
  return ntp_last_error();
}

const ntp_jit_options kNoCache = [] {
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

Inputs inputsFor(ntp_kernel *k, int64_t batch, unsigned seed = 7) {
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
std::vector<unsigned char> run(ntp_kernel *k, const Inputs &in) {
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

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void writeFile(const std::string &path, const std::string &bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

/// The C++ spec of a plain network, its other fields at their defaults
/// (named, as an aggregate would leave them to -Wmissing-field-initializers).
ntp::MlpSpec mlpSpec(std::vector<int64_t> layers, std::string activation,
                     int order, ntp::Dtype dtype = ntp::Dtype::F32) {
  ntp::MlpSpec spec;
  spec.layers = std::move(layers);
  spec.activation = std::move(activation);
  spec.order = order;
  spec.dtype = dtype;
  return spec;
}

ntp::JitOptions cppNoCache() {
  ntp::JitOptions o;
  o.useCache = false;
  return o;
}

const Spec kSmall{{2, 8, 8, 1}, "tanh", 3, NTP_DTYPE_F32, ""};

//===----------------------------------------------------------------------===//
// Results
//===----------------------------------------------------------------------===//

TEST(JitTest, MatchesTheAotArtifactBitForBit) {
  TempDir dir;
  std::string so = dir.path() + "/aot.so";
  for (int dtype : {NTP_DTYPE_F32, NTP_DTYPE_F64}) {
    SCOPED_TRACE(dtype);
    std::string command = std::string(NTP_COMPILE_EXE) +
                          " --layers=1,24,24,24,1 --activation=tanh --order=5"
                          " --target-cpu=native --dtype=" +
                          (dtype == NTP_DTYPE_F64 ? "f64" : "f32") + " -o " +
                          so;
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
    ntp_kernel *aot = nullptr;
    ASSERT_EQ(ntp_kernel_load(so.c_str(), &aot), NTP_OK) << ntp_last_error();
    KernelPtr aotKernel(aot);
    Spec spec{{1, 24, 24, 24, 1}, "tanh", 5, dtype, ""};
    KernelPtr jit = compileOrDie(spec, kNoCache);
    ASSERT_TRUE(jit);
    Inputs in = inputsFor(jit.get(), 77);
    EXPECT_EQ(run(jit.get(), in), run(aotKernel.get(), in));
  }
}

TEST(JitTest, ComputesTheJetOfALinearNetwork) {
  // identity activation: f(x) = W2 (W1 x + b1) + b2, so out[0] = f(x),
  // out[1] = W2 W1 v and out[k >= 2] = 0, exactly up to rounding.
  Spec spec{{2, 3, 1}, "identity", 3, NTP_DTYPE_F64, ""};
  KernelPtr k = compileOrDie(spec, kNoCache);
  ASSERT_TRUE(k);
  Inputs in = inputsFor(k.get(), 5);
  std::vector<unsigned char> bytes = run(k.get(), in);
  std::vector<double> out(bytes.size() / 8);
  std::memcpy(out.data(), bytes.data(), bytes.size());
  const std::vector<double> &p = in.params; // W1 (3x2), b1, W2 (1x3), b2
  for (int64_t b = 0; b < in.batch; ++b) {
    double f = p[12], df = 0;
    for (int i = 0; i < 3; ++i) {
      double h = p[6 + i], dh = 0;
      for (int j = 0; j < 2; ++j) {
        h += p[2 * i + j] * in.x[size_t(2 * b + j)];
        dh += p[2 * i + j] * in.v[size_t(j)];
      }
      f += p[9 + i] * h;
      df += p[9 + i] * dh;
    }
    EXPECT_NEAR(out[size_t(b)], f, 1e-12);
    EXPECT_NEAR(out[size_t(in.batch + b)], df, 1e-12);
    EXPECT_EQ(out[size_t(2 * in.batch + b)], 0.0);
    EXPECT_EQ(out[size_t(3 * in.batch + b)], 0.0);
  }
}

TEST(JitTest, MlirTextAndStructuredSpecGiveTheSameKernel) {
  Spec text;
  text.mlir =
      "ntp.mlp @net layers [2, 8, 8, 1] activation \"tanh\" order 3 : f32\n";
  KernelPtr a = compileOrDie(text, kNoCache);
  KernelPtr b = compileOrDie(kSmall, kNoCache);
  ASSERT_TRUE(a && b);
  Inputs in = inputsFor(a.get(), 33);
  EXPECT_EQ(run(a.get(), in), run(b.get(), in));
}

TEST(JitTest, CppApiCompilesAndRuns) {
  ntp::Kernel k = ntp::compile(mlpSpec({1, 16, 1}, "sin", 4, ntp::Dtype::F64),
                               cppNoCache());
  EXPECT_EQ(k.info().order, 4);
  EXPECT_EQ(k.activation(), "sin");
  std::vector<double> x = {0.1, 0.2, 0.3}, v = {1.0},
                      params(size_t(k.info().num_params), 0.25), out;
  k.forward(x, v, params, out);
  EXPECT_EQ(out.size(), 5u * 3u);

  ntp::Kernel m = ntp::compileMlir(
      "ntp.mlp @m layers [1, 4, 1] activation \"exp\" order 2 : f32",
      cppNoCache());
  EXPECT_EQ(m.info().dtype, NTP_DTYPE_F32);
  EXPECT_FALSE(ntp::jitVersion().empty());
}

//===----------------------------------------------------------------------===//
// Cache
//===----------------------------------------------------------------------===//

TEST(JitCacheTest, MissThenHit) {
  TempDir dir;
  ntp_jit_options o = options(dir.path());
  ntp_jit_report cold, hit;
  KernelPtr a = compileOrDie(kSmall, o, &cold);
  EXPECT_FALSE(cold.cache_hit);
  EXPECT_TRUE(cold.cache_stored);
  EXPECT_FALSE(cold.cache_rebuilt);
  EXPECT_STREQ(cold.warning, "");
  EXPECT_EQ(std::string(cold.cache_path).rfind(dir.path() + "/", 0), 0u);
  EXPECT_EQ(dir.files().size(), 1u);

  KernelPtr b = compileOrDie(kSmall, o, &hit);
  EXPECT_TRUE(hit.cache_hit);
  EXPECT_FALSE(hit.cache_stored);
  EXPECT_STREQ(hit.cache_path, cold.cache_path);
  // A hit links a stored object and compiles nothing.
  EXPECT_LT(hit.seconds, cold.seconds);
  EXPECT_LT(hit.seconds, 0.25);
  Inputs in = inputsFor(a.get(), 40);
  EXPECT_EQ(run(a.get(), in), run(b.get(), in));
}

TEST(JitCacheTest, KeyCoversSpecAndTarget) {
  TempDir dir;
  ntp_jit_options o = options(dir.path());
  ntp_jit_report r;
  compileOrDie(kSmall, o, &r);
  Spec other = kSmall;
  other.order = 2;
  compileOrDie(other, o, &r);
  EXPECT_FALSE(r.cache_hit);
  o.cpu = "x86-64-v2";
  compileOrDie(kSmall, o, &r);
  EXPECT_FALSE(r.cache_hit);
  o.tile = 4;
  compileOrDie(kSmall, o, &r);
  EXPECT_FALSE(r.cache_hit);
  EXPECT_EQ(dir.files().size(), 4u);
  compileOrDie(kSmall, o, &r);
  EXPECT_TRUE(r.cache_hit);
}

TEST(JitCacheTest, KeyCoversPerLayerActivations) {
  // One name per hidden layer: the order of the list is part of the key; a
  // list of one name repeated is that name (the same kernel, one entry).
  TempDir dir;
  ntp_jit_options o = options(dir.path());
  ntp_jit_report r;
  Spec mixed{{2, 8, 8, 1}, "silu,tanh", 3, NTP_DTYPE_F64, ""};
  KernelPtr a = compileOrDie(mixed, o, &r);
  EXPECT_FALSE(r.cache_hit);
  Spec swapped = mixed;
  swapped.activation = "tanh,silu";
  KernelPtr b = compileOrDie(swapped, o, &r);
  EXPECT_FALSE(r.cache_hit);
  Spec repeated = mixed;
  repeated.activation = "tanh,tanh";
  KernelPtr c = compileOrDie(repeated, o, &r);
  EXPECT_FALSE(r.cache_hit);
  Spec one = mixed;
  one.activation = "tanh";
  KernelPtr d = compileOrDie(one, o, &r);
  EXPECT_TRUE(r.cache_hit);
  EXPECT_EQ(dir.files().size(), 3u);
  ASSERT_TRUE(a && b && c && d);
  EXPECT_STREQ(ntp_kernel_activation(a.get()), "silu,tanh");
  EXPECT_STREQ(ntp_kernel_activation(c.get()), "tanh");
  Inputs in = inputsFor(a.get(), 9);
  EXPECT_NE(run(a.get(), in), run(b.get(), in));
  EXPECT_EQ(run(c.get(), in), run(d.get(), in));
}

/// Typed layers (issue 14): C++ MlpSpec fields and C spec.mlir describe the
/// same kernel; its description is that text; the parameter count includes
/// B and the slopes; the cache keys differ from the plain network's.
TEST(JitTest, TypedLayers) {
  ntp::MlpSpec spec = mlpSpec({2, 6, 6, 1}, "silu,tanh", 3, ntp::Dtype::F64);
  spec.fourier = 4;
  spec.slopes = {"neuron", "layer"};
  spec.residual = {false, true};
  const std::string text =
      "ntp.mlp @ntp_kernel layers [2, 6, 6, 1] activation [\"silu\", "
      "\"tanh\"] fourier 4 slopes [\"neuron\", \"layer\"] residual [false, "
      "true] order 3 : f64";
  EXPECT_EQ(ntp::mlpText(spec), text + "\n");
  ntp::Kernel cpp = ntp::compile(spec, cppNoCache());
  EXPECT_EQ(cpp.description(), text);
  KernelPtr c =
      compileOrDie(Spec{{}, "tanh", 0, NTP_DTYPE_F32, text}, kNoCache);
  ASSERT_TRUE(c);
  ntp_kernel_info info;
  ASSERT_EQ(ntp_kernel_info_get(c.get(), &info), NTP_OK);
  // B [4, 2], W_1 [6, 8], b_1, 6 slopes, W_2, b_2, 1 slope, W_3, b_3.
  EXPECT_EQ(info.num_params, 8 + 48 + 6 + 6 + 36 + 6 + 1 + 6 + 1);
  Inputs in = inputsFor(c.get(), 11);
  EXPECT_EQ(run(c.get(), in), run(cpp.get(), in));
  // Another typed network is another kernel (the text is the key).
  KernelPtr plain = compileOrDie(
      Spec{{2, 6, 6, 1}, "silu,tanh", 3, NTP_DTYPE_F64, ""}, kNoCache);
  ntp_kernel_info plainInfo;
  ASSERT_EQ(ntp_kernel_info_get(plain.get(), &plainInfo), NTP_OK);
  EXPECT_EQ(plainInfo.num_params, 2 * 6 + 6 + 36 + 6 + 6 + 1);
  // Bad typed layers: one sentence.
  EXPECT_NE(compileError(Spec{{},
                              "tanh",
                              0,
                              NTP_DTYPE_F32,
                              "ntp.mlp @n layers [1, 4, 5, 1] activation "
                              "\"tanh\" residual [false, true] order 2 : f32"},
                         kNoCache, NTP_ERROR_INVALID_ARGUMENT)
                .find("residual hidden layer 2 maps width 4 to 5; a residual "
                      "layer H + F(H) needs equal widths"),
            std::string::npos);
}

/// The modified MLP's gates (issue 14): MlpSpec::gated and the ntp.mlp
/// text are the same kernel, its own cache entry; bad widths are refused
/// with one sentence.
TEST(JitTest, GatedLayers) {
  ntp::MlpSpec spec = mlpSpec({2, 6, 6, 1}, "tanh", 3, ntp::Dtype::F64);
  spec.gated = true;
  const std::string text = "ntp.mlp @ntp_kernel layers [2, 6, 6, 1] "
                           "activation \"tanh\" gated order 3 : f64";
  EXPECT_EQ(ntp::mlpText(spec), text + "\n");
  ntp::Kernel cpp = ntp::compile(spec, cppNoCache());
  EXPECT_EQ(cpp.description(), text);
  KernelPtr c =
      compileOrDie(Spec{{}, "tanh", 0, NTP_DTYPE_F32, text}, kNoCache);
  ASSERT_TRUE(c);
  ntp_kernel_info info;
  ASSERT_EQ(ntp_kernel_info_get(c.get(), &info), NTP_OK);
  // W_u [6, 2], b_u, W_v, b_v, W_1 [6, 2], b_1, W_2 [6, 6], b_2, W_3, b_3.
  EXPECT_EQ(info.num_params, 2 * 18 + 18 + 42 + 7);
  Inputs in = inputsFor(c.get(), 11);
  EXPECT_EQ(run(c.get(), in), run(cpp.get(), in));
  EXPECT_NE(compileError(Spec{{},
                              "tanh",
                              0,
                              NTP_DTYPE_F32,
                              "ntp.mlp @n layers [1, 4, 5, 1] activation "
                              "\"tanh\" gated order 2 : f32"},
                         kNoCache, NTP_ERROR_INVALID_ARGUMENT)
                .find("a gated layer's branches differ in width"),
            std::string::npos);
}

TEST(JitTest, DescribesTheNetwork) {
  KernelPtr k = compileOrDie(
      Spec{{1, 8, 8, 8, 1}, "gelu,identity,cos", 5, NTP_DTYPE_F64, ""},
      kNoCache);
  ASSERT_TRUE(k);
  int64_t length = -1;
  ASSERT_EQ(ntp_kernel_description(k.get(), nullptr, 0, &length), NTP_OK);
  std::string text(size_t(length) + 1, 'x');
  ASSERT_EQ(ntp_kernel_description(k.get(), text.data(), length + 1, &length),
            NTP_OK);
  text.resize(size_t(length));
  const std::string expected =
      "ntp.mlp @ntp_kernel layers [1, 8, 8, 8, 1] activation [\"gelu\", "
      "\"identity\", \"cos\"] order 5 : f64";
  EXPECT_EQ(text, expected);
  // The description is IR: compiled again, it is the same kernel.
  Spec again;
  again.mlir = text;
  KernelPtr k2 = compileOrDie(again, kNoCache);
  ASSERT_TRUE(k2);
  Inputs in = inputsFor(k.get(), 7);
  EXPECT_EQ(run(k.get(), in), run(k2.get(), in));
  // C++: the same text.
  ntp::Kernel cpp = ntp::compile(
      mlpSpec({1, 8, 8, 8, 1}, "gelu,identity,cos", 5, ntp::Dtype::F64),
      cppNoCache());
  EXPECT_EQ(cpp.description(), expected);
  // Truncated to the capacity, NUL-terminated; bad arguments refused.
  char small[8];
  ASSERT_EQ(ntp_kernel_description(k.get(), small, 8, &length), NTP_OK);
  EXPECT_STREQ(small, "ntp.mlp");
  EXPECT_EQ(length, int64_t(expected.size()));
  EXPECT_EQ(ntp_kernel_description(nullptr, small, 8, &length),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(ntp_kernel_description(k.get(), small, 8, nullptr),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(ntp_kernel_description(k.get(), nullptr, 8, &length),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(ntp_kernel_description(k.get(), small, -1, &length),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(ntp_last_error()).find("capacity"), std::string::npos);
}

/// The value of `key` in the #ntp.kernel attribute text `attr`: "k = v, "
/// or "k = [a, b], " (brackets and spaces dropped, quotes removed).
std::string attrValue(const std::string &attr, const std::string &key) {
  size_t at = attr.find(" " + key + " = ");
  if (at == std::string::npos)
    return "";
  at += key.size() + 4;
  size_t end =
      attr[at] == '[' ? attr.find(']', at) + 1 : attr.find_first_of(",>", at);
  std::string value;
  for (char c : attr.substr(at, end - at))
    if (c != '[' && c != ']' && c != '"' && c != ' ' && c != '@')
      value += c;
  return value;
}

TEST(JitCacheTest, KeyAndKernelAttributeAgree) {
  // The JIT keys its cache with the text of ntp::describeKernel, the function
  // whose result the passes stamp as #ntp.kernel: the facts in the stored
  // key are those of the module the same network and target compile to.
  TempDir dir;
  ntp_jit_options o = options(dir.path());
  o.cpu = "x86-64-v3";
  o.tile = 4;
  KernelPtr k = compileOrDie(kSmall, o);
  ASSERT_EQ(dir.files().size(), 1u);
  std::string entry = readFile(dir.path() + "/" + dir.files()[0]);
  size_t begin = entry.find("name="), end = entry.find("--\n", begin);
  ASSERT_NE(begin, std::string::npos);
  std::string key = entry.substr(begin, end - begin);

  std::string mlir = dir.path() + "/kernel.mlir";
  std::string command = std::string(NTP_COMPILE_EXE) +
                        " --layers=2,8,8,1 --activation=tanh --order=3"
                        " --dtype=f32 --target-cpu=x86-64-v3 --tile=4"
                        " --emit=mlir -o " +
                        mlir;
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  std::string module = readFile(mlir);
  size_t attrBegin = module.find("#ntp.kernel<");
  ASSERT_NE(attrBegin, std::string::npos);
  std::string attr =
      module.substr(attrBegin, module.find('\n', attrBegin) - attrBegin);

  ntp_kernel_info info;
  ASSERT_EQ(ntp_kernel_info_get(k.get(), &info), NTP_OK);
  std::string expected =
      "name=ntp_kernel\nlayers=" + attrValue(attr, "layers") +
      "\nactivation=" + attrValue(attr, "activation") +
      "\norder=" + attrValue(attr, "order") +
      "\ndtype=" + attrValue(attr, "element_type") +
      "\ndevice=cpu\ntile=" + attrValue(attr, "tile") +
      "\nbackward=" + (attrValue(attr, "backward") == "true" ? "1" : "0") +
      "\nworkspace_per_tile=" + attrValue(attr, "workspace_per_tile") +
      "\nnum_params=" + std::to_string(info.num_params) +
      "\ntarget_cpu=" + attrValue(attr, "target_cpu") +
      "\ncpu_features=" + attrValue(attr, "cpu_features") + "\n";
  std::string entries = attrValue(attr, "entry_points");
  for (size_t at = 0; at < entries.size();) {
    size_t comma = entries.find(',', at);
    if (comma == std::string::npos)
      comma = entries.size();
    expected += "entry=" + entries.substr(at, comma - at) + "\n";
    at = comma + 1;
  }
  EXPECT_EQ(key, expected);
  // And with the kernel the artifact describes (its manifest came from the
  // attribute): 2*8+8 + 8*8+8 + 8*1+1 parameters, 4 samples per tile.
  EXPECT_EQ(info.num_params, 105);
  EXPECT_NE(key.find("tile=4\n"), std::string::npos) << key;
  int64_t one = 0, two = 0;
  ASSERT_EQ(ntp_workspace_size(k.get(), 4, &one), NTP_OK);
  ASSERT_EQ(ntp_workspace_size(k.get(), 5, &two), NTP_OK);
  // One more tile of f32 jets: workspace_per_tile * 4 bytes more.
  EXPECT_NE(
      key.find("workspace_per_tile=" + std::to_string((two - one) / 4) + "\n"),
      std::string::npos)
      << key;
}

TEST(JitCacheTest, DirectoryComesFromTheEnvironment) {
  TempDir dir;
  std::string sub = dir.path() + "/nested/cache";
  ASSERT_EQ(::setenv("NTP_CACHE_DIR", sub.c_str(), 1), 0);
  ntp_jit_options o;
  ntp_jit_options_init(&o);
  ntp_jit_report r;
  compileOrDie(kSmall, o, &r);
  EXPECT_TRUE(r.cache_stored);
  EXPECT_EQ(std::string(r.cache_path).rfind(sub + "/", 0), 0u);

  ASSERT_EQ(::setenv("NTP_CACHE_DIR", "off", 1), 0);
  compileOrDie(kSmall, o, &r);
  EXPECT_FALSE(r.cache_hit);
  EXPECT_FALSE(r.cache_stored);
  EXPECT_STREQ(r.cache_path, "");
  ::unsetenv("NTP_CACHE_DIR");

  // The option wins over the environment; use_cache = 0 wins over both.
  ASSERT_EQ(::setenv("NTP_CACHE_DIR", sub.c_str(), 1), 0);
  o.cache_dir = "off";
  compileOrDie(kSmall, o, &r);
  EXPECT_STREQ(r.cache_path, "");
  o.cache_dir = nullptr;
  o.use_cache = 0;
  compileOrDie(kSmall, o, &r);
  EXPECT_STREQ(r.cache_path, "");
  ::unsetenv("NTP_CACHE_DIR");
}

/// Ways to damage an entry; each must be detected and rebuilt.
enum class Damage {
  Empty,
  Truncated,
  FlippedObjectByte,
  FlippedHeaderByte,
  OtherFormatVersion,
  OtherKey,
  TrailingBytes,
  Garbage,
  Fifo,       // once hung ntp_jit_compile: nothing writes it
  DevZeroLink // once read until out of memory
};

const char *damageName(Damage d) {
  switch (d) {
  case Damage::Empty:
    return "Empty";
  case Damage::Truncated:
    return "Truncated";
  case Damage::FlippedObjectByte:
    return "FlippedObjectByte";
  case Damage::FlippedHeaderByte:
    return "FlippedHeaderByte";
  case Damage::OtherFormatVersion:
    return "OtherFormatVersion";
  case Damage::OtherKey:
    return "OtherKey";
  case Damage::TrailingBytes:
    return "TrailingBytes";
  case Damage::Garbage:
    return "Garbage";
  case Damage::Fifo:
    return "Fifo";
  case Damage::DevZeroLink:
    return "DevZeroLink";
  }
  return "Unknown";
}

/// What gtest (and ctest's test list) print for GetParam().
void PrintTo(Damage d, std::ostream *os) { *os << damageName(d); }

class JitCorruptCacheTest : public ::testing::TestWithParam<Damage> {};

TEST_P(JitCorruptCacheTest, EntryIsRebuiltNeverLoaded) {
  TempDir dir;
  ntp_jit_options o = options(dir.path());
  ntp_jit_report r;
  KernelPtr good = compileOrDie(kSmall, o, &r);
  ASSERT_TRUE(r.cache_stored);
  std::string path = r.cache_path, bytes = readFile(path);
  ASSERT_GT(bytes.size(), 100u);

  switch (GetParam()) {
  case Damage::Empty:
    bytes.clear();
    break;
  case Damage::Truncated:
    bytes.resize(bytes.size() / 2);
    break;
  case Damage::FlippedObjectByte:
    bytes[bytes.size() - 100] ^= 0x40;
    break;
  case Damage::FlippedHeaderByte:
    bytes[20] ^= 0x01; // inside the key hash
    break;
  case Damage::OtherFormatVersion:
    bytes[8] = char(bytes[8] + 1); // formatVersion, right after the magic
    break;
  case Damage::OtherKey: {
    // A well-formed entry of another spec (another compiler version looks
    // the same: a different key text) under this spec's name.
    Spec other = kSmall;
    other.order = 1;
    ntp_jit_report r2;
    compileOrDie(other, o, &r2);
    bytes = readFile(r2.cache_path);
    break;
  }
  case Damage::TrailingBytes:
    bytes += "extra";
    break;
  case Damage::Garbage:
    bytes.assign(4096, '\x7f');
    break;
  case Damage::Fifo:
  case Damage::DevZeroLink:
    break;
  }
  if (GetParam() == Damage::Fifo) {
    ASSERT_EQ(::unlink(path.c_str()), 0);
    ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  } else if (GetParam() == Damage::DevZeroLink) {
    ASSERT_EQ(::unlink(path.c_str()), 0);
    ASSERT_EQ(::symlink("/dev/zero", path.c_str()), 0);
  } else {
    writeFile(path, bytes);
  }

  KernelPtr rebuilt = compileOrDie(kSmall, o, &r);
  ASSERT_TRUE(rebuilt);
  EXPECT_FALSE(r.cache_hit);
  EXPECT_TRUE(r.cache_rebuilt);
  EXPECT_TRUE(r.cache_stored);
  Inputs in = inputsFor(good.get(), 21);
  EXPECT_EQ(run(rebuilt.get(), in), run(good.get(), in));
  compileOrDie(kSmall, o, &r);
  EXPECT_TRUE(r.cache_hit);
}

INSTANTIATE_TEST_SUITE_P(
    AllDamage, JitCorruptCacheTest,
    ::testing::Values(Damage::Empty, Damage::Truncated,
                      Damage::FlippedObjectByte, Damage::FlippedHeaderByte,
                      Damage::OtherFormatVersion, Damage::OtherKey,
                      Damage::TrailingBytes, Damage::Garbage, Damage::Fifo,
                      Damage::DevZeroLink),
    [](const ::testing::TestParamInfo<Damage> &info) {
      return std::string(damageName(info.param));
    });

TEST(JitCacheTest, UnwritableDirectoryStillCompiles) {
  TempDir dir;
  // A directory below a regular file can be neither created nor written,
  // even by root.
  std::string file = dir.path() + "/file";
  writeFile(file, "x");
  std::string cacheDir = file + "/cache";
  ntp_jit_options o = options(cacheDir);
  ntp_jit_report r;
  ::testing::internal::CaptureStderr();
  KernelPtr k = compileOrDie(kSmall, o, &r);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  ASSERT_TRUE(k);
  EXPECT_FALSE(r.cache_stored);
  EXPECT_NE(std::string(r.warning).find("not cached"), std::string::npos)
      << r.warning;
  Inputs in = inputsFor(k.get(), 3);
  run(k.get(), in);
}

//===----------------------------------------------------------------------===//
// Concurrency
//===----------------------------------------------------------------------===//

TEST(JitConcurrencyTest, ProcessesCompilingTheSameSpecAtOnce) {
  TempDir dir;
  KernelPtr reference = compileOrDie(kSmall, kNoCache);
  Inputs in = inputsFor(reference.get(), 50);
  std::vector<unsigned char> expected = run(reference.get(), in);
  ntp_jit_options o = options(dir.path());

  constexpr int kChildren = 4;
  std::vector<pid_t> children;
  for (int i = 0; i < kChildren; ++i) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ntp_jit_spec s = kSmall.c();
      ntp_kernel *k = nullptr;
      bool ok = ntp_jit_compile(&s, &o, &k) == NTP_OK && run(k, in) == expected;
      ntp_kernel_free(k);
      ::_exit(ok ? 0 : 1);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  // One complete entry, no temporary files left, and it is a hit.
  EXPECT_EQ(dir.files().size(), 1u);
  ntp_jit_report r;
  KernelPtr k = compileOrDie(kSmall, o, &r);
  EXPECT_TRUE(r.cache_hit);
  EXPECT_EQ(run(k.get(), in), expected);
}

TEST(JitConcurrencyTest, ThreadsCompilingIdenticalAndDifferentSpecs) {
  TempDir dir;
  // Four different specs, each compiled by two threads at once.
  std::vector<Spec> specs = {
      {{2, 8, 8, 1}, "tanh", 3, NTP_DTYPE_F32, ""},
      {{1, 6, 2}, "sigmoid", 2, NTP_DTYPE_F64, ""},
      {{3, 5, 1}, "sin", 4, NTP_DTYPE_F32, ""},
      {{1, 4, 4, 1}, "softplus", 1, NTP_DTYPE_F64, ""},
  };
  std::vector<std::vector<unsigned char>> expected;
  std::vector<Inputs> inputs;
  for (const Spec &s : specs) {
    KernelPtr k = compileOrDie(s, kNoCache);
    inputs.push_back(inputsFor(k.get(), 19));
    expected.push_back(run(k.get(), inputs.back()));
  }
  ntp_jit_options o = options(dir.path());
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (size_t t = 0; t < 2 * specs.size(); ++t)
    threads.emplace_back([&, t] {
      size_t i = t % specs.size();
      ntp_jit_spec s = specs[i].c();
      ntp_kernel *k = nullptr;
      if (ntp_jit_compile(&s, &o, &k) != NTP_OK) {
        ++failures;
        return;
      }
      if (run(k, inputs[i]) != expected[i])
        ++failures;
      ntp_kernel_free(k);
    });
  for (std::thread &t : threads)
    t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(dir.files().size(), specs.size());
}

TEST(JitConcurrencyTest, ConcurrentForwardOnOneKernelMatchesSerial) {
  KernelPtr k = compileOrDie(Spec{{1, 24, 24, 1}, "tanh", 6, NTP_DTYPE_F32, ""},
                             kNoCache);
  ASSERT_TRUE(k);
  constexpr int kThreads = 8;
  std::vector<Inputs> inputs;
  std::vector<std::vector<unsigned char>> serial;
  for (int t = 0; t < kThreads; ++t) {
    inputs.push_back(inputsFor(k.get(), 64 + 37 * t, unsigned(100 + t)));
    serial.push_back(run(k.get(), inputs.back()));
  }
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 20; ++rep)
        if (run(k.get(), inputs[size_t(t)]) != serial[size_t(t)])
          ++mismatches;
    });
  for (std::thread &t : threads)
    t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

//===----------------------------------------------------------------------===//
// Bad input
//===----------------------------------------------------------------------===//

bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

TEST(JitErrorTest, MalformedSpecs) {
  ::testing::internal::CaptureStderr();
  Spec syntax;
  syntax.mlir = "ntp.mlp @n layers [1, 4, 1] activation \"tanh\" order : f32";
  std::string e = compileError(syntax, kNoCache, NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(e, "malformed spec") && contains(e, "line 1:")) << e;

  Spec noMlp;
  noMlp.mlir = "module {}";
  e = compileError(noMlp, kNoCache, NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(e, "exactly one ntp.mlp")) << e;

  Spec unknownOp;
  unknownOp.mlir = "foo.bar";
  compileError(unknownOp, kNoCache, NTP_ERROR_INVALID_ARGUMENT);

  Spec activation = kSmall;
  activation.activation = "relu";
  e = compileError(activation, kNoCache, NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(e, "relu")) << e;

  Spec list = kSmall; // two hidden layers
  list.activation = "silu,tanh,cos";
  e = compileError(list, kNoCache, NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(e, "one activation per hidden layer")) << e;
  list.activation = "silu,";
  e = compileError(list, kNoCache, NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(e, "unknown activation ''")) << e;

  Spec order = kSmall;
  order.order = -1;
  e = compileError(order, kNoCache, NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(e, "order")) << e;

  Spec width = kSmall;
  width.layers = {1, 0, 1};
  e = compileError(width, kNoCache, NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(e, "width")) << e;

  Spec oneLayer = kSmall;
  oneLayer.layers = {3};
  e = compileError(oneLayer, kNoCache, NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(e, "two layer widths")) << e;

  Spec dtype = kSmall;
  dtype.dtype = 7;
  e = compileError(dtype, kNoCache, NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(e, "dtype")) << e;
  // MLIR diagnostics go into the message, not to stderr.
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

TEST(JitErrorTest, UnsupportedOptions) {
  ::testing::internal::CaptureStderr();
  ntp_jit_options o = kNoCache;
  o.device = 7;
  std::string e = compileError(kSmall, o, NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(e, "unknown device 7")) << e;
  o = kNoCache;
  o.cpu = "not-a-cpu";
  e = compileError(kSmall, o, NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(e, "not-a-cpu")) << e;
  o = kNoCache;
  o.features = "+not-a-feature";
  e = compileError(kSmall, o, NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(e, "+not-a-feature")) << e;
  o.features = "avx2";
  compileError(kSmall, o, NTP_ERROR_INVALID_ARGUMENT);
  o = kNoCache;
  o.tile = -3;
  e = compileError(kSmall, o, NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(e, "tile")) << e;
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

TEST(JitErrorTest, NullArguments) {
  ntp_jit_spec s = kSmall.c();
  ntp_kernel *k = nullptr;
  EXPECT_EQ(ntp_jit_compile(nullptr, &kNoCache, &k),
            NTP_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(ntp_jit_compile(&s, &kNoCache, nullptr),
            NTP_ERROR_INVALID_ARGUMENT);
  s.layers = nullptr;
  EXPECT_EQ(ntp_jit_compile(&s, &kNoCache, &k), NTP_ERROR_INVALID_ARGUMENT);
  ntp_jit_spec_init(nullptr);
  ntp_jit_options_init(nullptr);
}

TEST(JitErrorTest, CppErrorsCarryTheStatus) {
  try {
    ntp::compile(mlpSpec({1, 4, 1}, "relu", 2), cppNoCache());
    FAIL() << "expected ntp::Error";
  } catch (const ntp::Error &e) {
    EXPECT_EQ(e.status(), NTP_ERROR_INVALID_ARGUMENT);
    EXPECT_TRUE(contains(e.what(), "relu")) << e.what();
  }
}

} // namespace
