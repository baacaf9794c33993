#include "loopback.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace testsupport {

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    Reset();
    fd_ = other.Release();
  }
  return *this;
}

void Fd::Reset() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

static void Die(const char* what) {
  std::fprintf(stderr, "test support: %s: %s\n", what, std::strerror(errno));
  std::abort();
}

TcpPair MakeTcpPair() {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  Fd listener(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (listener.get() < 0) Die("socket");
  if (bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) ||
      listen(listener.get(), 1) ||
      getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len))
    Die("listen on 127.0.0.1");
  TcpPair pair;
  pair.client = Fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (connect(pair.client.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)))
    Die("connect to 127.0.0.1");
  pair.server = Fd(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (pair.server.get() < 0) Die("accept");
  int one = 1;
  setsockopt(pair.client.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return pair;
}

uint8_t SeededStream::Next() {
  if (!left_) {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    word_ = state_ * 2685821657736338717ULL;
    left_ = 8;
  }
  uint8_t b = static_cast<uint8_t>(word_);
  word_ >>= 8;
  left_--;
  return b;
}

void SeededStream::Fill(uint8_t* dst, size_t len) {
  for (size_t i = 0; i < len; i++) dst[i] = Next();
}

long SeededStream::Verify(const uint8_t* data, size_t len) {
  long first_bad = -1;
  for (size_t i = 0; i < len; i++)
    if (Next() != data[i] && first_bad < 0) first_bad = static_cast<long>(i);
  return first_bad;
}

StreamSender::StreamSender(int fd, uint64_t seed, uint64_t total, size_t max_chunk,
                           SenderEnd end) {
  thread_ = std::thread([this, fd, seed, total, max_chunk, end] {
    SeededStream data(seed);
    SeededStream sizes(seed * 31 + 7);
    std::vector<uint8_t> buf(max_chunk);
    uint64_t done = 0;
    while (done < total) {
      size_t want = 1 + (static_cast<size_t>(sizes.Next()) << 8 | sizes.Next()) % max_chunk;
      if (want > total - done) want = static_cast<size_t>(total - done);
      data.Fill(buf.data(), want);
      size_t off = 0;
      while (off < want) {
        ssize_t n = send(fd, buf.data() + off, want - off, MSG_NOSIGNAL);
        if (n < 0) {
          if (errno == EINTR) continue;
          error_ = errno;
          return;
        }
        off += static_cast<size_t>(n);
        done += static_cast<uint64_t>(n);
        sent_ = done;
      }
    }
    switch (end) {
      case SenderEnd::kClose:
        close(fd);
        break;
      case SenderEnd::kShutdownWrite:
        shutdown(fd, SHUT_WR);
        break;
      case SenderEnd::kReset:
        ArmReset(fd);
        close(fd);
        break;
      case SenderEnd::kNothing:
        break;
    }
  });
}

StreamSender::~StreamSender() { Join(); }

void StreamSender::Join() {
  if (thread_.joinable()) thread_.join();
}

Ring::Ring(unsigned entries, unsigned flags) {
  init_error_ = io_uring_queue_init(entries, &ring_, flags);
  if (init_error_) {
    std::fprintf(stderr, "io_uring_queue_init(%u, 0x%x): %s\n", entries, flags,
                 std::strerror(-init_error_));
    std::abort();
  }
}

Ring::~Ring() { io_uring_queue_exit(&ring_); }

std::pair<int, int> KernelVersion() {
  utsname u{};
  uname(&u);
  int major = 0, minor = 0;
  std::sscanf(u.release, "%d.%d", &major, &minor);
  return {major, minor};
}

void ArmReset(int fd) {
  linger lin{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lin, sizeof(lin));
}

sockaddr_in V4(const char* ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

sockaddr_in6 V6(const char* ip, uint16_t port) {
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(port);
  inet_pton(AF_INET6, ip, &a.sin6_addr);
  return a;
}

}  // namespace testsupport
