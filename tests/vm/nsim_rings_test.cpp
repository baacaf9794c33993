// Many cores on a 4-queue netdevsim port (kernel/patches: zcrx-capable
// queues, RSS): a Runtime of 6 rings, rings 0-3 each with a zcrx area bound
// to its own rx queue, rings 4 and 5 sharing queues 0 and 1 with rings 0
// and 1 (ZCRX_CTRL_EXPORT / ZCRX_REG_IMPORT: threads outnumber queues). One
// acceptor places each connection by receive queue (SO_INCOMING_NAPI_ID ->
// RxQueueMap -> a ring of that queue). 32 clients from the peer namespace,
// each on a local port whose RSS hash puts it on a chosen queue (8 per
// queue), stream seeded data that the server echoes from its RxBuffers;
// every echoed byte is verified. A ring only ever receives from its own
// queue's area: a frag of another queue's area fails the receive (EFAULT),
// so every stream completing is the proof, with the kernel's zcrx copy
// counters at 0 on every queue.
//
// Runs inside the VM, started by tests/vm/netdevsim_rings.sh:
//   NSIM_RX_IF, NSIM_RX_ADDR       the server's port and address (this netns)
//   NSIM_PEER_NETNS, NSIM_PEER_ADDR the clients' namespace and address
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uringx/uringx.h>
#include <zcnet/net/rx_queue.hpp>
#include <zcnet/net/socket.hpp>
#include <zcnet/runtime.hpp>
#include <zcnet/rx_buffer.hpp>
#include <zcnet/scope.hpp>
#include <zcnet/tx_buffer.hpp>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/loopback.hpp"

namespace readme {
#include "readme_examples.inc"
}  // namespace readme

