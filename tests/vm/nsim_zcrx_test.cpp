// zcrx on a netdevsim queue (kernel/patches): the simulated NIC splits
// headers from payload and writes the payload into the registered area, so
// the stream arrives with zero copy fallback. Runs inside the VM, started by
// tests/vm/netdevsim_zcrx.sh, which links two netdevsim ports across two
// network namespaces and names them in the environment:
//   NSIM_RX_IF       receiving port (this process's namespace)
//   NSIM_RX_ADDR     its IPv4 address
//   NSIM_PEER_NETNS  the sending namespace (/run/netns/NAME)
//   NSIM_PEER_IF     the sending port (in that namespace)
//   NSIM_QRESET      the port's debugfs queue_reset file
// Without them every test skips and says so.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uringx/uringx.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
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
constexpr uint64_t kEventTag = 0x7a63727800000001ULL;

struct NsimEnv {
  std::string ifname, addr, peer_netns, qreset, peer_ifname;
};

const NsimEnv* Env() {
  static NsimEnv env;
  static bool ok = [] {
    const char* v[5] = {std::getenv("NSIM_RX_IF"), std::getenv("NSIM_RX_ADDR"),
                        std::getenv("NSIM_PEER_NETNS"), std::getenv("NSIM_QRESET"),
                        std::getenv("NSIM_PEER_IF")};
    for (const char* s : v)
      if (!s || !*s) return false;
    env = {v[0], v[1], v[2], v[3], v[4]};
    return true;
  }();
  return ok ? &env : nullptr;
}

// Sets the MTU of @ifname in the namespace @netns ("" for this one).
bool SetMtu(const std::string& netns, const std::string& ifname, int mtu) {
  Fd self(open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
  Fd other(netns.empty() ? -1 : open(netns.c_str(), O_RDONLY | O_CLOEXEC));
  if (!netns.empty() && (other.get() < 0 || setns(other.get(), CLONE_NEWNET))) return false;
  Fd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ifreq ifr{};
  std::snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname.c_str());
  ifr.ifr_mtu = mtu;
  bool ok = ioctl(fd.get(), SIOCSIFMTU, &ifr) == 0;
  if (!netns.empty() && setns(self.get(), CLONE_NEWNET)) std::abort();  // wrong netns
  return ok;
}

// Jumbo frames on both ports of the pair for the life of the object.
class JumboFrames {
 public:
  explicit JumboFrames(int mtu)
      : ok_(SetMtu("", Env()->ifname, mtu) && SetMtu(Env()->peer_netns, Env()->peer_ifname, mtu)) {}
  ~JumboFrames() {
    SetMtu("", Env()->ifname, 1500);
    SetMtu(Env()->peer_netns, Env()->peer_ifname, 1500);
  }
  bool ok() const { return ok_; }

 private:
  bool ok_;
};

#define REQUIRE_NSIM()                                                            \
  if (!Env())                                                                     \
  GTEST_SKIP() << "needs a netdevsim pair with the zcnet kernel patches; "        \
                  "tests/vm/netdevsim_zcrx.sh sets it up inside the VM (`vm` suite)"

// A listening socket on the receiving port's address; @rcvbuf (when not 0)
// caps the receive window of the connections it accepts.
Fd Listen(uint16_t* port, int rcvbuf) {
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (rcvbuf) setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  inet_pton(AF_INET, Env()->addr.c_str(), &sa.sin_addr);
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) ||
      listen(fd.get(), 8)) {
    ADD_FAILURE() << "listen on " << Env()->addr << ": " << std::strerror(errno);
    return Fd();
  }
  socklen_t len = sizeof(sa);
  getsockname(fd.get(), reinterpret_cast<sockaddr*>(&sa), &len);
  *port = ntohs(sa.sin_port);
  return fd;
}

// A TCP socket created in the peer namespace and connected across the
// netdevsim link; the thread returns to its own namespace afterwards.
Fd ConnectFromPeer(uint16_t port) {
  Fd self(open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
  Fd peer(open(Env()->peer_netns.c_str(), O_RDONLY | O_CLOEXEC));
  if (self.get() < 0 || peer.get() < 0 || setns(peer.get(), CLONE_NEWNET)) {
    ADD_FAILURE() << "entering " << Env()->peer_netns << ": " << std::strerror(errno);
    return Fd();
  }
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (setns(self.get(), CLONE_NEWNET)) std::abort();  // cannot continue in the wrong netns
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  inet_pton(AF_INET, Env()->addr.c_str(), &sa.sin_addr);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa))) {
    ADD_FAILURE() << "connect to " << Env()->addr << ":" << port << ": " << std::strerror(errno);
    return Fd();
  }
  return fd;
}

