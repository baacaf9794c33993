// Socket: synchronous setup and teardown, and the looping helpers.
#include "zcnet/net/socket.hpp"

#include <absl/strings/str_cat.h>

#include <netinet/tcp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <stop_token>
#include <vector>

namespace zcnet {

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) {
    if (slot_ >= 0) ring_->UnregisterFile(slot_);
    if (fd_ >= 0) ::close(fd_);
    ring_ = other.ring_;
    fd_ = std::exchange(other.fd_, -1);
    slot_ = std::exchange(other.slot_, -1);
  }
  return *this;
}

Socket::~Socket() {
  if (slot_ >= 0) ring_->UnregisterFile(slot_);
  if (fd_ >= 0) ::close(fd_);
}

absl::StatusOr<Socket> Socket::OpenFor(Ring& ring, const Address& addr) {
  if (addr.is_ip()) return OpenTcp(ring, addr.family());
  if (addr.family() != AF_UNIX)
    return absl::InvalidArgumentError("Socket::OpenFor: the address has no family");
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoStatus("socket(AF_UNIX)", errno);
  return Socket(ring, fd);
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

namespace detail {

// An accept that found the descriptor table full: the connection is not
// lost, it waits in the listen backlog; say so, with the limit.
absl::Status AcceptError(int err) {
  absl::Status st = ErrnoStatus("accept", err);
  rlimit lim;
  if ((err != -EMFILE && err != -ENFILE) || getrlimit(RLIMIT_NOFILE, &lim) != 0) return st;
  return absl::ResourceExhaustedError(absl::StrCat(
      st.message(), ": RLIMIT_NOFILE is ",
      lim.rlim_cur == RLIM_INFINITY ? std::string("unlimited") : absl::StrCat(lim.rlim_cur),
      "; the connection waits in the listen backlog: close descriptors or raise the limit "
      "(ulimit -n, systemd LimitNOFILE=), then accept again"));
}

AcceptState::AcceptState(Ring& ring, int dup_fd_or_error)
    : MultishotStream(ring, dup_fd_or_error < 0 ? -1 : dup_fd_or_error, &AcceptState::OnCqe),
      error(dup_fd_or_error < 0 ? dup_fd_or_error : 0) {}

void AcceptState::OnCqe(Operation* op, const io_uring_cqe* cqe) {
  auto* s = static_cast<AcceptState*>(op);
  bool more = cqe->flags & IORING_CQE_F_MORE;
  if (!more) s->armed_ = false;
  if (cqe->res >= 0) {
    s->ready.push_back(cqe->res);
  } else if (!more && cqe->res != -ECANCELED) {
    s->error = cqe->res;
  }
  if (s->ReapIfOrphaned()) return;
  // A multishot accept can end without an error (e.g. CQ overflow, or a
  // Next() that was cancelled): re-arm while someone waits.
  if (!s->armed_ && !s->error && s->HasWaiter()) s->Arm();
  s->WakeIfReady();  // may destroy the stream: last
}

void AcceptState::Arm() {
  if (ring_->closing()) {
    error = -ECANCELED;
    return;
  }
  io_uring_sqe* sqe = ring_->GetSqe();
  io_uring_prep_multishot_accept(sqe, fd_, nullptr, nullptr, SOCK_CLOEXEC);
  Ring::SetOp(sqe, this);
  ring_->AddInFlight();
  armed_ = true;
}

void AcceptState::DropQueued() {
  for (size_t i = head; i < ready.size(); i++) ::close(ready[i]);
  ready.clear();
  head = 0;
}

absl::StatusOr<Socket> AcceptState::Take(WaitEnd end) {
  if (head < ready.size()) {
    int fd = ready[head++];
    if (head == ready.size()) {
      ready.clear();
      head = 0;
    }
    return Socket(ring(), fd);
  }
  if (end == WaitEnd::kStopped) return ErrnoStatus("accept", ECANCELED);
  if (end == WaitEnd::kTimedOut) return ErrnoStatus("accept", ETIME);
  // An error is reported once; the next Next() arms again.
  return AcceptError(std::exchange(error, 0));
}

}  // namespace detail

AcceptStream Listener::AcceptMany() {
  return AcceptStream(new detail::AcceptState(*ring_, detail::DupForStream(fd())));
}

AcceptStream::~AcceptStream() {
  if (state_) std::exchange(state_, nullptr)->Orphan();
}

absl::StatusOr<Listener> Listener::Bind(Ring& ring, const Address& addr, const Options& options) {
  if (!addr.length()) return absl::InvalidArgumentError("Listener::Bind: empty address");
  absl::StatusOr<Socket> s = Socket::OpenFor(ring, addr);
  if (!s.ok()) return s.status();
  int one = 1;
  if (addr.is_ip()) ::setsockopt(s->fd(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (options.reuse_port && ::setsockopt(s->fd(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)))
    return ErrnoStatus("setsockopt(SO_REUSEPORT)", errno);
  if (::bind(s->fd(), addr.sockaddr_ptr(), addr.length()))
    return ErrnoStatus(absl::StrCat(options.reuse_port ? "bind (SO_REUSEPORT) " : "bind ",
                                    addr.ToString()).c_str(),
                       errno);
  if (::listen(s->fd(), options.backlog))
    return ErrnoStatus(absl::StrCat("listen ", addr.ToString()).c_str(), errno);
  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  ::getsockname(s->fd(), reinterpret_cast<sockaddr*>(&bound), &len);
  absl::StatusOr<Address> a = Address::FromSockaddr(reinterpret_cast<sockaddr*>(&bound), len);
  return Listener(ring, std::move(*s), a.ok() ? *a : addr);
}

absl::StatusOr<Listener> Listener::Bind(Ring& ring, const sockaddr_in& addr, const Options& options) {
  absl::StatusOr<Address> a =
      Address::FromSockaddr(reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  if (!a.ok()) return a.status();
  return Bind(ring, *a, options);
}

}  // namespace zcnet
