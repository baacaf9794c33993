// Address: parsing and printing IPv4, IPv6 and Unix stream addresses.
#include "zcnet/net/address.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <absl/strings/numbers.h>
#include <absl/strings/str_cat.h>

namespace zcnet {

namespace {

absl::Status Bad(absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("address '", text, "': ", why,
                                                 " (want HOST:PORT, [V6]:PORT or unix:PATH)"));
}

}  // namespace

absl::StatusOr<Address> Address::Parse(absl::string_view text) {
  if (text.substr(0, 5) == "unix:") return Unix(text.substr(5));
  size_t colon = text.rfind(':');
  if (colon == absl::string_view::npos) return Bad(text, "no port");
  absl::string_view host = text.substr(0, colon), port_text = text.substr(colon + 1);
  uint32_t port;
  if (!absl::SimpleAtoi(port_text, &port) || port > 65535 || port_text.empty() ||
      port_text.find_first_not_of("0123456789") != absl::string_view::npos)
    return Bad(text, absl::StrCat("port '", port_text, "' is not 0..65535"));
  Address a;
  if (!host.empty() && host.front() == '[') {
    if (host.back() != ']') return Bad(text, "an IPv6 address needs its closing ']'");
    std::string v6(host.substr(1, host.size() - 2));
    uint32_t scope = 0;
    if (size_t pct = v6.find('%'); pct != std::string::npos) {
      std::string zone = v6.substr(pct + 1);
      v6.resize(pct);
      if (!absl::SimpleAtoi(zone, &scope)) scope = if_nametoindex(zone.c_str());
      if (!scope) return Bad(text, absl::StrCat("no interface '", zone, "' for the scope"));
    }
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&a.storage_);
    if (inet_pton(AF_INET6, v6.c_str(), &s6->sin6_addr) != 1)
      return Bad(text, absl::StrCat("'", v6, "' is not an IPv6 address"));
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(static_cast<uint16_t>(port));
    s6->sin6_scope_id = scope;
    a.len_ = sizeof(sockaddr_in6);
    return a;
  }
  if (host.find(':') != absl::string_view::npos)
    return Bad(text, "an IPv6 address goes in brackets: [ADDR]:PORT");
  std::string v4(host);
  auto* s4 = reinterpret_cast<sockaddr_in*>(&a.storage_);
  if (inet_pton(AF_INET, v4.c_str(), &s4->sin_addr) != 1)
    return Bad(text, absl::StrCat("'", v4, "' is not an IPv4 address (names are not resolved)"));
  s4->sin_family = AF_INET;
  s4->sin_port = htons(static_cast<uint16_t>(port));
  a.len_ = sizeof(sockaddr_in);
  return a;
}

Address Address::Loopback4(uint16_t port) {
  Address a;
  auto* s4 = reinterpret_cast<sockaddr_in*>(&a.storage_);
  s4->sin_family = AF_INET;
  s4->sin_port = htons(port);
  s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.len_ = sizeof(sockaddr_in);
  return a;
}

Address Address::Loopback6(uint16_t port) {
  Address a;
  auto* s6 = reinterpret_cast<sockaddr_in6*>(&a.storage_);
  s6->sin6_family = AF_INET6;
  s6->sin6_port = htons(port);
  s6->sin6_addr = in6addr_loopback;
  a.len_ = sizeof(sockaddr_in6);
  return a;
}

absl::StatusOr<Address> Address::Unix(absl::string_view path) {
  Address a;
  auto* un = reinterpret_cast<sockaddr_un*>(&a.storage_);
  if (path.empty()) return Bad(absl::StrCat("unix:", path), "empty path");
  if (path.size() >= sizeof(un->sun_path))
    return Bad(absl::StrCat("unix:", path),
               absl::StrCat("path longer than ", sizeof(un->sun_path) - 1, " bytes"));
  un->sun_family = AF_UNIX;
  std::memcpy(un->sun_path, path.data(), path.size());
  if (path.front() == '@') {
    un->sun_path[0] = '\0';  // abstract: no terminating NUL counted
    a.len_ = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
  } else {
    a.len_ = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  }
  return a;
}

absl::StatusOr<Address> Address::FromSockaddr(const sockaddr* sa, socklen_t len) {
  if (!sa || len < sizeof(sa_family_t) || len > sizeof(sockaddr_storage))
    return absl::InvalidArgumentError("address: bad sockaddr length");
  if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6 && sa->sa_family != AF_UNIX)
    return absl::InvalidArgumentError(absl::StrCat("address: family ", sa->sa_family,
                                                   " is not AF_INET, AF_INET6 or AF_UNIX"));
  Address a;
  std::memcpy(&a.storage_, sa, len);
  a.len_ = len;
  return a;
}

uint16_t Address::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  if (family() == AF_INET6)
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  return 0;
}

Address Address::WithPort(uint16_t port) const {
  Address a = *this;
  if (family() == AF_INET) reinterpret_cast<sockaddr_in*>(&a.storage_)->sin_port = htons(port);
  if (family() == AF_INET6) reinterpret_cast<sockaddr_in6*>(&a.storage_)->sin6_port = htons(port);
  return a;
}

std::string Address::ToString() const {
  char buf[INET6_ADDRSTRLEN] = "";
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, buf, sizeof(buf));
    return absl::StrCat(buf, ":", port());
  }
  if (family() == AF_INET6) {
    const auto* s6 = reinterpret_cast<const sockaddr_in6*>(&storage_);
    inet_ntop(AF_INET6, &s6->sin6_addr, buf, sizeof(buf));
    std::string scope = s6->sin6_scope_id ? absl::StrCat("%", s6->sin6_scope_id) : "";
    return absl::StrCat("[", buf, scope, "]:", port());
  }
  if (family() == AF_UNIX) {
    const auto* un = reinterpret_cast<const sockaddr_un*>(&storage_);
    size_t n = len_ - offsetof(sockaddr_un, sun_path);
    if (n && un->sun_path[0] == '\0') return absl::StrCat("unix:@", absl::string_view(un->sun_path + 1, n - 1));
    return absl::StrCat("unix:", absl::string_view(un->sun_path, strnlen(un->sun_path, n)));
  }
  return "(no address)";
}

}  // namespace zcnet
