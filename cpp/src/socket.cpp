// Socket: synchronous setup and teardown, and the looping helpers.
#include "zcnet/net/socket.hpp"

#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <stop_token>
#include <vector>

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

struct AcceptStream::State : Operation {
  State(Ring& ring, int listen_fd)
      : Operation(ring, &State::OnCqe),
        fd(listen_fd),
        timer(ring, this, &State::OnWakeup),
        poke(ring, this, &State::OnWakeup) {}

  // A deadline or a stop request interrupts a waiting Next().
  static void OnWakeup(void* owner, int res) {
    auto* s = static_cast<State*>(owner);
    if (s->orphaned) {
      s->MaybeDelete();
      return;
    }
    if (res == -ETIME) s->timed_out = true;
    if (s->waiting && (s->timed_out || s->stopped)) {
      s->waiting = false;
      s->ResumeWaiter();
    }
  }

  void MaybeDelete() {
    if (!armed && !timer.armed() && !poke.armed()) delete this;
  }

  static void OnCqe(Operation* op, const io_uring_cqe* cqe) {
    auto* s = static_cast<State*>(op);
    if (!(cqe->flags & IORING_CQE_F_MORE)) s->armed = false;
    if (cqe->res >= 0) {
      s->ready.push_back(cqe->res);
    } else if (!(cqe->flags & IORING_CQE_F_MORE)) {
      s->error = cqe->res;
    }
    if (s->orphaned) {
      s->CloseReady();
      s->MaybeDelete();
      return;
    }
    // A multishot accept can end without an error (e.g. CQ overflow): re-arm.
    if (!s->armed && !s->error) s->Arm();
    if (s->waiting && (!s->ready.empty() || s->error)) {
      s->waiting = false;
      s->ResumeWaiter();
    }
  }

  void Arm() {
    io_uring_sqe* sqe = ring_->GetSqe();
    io_uring_prep_multishot_accept(sqe, fd, nullptr, nullptr, SOCK_CLOEXEC);
    Ring::SetOp(sqe, this);
    ring_->AddInFlight();
    armed = true;
  }

  void CloseReady() {
    for (int c : ready) ::close(c);
    ready.clear();
  }

  template <typename Promise>
  void Wait(std::coroutine_handle<Promise> h) {
    SetWaiter(h);
    waiting = true;
  }

  int fd;
  std::vector<int> ready;  // accepted, not yet taken
  size_t head = 0;
  int error = 0;
  bool armed = false;
  bool waiting = false;
  bool orphaned = false;
  bool timed_out = false;
  bool stopped = false;
  Wakeup timer;
  Wakeup poke;
};

AcceptStream Listener::AcceptMany() { return AcceptStream(new AcceptStream::State(*ring_, fd())); }

AcceptStream::~AcceptStream() {
  if (!state_) return;
  State* s = std::exchange(state_, nullptr);
  s->orphaned = true;
  s->CloseReady();
  if (s->armed) s->Cancel();
  s->timer.Disarm();
  s->MaybeDelete();
}

namespace {

struct AcceptAwaiter {
  AcceptStream::State* s;
  bool await_ready() const noexcept { return !s->ready.empty() || s->error; }
  template <typename Promise>
  void await_suspend(std::coroutine_handle<Promise> h) {
    s->Wait(h);
    if (!s->armed) s->Arm();
  }
  void await_resume() const noexcept {}
};

}  // namespace

Task<absl::StatusOr<Socket>> AcceptStream::Next(OpOptions options) {
  struct StopPoke {
    State* s;
    void operator()() const noexcept {
      s->stopped = true;
      s->poke.ArmNow();
    }
  };
  State* s = state_;
  if (options.stop_requested()) co_return ErrnoStatus("accept", ECANCELED);
  if (s->ready.empty() && !s->error) {
    if (options.timeout) s->timer.ArmTimer(*options.timeout);
    std::optional<std::stop_callback<StopPoke>> on_stop;
    if (options.stop_possible()) on_stop.emplace(*options.stop, StopPoke{s});
    co_await AcceptAwaiter{s};
    on_stop.reset();
    s->timer.Disarm();
  }
  bool timed_out = std::exchange(s->timed_out, false);
  bool stopped = std::exchange(s->stopped, false);
  if (!s->ready.empty()) {
    int fd = s->ready.front();
    s->ready.erase(s->ready.begin());
    co_return Socket(s->ring(), fd);
  }
  if (timed_out) co_return ErrnoStatus("accept", ETIME);
  if (stopped) co_return ErrnoStatus("accept", ECANCELED);
  int err = std::exchange(s->error, 0);
  co_return ErrnoStatus("accept", err);
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
