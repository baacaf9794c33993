// zcnet/net/address.hpp - a stream socket address: IPv4, IPv6 or Unix.
//
// Address::Parse accepts what a command line gives: "127.0.0.1:8080",
// "[::1]:8080", "[fe80::1%eth0]:8080" (scope by interface name or number),
// "unix:/run/app.sock", and "unix:@name" for the abstract namespace. Errors
// name the text and what is wrong with it. Port 0 asks Listener::Bind for
// any free port.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>

#include <cstdint>
#include <string>
#include <absl/strings/string_view.h>

#include <absl/status/statusor.h>

namespace zcnet {

class Address {
 public:
  Address() = default;
  static absl::StatusOr<Address> Parse(absl::string_view text);
  static Address Loopback4(uint16_t port = 0);
  static Address Loopback6(uint16_t port = 0);
  // A Unix-domain stream socket path ('@' first: the abstract namespace).
  static absl::StatusOr<Address> Unix(absl::string_view path);
  // Copies @len bytes of @sa (AF_INET, AF_INET6 or AF_UNIX).
  static absl::StatusOr<Address> FromSockaddr(const sockaddr* sa, socklen_t len);

  int family() const { return storage_.ss_family; }
  bool is_ip() const { return family() == AF_INET || family() == AF_INET6; }
  // The port (IP families; 0 for Unix).
  uint16_t port() const;
  // The same address on @port (IP families; Unix addresses are returned as is).
  Address WithPort(uint16_t port) const;
  const sockaddr* sockaddr_ptr() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  socklen_t length() const { return len_; }
  // "127.0.0.1:8080", "[::1]:8080", "unix:/path": what Parse() takes back.
  std::string ToString() const;

 private:
  sockaddr_storage storage_{};
  socklen_t len_ = 0;
};

}  // namespace zcnet
