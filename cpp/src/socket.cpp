// Socket: synchronous setup and teardown, and the looping helpers.
#include "zcnet/net/socket.hpp"

#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>

namespace zcnet {

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    ring_ = other.ring_;
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

Socket::~Socket() {
  if (fd_ >= 0) ::close(fd_);
}

absl::StatusOr<Socket> Socket::OpenTcp(Ring& ring, int family) {
  int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoStatus("socket", errno);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return Socket(ring, fd);
}

Task<absl::Status> Socket::SendAll(absl::Span<const std::byte> buf, OpOptions options) {
  while (!buf.empty()) {
    absl::StatusOr<size_t> n = co_await Send(buf, options);
    if (!n.ok()) co_return n.status();
    buf.remove_prefix(*n);
  }
  co_return absl::OkStatus();
}

Task<absl::Status> Socket::RecvExactly(absl::Span<std::byte> buf, OpOptions options) {
  while (!buf.empty()) {
    absl::StatusOr<size_t> n = co_await Recv(buf, options);
    if (!n.ok()) co_return n.status();
    if (*n == 0) co_return absl::OutOfRangeError("recv: peer closed the connection early");
    buf.remove_prefix(*n);
  }
  co_return absl::OkStatus();
}

absl::StatusOr<Listener> Listener::Bind(Ring& ring, const sockaddr_in& addr, int backlog) {
  absl::StatusOr<Socket> s = Socket::OpenTcp(ring, AF_INET);
  if (!s.ok()) return s.status();
  int one = 1;
  ::setsockopt(s->fd(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(s->fd(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)))
    return ErrnoStatus("bind", errno);
  if (::listen(s->fd(), backlog)) return ErrnoStatus("listen", errno);
  sockaddr_in bound{};
  socklen_t len = sizeof(bound);
  ::getsockname(s->fd(), reinterpret_cast<sockaddr*>(&bound), &len);
  return Listener(ring, std::move(*s), ntohs(bound.sin_port));
}

}  // namespace zcnet
