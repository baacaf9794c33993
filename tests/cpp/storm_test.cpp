// A seeded cancellation storm: 64 connections stream seeded bytes while a
// driver, event by event, stops tokens, destroys consumer and sender tasks
// mid-await, destroys streams, pool handles, buffers and sockets in random
// orders, and opens new connections. Whatever a live consumer receives must
// be its stream's next bytes; nothing may hang, leak a mapping or pinned
// page, or trip a sanitizer.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zcnet/net/socket.hpp>
#include <zcnet/ring.hpp>
#include <zcnet/rx_buffer.hpp>
#include <zcnet/tx_buffer.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "support/loopback.hpp"

namespace {

using zcnet::OpOptions;
using zcnet::Ring;
using zcnet::RxBuffer;
using zcnet::RxPool;
using zcnet::Task;
using zcnet::TxPool;

constexpr int kSlots = 64;
constexpr int kEventsPerSeed = 10000;

// What a consumer saw; outlives the consumer's Task.
struct Tally {
  uint64_t bytes = 0;
  long bad_at = -1;
};

Task<void> Consume(zcnet::RecvStream& stream, uint64_t seed, Tally& tally,
                   const std::stop_token* stop, std::vector<RxBuffer>& kept) {
  testsupport::SeededStream expect(seed);
  for (;;) {
    auto b = co_await stream.Next(OpOptions{stop, {}});
    if (!b.ok() || b->empty()) co_return;
    long at = expect.Verify(reinterpret_cast<const uint8_t*>(b->data()), b->size());
    if (at >= 0 && tally.bad_at < 0) tally.bad_at = static_cast<long>(tally.bytes) + at;
    tally.bytes += b->size();
    if (kept.size() < 4 && (tally.bytes & 1)) kept.push_back(std::move(*b));  // outlive things
  }
}

Task<void> SendZcStream(TxPool& pool, int fd, uint64_t seed, const std::stop_token* stop) {
  testsupport::SeededStream gen(seed);
  for (int i = 0; i < 64; i++) {
    auto b = co_await pool.Acquire();
    if (!b.ok()) co_return;
    size_t n = 4096 + (seed + static_cast<uint64_t>(i)) % 16384;
    gen.Fill(reinterpret_cast<uint8_t*>(b->data()), n);
    b->resize(n);
    auto r = co_await zcnet::SendZc(fd, std::move(*b), OpOptions{stop, {}});
    if (!r.ok() || *r != n) co_return;  // the stream ends where a send stopped
  }
}

// One connection and whatever currently uses it.
struct Slot {
  testsupport::TcpPair pair;
  uint64_t seed = 0;
  std::optional<zcnet::RecvStream> stream;
  std::unique_ptr<std::stop_source> stop;
  std::stop_token token;
  Task<void> consumer;
  Task<void> sender;      // SendZc slots
  testsupport::SeededStream raw_gen{1};  // plain-send slots
  bool raw_sender = false;
  Tally tally;
  std::vector<RxBuffer> kept;
};

// Mappings of rings ("[io_uring]") and of liburing-ext's pools, buffer rings
// and areas ("[anon:uringx]", where the kernel names anonymous mappings).
size_t CountMappings() {
  std::ifstream maps("/proc/self/maps");
  size_t n = 0;
  for (std::string line; std::getline(maps, line);)
    n += line.find("io_uring") != std::string::npos || line.find("[anon:uringx]") != std::string::npos;
  return n;
}

long VmPinKb() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmPin:", 0) == 0) return std::atol(line.c_str() + 6);
  return -1;
}

void Pump(Ring& ring) {
  ring.Run([](Ring& r) -> Task<void> {
    (void)co_await zcnet::Sleep(r, absl::ZeroDuration());
  }(ring));
}

class Storm {
 public:
  explicit Storm(uint32_t seed) : rng_(seed) {}