struct Accepted {
  Fd client, server;
};

Accepted CrossNamespacePair(int rcvbuf = 0) {
  uint16_t port = 0;
  Fd listener = Listen(&port, rcvbuf);
  if (listener.get() < 0) return {};
  Accepted a;
  a.client = ConnectFromPeer(port);
  if (a.client.get() < 0) return {};
  a.server = Fd(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  EXPECT_GE(a.server.get(), 0) << std::strerror(errno);
  return a;
}

// Registers zcrx on queue 0 of the receiving port. The previous ifq of the
// same queue is released asynchronously when its ring closes, so EEXIST and
// EBUSY are retried for a while.
uringx_rxsrc* MakeSource(io_uring* ring, uint64_t area, uint32_t rq_entries, int* retries,
                         uringx_zcrx_mem mem = URINGX_ZCRX_MEM_PAGES, uint32_t rx_buf_len = 0) {
  uringx_rxsrc_params params{};
  params.zcrx.rx_buf_len = rx_buf_len;
  params.mode = URINGX_RXSRC_ZCRX;
  params.zcrx.ifname = Env()->ifname.c_str();
  params.zcrx.queue = 0;
  params.zcrx.area_size = area;
  params.zcrx.rq_entries = rq_entries;
  params.zcrx.mem = mem;
  params.zcrx.event_user_data = kEventTag;
  for (int attempt = 0; attempt < 100; attempt++) {
    uringx_rxsrc* src = nullptr;
    uringx_reason reason = URINGX_REASON_NONE;
    int ret = uringx_rxsrc_create(ring, &params, &src, &reason);
    if (ret == 0) {
      if (retries) *retries = attempt;
      return src;
    }
    if (ret != -EEXIST && ret != -EBUSY) {
      ADD_FAILURE() << "zcrx on " << Env()->ifname << " queue 0: " << uringx_strerror(ret)
                    << ": " << uringx_reason_str(reason);
      return nullptr;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << "queue 0 of " << Env()->ifname << " still bound after 5 s";
  return nullptr;
}

struct StreamResult {
  testsupport::RxLoopResult rx;
  uringx_zcrx_stats stats{};
};

// Sends @total seeded bytes across the link and receives them through @src.
StreamResult RunStream(io_uring* ring, uringx_rxsrc* src, uint64_t seed, uint64_t total,
                       const testsupport::RxLoopOptions& options = {}, int rcvbuf = 0) {
  StreamResult out;
  Accepted pair = CrossNamespacePair(rcvbuf);
  if (pair.server.get() < 0) return out;
  testsupport::StreamSender sender(pair.client.Release(), seed, total, 256 * 1024,
                                   testsupport::SenderEnd::kClose);
  out.rx = testsupport::RunRxLoop(ring, src, pair.server.get(), seed, options);
  // A failed receive must not leave the sender blocked for ever.
  if (!out.rx.eof) shutdown(pair.server.get(), SHUT_RDWR);
  sender.Join();
  EXPECT_EQ(sender.error(), 0) << std::strerror(sender.error());
  uringx_zcrx_get_stats(uringx_rxsrc_zcrx(src), &out.stats);
  return out;
}

void ExpectZeroCopyStream(const StreamResult& s, uint64_t total) {
  EXPECT_EQ(s.rx.loop_error, 0) << uringx_strerror(s.rx.loop_error);
  EXPECT_EQ(s.rx.error, 0) << uringx_strerror(s.rx.error);
  EXPECT_TRUE(s.rx.eof);
  EXPECT_EQ(s.rx.first_mismatch, -1) << "corrupt byte";
  EXPECT_EQ(s.rx.bytes, total);
  EXPECT_TRUE(s.rx.views_in_area) << "a CQE pointed outside the registered area";
  EXPECT_TRUE(s.stats.kernel_counts);
  EXPECT_EQ(s.stats.copy_count, 0u) << "the kernel fell back to copying";
  EXPECT_EQ(s.stats.copy_bytes, 0u);
  EXPECT_EQ(s.rx.zcrx_events, 0u) << "copy-fallback event CQE";
}

// Restarts rx queue 0 through netdevsim's debugfs, in one of its four
// reset modes (new NAPI and pool, pool only, and two NAPI orderings).
void RestartQueue(int mode) {
  std::ofstream f(Env()->qreset);
  f << "0 " << mode << std::flush;
  EXPECT_TRUE(f.good()) << "queue restart (mode " << mode << ") through " << Env()->qreset;
}

// Pages pinned for io_uring by this process (VmPin in /proc/self/status).
long PinnedKib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmPin:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  return -1;
}

// VmPin once it reaches want, or its value after timeout. An ifq and its
// area are released asynchronously after the ring closes: the page pool
// gives its net_iovs back first, checking once a second
// (page_pool_release_retry). Skbs the reader freed sit on the receiving
// CPU's defer list until that CPU next runs NET_RX, which on an idle CPU
// took from 7 s to over 3 minutes before kernel patch 0002 made the
// waiting pool kick those lists; with it, about 1 s. *waited_ms, when
// given, gets how long that took.
long PinnedKibSettled(long want, std::chrono::milliseconds timeout, long* waited_ms = nullptr) {
  const auto start = std::chrono::steady_clock::now();
  long pinned = PinnedKib();
  while (pinned != want && std::chrono::steady_clock::now() - start < timeout) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    pinned = PinnedKib();
  }
  if (waited_ms)
    *waited_ms = long(std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - start).count());
  return pinned;
}

