//===- Container.cpp - The artifact container: seal, validate, read -------===//
//
// Implements the container half of ntp/artifact.hpp: the checksum, the one
// writer (sealArtifact) and the one reader (openArtifact, readArtifactFile)
// that both CPU and CUDA artifacts go through. See artifact.hpp for the
// layout.
//
//===----------------------------------------------------------------------===//
#include "ntp/artifact.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace ntp::artifact {
namespace {

void putLE(std::string &out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i)
    out += static_cast<char>((value >> (8 * i)) & 0xff);
}

uint64_t getLE(std::string_view in, size_t offset, int bytes) {
  uint64_t value = 0;
  for (int i = bytes - 1; i >= 0; --i)
    value = (value << 8) | static_cast<unsigned char>(in[offset + i]);
  return value;
}

/// The trailer with the checksum field zeroed: what the checksum covers.
std::string trailerWithoutChecksum(uint64_t payloadBytes,
                                   uint64_t manifestBytes, uint32_t abi) {
  std::string trailer;
  putLE(trailer, payloadBytes, 8);
  putLE(trailer, manifestBytes, 8);
  putLE(trailer, 0, 8);
  putLE(trailer, kTrailerBytes, 4);
  putLE(trailer, abi, 4);
  trailer += kTrailerMagic;
  return trailer;
}

uint64_t containerChecksum(std::string_view payload, std::string_view manifest,
                           std::string_view trailerNoChecksum) {
  return checksum64(trailerNoChecksum,
                    checksum64(manifest, checksum64(payload)));
}

/// The abi_version value of version-1 manifest text found in `bytes`, or -1.
int64_t legacyAbiVersion(std::string_view bytes) {
  std::string marker = std::string(kManifestMagic) + "\nabi_version=";
  size_t at = bytes.find(marker);
  if (at == std::string_view::npos)
    return -1;
  int64_t version = 0;
  size_t i = at + marker.size();
  int digits = 0;
  for (; i < bytes.size() && bytes[i] >= '0' && bytes[i] <= '9' && digits < 9;
       ++i, ++digits)
    version = version * 10 + (bytes[i] - '0');
  return digits ? version : -1;
}

std::string recompile(int64_t version) {
  return "it is an ntp kernel artifact of ABI version " +
         std::to_string(version) + ", but this runtime loads version " +
         std::to_string(kAbiVersion) + ": recompile it with this ntp-compile";
}

} // namespace

uint64_t checksum64(std::string_view bytes, uint64_t state) {
  for (unsigned char c : bytes) {
    state ^= c;
    state *= 0x100000001b3ull;
  }
  return state;
}

std::string sealArtifactText(std::string_view payload,
                             std::string_view manifestText,
                             int32_t abiVersion) {
  std::string trailer = trailerWithoutChecksum(
      payload.size(), manifestText.size(), static_cast<uint32_t>(abiVersion));
  uint64_t sum = containerChecksum(payload, manifestText, trailer);
  std::string checksum;
  putLE(checksum, sum, 8);
  trailer.replace(16, 8, checksum);
  std::string out;
  out.reserve(payload.size() + manifestText.size() + trailer.size());
  out.append(payload);
  out.append(manifestText);
  out.append(trailer);
  return out;
}

std::string sealArtifact(std::string_view payload,
                         const KernelManifest &manifest) {
  return sealArtifactText(payload, serializeManifest(manifest));
}

