// zcnet/net/socket.hpp - a stream socket (TCP over IPv4/IPv6, or Unix) whose operations are awaitables.
//
// Each method returns an awaitable owning exactly one request's state; the
// caller's buffers must stay valid until the co_await returns. Every method
// takes OpOptions (stop token, timeout). Results are absl::StatusOr<size_t>
// (bytes) or absl::Status, with the operation and errno in the message. A
// send or receive ended by its deadline or a stop after moving some bytes
// returns that count (nothing is lost); one that moved none returns Cancelled.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cstddef>
#include <utility>
#include <vector>

#include <absl/status/statusor.h>
#include <absl/types/span.h>

#include "zcnet/detail/multishot_stream.hpp"
#include "zcnet/net/address.hpp"
#include "zcnet/ring.hpp"
#include "zcnet/status.hpp"
#include "zcnet/task.hpp"

namespace zcnet {

// LoopbackAddress is 127.0.0.1:@port (0: any free port, for Listener::Bind).
inline sockaddr_in LoopbackAddress(uint16_t port = 0) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

namespace detail {

// A request on a Socket entered in the ring's file table names its slot.
inline void UseFile(io_uring_sqe* sqe, int slot) {
  if (slot >= 0) {
    sqe->fd = slot;
    sqe->flags |= IOSQE_FIXED_FILE;
  }
}

struct BytesResult {
  const char* what;
  absl::StatusOr<size_t> operator()(int res, uint32_t) const {
    if (res < 0) return ErrnoStatus(what, res);
    return static_cast<size_t>(res);
  }
};

struct StatusResult {
  const char* what;
  absl::Status operator()(int res, uint32_t) const {
    return res < 0 ? ErrnoStatus(what, res) : absl::OkStatus();
  }
};

}  // namespace detail

class Socket {
 public:
  Socket() = default;
  // Takes ownership of @fd; operations run on @ring. On a ring with a file
  // table (Ring::Options::fixed_files) the descriptor is entered in a free
  // slot, which its requests then name.
  Socket(Ring& ring, int fd) : ring_(&ring), fd_(fd), slot_(ring.RegisterFile(fd)) {}
  Socket(Socket&& other) noexcept
      : ring_(other.ring_), fd_(std::exchange(other.fd_, -1)), slot_(std::exchange(other.slot_, -1)) {}
  Socket& operator=(Socket&& other) noexcept;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  // Closes the descriptor synchronously if Close() was not awaited.
  ~Socket();

  // Opens a TCP socket (AF_INET or AF_INET6).
  static absl::StatusOr<Socket> OpenTcp(Ring& ring, int family = AF_INET);
  // Opens a stream socket for @addr's family: TCP (with TCP_NODELAY) for
  // IPv4 and IPv6, a Unix-domain stream socket for unix: addresses.
  static absl::StatusOr<Socket> OpenFor(Ring& ring, const Address& addr);

  int fd() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  Ring& ring() const { return *ring_; }
  // The slot of the ring's file table its requests name, or -1.
  int fixed_slot() const { return slot_; }
  // Gives up ownership of the descriptor (and leaves the file table).
  int Release() {
    if (slot_ >= 0) ring_->UnregisterFile(std::exchange(slot_, -1));
    return std::exchange(fd_, -1);
  }

  auto Connect(const sockaddr* addr, socklen_t len, OpOptions options = {}) {
    return MakeIo(*ring_, std::move(options),
                  [fd = fd_, slot = slot_, addr, len](io_uring_sqe* sqe) {
                    io_uring_prep_connect(sqe, fd, addr, len);
                    detail::UseFile(sqe, slot);
                  },
                  detail::StatusResult{"connect"});
  }  // Connects to @addr, which must stay valid until the co_await returns.
  auto Connect(const Address& addr, OpOptions options = {}) {
    return Connect(addr.sockaddr_ptr(), addr.length(), std::move(options));
  }


  // Receives into @buf; 0 bytes means the peer closed.
  auto Recv(absl::Span<std::byte> buf, OpOptions options = {}, int flags = 0) {
    return MakeIo(*ring_, std::move(options),
                  [fd = fd_, slot = slot_, buf, flags](io_uring_sqe* sqe) {
                    io_uring_prep_recv(sqe, fd, buf.data(), buf.size(), flags);
                    detail::UseFile(sqe, slot);
                  },
                  detail::BytesResult{"recv"});
  }

