// Host limits: the descriptor limit during accept, RLIMIT_MEMLOCK for a
// pinned pool, and a storm of short connections. Each limit is set in a
// forked child so the test process keeps its own.
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zcnet/net/socket.hpp>
#include <zcnet/ring.hpp>
#include <zcnet/rx_buffer.hpp>
#include <zcnet/scope.hpp>
#include <zcnet/tx_buffer.hpp>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "support/loopback.hpp"

namespace {

using testsupport::Fd;
using zcnet::OpOptions;
using zcnet::Ring;
using zcnet::RxBuffer;
using zcnet::RxPool;
using zcnet::Scope;
using zcnet::Socket;
using zcnet::Task;
using zcnet::TxPool;

constexpr size_t kMessage = 64;

void FillMessage(uint32_t conn, uint32_t round, uint8_t* out) {
  for (size_t i = 0; i < kMessage; i++) out[i] = static_cast<uint8_t>(conn * 31 + round * 7 + i);
}

// Echoes plain receives until EOF or an error.
Task<void> EchoPlain(Socket s) {
  std::vector<std::byte> buf(4096);
  for (;;) {
    auto n = co_await s.Recv(absl::MakeSpan(buf));
    if (!n.ok() || *n == 0) break;
    if (!(co_await s.SendAll(absl::MakeConstSpan(buf.data(), *n))).ok()) break;
  }
  (void)co_await s.Close();
}

// A blocking loopback client with a receive timeout as the hang bound.
Fd ConnectTo(uint16_t port) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return fd;
  timeval tv{30, 0};
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  int one = 1;
  setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  sockaddr_in a = zcnet::LoopbackAddress(port);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a))) return Fd();
  return fd;
}

// Reads one message's echo; true if every byte came back.
bool ReadEcho(int fd, uint32_t conn, uint32_t round) {
  uint8_t want[kMessage], in[kMessage];
  FillMessage(conn, round, want);
  size_t got = 0;
  while (got < kMessage) {
    ssize_t n = ::recv(fd, in + got, kMessage - got, 0);
    if (n <= 0) return false;
    got += n;
  }
  return std::memcmp(in, want, kMessage) == 0;
}

// Sends one message and reads its echo.
bool RoundTrip(int fd, uint32_t conn, uint32_t round) {
  uint8_t out[kMessage];
  FillMessage(conn, round, out);
  return ::send(fd, out, kMessage, MSG_NOSIGNAL) == static_cast<ssize_t>(kMessage) &&
         ReadEcho(fd, conn, round);
}

// Waits up to 30 s for one byte on @fd.
int ReadByte(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, 30000) != 1) return -1;
  unsigned char c;
  return ::read(fd, &c, 1) == 1 ? c : -1;
}

int OpenDescriptors() {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    (void)e;
    n++;
  }
  return n - 1;  // the iterator's own
}

std::string ListDescriptors() {
  std::string out;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    out.append(" ").append(e.path().filename().string()).append("->");
    out.append(std::filesystem::read_symlink(e.path(), ec).string());
  }
  return out;
}