ntp_status openArtifact(std::string_view bytes, ArtifactView &view,
                        std::string &error) {
  if (bytes.size() > static_cast<uint64_t>(kMaxArtifactBytes)) {
    error = "it is larger than " + std::to_string(kMaxArtifactBytes) +
            " bytes, the largest artifact this runtime reads";
    return NTP_ERROR_BAD_ARTIFACT;
  }
  if (bytes.size() < kTrailerBytes ||
      bytes.substr(bytes.size() - kTrailerMagic.size()) != kTrailerMagic) {
    // Version 1 had no trailer: recognise it to say which version it is.
    int64_t legacy = legacyAbiVersion(
        bytes.substr(0, std::min<size_t>(bytes.size(), kMaxArtifactBytes)));
    bool legacyCuda =
        bytes.substr(0, kLegacyCudaMagic.size()) == kLegacyCudaMagic;
    if (legacy >= 0 && legacy != kAbiVersion) {
      error = recompile(legacy);
      return NTP_ERROR_ABI_MISMATCH;
    }
    if (legacyCuda) {
      error = recompile(1);
      return NTP_ERROR_ABI_MISMATCH;
    }
    if (bytes.empty())
      error = "it is empty, not an ntp kernel artifact";
    else if (bytes.substr(0, 4) == "\x7f"
                                   "ELF")
      error = "it is a shared object without an ntp artifact trailer (not "
              "an ntp kernel artifact, or truncated)";
    else
      error = "it is not an ntp kernel artifact (no artifact trailer)";
    return NTP_ERROR_BAD_ARTIFACT;
  }

  size_t base = bytes.size() - kTrailerBytes;
  uint64_t payloadBytes = getLE(bytes, base, 8);
  uint64_t manifestBytes = getLE(bytes, base + 8, 8);
  uint64_t checksum = getLE(bytes, base + 16, 8);
  uint64_t trailerBytes = getLE(bytes, base + 24, 4);
  uint32_t abi = static_cast<uint32_t>(getLE(bytes, base + 28, 4));
  if (abi != static_cast<uint32_t>(kAbiVersion)) {
    error = recompile(abi);
    return NTP_ERROR_ABI_MISMATCH;
  }
  if (trailerBytes != kTrailerBytes || manifestBytes > kMaxManifestBytes ||
      payloadBytes > base || manifestBytes != base - payloadBytes) {
    error = "it is truncated or corrupt (its trailer's sizes do not add up "
            "to the file's " +
            std::to_string(bytes.size()) + " bytes)";
    return NTP_ERROR_BAD_ARTIFACT;
  }
  std::string_view payload = bytes.substr(0, payloadBytes);
  std::string_view manifest = bytes.substr(payloadBytes, manifestBytes);
  if (checksum != containerChecksum(payload, manifest,
                                    trailerWithoutChecksum(
                                        payloadBytes, manifestBytes, abi))) {
    error = "it is corrupt (checksum mismatch)";
    return NTP_ERROR_BAD_ARTIFACT;
  }
  KernelManifest parsed;
  std::string reason;
  if (ntp_status status = parseManifest(manifest, parsed, reason)) {
    error = status == NTP_ERROR_ABI_MISMATCH
                ? reason
                : "it has a malformed manifest: " + reason;
    return status;
  }
  if (parsed.cuda &&
      static_cast<uint64_t>(parsed.cuda->imageBytes) != payloadBytes) {
    error = "it is corrupt: the image has " + std::to_string(payloadBytes) +
            " bytes, the manifest says " +
            std::to_string(parsed.cuda->imageBytes);
    return NTP_ERROR_BAD_ARTIFACT;
  }
  view.payload = payload;
  view.manifestText = manifest;
  view.manifest = std::move(parsed);
  return NTP_OK;
}

ntp_status readArtifactFile(const std::string &path, std::string &bytes,
                            std::string &error, int64_t maxBytes, int *keepFd) {
  if (keepFd)
    *keepFd = -1;
  // O_NONBLOCK: opening a FIFO must not wait for a writer. Regular files
  // ignore the flag.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    error = std::strerror(errno);
    return NTP_ERROR_IO;
  }
  struct Closer {
    int &fd;
    ~Closer() {
      if (fd >= 0)
        ::close(fd);
    }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    error = std::strerror(errno);
    return NTP_ERROR_IO;
  }
  if (!S_ISREG(st.st_mode)) {
    error = "it is not a regular file";
    return NTP_ERROR_IO;
  }
  if (st.st_size > maxBytes) {
    error = "it has " + std::to_string(st.st_size) +
            " bytes, more than the largest artifact this runtime reads (" +
            std::to_string(maxBytes) + ")";
    return NTP_ERROR_BAD_ARTIFACT;
  }
  bytes.assign(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t got = ::pread(fd, &bytes[done], bytes.size() - done,
                          static_cast<off_t>(done));
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0) {
      error = std::string("read error: ") + std::strerror(errno);
      return NTP_ERROR_IO;
    }
    if (got == 0)
      break; // shrank under us: validation sees the short file
    done += static_cast<size_t>(got);
  }
  bytes.resize(done);
  if (keepFd) {
    *keepFd = fd;
    fd = -1;
  }
  return NTP_OK;
}

} // namespace ntp::artifact