TEST(NsimZcrx, SeededStreamArrivesZeroCopyInTheArea) {
  REQUIRE_NSIM();
  Ring ring(256, kZcrxRingFlags);
  uringx_rxsrc* src = MakeSource(ring.get(), 8u << 20, 2048, nullptr);
  ASSERT_NE(src, nullptr);
  EXPECT_STREQ(uringx_rxsrc_kind_name(src), "zcrx");
  const uint64_t total = 64u << 20;
  StreamResult s = RunStream(ring.get(), src, 4242, total);
  ExpectZeroCopyStream(s, total);
  std::printf("netdevsim zcrx: %llu bytes in %llu CQEs, copy_count %llu, copy_bytes %llu\n",
              (unsigned long long)s.rx.bytes, (unsigned long long)s.rx.data_cqes,
              (unsigned long long)s.stats.copy_count, (unsigned long long)s.stats.copy_bytes);
  uringx_rxsrc_destroy(src);
}

// The area as a dmabuf (udmabuf over a memfd) instead of pinned user pages:
// the NIC queue fills it, the application reads it through its mapping.
TEST(NsimZcrx, UdmabufAreaCarriesAZeroCopyStream) {
  REQUIRE_NSIM();
  Ring ring(256, kZcrxRingFlags);
  uringx_rxsrc* src = MakeSource(ring.get(), 8u << 20, 2048, nullptr, URINGX_ZCRX_MEM_UDMABUF);
  ASSERT_NE(src, nullptr);
  const uint64_t total = 16u << 20;
  StreamResult s = RunStream(ring.get(), src, 5151, total);
  ExpectZeroCopyStream(s, total);
  uringx_rxsrc_destroy(src);
}

// Buffers of four pages (the queue config's rx page size, kernel patch
// 0013) under jumbo frames: the same zero-copy stream in fewer
// completions. netdevsim, like a NIC without hardware GRO, puts each
// frame's payload in buffers of its own, so larger buffers pay off when a
// frame's payload exceeds a page: at MTU 9000 each frame fills three 4 KiB
// buffers, or one of 16 KiB. A page-size area cannot complete 32 MiB in
// fewer than 8192 CQEs (a CQE never spans two buffers); 16 KiB buffers must.
TEST(NsimZcrx, LargeBuffersCarryAZeroCopyStreamInFewerCompletions) {
  REQUIRE_NSIM();
  JumboFrames jumbo(9000);
  ASSERT_TRUE(jumbo.ok()) << "MTU 9000 on " << Env()->ifname << " and " << Env()->peer_ifname;
  Ring ring(256, kZcrxRingFlags);
  uringx_rxsrc* src = MakeSource(ring.get(), 8u << 20, 2048, nullptr, URINGX_ZCRX_MEM_HUGETLB,
                                 16384);
  ASSERT_NE(src, nullptr) << "netdevsim_zcrx.sh reserves the huge pages this needs";
  EXPECT_EQ(uringx_zcrx_rx_buf_len(uringx_rxsrc_zcrx(src)), 16384u);
  EXPECT_EQ(uringx_zcrx_nr_bufs(uringx_rxsrc_zcrx(src)), (8u << 20) / 16384);
  const uint64_t total = 32u << 20;
  StreamResult s = RunStream(ring.get(), src, 1616, total);
  ExpectZeroCopyStream(s, total);
  EXPECT_LT(s.rx.data_cqes, total / 4096) << "no completion carried more than a page";
  std::printf("netdevsim zcrx, 16 KiB buffers: %llu bytes in %llu CQEs (%.1f per MiB)\n",
              (unsigned long long)s.rx.bytes, (unsigned long long)s.rx.data_cqes,
              double(s.rx.data_cqes) / double(total >> 20));
  uringx_rxsrc_destroy(src);
}