  auto Send(absl::Span<const std::byte> buf, OpOptions options = {}, int flags = 0) {
    return MakeIo(*ring_, std::move(options),
                  [fd = fd_, slot = slot_, buf, flags](io_uring_sqe* sqe) {
                    io_uring_prep_send(sqe, fd, buf.data(), buf.size(), flags | MSG_NOSIGNAL);
                    detail::UseFile(sqe, slot);
                  },
                  detail::BytesResult{"send"});
  }

  // Gather send (sendmsg): @iov must stay valid until the co_await returns.
  // After a short send, ConsumeSent() says where to resume.
  auto Writev(absl::Span<const iovec> iov, OpOptions options = {}) {
    // The msghdr lives in the awaitable: the kernel reads it at submission.
    struct Prep {
      int fd;
      int slot;
      msghdr msg;
      void operator()(io_uring_sqe* sqe) {
        io_uring_prep_sendmsg(sqe, fd, &msg, MSG_NOSIGNAL);
        detail::UseFile(sqe, slot);
      }
    };
    msghdr msg{};
    msg.msg_iov = const_cast<iovec*>(iov.data());
    msg.msg_iovlen = iov.size();
    return MakeIo(*ring_, std::move(options), Prep{fd_, slot_, msg}, detail::BytesResult{"sendmsg"});
  }

  auto Shutdown(int how = SHUT_WR, OpOptions options = {}) {
    return MakeIo(*ring_, std::move(options),
                  [fd = fd_, slot = slot_, how](io_uring_sqe* sqe) {
                    io_uring_prep_shutdown(sqe, fd, how);
                    detail::UseFile(sqe, slot);
                  },
                  detail::StatusResult{"shutdown"});
  }

  // Closes through the ring; the Socket is invalid afterwards. (A file
  // table slot is emptied first, at the call.)
  auto Close(OpOptions options = {}) {
    if (slot_ >= 0) ring_->UnregisterFile(std::exchange(slot_, -1));
    return MakeIo(*ring_, std::move(options),
                  [fd = std::exchange(fd_, -1)](io_uring_sqe* sqe) {
                    io_uring_prep_close(sqe, fd);
                  },
                  detail::StatusResult{"close"});
  }

  // Sends all of @buf (loops over short sends). A convenience Task: one
  // coroutine frame per call; hot loops co_await Send() directly.
  Task<absl::Status> SendAll(absl::Span<const std::byte> buf, OpOptions options = {});
  // Receives exactly @buf.size() bytes, or fails (OutOfRange at EOF).
  Task<absl::Status> RecvExactly(absl::Span<std::byte> buf, OpOptions options = {});

 private:
  Ring* ring_ = nullptr;
  int fd_ = -1;
  int slot_ = -1;  // in the ring's file table (Ring::Options::fixed_files)
};

// ConsumeSent accounts @sent bytes of a gathered send from @iov[@first...]:
// skips the vectors sent whole, trims the one sent in part, and returns the
// index of the first vector with bytes left (iov.size() when all went).
inline size_t ConsumeSent(absl::Span<iovec> iov, size_t first, size_t sent) {
  while (sent && first < iov.size()) {
    size_t step = std::min(sent, iov[first].iov_len);
    iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + step;
    iov[first].iov_len -= step;
    sent -= step;
    if (!iov[first].iov_len) first++;
  }
  return first;
}

class Listener;
namespace detail {
struct AcceptState;
// The status of a failed accept; at the descriptor limit it names
// RLIMIT_NOFILE and says the connection waits in the backlog.
absl::Status AcceptError(int err);
}

// A multishot accept: every co_await Next() yields the next connection from
// one armed IORING_OP_ACCEPT (IORING_ACCEPT_MULTISHOT) on the stream's own
// duplicate of the listening descriptor. Destroying the stream cancels it;
// connections accepted but not taken are closed.
class AcceptStream {
 public:
  AcceptStream(AcceptStream&& o) noexcept : state_(std::exchange(o.state_, nullptr)) {}
  AcceptStream(const AcceptStream&) = delete;
  AcceptStream& operator=(const AcceptStream&) = delete;
  ~AcceptStream();

