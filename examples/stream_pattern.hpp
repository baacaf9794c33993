// The byte pattern uringx-stream sends: byte i is a function of i, so any
// receiver can verify any slice (zcnet-sink, zcnet-proxy tests).
#pragma once

#include <cstdint>

namespace examples {

inline uint8_t StreamPattern(uint64_t i) {
  uint64_t x = (i >> 3) * 0x9E3779B97F4A7C15ULL;
  return static_cast<uint8_t>(x >> (8 * (i & 7)));
}

}  // namespace examples