// A length the driver does not take (netdevsim: up to 16 pages) is
// refused by the device, named as such; the queue stays usable.
TEST(NsimZcrx, ABufferLengthTheDriverRefusesIsNamed) {
  REQUIRE_NSIM();
  Ring ring(256, kZcrxRingFlags);
  uringx_zcrx_params params{};
  params.ifname = Env()->ifname.c_str();
  params.queue = 0;
  params.area_size = 8u << 20;
  params.rq_entries = 256;
  params.mem = URINGX_ZCRX_MEM_HUGETLB;
  params.rx_buf_len = 128u << 10;
  uringx_zcrx* z = nullptr;
  uringx_reason reason = URINGX_REASON_NONE;
  int ret = uringx_zcrx_create(ring.get(), &params, &z, &reason);
  EXPECT_EQ(ret, -EINVAL) << uringx_strerror(ret);
  EXPECT_EQ(reason, URINGX_REASON_NO_RX_PAGE_SIZE) << uringx_reason_name(reason);
  EXPECT_EQ(z, nullptr);
  // Page-size buffers on the same queue right after.
  uringx_rxsrc* src = MakeSource(ring.get(), 4u << 20, 1024, nullptr);
  ASSERT_NE(src, nullptr);
  ExpectZeroCopyStream(RunStream(ring.get(), src, 17, 4u << 20), 4u << 20);
  uringx_rxsrc_destroy(src);
}

TEST(NsimZcrx, SmallAreaRecyclesWhileTheAppHoldsHalf) {
  REQUIRE_NSIM();
  Ring ring(256, kZcrxRingFlags);
  // 256 buffers carry 16 MiB (each reused about 45 times) while the
  // application keeps the newest 128 views. The receive window is capped
  // below the free half: TCP's out-of-order queue holds provider buffers
  // too, and an area it can fill while the application waits for the
  // missing segment would never drain (a limit of zcrx, not of the device).
  uringx_rxsrc* src = MakeSource(ring.get(), 256 * 4096, 256, nullptr);
  ASSERT_NE(src, nullptr);
  testsupport::RxLoopOptions opts;
  opts.hold = testsupport::HoldPolicy::kHoldWindow;
  opts.window = 128;
  const uint64_t total = 16u << 20;
  StreamResult s = RunStream(ring.get(), src, 77, total, opts, 96 * 1024);
  ExpectZeroCopyStream(s, total);
  uringx_rxsrc_destroy(src);
}

TEST(NsimZcrx, RegisterTrafficRestartUnregisterLoop) {
  REQUIRE_NSIM();
  const uint64_t total = 2u << 20;
  int total_retries = 0;
  for (int i = 0; i < 8; i++) {
    SCOPED_TRACE("iteration " + std::to_string(i));
    const int mode = i % 4;
    {
      std::optional<Ring> ring(std::in_place, 256, kZcrxRingFlags);
      int retries = 0;
      uringx_rxsrc* src = MakeSource(ring->get(), 2u << 20, 512, &retries);
      ASSERT_NE(src, nullptr);
      total_retries += retries;
      ExpectZeroCopyStream(RunStream(ring->get(), src, 1000 + i, total), total);
      // Restart the queue with the provider bound: new pools take it again.
      RestartQueue(mode);
      ExpectZeroCopyStream(RunStream(ring->get(), src, 2000 + i, total), total);
      ring.reset();  // closing the ring unregisters the ifq
      uringx_rxsrc_destroy(src);
    }
    // Without a provider: the queue restarts and carries ordinary traffic.
    RestartQueue(mode);
    Accepted pair = CrossNamespacePair();
    ASSERT_GE(pair.server.get(), 0);
    testsupport::StreamSender sender(pair.client.Release(), 3000 + i, total, 65536,
                                     testsupport::SenderEnd::kClose);
    testsupport::SeededStream expect(3000 + i);
    std::vector<uint8_t> buf(65536);
    uint64_t got = 0;
    for (;;) {
      ssize_t n = read(pair.server.get(), buf.data(), buf.size());
      ASSERT_GE(n, 0) << std::strerror(errno);
      if (n == 0) break;
      ASSERT_EQ(expect.Verify(buf.data(), size_t(n)), -1) << "plain stream corrupt";
      got += uint64_t(n);
    }
    sender.Join();
    EXPECT_EQ(got, total);
  }
  std::printf("8 register/traffic/restart/unregister rounds; %d registrations waited for "
              "the previous ifq to go\n", total_retries);
}