// The server runs in a child whose RLIMIT_NOFILE leaves room for @room
// accepted connections; the test connects more. Accept must fail with a
// ResourceExhausted status that names the limit, the served connections keep
// being served, and once they close the waiting ones are accepted and served:
// no connection is lost.
TEST(Limits, AcceptAtTheDescriptorLimitKeepsServingAndResumes) {
  constexpr int kRoom = 6, kExtra = 6;
  int report[2];
  ASSERT_EQ(pipe2(report, O_CLOEXEC), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(report[0]);
    auto ring = Ring::Create();
    if (!ring.ok()) _exit(10);
    auto listener = zcnet::Listener::Bind(**ring, zcnet::LoopbackAddress(0));
    if (!listener.ok()) _exit(11);
    auto accepts = listener->AcceptMany();
    // Descriptors are allocated lowest first: leave exactly kRoom free
    // numbers below the limit (counting any in use above the lowest free).
    int lowest = ::dup(0);
    ::close(lowest);
    int limit = lowest, room = 0;
    while (room < kRoom) {
      if (fcntl(limit, F_GETFD) < 0) room++;
      limit++;
    }
    rlimit lim{static_cast<rlim_t>(limit), static_cast<rlim_t>(limit)};
    if (setrlimit(RLIMIT_NOFILE, &lim)) _exit(12);
    uint16_t port = listener->port();
    if (::write(report[1], &port, sizeof(port)) != sizeof(port)) _exit(13);
    int code = (*ring)->Run([](Ring& ring, zcnet::AcceptStream& accepts, int fd) -> Task<int> {
      Scope conns;
      bool reported = false;
      int accepted = 0;
      while (accepted < kRoom + kExtra) {
        auto s = co_await accepts.Next();
        if (!s.ok()) {
          std::string msg(s.status().message());
          if (!absl::IsResourceExhausted(s.status()) ||
              msg.find("RLIMIT_NOFILE is") == std::string::npos ||
              msg.find("waits in the listen backlog") == std::string::npos) {
            std::fprintf(stderr, "child: unexpected accept error: %s\n", s.status().ToString().c_str());
            co_return 20;
          }
          if (!reported) {
            reported = true;
            if (::write(fd, "E", 1) != 1) co_return 21;
          }
          co_await zcnet::Sleep(ring, absl::Milliseconds(5));
          continue;
        }
        accepted++;
        conns.Spawn(EchoPlain(std::move(*s)));
      }
      co_await conns.Join();
      co_return reported ? 0 : 22;
    }(**ring, accepts, report[1]));
    _exit(code);
  }
  ::close(report[1]);
  Fd reports(report[0]);
  uint16_t port = 0;
  ASSERT_EQ(::read(reports.get(), &port, sizeof(port)), static_cast<ssize_t>(sizeof(port)));

  std::vector<Fd> conns;
  for (int i = 0; i < kRoom; i++) {
    conns.push_back(ConnectTo(port));
    ASSERT_GE(conns.back().get(), 0);
    ASSERT_TRUE(RoundTrip(conns.back().get(), i, 0)) << "connection " << i << " within the limit";
  }
  // These complete the handshake (the kernel does that) and wait unaccepted.
  for (int i = kRoom; i < kRoom + kExtra; i++) {
    conns.push_back(ConnectTo(port));
    ASSERT_GE(conns.back().get(), 0);
    uint8_t out[kMessage];
    FillMessage(i, 0, out);
    ASSERT_EQ(::send(conns.back().get(), out, kMessage, MSG_NOSIGNAL), static_cast<ssize_t>(kMessage));
  }
  ASSERT_EQ(ReadByte(reports.get()), 'E') << "the child never reported EMFILE";
  for (int i = 0; i < kRoom; i++)
    EXPECT_TRUE(RoundTrip(conns[i].get(), i, 1)) << "served connection " << i << " after EMFILE";
  for (int i = 0; i < kRoom; i++) conns[i].Reset();
  for (int i = kRoom; i < kRoom + kExtra; i++) {
    EXPECT_TRUE(ReadEcho(conns[i].get(), i, 0)) << "waiting connection " << i << " never served";
    EXPECT_TRUE(RoundTrip(conns[i].get(), i, 1));
  }
  conns.clear();
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10-13: setup, 20: wrong accept error, 22: no EMFILE seen";
}

