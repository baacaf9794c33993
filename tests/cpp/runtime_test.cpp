// zcnet Runtime: rings on threads, posts between them over MSG_RING,
// connections placed on rings (SO_REUSEPORT listeners, an acceptor handing
// connections over), stop from another thread, shutdown with traffic.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zcnet/net/socket.hpp>
#include <zcnet/runtime.hpp>
#include <zcnet/scope.hpp>
#include <zcnet/task.hpp>

#include <array>
#include <atomic>
#include <cstring>
#include <vector>

#include "support/loopback.hpp"

namespace {

using zcnet::Listener;
using zcnet::OpOptions;
using zcnet::Ring;
using zcnet::Runtime;
using zcnet::Scope;
using zcnet::Socket;
using zcnet::Task;

std::unique_ptr<Runtime> MakeRuntime(unsigned threads) {
  Runtime::Options o;
  o.threads = threads;
  auto rt = Runtime::Create(o);
  EXPECT_TRUE(rt.ok()) << rt.status();
  return rt.ok() ? std::move(*rt) : nullptr;
}

TEST(Runtime, StartsOneRingPerThreadAndRunsPostsOnThem) {
  auto rt = MakeRuntime(2);
  ASSERT_TRUE(rt);
  ASSERT_EQ(rt->size(), 2u);
  std::array<std::atomic<size_t>, 2> seen_index{SIZE_MAX, SIZE_MAX};
  std::atomic<int> done{0};
  for (size_t i = 0; i < 2; i++)
    ASSERT_TRUE(rt->Post(i, [&, i] {
      seen_index[i] = Runtime::CurrentIndex();
      EXPECT_NE(Runtime::CurrentRing(), nullptr);
      done.fetch_add(1);
      done.notify_all();
    }).ok());
  for (int d = done.load(); d < 2; d = done.load()) done.wait(d);
  EXPECT_EQ(seen_index[0].load(), 0u);
  EXPECT_EQ(seen_index[1].load(), 1u);
  EXPECT_EQ(Runtime::CurrentRing(), nullptr) << "the test thread is not a ring's";
  EXPECT_EQ(rt->Post(2, [] {}).code(), absl::StatusCode::kInvalidArgument);
}

// Call: run on a ring and wait for it, from main; refused on a ring thread.
TEST(Runtime, CallRunsOnTheRingAndReturnsAfterIt) {
  auto rt = MakeRuntime(2);
  ASSERT_TRUE(rt);
  size_t ran_on = SIZE_MAX;
  int value = 0;
  ASSERT_TRUE(rt->Call(1, [&] {
    ran_on = Runtime::CurrentIndex();
    value = 42;
  }).ok());
  EXPECT_EQ(ran_on, 1u);
  EXPECT_EQ(value, 42) << "Call returned before the function had run";
  EXPECT_EQ(rt->Call(5, [] {}).code(), absl::StatusCode::kInvalidArgument);
  absl::Status from_ring = absl::UnknownError("not run");
  ASSERT_TRUE(rt->Call(0, [&] { from_ring = rt->Call(1, [] {}); }).ok());
  EXPECT_EQ(from_ring.code(), absl::StatusCode::kFailedPrecondition) << from_ring;
  EXPECT_NE(from_ring.message().find("use Post"), std::string_view::npos) << from_ring;
}

// 64 messages bounce between the two rings until 1,000,000 posts were made;
// every one arrives, on the ring it was sent to.
struct Bouncer {
  Runtime* rt;
  std::array<uint64_t, 2> hits{};  // hits[i] is touched by ring i only
  std::array<uint64_t, 2> wrong_ring{};
  std::atomic<int> finished{0};
  std::atomic<int> post_errors{0};

