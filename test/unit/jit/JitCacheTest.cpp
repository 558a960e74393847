//===- JitCacheTest.cpp - Tests of the JIT's kernel cache -----------------===//
//
// Cache misses and hits, what the key covers (and that it agrees with the
// kernel's #ntp.kernel attribute), the cache directory, corrupt entries
// (rebuilt, never loaded) and an unwritable directory.
//
//===----------------------------------------------------------------------===//
#include "JitTestUtil.h"

#include "ntp/JIT/Jit.h"
#include "ntp/jit.h"
#include "ntp/runtime.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace {

using namespace ntp::jit_test;

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
} // namespace
