// TCP's promise under a misbehaving network, on every receive mechanism:
// seeded streams sent from a peer namespace across a netdevsim or veth link
// that tests/vm/faults.sh has given a netem fault (loss, duplication,
// reordering, delay with jitter) or flaps down and up, received and verified
// byte for byte through plain IORING_OP_RECV, each provided-buffer ring
// variant, zcrx on the NIC queue and zcnet's RecvStream; the zcnet echo
// server under the same fault; a peer that resets mid-stream and one that
// half-closes; and (netdevsim) a zcrx area starved by a consumer holding
// every buffer. Nothing lost, duplicated, reordered or corrupted, whatever
// the link did.
//
// Runs inside the VM, from faults.sh:
//   FAULT_RX_IF, FAULT_RX_ADDR   the receiving port and its address (this netns)
//   FAULT_PEER_NETNS             the sending namespace (/run/netns/NAME)
//   FAULT_NAME                   the fault in force, for the log
//   FAULT_BYTES                  bytes per stream (default 4 MiB)
//   FAULT_ZCRX=1                 the port has zcrx (netdevsim): zcnet's pools must use it
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uringx/uringx.h>
#include <zcnet/net/socket.hpp>
#include <zcnet/ring.hpp>
#include <zcnet/rx_buffer.hpp>
#include <zcnet/scope.hpp>

#include <absl/strings/str_cat.h>
#include <absl/time/time.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "support/loopback.hpp"
#include "support/rx_loop.hpp"

namespace {

using testsupport::Fd;
using testsupport::Ring;

constexpr unsigned kZcrxRingFlags =
    IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQE32;

struct Env {
  std::string ifname, addr, peer_netns, fault;
  uint64_t bytes = 4u << 20;
  bool zcrx = false;  // the port is zcrx-capable (netdevsim): zcnet must use it
};

const Env* GetEnv() {
  static Env env;
  static bool ok = [] {
    const char* v[4] = {std::getenv("FAULT_RX_IF"), std::getenv("FAULT_RX_ADDR"),
                        std::getenv("FAULT_PEER_NETNS"), std::getenv("FAULT_NAME")};
    for (const char* s : v)
      if (!s || !*s) return false;
    env = {v[0], v[1], v[2], v[3]};
    if (const char* b = std::getenv("FAULT_BYTES")) env.bytes = std::strtoull(b, nullptr, 0);
    env.zcrx = std::getenv("FAULT_ZCRX") && std::string(std::getenv("FAULT_ZCRX")) == "1";
    return true;
  }();
  return ok ? &env : nullptr;
}

#define REQUIRE_ENV()                                                                \
  if (!GetEnv())                                                                     \
  GTEST_SKIP() << "needs a faulty link between two namespaces; tests/vm/faults.sh " \
                  "sets one up inside the VM (`vm` suite)"

sockaddr_in V4(const std::string& ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  return a;
}

Fd Listen(uint16_t* port) {
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in sa = V4(GetEnv()->addr, 0);
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) || listen(fd.get(), 64)) {
    ADD_FAILURE() << "listen on " << GetEnv()->addr << ": " << std::strerror(errno);
    return Fd();
  }
  socklen_t len = sizeof(sa);
  getsockname(fd.get(), reinterpret_cast<sockaddr*>(&sa), &len);
  *port = ntohs(sa.sin_port);
  return fd;
}