  void Run() {
    auto ring = Ring::Create();
    ASSERT_TRUE(ring.ok()) << ring.status();
    ring_ = std::move(*ring);
    for (int p = 0; p < 2; p++) NewRxPool(p);
    NewTxPool();
    slots_.resize(kSlots);
    for (auto& s : slots_) Open(s);
    for (int e = 0; e < kEventsPerSeed; e++) {
      Event(slots_[rng_() % kSlots]);
      FeedRawSenders();
      Pump(*ring_);
      CheckVerified();
      if (::testing::Test::HasFatalFailure()) return;
    }
    TearDownInRandomOrder();
  }

  uint64_t verified_bytes() const { return verified_; }

 private:
  void NewRxPool(int p) {
    RxPool::Options o;
    o.buffers = (rng_() & 1) ? 16 : 128;  // small pools run dry
    o.buffer_size = 4096;
    o.bundles = rng_() & 1;
    o.buffer_group = next_bgid_++;  // an old pool's ring may still be registered
    auto pool = RxPool::Create(*ring_, o);
    ASSERT_TRUE(pool.ok()) << pool.status();
    rx_pools_[p] = std::move(*pool);
  }
  void NewTxPool() {
    TxPool::Options o;
    o.chunks = 32;
    o.chunk_size = 32 << 10;
    auto pool = TxPool::Create(*ring_, o);
    if (!pool.ok()) {
      // The previous pool still holds slot 0 until its last notification.
      ASSERT_EQ(pool.status().code(), absl::StatusCode::kFailedPrecondition) << pool.status();
      return;
    }
    tx_pool_ = std::move(*pool);
  }

  void Open(Slot& s) {
    Close(s);
    s.pair = testsupport::MakeTcpPair();
    s.seed = rng_() | 1;
    s.tally = Tally{};
    s.stop = std::make_unique<std::stop_source>();
    s.token = s.stop->get_token();
    RxPool* pool = rx_pools_[rng_() % 2].get();
    if (!pool) pool = rx_pools_[0] ? rx_pools_[0].get() : rx_pools_[1].get();
    if (!pool) return;
    auto stream = pool->Stream(s.pair.server.get());
    ASSERT_TRUE(stream.ok()) << stream.status();
    s.stream.emplace(std::move(*stream));
    s.consumer = Consume(*s.stream, s.seed, s.tally, &s.token, s.kept);
    s.consumer.handle().resume();
    s.raw_sender = !tx_pool_ || (rng_() & 1);
    if (s.raw_sender) {
      s.raw_gen = testsupport::SeededStream(s.seed);
    } else {
      s.sender = SendZcStream(*tx_pool_, s.pair.client.get(), s.seed, &s.token);
      s.sender.handle().resume();
    }
  }

  // Everything of a slot goes, in a random order.
  void Close(Slot& s) {
    std::vector<int> order = Shuffled(4);
    for (int step : order) {
      switch (step) {
        case 0: s.consumer = Task<void>(); break;
        case 1: s.sender = Task<void>(); break;
        case 2: s.stream.reset(); break;
        case 3: s.pair.server.Reset(); break;
      }
    }
    s.kept.clear();
    s.pair.client.Reset();
  }

  std::vector<int> Shuffled(int n) {
    std::vector<int> v(static_cast<size_t>(n));
    for (int i = 0; i < n; i++) v[static_cast<size_t>(i)] = i;
    std::shuffle(v.begin(), v.end(), rng_);
    return v;
  }

  void Event(Slot& s) {
    unsigned ev = rng_() % 10;
    switch (ev) {
      case 0: if (s.stop) s.stop->request_stop(); break;   // cooperative stop
      case 1: s.consumer = Task<void>(); break;             // abandon mid-await
      case 2: s.stream.reset(); break;                      // stream before its consumer
      case 3: s.pair.server.Reset(); break;                 // the app's fd goes
      case 4: s.sender = Task<void>(); break;               // abandon a SendZc
      case 5: s.kept.clear(); break;                        // buffers come back
      case 6: Open(s); break;                               // a new connection
      case 7: {                                             // a pool handle goes
        int p = static_cast<int>(rng_() % 2);
        rx_pools_[p].reset();
        if (rng_() & 1) NewRxPool(p);
        break;
      }
      case 8:
        // The senders use the handle itself: they go first (abandoned
        // mid-send), then the handle; lent chunks outlive both.
        for (int i : Shuffled(kSlots)) slots_[static_cast<size_t>(i)].sender = Task<void>();
        tx_pool_.reset();
        if (rng_() & 1) NewTxPool();
        break;
      default: break;  // just traffic
    }
  }

