// Loopback TCP connections, seeded byte streams and rings for the tests.
#pragma once

#include <liburing.h>
#include <netinet/in.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <thread>

namespace testsupport {

// Owns a file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(other.Release()) {}
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Reset(); }

  int get() const { return fd_; }
  int Release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void Reset();

 private:
  int fd_ = -1;
};

// A connected TCP pair on 127.0.0.1.
struct TcpPair {
  Fd client;
  Fd server;
};

// MakeTcpPair connects a client to a fresh listener on 127.0.0.1; aborts the
// test binary with a message if the loopback stack is unusable.
TcpPair MakeTcpPair();

// A deterministic pseudo-random byte stream (xorshift64*), so a receiver can
// verify every byte it gets without the sender's buffers.
class SeededStream {
 public:
  explicit SeededStream(uint64_t seed) : state_(seed ? seed : 1) {}
  uint8_t Next();
  void Fill(uint8_t* dst, size_t len);
  // Compares @len received bytes with the stream; returns the index of the
  // first mismatch or -1 when all match. Advances the stream by @len.
  long Verify(const uint8_t* data, size_t len);

 private:
  uint64_t state_;
  uint64_t word_ = 0;
  unsigned left_ = 0;
};

enum class SenderEnd { kClose, kShutdownWrite, kReset, kNothing };

// Sends @total seeded bytes on @fd from a thread in chunks of 1..@max_chunk
// bytes (sizes from @seed too), then ends the stream as @end says.
class StreamSender {
 public:
  StreamSender(int fd, uint64_t seed, uint64_t total, size_t max_chunk, SenderEnd end);
  ~StreamSender();
  void Join();
  uint64_t sent() const { return sent_.load(); }
  int error() const { return error_.load(); }

 private:
  std::thread thread_;
  std::atomic<uint64_t> sent_{0};
  std::atomic<int> error_{0};
};

// Owns an io_uring.
class Ring {
 public:
  explicit Ring(unsigned entries = 256, unsigned flags = 0);
  ~Ring();
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;
  io_uring* get() { return &ring_; }
  int init_error() const { return init_error_; }

 private:
  io_uring ring_{};
  int init_error_ = 0;
};

// Kernel release as (major, minor), from uname.
std::pair<int, int> KernelVersion();

// A sockaddr_in / sockaddr_in6 for the numeric address @ip and @port.
sockaddr_in V4(const char* ip, uint16_t port);
sockaddr_in6 V6(const char* ip, uint16_t port);

// Sets SO_LINGER {1, 0} so close() sends RST.
void ArmReset(int fd);

}  // namespace testsupport
