//===- KernelCache.cpp - On-disk cache of JIT-compiled objects ------------===//
//
// Entry layout (host byte order; the key names the target triple, so an
// entry never travels to another kind of machine):
//
//   EntryHeader (48 bytes) | key text (keySize bytes) | object (payloadSize)
//
// headerChecksum covers the header fields before it and the key text;
// payloadChecksum covers the object. Both are xxh3-64.
//
//===----------------------------------------------------------------------===//

#include "KernelCache.h"

#include "ntp/artifact.hpp"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Support/xxhash.h"

#include <cstddef>
#include <cstdlib>
#include <cstring>

using namespace ntp::jit;

namespace {

constexpr char kMagic[8] = {'N', 'T', 'P', 'J', 'I', 'T', 'O', '\n'};

struct EntryHeader {
  char magic[8];
  uint32_t formatVersion;
  uint32_t keySize;
  uint64_t keyHash;
  uint64_t payloadSize;
  uint64_t payloadChecksum;
  uint64_t headerChecksum;
};
static_assert(sizeof(EntryHeader) == 48, "entry header must be packed");

uint64_t headerChecksum(const EntryHeader &header, llvm::StringRef keyText) {
  std::string bytes(reinterpret_cast<const char *>(&header),
                    offsetof(EntryHeader, headerChecksum));
  bytes += keyText.str();
  return llvm::xxh3_64bits(bytes);
}

} // namespace

CacheKey::CacheKey(std::string keyText)
    : text(std::move(keyText)), hash(llvm::xxh3_64bits(text)) {}

std::string CacheKey::fileName() const {
  return llvm::utohexstr(hash, /*LowerCase=*/true, /*Width=*/16) + ".ntpo";
}

std::string ntp::jit::resolveCacheDir(const char *option) {
  auto nonEmpty = [](const char *s) { return s && *s; };
  std::string dir;
  if (nonEmpty(option)) {
    dir = option;
  } else if (const char *env = std::getenv("NTP_CACHE_DIR"); nonEmpty(env)) {
    dir = env;
  } else if (const char *xdg = std::getenv("XDG_CACHE_HOME"); nonEmpty(xdg)) {
    dir = std::string(xdg) + "/ntp";
  } else if (const char *home = std::getenv("HOME"); nonEmpty(home)) {
    dir = std::string(home) + "/.cache/ntp";
  }
  return dir == "off" ? std::string() : dir;
}

CacheLookup
ntp::jit::readCacheEntry(const std::string &path, const CacheKey &key,
                         std::unique_ptr<llvm::MemoryBuffer> &object,
                         std::string &why) {
  llvm::sys::fs::file_status status;
  if (llvm::sys::fs::status(path, status, /*Follow=*/false))
    return CacheLookup::Missing; // no such entry (or no such directory)
  // Read, never mmap, so a file replaced or truncated by another process
  // cannot fault under us; and through the artifact reader, which never
  // blocks (a FIFO) and never reads what is not a regular file or is larger
  // than an artifact can be (a symlink to /dev/zero): such an entry is
  // corrupt and gets rebuilt.
  std::string contents, reason;
  if (ntp::artifact::readArtifactFile(path, contents, reason) != NTP_OK) {
    why = "cannot read it: " + reason;
    return CacheLookup::Invalid;
  }
  llvm::StringRef bytes = contents;
  EntryHeader header;
  if (bytes.size() < sizeof(header)) {
    why = "it is truncated";
    return CacheLookup::Invalid;
  }
  std::memcpy(&header, bytes.data(), sizeof(header));
  if (std::memcmp(header.magic, kMagic, sizeof(kMagic)) != 0) {
    why = "it is not an ntp cache entry";
    return CacheLookup::Invalid;
  }
  if (header.formatVersion != kCacheFormatVersion) {
    why = "it has cache format " + std::to_string(header.formatVersion) +
          ", not " + std::to_string(kCacheFormatVersion);
    return CacheLookup::Invalid;
  }
  uint64_t rest = bytes.size() - sizeof(header);
  if (header.keySize > rest || header.payloadSize != rest - header.keySize) {
    why = "it is truncated or has trailing bytes";
    return CacheLookup::Invalid;
  }
  llvm::StringRef keyText = bytes.substr(sizeof(header), header.keySize);
  if (header.headerChecksum != headerChecksum(header, keyText)) {
    why = "its header is corrupt";
    return CacheLookup::Invalid;
  }
  // The file name is only a hash: compare the whole key.
  if (header.keyHash != key.hash || keyText != key.text) {
    why = "it was written for another spec, target or compiler version";
    return CacheLookup::Invalid;
  }
  llvm::StringRef payload =
      bytes.substr(sizeof(header) + header.keySize, header.payloadSize);
  if (header.payloadChecksum != llvm::xxh3_64bits(payload)) {
    why = "its object file is corrupt";
    return CacheLookup::Invalid;
  }
  object = llvm::MemoryBuffer::getMemBufferCopy(payload, path);
  return CacheLookup::Hit;
}

bool ntp::jit::writeCacheEntry(const std::string &dir, const std::string &path,
                               const CacheKey &key, llvm::StringRef object,
                               std::string &error) {
  if (std::error_code ec = llvm::sys::fs::create_directories(dir)) {
    error = "cannot create the cache directory '" + dir + "': " + ec.message();
    return false;
  }
  EntryHeader header;
  std::memcpy(header.magic, kMagic, sizeof(kMagic));
  header.formatVersion = kCacheFormatVersion;
  header.keySize = static_cast<uint32_t>(key.text.size());
  header.keyHash = key.hash;
  header.payloadSize = object.size();
  header.payloadChecksum = llvm::xxh3_64bits(object);
  header.headerChecksum = headerChecksum(header, key.text);

  // Same directory as the entry, so the rename is atomic.
  llvm::SmallString<256> tempPath;
  int fd;
  if (std::error_code ec = llvm::sys::fs::createUniqueFile(
          path + ".tmp-%%%%%%%%%%%%", fd, tempPath)) {
    error =
        "cannot write to the cache directory '" + dir + "': " + ec.message();
    return false;
  }
  bool written;
  {
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    os.write(reinterpret_cast<const char *>(&header), sizeof(header));
    os << key.text << object;
    os.close();
    written = !os.has_error();
    if (!written) {
      error = "cannot write the cache entry '" + tempPath.str().str() +
              "': " + os.error().message();
      os.clear_error();
    }
  }
  if (written) {
    if (std::error_code ec = llvm::sys::fs::rename(tempPath, path)) {
      error =
          "cannot rename the cache entry into '" + path + "': " + ec.message();
      written = false;
    }
  }
  if (!written)
    llvm::sys::fs::remove(tempPath);
  return written;
}
