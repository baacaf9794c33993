// Command-line helpers shared by the C++ examples: every bad value is
// refused with the program, the option, the accepted range and the text.
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <zcnet/net/address.hpp>

namespace examples {

// ParseSize reads "N", "NK", "NM" or "NG" (binary units); 0 if malformed.
inline uint64_t ParseSize(const char* s) {
  char* end;
  errno = 0;
  uint64_t v = std::strtoull(s, &end, 10);
  if (errno || end == s || *s == '-') return 0;
  switch (*end) {
    case 'G': case 'g': v <<= 10; [[fallthrough]];
    case 'M': case 'm': v <<= 10; [[fallthrough]];
    case 'K': case 'k': v <<= 10; end++; break;
    default: break;
  }
  return *end ? 0 : v;
}

// ParseUint reads a decimal integer in @min..@max into @out; otherwise prints
// "PROG: OPTION wants an integer MIN..MAX, got 'TEXT'" and returns false.
template <typename T>
bool ParseUint(const char* prog, const char* option, const char* text, uint64_t min, uint64_t max,
               T* out) {
  char* end;
  errno = 0;
  unsigned long long v = std::strtoull(text, &end, 10);
  if (errno || end == text || *end || *text == '-' || v < min || v > max) {
    std::fprintf(stderr, "%s: %s wants an integer %llu..%llu, got '%s'\n", prog, option,
                 static_cast<unsigned long long>(min), static_cast<unsigned long long>(max), text);
    return false;
  }
  *out = static_cast<T>(v);
  return true;
}

// ParseSeconds reads a duration in seconds, @min..@max.
inline bool ParseSeconds(const char* prog, const char* option, const char* text, double min,
                         double max, double* out) {
  char* end;
  errno = 0;
  double v = std::strtod(text, &end);
  if (errno || end == text || *end || !(v >= min && v <= max)) {
    std::fprintf(stderr, "%s: %s wants seconds %.0f..%.0f, got '%s'\n", prog, option, min, max, text);
    return false;
  }
  *out = v;
  return true;
}

// ParseAddress reads an address (zcnet::Address::Parse forms) or prints why not.
inline bool ParseAddress(const char* prog, const char* option, const char* text,
                         zcnet::Address* out) {
  auto a = zcnet::Address::Parse(text);
  if (!a.ok()) {
    std::fprintf(stderr, "%s: %s: %s\n", prog, option, std::string(a.status().message()).c_str());
    return false;
  }
  *out = *a;
  return true;
}

}  // namespace examples