  void FeedRawSenders() {
    uint8_t buf[8192];
    for (auto& s : slots_) {
      if (!s.raw_sender || s.pair.client.get() < 0) continue;
      testsupport::SeededStream probe = s.raw_gen;
      size_t n = 512 + rng_() % sizeof(buf) / 2;
      probe.Fill(buf, n);
      ssize_t sent = ::send(s.pair.client.get(), buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (sent > 0) s.raw_gen.Fill(buf, static_cast<size_t>(sent));  // advance by what went
    }
  }

  void CheckVerified() {
    for (auto& s : slots_) {
      ASSERT_EQ(s.tally.bad_at, -1) << "stream seed " << s.seed << " ("
                                     << (s.raw_sender ? "send(2)" : "SendZc") << " sender, "
                                     << s.tally.bytes << " bytes received, first bad at " << s.tally.bad_at << ")"
                                     << ": a live consumer got wrong bytes";
      verified_ += s.tally.bytes - seen_[&s - slots_.data()];
      seen_[&s - slots_.data()] = s.tally.bytes;
    }
  }

  void TearDownInRandomOrder() {
    for (int step : Shuffled(3)) {
      if (step == 0)
        for (int i : Shuffled(kSlots)) Close(slots_[static_cast<size_t>(i)]);
      if (step == 1) rx_pools_[0].reset(), rx_pools_[1].reset();
      if (step == 2) {
        for (auto& s : slots_) s.sender = Task<void>();
        tx_pool_.reset();
      }
    }
    for (auto& s : slots_) Close(s);
    ring_.reset();  // cancels and waits for whatever is left
  }

  std::mt19937 rng_;
  std::unique_ptr<Ring> ring_;
  std::unique_ptr<RxPool> rx_pools_[2];
  std::unique_ptr<TxPool> tx_pool_;
  std::vector<Slot> slots_;
  uint64_t seen_[kSlots] = {};
  uint64_t verified_ = 0;
  uint16_t next_bgid_ = 1;
};

TEST(CancellationStorm, SeededEventsLoseNothingLeakNothingHangNever) {
  std::atomic<bool> done{false};
  std::thread watchdog([&] {
    for (int i = 0; i < 6000 && !done.load(); i++)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!done.load()) {
      std::fprintf(stderr, "storm: hung for 600 s\n");
      std::_Exit(3);
    }
  });
  size_t maps_before = CountMappings();
  {
    auto ring = Ring::Create();  // the check below must be able to fail
    ASSERT_TRUE(ring.ok());
    EXPECT_GT(CountMappings(), maps_before) << "a ring's mappings are not visible in /proc/self/maps";
  }
  long pin_before = VmPinKb();
  for (uint32_t seed : {1u, 2u, 3u}) {
    Storm storm(seed);
    storm.Run();
    if (HasFatalFailure()) break;
    std::printf("seed %u: %d events, %llu bytes verified at live consumers\n", seed,
                kEventsPerSeed, static_cast<unsigned long long>(storm.verified_bytes()));
    EXPECT_GT(storm.verified_bytes(), 0u) << "seed " << seed << ": no data moved";
  }
  // LeakSanitizer cannot see mmapped rings, pools and buffer rings: count them.
  EXPECT_EQ(CountMappings(), maps_before) << "a ring, pool or buffer ring is still mapped";
  EXPECT_EQ(VmPinKb(), pin_before) << "registered memory is still pinned";
  done = true;
  watchdog.join();
}

}  // namespace