namespace {

using testsupport::Fd;
using zcnet::RxPool;
using zcnet::Runtime;

constexpr unsigned kQueues = 4;
constexpr unsigned kRings = 6;  // rings 4 and 5 share queues 0 and 1
constexpr unsigned kConns = 32;
constexpr uint64_t kBytesPerConn = 2u << 20;

struct Env {
  std::string ifname, addr, peer_netns, peer_addr;
};

const Env* GetEnv() {
  static Env env;
  static bool ok = [] {
    const char* v[4] = {std::getenv("NSIM_RX_IF"), std::getenv("NSIM_RX_ADDR"),
                        std::getenv("NSIM_PEER_NETNS"), std::getenv("NSIM_PEER_ADDR")};
    for (const char* s : v)
      if (!s || !*s) return false;
    env = {v[0], v[1], v[2], v[3]};
    return true;
  }();
  return ok ? &env : nullptr;
}

sockaddr_in V4(const std::string& ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  return a;
}

// What the server side records, each slot written by one ring's thread.
struct Server {
  std::array<std::unique_ptr<RxPool>, kRings> pools;
  std::array<uint32_t, kRings> queue_of_ring{0, 1, 2, 3, 0, 1};
  std::array<std::atomic<uint64_t>, kRings> conns{}, bytes{};
  std::atomic<int> placement_errors{0}, stream_errors{0}, finished{0};
  std::mutex mu;
  std::string first_error;
  std::array<std::atomic<uint32_t>, kQueues> per_queue{};
  void Finish() {
    finished++;
    finished.notify_all();
  }
  void Error(std::atomic<int>& counter, std::string what) {
    counter++;
    std::lock_guard lock(mu);
    if (first_error.empty()) first_error = std::move(what);
  }
};

zcnet::Task<void> Echo(Server& srv, size_t ring, zcnet::Socket s) {
  auto stream = srv.pools[ring]->Stream(s.fd());
  if (!stream.ok()) {
    srv.Error(srv.stream_errors, std::string(stream.status().message()));
    srv.Finish();
    co_return;
  }
  for (;;) {
    absl::StatusOr<zcnet::RxBuffer> b = co_await stream->Next();
    if (!b.ok()) {
      srv.Error(srv.stream_errors, "ring " + std::to_string(ring) + ": " +
                                       std::string(b.status().message()));
      break;
    }
    if (b->empty()) break;  // the client shut down its side: all echoed
    srv.bytes[ring] += b->size();
    absl::Status st = co_await s.SendAll(b->span());
    if (!st.ok()) {
      srv.Error(srv.stream_errors, std::string(st.message()));
      break;
    }
  }
  (void)s.Shutdown(SHUT_WR);
  srv.Finish();
}

// Runs @fn on ring @ring's thread and waits for it.
void OnRing(Runtime& rt, size_t ring, Runtime::Fn fn) {
  absl::Status st = rt.Call(ring, std::move(fn));
  ASSERT_TRUE(st.ok()) << st;
}

// A client socket in the peer namespace, bound to a local port whose RSS
// hash (the server port's key and table) sends its packets to @queue.
Fd ConnectToQueue(const uringx_rss& rss, uint16_t server_port, unsigned queue, uint16_t* port_io) {
  const Env& e = *GetEnv();
  Fd self(open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
  Fd peer(open(e.peer_netns.c_str(), O_RDONLY | O_CLOEXEC));
  if (self.get() < 0 || peer.get() < 0 || setns(peer.get(), CLONE_NEWNET)) {
    ADD_FAILURE() << "entering " << e.peer_netns << ": " << std::strerror(errno);
    return Fd();
  }
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (setns(self.get(), CLONE_NEWNET)) std::abort();
  sockaddr_in server = V4(e.addr, server_port);
  for (uint32_t p = *port_io; p < 61000; p++) {
    sockaddr_in local = V4(e.peer_addr, static_cast<uint16_t>(p));
    int q = uringx_rss_queue(&rss, reinterpret_cast<sockaddr*>(&local),
                             reinterpret_cast<sockaddr*>(&server));
    if (q != static_cast<int>(queue)) continue;
    if (bind(fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof(local))) continue;
    *port_io = static_cast<uint16_t>(p + 1);
    if (connect(fd.get(), reinterpret_cast<sockaddr*>(&server), sizeof(server))) {
      ADD_FAILURE() << "connect from port " << p << ": " << std::strerror(errno);
      return Fd();
    }
    return fd;
  }
  ADD_FAILURE() << "no free local port hashes to queue " << queue;
  return Fd();
}

// @conns clients from the peer namespace, client c on a local port (from
// @first_port up) whose RSS hash puts it on queue c % kQueues, each sending
// kBytesPerConn seeded bytes and verifying the echo. Returns how many
// verified all of it.
int RunClients(const uringx_rss& rss, uint16_t port, unsigned conns, uint16_t first_port) {
  std::atomic<int> verified{0};
  std::vector<std::thread> clients;
  std::mutex port_mu;
  uint16_t next_port = first_port;
  for (unsigned c = 0; c < conns; c++) {
    clients.emplace_back([&, c] {
      unsigned queue = c % kQueues;
      Fd fd;
      {
        std::lock_guard lock(port_mu);
        fd = ConnectToQueue(rss, port, queue, &next_port);
      }
      if (fd.get() < 0) return;
      testsupport::StreamSender sender(dup(fd.get()), 1000 + c, kBytesPerConn, 32768,
                                       testsupport::SenderEnd::kShutdownWrite);
      testsupport::SeededStream expect(1000 + c);
      std::vector<uint8_t> buf(65536);
      uint64_t got = 0;
      for (;;) {
        ssize_t n = read(fd.get(), buf.data(), buf.size());
        if (n <= 0) break;
        if (expect.Verify(buf.data(), static_cast<size_t>(n)) != -1) {
          ADD_FAILURE() << "connection " << c << ": echo corrupt at " << got;
          return;
        }
        got += static_cast<uint64_t>(n);
      }
      sender.Join();
      EXPECT_EQ(got, kBytesPerConn) << "connection " << c << " (queue " << queue << ")";
      if (got == kBytesPerConn) verified++;
    });
  }
  for (auto& t : clients) t.join();
  return verified.load();
}

TEST(NsimRings, SixRingsFourZcrxQueuesConnectionsPlacedByReceiveQueue) {
  if (!GetEnv())
    GTEST_SKIP() << "needs a 4-queue netdevsim pair with the zcnet kernel patches; "
                    "tests/vm/netdevsim_rings.sh sets it up inside the VM (`vm` suite)";
  const Env& e = *GetEnv();
  uringx_rss rss{};
  uringx_reason why = URINGX_REASON_NONE;
  ASSERT_EQ(uringx_rss_read(e.ifname.c_str(), &rss, &why), 0) << uringx_reason_str(why);
  ASSERT_EQ(rss.rx_queues, kQueues);

  Runtime::Options ro;
  ro.threads = kRings;
  auto rt_or = Runtime::Create(ro);
  ASSERT_TRUE(rt_or.ok()) << rt_or.status();
  Runtime& rt = **rt_or;
  Server srv;

  // A zcrx area on each queue, then rings 4 and 5 import queues 0 and 1.
  for (size_t r = 0; r < kQueues; r++)
    OnRing(rt, r, [&, r] {
      RxPool::Options o;
      o.mode = URINGX_RXSRC_ZCRX;
      o.ifname = e.ifname.c_str();
      o.queue = static_cast<uint32_t>(r);
      o.zcrx_area_bytes = 8u << 20;
      o.zcrx_refill_entries = 1024;
      auto pool = RxPool::Create(*Runtime::CurrentRing(), o);
      EXPECT_TRUE(pool.ok()) << "queue " << r << ": " << pool.status();
      if (pool.ok()) srv.pools[r] = std::move(*pool);
    });
  for (size_t r = kQueues; r < kRings; r++) {
    size_t owner = srv.queue_of_ring[r];
    ASSERT_TRUE(srv.pools[owner]);
    absl::StatusOr<zcnet::ZcrxShare> share = absl::UnknownError("not run");
    OnRing(rt, owner, [&] { share = srv.pools[owner]->ShareZcrx(); });
    ASSERT_TRUE(share.ok()) << share.status();
    OnRing(rt, r, [&, r] {
      auto pool = RxPool::Import(*Runtime::CurrentRing(), std::move(*share));
      EXPECT_TRUE(pool.ok()) << "ring " << r << ": " << pool.status();
      if (pool.ok()) srv.pools[r] = std::move(*pool);
    });
    ASSERT_TRUE(srv.pools[r]);
  }
  for (size_t r = 0; r < kRings; r++) {
    OnRing(rt, r, [&, r] {
      std::printf("ring %zu: queue %u, %s\n", r, srv.queue_of_ring[r],
                  srv.pools[r]->Describe().c_str());
      EXPECT_STREQ(srv.pools[r]->mechanism(), "zcrx");
      EXPECT_EQ(srv.pools[r]->shared(), r == 0 || r == 1 || r >= kQueues);
    });
  }

  // The NAPI table, read after the areas were bound.
  auto map = zcnet::RxQueueMap::Read(e.ifname);
  ASSERT_TRUE(map.ok()) << map.status();
  ASSERT_EQ(map->queues(), kQueues);
  for (uint32_t q = 0; q < kQueues; q++) {
    EXPECT_NE(map->napi_id(q), 0u) << "queue " << q << " has no NAPI";
    for (uint32_t o = 0; o < q; o++) EXPECT_NE(map->napi_id(q), map->napi_id(o));
  }

  // The acceptor on ring 0: placement by receive queue.
  std::promise<uint16_t> bound;
  std::array<uint32_t, kQueues> turn{};  // round robin over a queue's rings (ring 0 only)
  ASSERT_TRUE(rt.Spawn(0, [&](zcnet::Ring& ring) -> zcnet::Task<void> {
    auto l = zcnet::Listener::Bind(ring, V4(e.addr, 0), zcnet::Listener::Options{});
    if (!l.ok()) {
      ADD_FAILURE() << l.status();
      bound.set_value(0);
      co_return;
    }
    bound.set_value(l->port());
    auto accepts = l->AcceptMany();
    for (unsigned n = 0; n < kConns; n++) {
      auto s = co_await accepts.Next({&Runtime::StopToken()});
      if (!s.ok()) break;
      absl::StatusOr<uint32_t> q = map->QueueOf(s->fd());
      if (!q.ok()) {
        srv.Error(srv.placement_errors, std::string(q.status().message()));
        srv.Finish();
        continue;
      }
      std::vector<size_t> rings;
      for (size_t r = 0; r < kRings; r++)
        if (srv.queue_of_ring[r] == *q) rings.push_back(r);
      size_t target = rings[turn[*q]++ % rings.size()];
      srv.per_queue[*q]++;
      srv.conns[target]++;
      int fd = s->Release();
      absl::Status st = rt.Spawn(target, [&srv, target, fd](zcnet::Ring& r) {
        return Echo(srv, target, zcnet::Socket(r, fd));
      });
      if (!st.ok()) {
        srv.Error(srv.placement_errors, std::string(st.message()));
        srv.Finish();
      }
    }
  }).ok());
  uint16_t port = bound.get_future().get();
  ASSERT_NE(port, 0);

  // 32 clients, 8 per queue, each verifying its echo.
  int verified = RunClients(rss, port, kConns, 20000);
  // Every client is done; the server's last streams end right after.
  for (int i = 0; i < 3000 && srv.finished.load() < static_cast<int>(kConns); i++)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(srv.finished.load(), static_cast<int>(kConns)) << "server streams still running";

  EXPECT_EQ(verified, static_cast<int>(kConns));
  EXPECT_EQ(srv.placement_errors.load(), 0) << srv.first_error;
  EXPECT_EQ(srv.stream_errors.load(), 0) << srv.first_error;
  for (uint32_t q = 0; q < kQueues; q++)
    EXPECT_EQ(srv.per_queue[q].load(), kConns / kQueues)
        << "connections the server saw arrive on queue " << q;
  for (size_t r = 0; r < kRings; r++) {
    OnRing(rt, r, [&, r] {
      uringx_zcrx_stats st = srv.pools[r]->zcrx_stats();
      std::printf("ring %zu (queue %u): %llu connections, %llu bytes, zcrx copies %llu "
                  "(%llu bytes)\n",
                  r, srv.queue_of_ring[r], (unsigned long long)srv.conns[r].load(),
                  (unsigned long long)srv.bytes[r].load(), (unsigned long long)st.copy_count,
                  (unsigned long long)st.copy_bytes);
      EXPECT_TRUE(st.kernel_counts);
      EXPECT_EQ(st.copy_count, 0u) << "ring " << r;
      EXPECT_EQ(srv.bytes[r].load(), srv.conns[r].load() * kBytesPerConn) << "ring " << r;
      EXPECT_GT(srv.conns[r].load(), 0u) << "ring " << r << " served nothing";
      srv.pools[r].reset();
    });
  }
  rt.RequestStop();
  rt.Join();
  uringx_rss_free(&rss);
}

// The README's per-queue server (BindQueues, AcceptByQueue, Echo) as
// written there: 6 rings on the 4 queues, 16 clients, 4 per queue.
TEST(NsimRings, TheReadmePerQueueServerServesEveryQueue) {
  if (!GetEnv()) GTEST_SKIP() << "needs the netdevsim pair (tests/vm/netdevsim_rings.sh)";
  const Env& e = *GetEnv();
  uringx_rss rss{};
  ASSERT_EQ(uringx_rss_read(e.ifname.c_str(), &rss, nullptr), 0);
  Runtime::Options ro;
  ro.threads = kRings;
  auto rt = Runtime::Create(ro);
  ASSERT_TRUE(rt.ok()) << rt.status();
  readme::PerQueue pq;
  absl::Status st = readme::BindQueues(**rt, e.ifname.c_str(), kQueues, pq);
  ASSERT_TRUE(st.ok()) << st;
  auto map = zcnet::RxQueueMap::Read(e.ifname);
  ASSERT_TRUE(map.ok()) << map.status();
  std::optional<zcnet::Listener> listener;
  OnRing(**rt, 0, [&] {
    auto l = zcnet::Listener::Bind(*Runtime::CurrentRing(), V4(e.addr, 0),
                                   zcnet::Listener::Options{});
    ASSERT_TRUE(l.ok()) << l.status();
    listener.emplace(std::move(*l));
  });
  ASSERT_TRUE(listener);
  uint16_t port = listener->port();
  ASSERT_TRUE((*rt)->Spawn(0, [&](zcnet::Ring&) {
    return readme::AcceptByQueue(**rt, pq, std::move(*listener), std::move(*map));
  }).ok());
  EXPECT_EQ(RunClients(rss, port, 16, 30000), 16);
  for (size_t r = 0; r < kRings; r++)
    OnRing(**rt, r, [&, r] {
      uringx_zcrx_stats zs = pq.pools[r]->zcrx_stats();
      std::printf("readme server, ring %zu (queue %u): %s, zcrx copies %llu\n", r, pq.queue[r],
                  pq.pools[r]->Describe().c_str(), (unsigned long long)zs.copy_count);
      EXPECT_EQ(zs.copy_count, 0u);
      pq.pools[r].reset();
    });
  (*rt)->RequestStop();
  (*rt)->Join();
  uringx_rss_free(&rss);
}

}  // namespace