// Without CAP_IPC_LOCK a pinned pool is charged to RLIMIT_MEMLOCK: the
// error names the limit, its value and the fix.
TEST(Limits, PinnedPoolBeyondMemlockNamesTheLimitAndTheFix) {
  int out[2];
  ASSERT_EQ(pipe2(out, O_CLOEXEC), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(out[0]);
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    syscall(SYS_capget, &hdr, data);
    data[CAP_IPC_LOCK / 32].effective &= ~(1u << (CAP_IPC_LOCK % 32));
    data[CAP_IPC_LOCK / 32].permitted &= ~(1u << (CAP_IPC_LOCK % 32));
    if (syscall(SYS_capset, &hdr, data)) _exit(10);
    auto ring = Ring::Create();
    if (!ring.ok()) _exit(11);
    rlimit lim{64 << 10, 64 << 10};
    if (setrlimit(RLIMIT_MEMLOCK, &lim)) _exit(12);
    TxPool::Options o;
    o.chunk_size = 64 << 10;
    o.chunks = 16;  // 1 MiB
    auto pool = TxPool::Create(**ring, o);
    if (pool.ok()) _exit(13);
    std::string msg = pool.status().ToString();
    if (::write(out[1], msg.data(), msg.size()) != static_cast<ssize_t>(msg.size())) _exit(14);
    _exit(0);
  }
  ::close(out[1]);
  std::string msg;
  char buf[512];
  for (ssize_t n; (n = ::read(out[0], buf, sizeof(buf))) > 0;) msg.append(buf, n);
  ::close(out[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0) << "10: capset, 11: ring, 12: setrlimit, 13: pool created";
  EXPECT_NE(msg.find("RESOURCE_EXHAUSTED"), std::string::npos) << msg;
  EXPECT_NE(msg.find("RLIMIT_MEMLOCK is 64 KiB"), std::string::npos) << msg;
  EXPECT_NE(msg.find("ulimit -l"), std::string::npos) << msg;
  EXPECT_NE(msg.find("CAP_IPC_LOCK"), std::string::npos) << msg;
}

// 10,000 short connections, from 4 client threads, each a verified round
// trip through a shared receive pool; a quarter end with RST. Afterwards the
// server holds no descriptor and no buffer more than before.
TEST(Limits, TenThousandShortConnectionsLeakNoDescriptorOrBuffer) {
  constexpr uint32_t kConnections = 10000, kThreads = 4;
  auto ring = Ring::Create();
  ASSERT_TRUE(ring.ok()) << ring.status();
  RxPool::Options po;
  po.mode = URINGX_RXSRC_PBUF;
  po.buffers = 64;
  po.buffer_size = 4096;
  auto pool = RxPool::Create(**ring, po);
  ASSERT_TRUE(pool.ok()) << pool.status();
  auto listener = zcnet::Listener::Bind(**ring, zcnet::LoopbackAddress(0));
  ASSERT_TRUE(listener.ok()) << listener.status();
  const int before = OpenDescriptors();

  std::atomic<uint32_t> bad{0};
  std::vector<std::thread> clients;
  for (uint32_t t = 0; t < kThreads; t++) {
    clients.emplace_back([&, t, port = listener->port()] {
      for (uint32_t i = t; i < kConnections; i += kThreads) {
        Fd c = ConnectTo(port);
        if (c.get() < 0 || !RoundTrip(c.get(), i, 0)) {
          bad++;
          continue;
        }
        if (i % 4 == 0) testsupport::ArmReset(c.get());
      }
    });
  }
  struct Counts {
    uint32_t accepted = 0, echoed = 0, accept_errors = 0;
  } counts;
  (*ring)->Run([](Ring& ring, RxPool& pool, zcnet::Listener& l, Counts& counts) -> Task<void> {
    Scope conns;
    auto accepts = l.AcceptMany();
    while (counts.accepted < kConnections) {
      auto s = co_await accepts.Next(OpOptions{.timeout = absl::Seconds(60)});
      if (!s.ok()) {
        counts.accept_errors++;
        break;
      }
      counts.accepted++;
      conns.Spawn([](RxPool& pool, Socket s, Counts& counts) -> Task<void> {
        {
          auto stream = pool.Stream(s.fd());
          if (!stream.ok()) co_return;
          for (;;) {
            auto b = co_await stream->Next();
            if (!b.ok() || b->empty()) break;
            if (!(co_await s.SendAll(b->span())).ok()) break;
            counts.echoed += b->size();
          }
        }
        (void)co_await s.Close();
      }(pool, std::move(*s), counts));
    }
    co_await conns.Join();
    (void)ring;
  }(**ring, **pool, *listener, counts));
  for (auto& c : clients) c.join();
  // The accept stream's cancellation completes on the ring's next pass:
  // let it run once more before counting.
  (*ring)->Run([](Ring& ring) -> Task<void> {
    (void)co_await zcnet::Sleep(ring, absl::Milliseconds(20));
  }(**ring));

  EXPECT_EQ(bad.load(), 0u);
  EXPECT_EQ(counts.accept_errors, 0u);
  EXPECT_EQ(counts.accepted, kConnections);
  EXPECT_EQ(counts.echoed, uint64_t{kConnections} * kMessage);
  EXPECT_EQ(OpenDescriptors(), before) << "descriptors leaked:" << ListDescriptors();
  EXPECT_EQ((*pool)->outstanding(), 0u) << "receive buffers not returned";
}

}  // namespace