// A socket created in the peer namespace and connected across the link. A
// flapping link can take the route away (ENETUNREACH) or eat the SYN:
// connecting is retried for 20 s, with a new socket each time.
Fd ConnectFromPeer(uint16_t port) {
  Fd self(open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
  Fd peer(open(GetEnv()->peer_netns.c_str(), O_RDONLY | O_CLOEXEC));
  sockaddr_in sa = V4(GetEnv()->addr, port);
  int err = 0;
  for (int attempt = 0; attempt < 200; attempt++) {
    if (self.get() < 0 || peer.get() < 0 || setns(peer.get(), CLONE_NEWNET)) {
      ADD_FAILURE() << "entering " << GetEnv()->peer_netns << ": " << std::strerror(errno);
      return Fd();
    }
    Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (setns(self.get(), CLONE_NEWNET)) std::abort();  // cannot go on in the wrong netns
    if (connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0) return fd;
    err = errno;
    if (err != ENETUNREACH && err != EHOSTUNREACH && err != ETIMEDOUT) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ADD_FAILURE() << "connect to " << GetEnv()->addr << ":" << port << ": " << std::strerror(err);
  return Fd();
}

struct Conn {
  Fd client, server;
};

// Closes @fd with a reset (SO_LINGER 0): after a failed receive the sender
// must not stay blocked on a closed window.
void Abort(Fd& fd) {
  linger l{1, 0};
  setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  fd.Reset();
}

Conn Connect() {
  uint16_t port = 0;
  Fd l = Listen(&port);
  Conn c;
  if (l.get() < 0) return c;
  c.client = ConnectFromPeer(port);
  if (c.client.get() >= 0) c.server = Fd(accept4(l.get(), nullptr, nullptr, SOCK_CLOEXEC));
  return c;
}

// --- one stream through each mechanism ----------------------------------

struct Mechanism {
  const char* name;
  enum { kPlainRecv, kRxSrc, kZcnet } kind;
  uringx_rxsrc_mode mode;
  uint32_t pbuf_flags;
};

const Mechanism kMechanisms[] = {
    {"plain", Mechanism::kPlainRecv, URINGX_RXSRC_PBUF, 0},
    {"pbuf", Mechanism::kRxSrc, URINGX_RXSRC_PBUF, 0},
    {"pbuf_bundle", Mechanism::kRxSrc, URINGX_RXSRC_PBUF, URINGX_PBUF_BUNDLE},
    {"pbuf_inc", Mechanism::kRxSrc, URINGX_RXSRC_PBUF, URINGX_PBUF_INC},
    {"pbuf_inc_bundle", Mechanism::kRxSrc, URINGX_RXSRC_PBUF, URINGX_PBUF_INC | URINGX_PBUF_BUNDLE},
    {"zcrx", Mechanism::kRxSrc, URINGX_RXSRC_ZCRX, 0},
    {"zcnet", Mechanism::kZcnet, URINGX_RXSRC_AUTO, 0},
};

struct StreamResult {
  uint64_t bytes = 0;
  long first_mismatch = -1;
  int error = 0;
  bool eof = false;
  // The receive timed out on a socket TCP had already reset (TCP_CLOSE,
  // SO_ERROR ECONNRESET pending): the kernel posted no completion to the
  // armed multishot receive.
  bool reset_without_cqe = false;
  std::string detail;
};

// Single-shot IORING_OP_RECV into one buffer, verified as it comes.
StreamResult RecvPlain(int fd, uint64_t seed) {
  StreamResult r;
  Ring ring(8);
  testsupport::SeededStream expect(seed);
  std::vector<uint8_t> buf(64 << 10);
  for (;;) {
    io_uring_sqe* sqe = io_uring_get_sqe(ring.get());
    io_uring_prep_recv(sqe, fd, buf.data(), buf.size(), 0);
    io_uring_cqe* cqe = nullptr;
    __kernel_timespec ts{30, 0};
    if (io_uring_submit_and_wait_timeout(ring.get(), &cqe, 1, &ts, nullptr) < 0 || !cqe) {
      r.error = -ETIME;
      return r;
    }
    int res = cqe->res;
    io_uring_cqe_seen(ring.get(), cqe);
    if (res < 0) {
      r.error = res;
      return r;
    }
    if (res == 0) {
      r.eof = true;
      return r;
    }
    long bad = expect.Verify(buf.data(), static_cast<size_t>(res));
    if (bad >= 0 && r.first_mismatch < 0) r.first_mismatch = static_cast<long>(r.bytes) + bad;
    r.bytes += static_cast<uint64_t>(res);
  }
}

StreamResult RecvRxSrc(const Mechanism& m, int fd, uint64_t seed, uint64_t area,
                       testsupport::HoldPolicy hold, uint64_t* stalls, int idle_ms = 30000) {
  StreamResult r;
  Ring ring(256, m.mode == URINGX_RXSRC_ZCRX ? kZcrxRingFlags : 0);
  uringx_rxsrc_params p{};
  p.mode = m.mode;
  p.zcrx.ifname = GetEnv()->ifname.c_str();
  p.zcrx.queue = 0;
  p.zcrx.area_size = area;
  p.zcrx.rq_entries = 256;
  p.zcrx.event_user_data = 0x7a63727800000001ULL;
  p.pbuf.nr_bufs = 64;
  p.pbuf.buf_size = 16384;
  p.pbuf.flags = m.pbuf_flags;
  uringx_rxsrc* src = nullptr;
  uringx_reason why = URINGX_REASON_NONE;
  int ret;
  // The previous ifq of the queue is released when its ring has gone,
  // asynchronously: EEXIST and EBUSY are retried for a while.
  for (int attempt = 0;; attempt++) {
    ret = uringx_rxsrc_create(ring.get(), &p, &src, &why);
    if ((ret != -EEXIST && ret != -EBUSY) || attempt == 100) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (ret < 0) {
    r.error = ret;
    r.detail = std::string("create: ") + uringx_reason_str(why);
    return r;
  }
  testsupport::RxLoopOptions o;
  o.hold = hold;
  o.idle_timeout_ms = idle_ms;
  auto lr = testsupport::RunRxLoop(ring.get(), src, fd, seed, o);
  r.reset_without_cqe = lr.loop_error == -ETIME && lr.timeout_tcp_state == TCP_CLOSE &&
                        lr.timeout_so_error == ECONNRESET;
  r.bytes = lr.bytes;
  r.first_mismatch = lr.first_mismatch;
  r.error = lr.loop_error ? lr.loop_error : lr.error;
  r.eof = lr.eof;
  if (stalls) *stalls = hold == testsupport::HoldPolicy::kHoldUntilStalled ? lr.stalls
                                                                           : lr.starved_rearms;
  if (m.mode == URINGX_RXSRC_ZCRX) {
    uringx_zcrx_stats st;
    uringx_zcrx_get_stats(uringx_rxsrc_zcrx(src), &st);
    // Reported, not required to be 0: retransmitted and starved traffic may
    // take the copy path (tests/vm/nsim_zcrx_test.cpp requires 0 on a clean
    // link). Copied or not, every byte is verified.
    r.detail = "zcrx copies " + std::to_string(st.copy_count);
  }
  uringx_rxsrc_destroy(src);
  return r;
}

// zcnet's RecvStream on an RxPool (zcrx on the port when it can, else a
// buffer ring), verified as it comes.
zcnet::Task<void> RecvZcnetTask(zcnet::RxPool& pool, int fd, uint64_t seed, StreamResult& r) {
  auto stream = pool.Stream(fd);
  if (!stream.ok()) {
    r.error = -EINVAL;
    r.detail = std::string(stream.status().message());
    co_return;
  }
  testsupport::SeededStream expect(seed);
  for (;;) {
    auto b = co_await stream->Next();
    if (!b.ok()) {
      r.error = -EIO;
      r.detail = std::string(b.status().message());
      co_return;
    }
    if (b->empty()) {
      r.eof = true;
      co_return;
    }
    long bad = expect.Verify(reinterpret_cast<const uint8_t*>(b->data()), b->size());
    if (bad >= 0 && r.first_mismatch < 0) r.first_mismatch = static_cast<long>(r.bytes) + bad;
    r.bytes += b->size();
  }
}

// zcrx on the port when it has it (retrying while the queue's previous ifq
// is released), else what AUTO picks (a buffer ring on veth).
absl::StatusOr<std::unique_ptr<zcnet::RxPool>> MakePool(zcnet::Ring& ring) {
  zcnet::RxPool::Options o;
  o.mode = GetEnv()->zcrx ? URINGX_RXSRC_ZCRX : URINGX_RXSRC_AUTO;
  o.ifname = GetEnv()->ifname.c_str();
  o.zcrx_area_bytes = 8u << 20;
  for (int attempt = 0;; attempt++) {
    auto pool = zcnet::RxPool::Create(ring, o);
    if (pool.ok() || !GetEnv()->zcrx || attempt == 100) return pool;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

StreamResult RecvZcnet(int fd, uint64_t seed) {
  StreamResult r;
  auto ring = zcnet::Ring::Create();
  if (!ring.ok()) {
    r.error = -EINVAL;
    return r;
  }
  auto pool = MakePool(**ring);
  if (!pool.ok()) {
    r.error = -EINVAL;
    r.detail = std::string(pool.status().message());
    return r;
  }
  (*ring)->Run(RecvZcnetTask(**pool, fd, seed, r));
  r.detail = (*pool)->Describe();
  return r;
}

class Stream : public testing::TestWithParam<Mechanism> {};

TEST_P(Stream, SeededStreamArrivesWhole) {
  REQUIRE_ENV();
  const Mechanism& m = GetParam();
  const Env& e = *GetEnv();
  Conn c = Connect();
  ASSERT_GE(c.server.get(), 0);
  uint64_t seed = 0x5eed0000 + (&m - kMechanisms);
  testsupport::StreamSender sender(c.client.Release(), seed, e.bytes, 65536,
                                   testsupport::SenderEnd::kClose);
  StreamResult r;
  switch (m.kind) {
    case Mechanism::kPlainRecv: r = RecvPlain(c.server.get(), seed); break;
    case Mechanism::kRxSrc:
      r = RecvRxSrc(m, c.server.get(), seed, 8u << 20, testsupport::HoldPolicy::kReleaseAtOnce,
                    nullptr);
      break;
    case Mechanism::kZcnet: r = RecvZcnet(c.server.get(), seed); break;
  }
  if (r.error || !r.eof) Abort(c.server);  // a failed receive must not leave the sender blocked
  sender.Join();
  std::printf("fault %s, %s: %llu of %llu bytes, eof %d, %s\n", e.fault.c_str(), m.name,
              (unsigned long long)r.bytes, (unsigned long long)e.bytes, r.eof,
              r.detail.c_str());
  EXPECT_EQ(sender.error(), 0) << std::strerror(sender.error());
  EXPECT_EQ(r.error, 0) << uringx_strerror(r.error) << " " << r.detail;
  EXPECT_EQ(r.first_mismatch, -1) << "corrupt byte";
  EXPECT_EQ(r.bytes, e.bytes);
  EXPECT_TRUE(r.eof);
}

INSTANTIATE_TEST_SUITE_P(Mechanisms, Stream, testing::ValuesIn(kMechanisms),
                         [](const testing::TestParamInfo<Mechanism>& i) {
                           return std::string(i.param.name);
                         });

// --- the echo workload ----------------------------------------------------

// A stream silent for 30 s under these faults is stuck, not slow: it fails
// with what the server held, instead of hanging the suite.
constexpr absl::Duration kStuck = absl::Seconds(30);

zcnet::Task<void> EchoOne(zcnet::RxPool& pool, zcnet::Socket s, std::atomic<int>& errors,
                          std::string& first_error) {
  auto stream = pool.Stream(s.fd());
  if (!stream.ok()) {
    errors++;
    co_return;
  }
  uint64_t echoed = 0;
  for (;;) {
    auto b = co_await stream->Next({nullptr, kStuck});
    if (!b.ok()) {
      if (errors++ == 0) {
        // What the kernel and the pool were doing: the socket's unread
        // bytes, how often receives ran out of buffers (zcrx: ENOMEM when
        // its copy fallback finds no free buffer), the receive's arms and
        // CQEs, and the kernel's copy counters.
        int unread = -1;
        ioctl(s.fd(), FIONREAD, &unread);
        auto z = pool.zcrx_stats();
        first_error = absl::StrCat(
            "fd ", s.fd(), " after ", echoed, " bytes: ", b.status().message(),
            "; stream holds ", stream->held(), ", ", stream->arms(), " arms, ", stream->cqes(),
            " CQEs; socket has ", unread, " unread bytes; pool outstanding ", pool.outstanding(),
            ", out of buffers ", pool.out_of_buffers(), " times, zcrx copies ", z.copy_count,
            ", ", pool.Describe());
      }
      break;
    }
    if (b->empty()) break;
    echoed += b->size();
    absl::Status st = co_await s.SendAll(b->span(), {nullptr, kStuck});
    if (!st.ok()) {
      if (errors++ == 0)
        first_error = absl::StrCat("fd ", s.fd(), " send after ", echoed, ": ", st.message());
      break;
    }
  }
  (void)s.Shutdown(SHUT_WR);
}

zcnet::Task<void> EchoServer(zcnet::Ring& ring, zcnet::RxPool& pool, std::vector<int> fds,
                             std::atomic<int>& errors, std::string& first_error) {
  zcnet::Scope scope;
  for (int fd : fds) scope.Spawn(EchoOne(pool, zcnet::Socket(ring, fd), errors, first_error));
  co_await scope.Join();
}

TEST(Echo, EightConnectionsEchoedAndVerified) {
  REQUIRE_ENV();
  const Env& e = *GetEnv();
  constexpr int kConns = 8;
  const uint64_t per_conn = e.bytes / 4;
  std::vector<Conn> conns;
  for (int i = 0; i < kConns; i++) {
    conns.push_back(Connect());
    ASSERT_GE(conns.back().server.get(), 0);
  }
  std::atomic<int> verified{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < kConns; i++) {
    int fd = conns[i].client.get();
    timeval tv{40, 0};  // the server gives up on a stuck stream after 30 s
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    clients.emplace_back([&, i, fd] {
      testsupport::StreamSender sender(dup(fd), 77 + i, per_conn, 16384,
                                       testsupport::SenderEnd::kShutdownWrite);
      testsupport::SeededStream expect(77 + i);
      std::vector<uint8_t> buf(65536);
      uint64_t got = 0;
      bool ok = true;
      for (;;) {
        ssize_t n = read(fd, buf.data(), buf.size());
        if (n <= 0) break;
        if (expect.Verify(buf.data(), static_cast<size_t>(n)) != -1) ok = false;
        got += static_cast<uint64_t>(n);
      }
      sender.Join();
      if (ok && got == per_conn) verified++;
      else ADD_FAILURE() << "echo " << i << ": " << got << " bytes, intact " << ok;
    });
  }
  auto ring = zcnet::Ring::Create();
  ASSERT_TRUE(ring.ok()) << ring.status();
  auto pool = MakePool(**ring);
  ASSERT_TRUE(pool.ok()) << pool.status();
  std::vector<int> fds;
  for (auto& c : conns) fds.push_back(c.server.Release());
  std::atomic<int> errors{0};
  std::string first_error;
  (*ring)->Run(EchoServer(**ring, **pool, fds, errors, first_error));
  for (auto& t : clients) t.join();
  std::printf("fault %s, echo: %d of %d connections verified, pool %s\n", e.fault.c_str(),
              verified.load(), kConns, (*pool)->Describe().c_str());
  EXPECT_EQ(errors.load(), 0) << first_error;
  EXPECT_EQ(verified.load(), kConns);
}

// --- peers that reset or half-close ------------------------------------

// The sender resets after its data: what arrived before the reset is a
// correct prefix, and the receive ends with ECONNRESET, on each mechanism.
// TCP does not retransmit a reset: one lost on the link, or ignored because
// data still in flight put its sequence number ahead (RFC 5961), leaves the
// receiver waiting. Keepalive probes (after 1 s idle) draw a fresh reset
// from the peer, so the receive ends either way: ECONNRESET, or ETIMEDOUT
// if the probes are lost too.
TEST(Peer, ResetMidStreamLeavesACorrectPrefixAndECONNRESET) {
  REQUIRE_ENV();
  const Env& e = *GetEnv();
  for (const Mechanism& m : kMechanisms) {
    if (m.kind != Mechanism::kRxSrc) continue;
    if (m.mode == URINGX_RXSRC_ZCRX && !e.zcrx) continue;  // veth: no zcrx queue
    Conn c = Connect();
    ASSERT_GE(c.server.get(), 0);
    int on = 1, idle = 1, intvl = 1, cnt = 3;
    setsockopt(c.server.get(), SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
    setsockopt(c.server.get(), IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    setsockopt(c.server.get(), IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
    setsockopt(c.server.get(), IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
    testsupport::StreamSender sender(c.client.Release(), 99, e.bytes / 4, 65536,
                                     testsupport::SenderEnd::kReset);
    // Keepalive ends an open connection within about 4 s: 10 s of silence
    // means the receive missed the end.
    StreamResult r = RecvRxSrc(m, c.server.get(), 99, 8u << 20,
                               testsupport::HoldPolicy::kReleaseAtOnce, nullptr, 10000);
    Abort(c.server);
    sender.Join();
    std::printf("fault %s, reset, %s: %llu bytes before the reset, error %s\n",
                e.fault.c_str(), m.name, (unsigned long long)r.bytes, uringx_strerror(r.error));
    EXPECT_EQ(r.first_mismatch, -1) << m.name;
    EXPECT_LE(r.bytes, e.bytes / 4) << m.name;
    if (r.reset_without_cqe) {
      // Linux 7.3 (the VM kernel) loses this completion in about
      // 3 % of runs under reordering: TCP reset the socket, the armed
      // multishot receive never completes (docs/testing.md, "Known kernel
      // issue"). What TCP promises still holds: the prefix is correct and
      // the socket reports the reset.
      std::printf("fault %s, reset, %s: KNOWN KERNEL ISSUE: the socket was reset (TCP_CLOSE, "
                  "SO_ERROR ECONNRESET) but the armed multishot receive posted no completion\n",
                  e.fault.c_str(), m.name);
      continue;
    }
    EXPECT_TRUE(r.error == -ECONNRESET || r.error == -ETIMEDOUT)
        << m.name << ": " << uringx_strerror(r.error);
  }
}

// The sender shuts down its side: the receiver sees every byte and EOF,
// then answers on the half-open connection and the sender reads it.
TEST(Peer, HalfCloseDeliversEverythingAndTheReplyComesBack) {
  REQUIRE_ENV();
  const Env& e = *GetEnv();
  Conn c = Connect();
  ASSERT_GE(c.server.get(), 0);
  int client = c.client.get();
  testsupport::StreamSender sender(dup(client), 123, e.bytes / 4, 65536,
                                   testsupport::SenderEnd::kShutdownWrite);
  StreamResult r = RecvZcnet(c.server.get(), 123);
  if (r.error || !r.eof) Abort(c.server);
  sender.Join();
  ASSERT_GE(c.server.get(), 0);
  EXPECT_EQ(r.error, 0) << r.detail;
  EXPECT_TRUE(r.eof);
  EXPECT_EQ(r.bytes, e.bytes / 4);
  EXPECT_EQ(r.first_mismatch, -1);
  uint64_t n = r.bytes;
  ASSERT_EQ(write(c.server.get(), &n, sizeof(n)), static_cast<ssize_t>(sizeof(n)));
  c.server.Reset();
  uint64_t back = 0;
  size_t got = 0;
  while (got < sizeof(back)) {
    ssize_t k = read(client, reinterpret_cast<char*>(&back) + got, sizeof(back) - got);
    ASSERT_GT(k, 0) << "reply on the half-closed connection: " << std::strerror(errno);
    got += static_cast<size_t>(k);
  }
  EXPECT_EQ(back, e.bytes / 4);
}

// --- zcrx starved ---------------------------------------------------------

// A consumer holds every view of a 64-buffer area: the NIC queue has
// nowhere to put payload and drops it (the page pool's no-buffers path: the
// receive does not end, it gets nothing), the stream stalls; when the
// consumer gives everything back after 300 ms without data, TCP's
// retransmissions fill the area again. Nothing lost, stalls counted.
TEST(Zcrx, AreaStarvedByAHoldingConsumerStallsAndResumes) {
  REQUIRE_ENV();
  const Env& e = *GetEnv();
  const Mechanism& zcrx = kMechanisms[5];
  ASSERT_STREQ(zcrx.name, "zcrx");
  Conn c = Connect();
  ASSERT_GE(c.server.get(), 0);
  testsupport::StreamSender sender(c.client.Release(), 321, e.bytes / 2, 65536,
                                   testsupport::SenderEnd::kClose);
  uint64_t stalls = 0;
  StreamResult r = RecvRxSrc(zcrx, c.server.get(), 321, 256 * 4096,
                             testsupport::HoldPolicy::kHoldUntilStalled, &stalls);
  if (r.error || !r.eof) Abort(c.server);
  sender.Join();
  std::printf("fault %s, zcrx starved: %llu bytes, %llu stalls on held buffers, %s\n",
              e.fault.c_str(), (unsigned long long)r.bytes, (unsigned long long)stalls,
              r.detail.c_str());
  EXPECT_EQ(r.error, 0) << uringx_strerror(r.error) << " " << r.detail;
  EXPECT_EQ(r.first_mismatch, -1);
  EXPECT_EQ(r.bytes, e.bytes / 2);
  EXPECT_TRUE(r.eof);
  EXPECT_GT(stalls, 0u) << "the stream never stalled on the held area";
}

}  // namespace
