// Command-line helpers shared by the C++ examples.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdint>
#include <cstdlib>
#include <string>

namespace examples {

// ParseEndpoint reads "a.b.c.d:port" into @out; false if it is not one.
inline bool ParseEndpoint(const std::string& s, sockaddr_in* out) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos || colon + 1 == s.size()) return false;
  char* end;
  unsigned long port = std::strtoul(s.c_str() + colon + 1, &end, 10);
  if (*end || port > 65535) return false;
  *out = {};
  out->sin_family = AF_INET;
  out->sin_port = htons(static_cast<uint16_t>(port));
  return inet_pton(AF_INET, s.substr(0, colon).c_str(), &out->sin_addr) == 1;
}

// ParseSize reads "N", "NK", "NM" or "NG" (binary units); 0 if malformed.
inline uint64_t ParseSize(const char* s) {
  char* end;
  uint64_t v = std::strtoull(s, &end, 10);
  switch (*end) {
    case 'G': case 'g': v <<= 10; [[fallthrough]];
    case 'M': case 'm': v <<= 10; [[fallthrough]];
    case 'K': case 'k': v <<= 10; end++; break;
    default: break;
  }
  return *end ? 0 : v;
}

}  // namespace examples