  void Hit(size_t expect_ring, uint32_t hops_left) {
    size_t here = Runtime::CurrentIndex();
    hits[here]++;
    if (here != expect_ring) wrong_ring[here]++;
    if (hops_left == 0) {
      finished.fetch_add(1);
      finished.notify_all();
      return;
    }
    size_t next = 1 - here;
    if (!rt->Post(next, [this, next, hops_left] { Hit(next, hops_left - 1); }).ok())
      post_errors.fetch_add(1);
  }
};

TEST(Runtime, AMillionPostsPingPongedBetweenRingsNoneLost) {
  auto rt = MakeRuntime(2);
  ASSERT_TRUE(rt);
  constexpr int kBalls = 64;
  constexpr uint32_t kHops = 1000000 / kBalls;  // posts per ball, the first included
  Bouncer b{rt.get()};
  for (int i = 0; i < kBalls; i++) {
    size_t first = i % 2;
    ASSERT_TRUE(rt->Post(first, [&b, first] { b.Hit(first, kHops - 1); }).ok());
  }
  for (int f = b.finished.load(); f < kBalls; f = b.finished.load()) b.finished.wait(f);
  rt->RequestStop();
  rt->Join();
  EXPECT_EQ(b.post_errors.load(), 0);
  EXPECT_EQ(b.hits[0] + b.hits[1], uint64_t{kBalls} * kHops);
  EXPECT_EQ(b.hits[0], b.hits[1]) << "every ball alternates, starting on rings 0 and 1 evenly";
  EXPECT_EQ(b.wrong_ring[0] + b.wrong_ring[1], 0u);
  // The bounces, and one stop message each.
  EXPECT_EQ(rt->posts_received(0) + rt->posts_received(1), uint64_t{kBalls} * kHops + 2);
}

TEST(Runtime, PostsAfterStopAreRefused) {
  auto rt = MakeRuntime(2);
  ASSERT_TRUE(rt);
  rt->RequestStop();
  rt->Join();
  absl::Status st = rt->Post(1, [] {});
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  EXPECT_NE(st.message().find("ring 1 is stopping"), std::string_view::npos) << st;
}

// A recv that would wait forever on ring 1 is cancelled by a stop requested
// from the test's thread: the stop reaches ring 1 as a message and its
// callback cancels the request there.
TEST(Runtime, StopFromAnotherThreadCancelsABlockedRecv) {
  auto rt = MakeRuntime(2);
  ASSERT_TRUE(rt);
  auto pair = testsupport::MakeTcpPair();  // the client never sends
  std::atomic<int> armed{0};
  absl::Status result = absl::UnknownError("not run");
  size_t ran_on = SIZE_MAX;
  int fd = pair.server.Release();
  ASSERT_TRUE(rt->Spawn(1, [&, fd](Ring& ring) -> Task<void> {
    Socket s(ring, fd);
    std::vector<std::byte> buf(64);
    ran_on = Runtime::CurrentIndex();
    armed.store(1);
    armed.notify_all();
    auto n = co_await s.Recv(absl::MakeSpan(buf), OpOptions{&Runtime::StopToken()});
    result = n.status();
  }).ok());
  armed.wait(0);
  EXPECT_EQ(rt->load(1), 1u);
  rt->RequestStop();
  rt->Join();
  EXPECT_EQ(ran_on, 1u);
  EXPECT_EQ(result.code(), absl::StatusCode::kCancelled) << result;
  EXPECT_EQ(rt->load(1), 0u);
}

TEST(Runtime, AnExceptionEscapingASpawnedTaskIsRethrownByJoin) {
  auto rt = MakeRuntime(2);
  ASSERT_TRUE(rt);
  ASSERT_TRUE(rt->Spawn(0, [](Ring&) -> Task<void> {
    throw std::runtime_error("boom on ring 0");
    co_return;
  }).ok());
  rt->RequestStop();
  EXPECT_THROW(rt->Join(), std::runtime_error);
}

// ---- Echo over the placements ----

constexpr size_t kEchoBytes = 16 << 10;

uint8_t Pattern(uint32_t conn, size_t i) { return static_cast<uint8_t>((i * 131 + conn * 7) >> 3); }

// Serves one connection until EOF, or until the ring stops.
Task<void> Echo(Socket s, std::atomic<uint64_t>& served, std::atomic<uint64_t>& bytes) {
  std::vector<std::byte> buf(4096);
  OpOptions stop{&Runtime::StopToken()};
  for (;;) {
    auto n = co_await s.Recv(absl::MakeSpan(buf), stop);
    if (!n.ok() || *n == 0) break;
    bytes.fetch_add(*n, std::memory_order_relaxed);
    if (!(co_await s.SendAll(absl::MakeConstSpan(buf.data(), *n), stop)).ok()) break;
  }
  served.fetch_add(1);
}

struct ServerStats {
  std::array<std::atomic<uint64_t>, 2> served{};
  std::atomic<uint64_t> bytes{0};
};

// One client thread: @n connections to @port, each sending kEchoBytes of
// its own pattern and checking every echoed byte. Returns bad connections.
int RunClients(uint16_t port, uint32_t n) {
  auto ring = Ring::Create();
  if (!ring.ok()) return static_cast<int>(n);
  int bad = 0;
  auto client = [](Ring& ring, uint16_t port, uint32_t id, int& bad) -> Task<void> {
    auto s = Socket::OpenTcp(ring);
    sockaddr_in a = zcnet::LoopbackAddress(port);
    if (!s.ok() || !(co_await s->Connect(reinterpret_cast<sockaddr*>(&a), sizeof(a))).ok()) {
      bad++;
      co_return;
    }
    std::vector<std::byte> out(kEchoBytes), in(kEchoBytes);
    for (size_t i = 0; i < kEchoBytes; i++) out[i] = std::byte{Pattern(id, i)};
    if (!(co_await s->SendAll(out)).ok() || !(co_await s->RecvExactly(absl::MakeSpan(in))).ok() ||
        std::memcmp(in.data(), out.data(), kEchoBytes) != 0) {
      bad++;
      co_return;
    }
    (void)co_await s->Close();
  };
  (*ring)->Run([](Ring& ring, uint16_t port, uint32_t n, int& bad, auto client) -> Task<void> {
    Scope scope;
    for (uint32_t i = 0; i < n; i++) scope.Spawn(client(ring, port, i, bad));
    co_await scope.Join();
  }(**ring, port, n, bad, client));
  return bad;
}

// (a) A listener per ring on one port (SO_REUSEPORT): the kernel spreads the
// connections; each ring serves what its own listener accepts.
TEST(Runtime, ReusePortListenerPerRingServes256VerifiedEchoConnections) {
  auto rt = MakeRuntime(2);
  ASSERT_TRUE(rt);
  ServerStats stats;
  std::atomic<int> port{0};
  std::atomic<int> listening{0};
  std::atomic<int> bind_errors{0};
  auto serve = [&](Ring& ring) -> Task<void> {
    size_t me = Runtime::CurrentIndex();
    Listener::Options lo;
    lo.reuse_port = true;
    // Ring 0 binds first (port 0), ring 1 on its port.
    auto l = Listener::Bind(ring, zcnet::LoopbackAddress(static_cast<uint16_t>(port.load())), lo);
    if (!l.ok()) {
      bind_errors++;
      listening.fetch_add(1);
      listening.notify_all();
      co_return;
    }
    if (me == 0) port.store(l->port());
    listening.fetch_add(1);
    listening.notify_all();
    Scope conns;
    auto accepts = l->AcceptMany();
    for (;;) {
      auto s = co_await accepts.Next(OpOptions{&Runtime::StopToken()});
      if (!s.ok()) break;
      conns.Spawn(Echo(std::move(*s), stats.served[me], stats.bytes));
    }
    co_await conns.Join();
  };
  ASSERT_TRUE(rt->Spawn(0, serve).ok());
  listening.wait(0);
  ASSERT_TRUE(rt->Spawn(1, serve).ok());
  for (int l = listening.load(); l < 2; l = listening.load()) listening.wait(l);
  ASSERT_EQ(bind_errors.load(), 0);
  EXPECT_EQ(RunClients(static_cast<uint16_t>(port.load()), 256), 0);
  rt->RequestStop();
  rt->Join();
  EXPECT_EQ(stats.served[0] + stats.served[1], 256u);
  EXPECT_GT(stats.served[0], 0u) << "the reuseport group never chose ring 0";
  EXPECT_GT(stats.served[1], 0u) << "the reuseport group never chose ring 1";
  EXPECT_EQ(stats.bytes.load(), 256 * kEchoBytes);
}

// (b) One acceptor on ring 0 hands every accepted connection to a ring over
// MSG_RING (round robin), where it is served.
TEST(Runtime, AcceptorHandsConnectionsToRings256VerifiedEchoConnections) {
  auto rt = MakeRuntime(2);
  ASSERT_TRUE(rt);
  ServerStats stats;
  std::atomic<int> port{0};
  std::atomic<int> handoff_errors{0};
  Runtime* r = rt.get();
  ASSERT_TRUE(rt->Spawn(0, [&, r](Ring& ring) -> Task<void> {
    auto l = Listener::Bind(ring, zcnet::LoopbackAddress(0));
    if (!l.ok()) {
      port.store(-1);
      port.notify_all();
      co_return;
    }
    port.store(l->port());
    port.notify_all();
    auto accepts = l->AcceptMany();
    for (uint32_t i = 0;; i++) {
      auto s = co_await accepts.Next(OpOptions{&Runtime::StopToken()});
      if (!s.ok()) break;
      int fd = s->Release();
      size_t to = i % r->size();
      absl::Status st = r->Spawn(to, [fd, to, &stats](Ring& target) -> Task<void> {
        return Echo(Socket(target, fd), stats.served[to], stats.bytes);
      });
      if (!st.ok()) {
        ::close(fd);
        handoff_errors++;
      }
    }
  }).ok());
  port.wait(0);
  ASSERT_GT(port.load(), 0);
  EXPECT_EQ(RunClients(static_cast<uint16_t>(port.load()), 256), 0);
  rt->RequestStop();
  rt->Join();
  EXPECT_EQ(handoff_errors.load(), 0);
  EXPECT_EQ(stats.served[0].load(), 128u);
  EXPECT_EQ(stats.served[1].load(), 128u);
  EXPECT_EQ(stats.bytes.load(), 256 * kEchoBytes);
}

// Stop while 32 connections stream: every server task returns (cancelled),
// the threads exit, nothing hangs or leaks (sanitizer builds check).
TEST(Runtime, ShutdownWithTrafficInFlight) {
  auto rt = MakeRuntime(2);
  ASSERT_TRUE(rt);
  ServerStats stats;
  std::vector<testsupport::TcpPair> pairs;
  for (int i = 0; i < 32; i++) pairs.push_back(testsupport::MakeTcpPair());
  for (int i = 0; i < 32; i++) {
    int fd = pairs[i].server.Release();
    size_t to = i % 2;
    ASSERT_TRUE(rt->Spawn(to, [fd, to, &stats](Ring& ring) -> Task<void> {
      return Echo(Socket(ring, fd), stats.served[to], stats.bytes);
    }).ok());
  }
  // Keep data flowing both ways from this thread until some has been echoed.
  std::vector<char> chunk(4096, 'x'), sink(65536);
  while (stats.bytes.load() < (1u << 20)) {
    for (auto& p : pairs) {
      (void)::send(p.client.get(), chunk.data(), chunk.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      (void)::recv(p.client.get(), sink.data(), sink.size(), MSG_DONTWAIT);
    }
  }
  rt->RequestStop();
  rt->Join();
  EXPECT_EQ(stats.served[0] + stats.served[1], 32u) << "a server task did not return";
  EXPECT_EQ(rt->load(0) + rt->load(1), 0u);
}

}  // namespace