  // Next yields an accepted Socket, or the accept error (Cancelled on stop,
  // DeadlineExceeded when @options.timeout passes first). An error is
  // reported once and the stream stays usable: the next Next() arms again.
  // At the descriptor limit (EMFILE/ENFILE) the error is ResourceExhausted,
  // names RLIMIT_NOFILE, and the connection waits in the listen backlog:
  // keep serving, close descriptors or wait a little, then call Next().
  detail::StreamNextAwaiter<detail::AcceptState> Next(OpOptions options = {});

 private:
  friend class Listener;
  explicit AcceptStream(detail::AcceptState* s) : state_(s) {}
  detail::AcceptState* state_;
};

// A listening TCP socket.
class Listener {
 public:
  struct Options {
    int backlog = 1024;
    // SO_REUSEPORT: several listeners (one per Runtime ring) bind the same
    // port and the kernel spreads incoming connections over them by a hash
    // of the 4-tuple. Bind the first with port 0, the others on its port().
    bool reuse_port = false;
  };
  // Binds and listens on @addr: IPv4, IPv6 (port 0: any free port, see
  // port()) or a Unix path (left in place when the Listener closes).
  static absl::StatusOr<Listener> Bind(Ring& ring, const Address& addr, const Options& options);
  static absl::StatusOr<Listener> Bind(Ring& ring, const Address& addr) {
    return Bind(ring, addr, Options{});
  }
  static absl::StatusOr<Listener> Bind(Ring& ring, const sockaddr_in& addr, const Options& options);
  static absl::StatusOr<Listener> Bind(Ring& ring, const sockaddr_in& addr, int backlog = 1024) {
    return Bind(ring, addr, Options{backlog, false});
  }

  Listener(Listener&&) = default;
  Listener& operator=(Listener&&) = default;

  // Accepts one connection.
  auto Accept(OpOptions options = {}) {
    return MakeIo(*ring_, std::move(options),
                  [fd = socket_.fd()](io_uring_sqe* sqe) {
                    io_uring_prep_accept(sqe, fd, nullptr, nullptr, SOCK_CLOEXEC);
                  },
                  AcceptResult{ring_});
  }

  // AcceptMany arms one multishot accept (armed at the first Next()).
  AcceptStream AcceptMany();

  uint16_t port() const { return address_.port(); }
  // The address bound (the port the kernel chose for port 0).
  const Address& address() const { return address_; }
  int fd() const { return socket_.fd(); }
  Ring& ring() const { return *ring_; }

 private:
  struct AcceptResult {
    Ring* ring;
    absl::StatusOr<Socket> operator()(int res, uint32_t) const {
      if (res < 0) return detail::AcceptError(res);
      return Socket(*ring, res);
    }
  };
  Listener(Ring& ring, Socket s, Address bound)
      : ring_(&ring), socket_(std::move(s)), address_(bound) {}

  Ring* ring_;
  Socket socket_;
  Address address_;
};

// Sleep completes after @d (IORING_OP_TIMEOUT); cancellable through options.
inline auto Sleep(Ring& ring, absl::Duration d, OpOptions options = {}) {
  struct Prep {
    __kernel_timespec ts;
    void operator()(io_uring_sqe* sqe) { io_uring_prep_timeout(sqe, &ts, 0, 0); }
  };
  struct Result {
    absl::Status operator()(int res, uint32_t) const {
      return res == -ETIME || res == 0 ? absl::OkStatus() : ErrnoStatus("sleep", res);
    }
  };
  return MakeIo(ring, std::move(options), Prep{detail::ToTimespec(d)}, Result{});
}

namespace detail {

// The multishot accept behind an AcceptStream.
struct AcceptState : MultishotStream<AcceptState> {
  AcceptState(Ring& ring, int dup_fd_or_error);
  ~AcceptState() { DropQueued(); }

  static void OnCqe(Operation* op, const io_uring_cqe* cqe);
  void Arm();
  bool CanArm() const { return !error; }
  bool Holding() const { return false; }
  void DropQueued();
  bool Ready() const { return head < ready.size() || error; }
  absl::StatusOr<Socket> Take(WaitEnd end);

  std::vector<int> ready;  // accepted, not yet taken
  size_t head = 0;
  int error = 0;
};

}  // namespace detail

inline detail::StreamNextAwaiter<detail::AcceptState> AcceptStream::Next(OpOptions options) {
  return detail::StreamNextAwaiter<detail::AcceptState>(state_, options);
}

}  // namespace zcnet
