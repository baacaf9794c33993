// The README's C++ examples, compiled from the README itself and run with
// default options: a reader who copies them gets code that works.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <zcnet/net/rx_queue.hpp>
#include <zcnet/net/socket.hpp>
#include <zcnet/ring.hpp>
#include <zcnet/runtime.hpp>
#include <zcnet/rx_buffer.hpp>
#include <zcnet/scope.hpp>
#include <zcnet/tx_buffer.hpp>

#include <unistd.h>
#include <zcnet/net/address.hpp>

#include <atomic>
#include <cstring>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "support/loopback.hpp"

namespace readme {
#include "readme_examples.inc"
}  // namespace readme

namespace {

using zcnet::Task;

// Connects to 127.0.0.1:@port, sends @msg, counts it in @echoed if it comes
// back whole.
Task<void> EchoClient(zcnet::Ring& ring, uint16_t port, std::string msg, int& echoed) {
  auto s = zcnet::Socket::OpenTcp(ring);
  if (!s.ok()) co_return;
  sockaddr_in a = zcnet::LoopbackAddress(port);
  if (!(co_await s->Connect(reinterpret_cast<sockaddr*>(&a), sizeof(a))).ok()) co_return;
  if (!(co_await s->SendAll(absl::MakeConstSpan(reinterpret_cast<const std::byte*>(msg.data()),
                                                msg.size()))).ok())
    co_return;
  std::string back(msg.size(), '\0');
  if (!(co_await s->RecvExactly(
           absl::MakeSpan(reinterpret_cast<std::byte*>(back.data()), back.size()))).ok())
    co_return;
  if (back == msg) echoed++;
  (void)co_await s->Shutdown();
}

// README "Echo": one pool shared by several connections, default options.
TEST(Readme, EchoServesSeveralConnectionsFromOneDefaultPool) {
  auto ring = zcnet::Ring::Create();
  ASSERT_TRUE(ring.ok()) << ring.status();
  auto pool = zcnet::RxPool::Create(**ring, zcnet::RxPool::Options{});
  ASSERT_TRUE(pool.ok()) << pool.status();
  auto listener = zcnet::Listener::Bind(**ring, zcnet::LoopbackAddress(0));
  ASSERT_TRUE(listener.ok()) << listener.status();
  constexpr int kConnections = 4;
  int echoed = 0;
  (*ring)->Run([](zcnet::Ring& ring, zcnet::RxPool& pool, zcnet::Listener& l,
                  int& echoed) -> Task<void> {
    zcnet::Scope servers;
    zcnet::Scope clients;
    for (int c = 0; c < kConnections; c++) {
      clients.Spawn(EchoClient(ring, l.port(), "connection " + std::to_string(c), echoed));
      auto s = co_await l.Accept(zcnet::OpOptions{nullptr, absl::Seconds(10)});
      if (!s.ok()) co_return;
      servers.Spawn(readme::Echo(pool, std::move(*s)));
    }
    co_await clients.Join();
    co_await servers.Join();
  }(**ring, **pool, *listener, echoed));
  EXPECT_EQ(echoed, kConnections) << "the README's Echo failed on a shared default pool";
}

// README "A first server": Serve on an abstract Unix address and on IPv6
// loopback, 4 verified echo connections each, then stopped by its token.
TEST(Readme, FirstServerServesUnixAndIpv6UntilStopped) {
  for (std::string text : {"unix:@zcnet-readme-" + std::to_string(getpid()), std::string("[::1]:0")}) {
    auto ring = zcnet::Ring::Create();
    ASSERT_TRUE(ring.ok()) << ring.status();
    auto where = zcnet::Address::Parse(text);
    ASSERT_TRUE(where.ok()) << where.status();
    if (where->is_ip()) {
      // Port 0 would let Serve bind a port the clients cannot know: take a free one.
      auto probe = zcnet::Listener::Bind(**ring, *where);
      ASSERT_TRUE(probe.ok()) << probe.status();
      where = probe->address();
    }
    std::stop_source stop;
    absl::Status served = absl::UnknownError("Serve did not return");
    int echoed = 0;
    (*ring)->Run([](zcnet::Ring& ring, zcnet::Address where, std::stop_source& stop,
                    absl::Status& served, int& echoed) -> Task<void> {
      zcnet::Scope all;
      all.Spawn([](zcnet::Ring& ring, zcnet::Address where, std::stop_token token,
                   absl::Status& out) -> Task<void> {
        out = co_await readme::Serve(ring, where, token);
      }(ring, where, stop.get_token(), served));
      for (int c = 0; c < 4; c++) {
        // Serve binds on its first resumption: retry a refused connect briefly.
        for (int tries = 0; tries < 100; tries++) {
          auto s = zcnet::Socket::OpenFor(ring, where);
          if (!s.ok()) break;
          if (!(co_await s->Connect(where)).ok()) {
            co_await zcnet::Sleep(ring, absl::Milliseconds(10));
            continue;
          }
          std::string msg = "message " + std::to_string(c), back(msg.size(), '\0');
          auto bytes = absl::MakeConstSpan(reinterpret_cast<const std::byte*>(msg.data()), msg.size());
          if ((co_await s->SendAll(bytes)).ok() &&
              (co_await s->RecvExactly(absl::MakeSpan(reinterpret_cast<std::byte*>(back.data()),
                                                      back.size()))).ok() &&
              back == msg)
            echoed++;
          (void)co_await s->Close();
          break;
        }
      }
      stop.request_stop();
      co_await all.Join();
    }(**ring, *where, stop, served, echoed));
    EXPECT_EQ(echoed, 4) << text;
    EXPECT_TRUE(served.ok()) << text << ": " << served;
  }
}

// README "Many cores": a listener and a pool per ring, Echo on each; 64
// connections from a client ring, every one echoed, default options.
TEST(Readme, EchoOnEveryRingServesFromEachRing) {
  auto rt = zcnet::Runtime::Create(zcnet::Runtime::Options{.threads = 2});
  ASSERT_TRUE(rt.ok()) << rt.status();
  std::atomic<uint16_t> bound{0};
  zcnet::Runtime& r = **rt;
  ASSERT_TRUE(r.Spawn(0, [&r, &bound](zcnet::Ring&) {
    return readme::EchoOnEveryRing(r, 0, bound);
  }).ok());
  // The example publishes the port with a plain store: poll for it.
  for (int i = 0; i < 10000 && !bound.load(); i++)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_NE(bound.load(), 0) << "EchoOnEveryRing did not start (pool or listener failed)";
  auto ring = zcnet::Ring::Create();
  ASSERT_TRUE(ring.ok()) << ring.status();
  constexpr int kConnections = 64;
  int echoed = 0;
  (*ring)->Run([](zcnet::Ring& ring, uint16_t port, int& echoed) -> Task<void> {
    zcnet::Scope clients;
    for (int c = 0; c < kConnections; c++)
      clients.Spawn(EchoClient(ring, port, "ring connection " + std::to_string(c), echoed));
    co_await clients.Join();
  }(**ring, bound.load(), echoed));
  EXPECT_EQ(echoed, kConnections);
  r.RequestStop();
  r.Join();
}

}  // namespace
