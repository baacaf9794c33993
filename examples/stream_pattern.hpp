// The byte pattern uringx-stream sends: byte i is a function of i, so any
// receiver can verify any slice (zcnet-sink, zcnet-proxy tests). Byte i is
// byte (i % 8) of the little-endian word (i / 8) * K, so whole words are
// filled and checked with one multiply each: at memory speed, so that the
// examples measure the network path, not the pattern.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace examples {

inline constexpr uint64_t kPatternK = 0x9E3779B97F4A7C15ULL;

inline uint8_t StreamPattern(uint64_t i) {
  uint64_t x = (i >> 3) * kPatternK;
  return static_cast<uint8_t>(x >> (8 * (i & 7)));
}

// Writes the pattern's bytes @offset .. @offset + @n to @dst.
inline void FillPattern(std::byte* dst, uint64_t offset, size_t n) {
  size_t i = 0;
  for (; i < n && ((offset + i) & 7); i++) dst[i] = std::byte{StreamPattern(offset + i)};
  for (; i + 8 <= n; i += 8) {
    uint64_t w = ((offset + i) >> 3) * kPatternK;  // little-endian hosts (x86, arm64)
    std::memcpy(dst + i, &w, 8);
  }
  for (; i < n; i++) dst[i] = std::byte{StreamPattern(offset + i)};
}

// Checks @n received bytes at stream @offset; returns the index of the first
// wrong byte in @src, or -1 when all match.
inline long CheckPattern(const std::byte* src, uint64_t offset, size_t n) {
  size_t i = 0;
  for (; i < n && ((offset + i) & 7); i++)
    if (static_cast<uint8_t>(src[i]) != StreamPattern(offset + i)) return static_cast<long>(i);
  for (; i + 8 <= n; i += 8) {
    uint64_t w = ((offset + i) >> 3) * kPatternK, got;
    std::memcpy(&got, src + i, 8);
    if (got != w) break;  // the byte loop below names the first wrong one
  }
  for (; i < n; i++)
    if (static_cast<uint8_t>(src[i]) != StreamPattern(offset + i)) return static_cast<long>(i);
  return -1;
}

}  // namespace examples