TEST(NsimZcrx, TeardownWithBuffersHeldReleasesEverything) {
  REQUIRE_NSIM();
  // Nothing else in this process pins memory once the earlier tests'
  // rings have finished going away.
  long waited_before = 0;
  const long pinned_before = PinnedKibSettled(0, std::chrono::seconds(10), &waited_before);
  ASSERT_EQ(pinned_before, 0) << "an earlier test's area is still pinned 10 s after its ring closed";
  {
    std::optional<Ring> ring(std::in_place, 256, kZcrxRingFlags);
    uringx_rxsrc* src = MakeSource(ring->get(), 4u << 20, 1024, nullptr);
    ASSERT_NE(src, nullptr);
    EXPECT_GT(PinnedKib(), pinned_before) << "the area is not accounted as pinned";
    Accepted pair = CrossNamespacePair();
    ASSERT_GE(pair.server.get(), 0);
    // Receive 1 MiB and keep every buffer: nothing goes back to the kernel.
    const uint64_t total = 1u << 20;
    testsupport::StreamSender sender(pair.client.Release(), 5, total, 65536,
                                     testsupport::SenderEnd::kClose);
    std::vector<uringx_rx_view> views(uringx_rxsrc_max_views(src));
    io_uring_sqe* sqe = io_uring_get_sqe(ring->get());
    uringx_rxsrc_prep_recv(src, sqe, pair.server.get());
    io_uring_sqe_set_data64(sqe, 1);
    uint64_t held = 0, held_views = 0;
    while (held < total) {
      io_uring_submit(ring->get());
      io_uring_cqe* cqe = nullptr;
      __kernel_timespec ts{10, 0};
      ASSERT_EQ(io_uring_wait_cqe_timeout(ring->get(), &cqe, &ts), 0) << "no data in 10 s";
      if (uringx_zcrx_is_event(uringx_rxsrc_zcrx(src), cqe)) {
        ADD_FAILURE() << "copy-fallback event";
        io_uring_cqe_seen(ring->get(), cqe);
        continue;
      }
      uringx_rx_event ev{};
      int ret = uringx_rxsrc_decode(src, cqe, views.data(), uint32_t(views.size()), &ev);
      io_uring_cqe_seen(ring->get(), cqe);
      ASSERT_EQ(ret, 0) << uringx_strerror(ret);
      held += ev.bytes;
      held_views += ev.nr_views;
      ASSERT_TRUE(ev.armed || held >= total)
          << "receive ended after " << held << " bytes: " << uringx_strerror(ev.error);
    }
    sender.Join();
    EXPECT_EQ(uringx_zcrx_outstanding(uringx_rxsrc_zcrx(src)), held_views);
    // Tear down while userspace holds every buffer: socket, ring (ifq
    // unregistration, queue restart, pool destruction), then the area.
    pair.server.Reset();
    ring.reset();
    uringx_rxsrc_destroy(src);
    std::printf("tore down with %llu views (%llu bytes) held\n", (unsigned long long)held_views,
                (unsigned long long)held);
  }
  // Every page goes back once the page pool has released its net_iovs and
  // the ifq is freed; that happens asynchronously after the ring closes.
  long waited = 0;
  EXPECT_EQ(PinnedKibSettled(pinned_before, std::chrono::seconds(10), &waited), pinned_before)
      << "area pages still pinned 10 s after teardown: leaked, or held by skbs on an idle "
         "CPU's defer list (kernel patch 0002)";
  std::printf("area unpinned %ld ms after teardown (the earlier tests' after %ld ms more)\n",
              waited, waited_before);
  // And the queue takes a provider again.
  Ring ring(256, kZcrxRingFlags);
  uringx_rxsrc* src = MakeSource(ring.get(), 2u << 20, 512, nullptr);
  ASSERT_NE(src, nullptr);
  ExpectZeroCopyStream(RunStream(ring.get(), src, 6, 1u << 20), 1u << 20);
  uringx_rxsrc_destroy(src);
}

}  // namespace
