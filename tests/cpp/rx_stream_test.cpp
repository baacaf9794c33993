// RecvStream over RxPool: verified bulk transfer through every receive
// mechanism available, backpressure, resets, cancellation, teardown.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <string>
#include <thread>
#include <vector>
#include <zcnet/net/socket.hpp>
#include <zcnet/ring.hpp>
#include <zcnet/rx_buffer.hpp>
#include <zcnet/scope.hpp>
#include <zcnet/when_all.hpp>

#include "support/loopback.hpp"

namespace {

using testsupport::SenderEnd;
using testsupport::StreamSender;
using zcnet::OpOptions;
using zcnet::Ring;
using zcnet::RxBuffer;
using zcnet::RxPool;
using zcnet::Task;

std::unique_ptr<Ring> MakeRing() {
  auto ring = Ring::Create();
  EXPECT_TRUE(ring.ok()) << ring.status();
  return std::move(*ring);
}

struct Received {
  uint64_t bytes = 0;
  long first_bad = -1;
  bool eof = false;
  absl::Status error;
  uint64_t max_held = 0;
};

// Receives until EOF, verifying; holds up to @hold buffers before releasing.
// With @hold_for, it keeps the held buffers that long before letting go.
Task<Received> Consume(RxPool& pool, int fd, uint64_t seed, size_t hold,
                       absl::Duration hold_for = absl::ZeroDuration()) {
  Received r;
  testsupport::SeededStream expect(seed);
  auto stream = pool.Stream(fd);
  if (!stream.ok()) {
    r.error = stream.status();
    co_return r;
  }
  std::deque<RxBuffer> held;
  for (;;) {
    absl::StatusOr<RxBuffer> b = co_await stream->Next();
    if (!b.ok()) {
      r.error = b.status();
      break;
    }
    if (b->empty()) {
      r.eof = true;
      break;
    }
    long bad = expect.Verify(reinterpret_cast<const uint8_t*>(b->data()), b->size());
    if (bad >= 0 && r.first_bad < 0) r.first_bad = static_cast<long>(r.bytes) + bad;
    r.bytes += b->size();
    held.push_back(std::move(*b));
    if (held.size() > r.max_held) r.max_held = held.size();
    // A slow consumer keeps @hold buffers (the whole pool: it runs dry), then lets go.
    if (held.size() >= std::max<size_t>(hold, 1)) {
      if (hold_for > absl::ZeroDuration()) (void)co_await zcnet::Sleep(pool.ring(), hold_for);
      held.clear();
    }
  }
  co_return r;
}

// The stream arrived whole: no error, EOF, every byte verified.
void ExpectWholeStream(const Received& r, uint64_t total) {
  EXPECT_TRUE(r.error.ok()) << r.error;
  EXPECT_TRUE(r.eof);
  EXPECT_EQ(r.first_bad, -1);
  EXPECT_EQ(r.bytes, total);
}

struct Mechanism {
  const char* name;
  RxPool::Options options;
};

class RecvStreamBulk : public ::testing::TestWithParam<Mechanism> {};

TEST_P(RecvStreamBulk, OneGibVerifiedToEof) {
  auto ring = MakeRing();
  auto pool = RxPool::Create(*ring, GetParam().options);
  ASSERT_TRUE(pool.ok()) << pool.status();
  std::printf("receive mechanism: %s\n", (*pool)->Describe().c_str());
  auto pair = testsupport::MakeTcpPair();
  const uint64_t total = 1ull << 30;
  StreamSender sender(pair.client.Release(), 31337, total, 256 << 10, SenderEnd::kClose);
  Received r = ring->Run(Consume(**pool, pair.server.get(), 31337, 0));
  ExpectWholeStream(r, total);
  EXPECT_EQ((*pool)->outstanding(), 0u);
}

RxPool::Options PbufOptions(bool inc, bool bundles) {
  RxPool::Options o;
  o.mode = URINGX_RXSRC_PBUF;
  o.incremental = inc;
  o.bundles = bundles;
  return o;
}

// A ring of @buffers 4 KiB buffers: small enough for a consumer to hold whole.
RxPool::Options TinyPbufOptions(bool bundles, uint32_t buffers) {
  RxPool::Options o = PbufOptions(false, bundles);
  o.buffers = buffers;
  o.buffer_size = 4096;
  return o;
}

INSTANTIATE_TEST_SUITE_P(Mechanisms, RecvStreamBulk,
                         ::testing::Values(Mechanism{"pbuf_inc_bundle", PbufOptions(true, true)},
                                           Mechanism{"pbuf_plain", PbufOptions(false, false)},
                                           Mechanism{"auto", RxPool::Options{}}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(RecvStream, SlowConsumerDrainsThePoolAndLosesNothing) {
  auto ring = MakeRing();
  auto pool = RxPool::Create(*ring, TinyPbufOptions(true, 8));
  ASSERT_TRUE(pool.ok()) << pool.status();
  auto pair = testsupport::MakeTcpPair();
  const uint64_t total = 8u << 20;
  StreamSender sender(pair.client.Release(), 4, total, 65536, SenderEnd::kClose);
  // Holding all 8 buffers for 1 ms while the sender keeps the socket full:
  // the receive must find the ring empty, pause, and resume losing nothing.
  Received r = ring->Run(Consume(**pool, pair.server.get(), 4, 8, absl::Milliseconds(1)));
  EXPECT_EQ(r.max_held, 8u) << "the consumer never held the whole pool";
  EXPECT_GE((*pool)->out_of_buffers(), 1u) << "the receive never waited for the consumer";
  ExpectWholeStream(r, total);
}

TEST(RecvStream, RunningOutOfBuffersPausesIsCountedAndLosesNothing) {
  auto ring = MakeRing();
  auto pool = RxPool::Create(*ring, TinyPbufOptions(false, 4));
  ASSERT_TRUE(pool.ok()) << pool.status();
  auto pair = testsupport::MakeTcpPair();
  // All 32 KiB wait in the socket before the receive is armed: it fills the
  // four buffers, then finds the ring empty while the consumer holds them.
  const uint64_t total = 32u << 10;
  StreamSender sender(pair.client.Release(), 12, total, 65536, SenderEnd::kClose);
  sender.Join();
  Received r = ring->Run(Consume(**pool, pair.server.get(), 12, 4));
  EXPECT_EQ(r.max_held, 4u);
  EXPECT_GE((*pool)->out_of_buffers(), 1u) << "the receive never ran out of buffers";
  ExpectWholeStream(r, total);
}

// A consumer that keeps every buffer it gets until @let_go is set, then
// verifies and releases them and receives the rest normally.
Task<Received> Hoard(RxPool& pool, int fd, uint64_t seed, const bool& let_go) {
  Received r;
  testsupport::SeededStream expect(seed);
  auto stream = pool.Stream(fd);
  if (!stream.ok()) {
    r.error = stream.status();
    co_return r;
  }
  std::deque<RxBuffer> held;
  for (;;) {
    if (let_go) held.clear();
    absl::StatusOr<RxBuffer> b = co_await stream->Next(OpOptions{nullptr, absl::Milliseconds(20)});
    if (!b.ok() && b.status().code() == absl::StatusCode::kDeadlineExceeded) continue;
    if (!b.ok()) {
      r.error = b.status();
      break;
    }
    if (b->empty()) {
      r.eof = true;
      break;
    }
    long bad = expect.Verify(reinterpret_cast<const uint8_t*>(b->data()), b->size());
    if (bad >= 0 && r.first_bad < 0) r.first_bad = static_cast<long>(r.bytes) + bad;
    r.bytes += b->size();
    held.push_back(std::move(*b));
    r.max_held = std::max<uint64_t>(r.max_held, stream->held());
  }
  co_return r;
}

Task<Received> ConsumeThenSet(RxPool& pool, int fd, uint64_t seed, bool& done) {
  Received r = co_await Consume(pool, fd, seed, 0);
  done = true;
  co_return r;
}

// One consumer that never lets go cannot take a shared pool from the others:
// at its quota its receive stops (its data waits in its socket), the other
// stream gets the rest of the pool, and once it lets go it gets all its data.
void ExpectHoarderCannotStarveTheOther(uint32_t buffers) {
  auto ring = MakeRing();
  RxPool::Options o = TinyPbufOptions(false, buffers);
  auto pool = RxPool::Create(*ring, o);
  ASSERT_TRUE(pool.ok()) << pool.status();
  EXPECT_EQ((*pool)->stream_quota(), buffers / 2) << "default quota: half the pool";
  auto hoarder = testsupport::MakeTcpPair();
  auto other = testsupport::MakeTcpPair();
  const uint64_t total = std::max<uint64_t>(4u << 20, uint64_t{buffers} << 14);  // 4+ pools each
  StreamSender hoarder_tx(hoarder.client.Release(), 21, total, 65536, SenderEnd::kClose);
  StreamSender other_tx(other.client.Release(), 22, total, 65536, SenderEnd::kClose);
  bool other_done = false;
  Received h, r;
  ring->Run([](RxPool& pool, int hfd, int ofd, bool& done, Received& h,
               Received& r) -> Task<void> {
    auto [hr, orr] = co_await zcnet::WhenAll(Hoard(pool, hfd, 21, done),
                                             ConsumeThenSet(pool, ofd, 22, done));
    h = std::move(hr);
    r = std::move(orr);
  }(**pool, hoarder.server.get(), other.server.get(), other_done, h, r));
  ExpectWholeStream(r, total);  // without the quota: a hang, the hoarder holds the pool
  ExpectWholeStream(h, total);
  EXPECT_GE((*pool)->quota_pauses(), 1u) << "the hoarder never reached its quota";
  EXPECT_LT(h.max_held, buffers) << "the hoarder took the whole pool";
  EXPECT_EQ((*pool)->outstanding(), 0u);
}

// A quota under RxPoolCore::kArmBuffers: each receive is limited to what the
// quota leaves.
TEST(RecvStream, AHoardingConsumerCannotStarveAnotherStreamOfTheSharedPool) {
  ExpectHoarderCannotStarveTheOther(16);
}

// A quota far above kArmBuffers: each receive is limited to 16 buffers'
// worth, and the hoarder stops at the first CQE that takes it to its quota.
TEST(RecvStream, AHoardingConsumerOfALargePoolCannotStarveAnotherStream) {
  ExpectHoarderCannotStarveTheOther(512);
}

// A stream alone on its pool is not bound by the quota: it may hold every
// buffer (and a consumer that collects the whole pool before releasing works).
TEST(RecvStream, ALoneStreamMayHoldTheWholePool) {
  auto ring = MakeRing();
  auto pool = RxPool::Create(*ring, TinyPbufOptions(false, 8));
  ASSERT_TRUE(pool.ok()) << pool.status();
  auto pair = testsupport::MakeTcpPair();
  const uint64_t total = 1u << 20;
  StreamSender sender(pair.client.Release(), 23, total, 65536, SenderEnd::kClose);
  Received r = ring->Run(Consume(**pool, pair.server.get(), 23, 8));
  EXPECT_EQ(r.max_held, 8u);
  EXPECT_EQ((*pool)->quota_pauses(), 0u);
  ExpectWholeStream(r, total);
}

TEST(RxPool, CreateNamesTheBadParameter) {
  auto ring = MakeRing();
  RxPool::Options o = PbufOptions(false, true);
  o.buffers = 0;
  auto pool = RxPool::Create(*ring, o);
  ASSERT_FALSE(pool.ok());
  EXPECT_EQ(pool.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(pool.status().message().find("Options::buffers = 0"), std::string_view::npos)
      << pool.status();
  o.buffers = 48;
  EXPECT_NE(RxPool::Create(*ring, o).status().message().find("power of two"), std::string_view::npos);
  o.buffers = 64;
  o.buffer_size = 0;
  EXPECT_NE(RxPool::Create(*ring, o).status().message().find("Options::buffer_size = 0"),
            std::string_view::npos);
  o.buffer_size = 4096;
  o.small_buffers = 48;
  EXPECT_NE(RxPool::Create(*ring, o).status().message().find("Options::small_buffers = 48"),
            std::string_view::npos);
  o.small_buffers = 16;
  o.small_buffer_size = 4096;
  EXPECT_NE(RxPool::Create(*ring, o).status().message().find(
                "Options::small_buffer_size = 4096: wants fewer bytes than buffer_size (4096)"),
            std::string_view::npos);
  // Left to kAutoSmall, a pool whose buffers are under four small ones has
  // one class; an incremental ring has none either.
  o.small_buffers = RxPool::Options::kAutoSmall;
  o.small_buffer_size = 2048;
  auto one = RxPool::Create(*ring, o);
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ((*one)->small_buffer_size(), 0u);
  one->reset();
  auto inc = RxPool::Create(*ring, PbufOptions(true, true));
  ASSERT_TRUE(inc.ok()) << inc.status();
  EXPECT_EQ((*inc)->small_buffer_size(), 0u);
}

// Size classes. Each message is written only after the previous one was
// received, so each lands in a buffer of its own.
struct Held {
  absl::Status error;
  size_t held = 0;
  long first_bad = -1;
  uint32_t buffer_size = 0;
  uint64_t class_moves = 0;
};

// Every message but the last may take 10 s to arrive (a slow machine is no
// failure); the last waits @last_wait, short where it is expected to stall.
Task<Held> HoldSmallMessages(RxPool& pool, int server, int client, size_t count, size_t len,
                             absl::Duration last_wait = absl::Seconds(10)) {
  Held h;
  auto stream = pool.Stream(server);
  if (!stream.ok()) {
    h.error = stream.status();
    co_return h;
  }
  testsupport::SeededStream fill(77), expect(77);
  std::vector<uint8_t> msg(len);
  std::vector<RxBuffer> held;
  for (size_t i = 0; i < count; i++) {
    fill.Fill(msg.data(), len);
    if (write(client, msg.data(), len) != static_cast<ssize_t>(len)) {
      h.error = absl::InternalError("write");
      break;
    }
    size_t got = 0;
    while (got < len) {
      absl::Duration wait = i + 1 == count ? last_wait : absl::Seconds(10);
      absl::StatusOr<RxBuffer> b = co_await stream->Next(OpOptions{{}, wait});
      if (!b.ok() || b->empty()) {
        h.error = b.ok() ? absl::OutOfRangeError("early EOF") : b.status();
        break;
      }
      long bad = expect.Verify(reinterpret_cast<const uint8_t*>(b->data()), b->size());
      if (bad >= 0 && h.first_bad < 0) h.first_bad = static_cast<long>(i * len) + bad;
      got += b->size();
      held.push_back(std::move(*b));
    }
    if (!h.error.ok()) break;
  }
  h.held = held.size();
  h.buffer_size = stream->buffer_size();
  h.class_moves = stream->class_moves();
  co_return h;
}

// 600 messages of 64 bytes held at once by a lone stream of a pool of 256
// large buffers: after the first 32 (in large buffers, while the stream
// learns) they sit in small ones. The same pool without the small class
// runs dry at 256 (the wait times out): what the class saves.
TEST(RxSizeClass, SmallMessagesTakeSmallBuffers) {
  auto ring = MakeRing();
  RxPool::Options o = PbufOptions(false, true);  // 256 x 64 KiB
  auto pool = RxPool::Create(*ring, o);
  ASSERT_TRUE(pool.ok()) << pool.status();
  EXPECT_EQ((*pool)->small_buffer_size(), 2048u);
  EXPECT_NE((*pool)->Describe().find("size classes: 1024 x 2048 and 256 x 65536"),
            std::string::npos)
      << (*pool)->Describe();
  auto pair = testsupport::MakeTcpPair();
  Held h = ring->Run(
      HoldSmallMessages(**pool, pair.server.get(), pair.client.get(), 600, 64));
  ASSERT_TRUE(h.error.ok()) << h.error;
  EXPECT_EQ(h.held, 600u);
  EXPECT_EQ(h.first_bad, -1);
  EXPECT_EQ(h.buffer_size, 2048u);
  EXPECT_EQ(h.class_moves, 1u);
  EXPECT_EQ((*pool)->outstanding(), 0u);
  ring->Drain();

  // A second pool on the ring wants another buffer group; the error says so.
  o.small_buffers = RxPool::Options::kNoSmall;
  auto clash = RxPool::Create(*ring, o);
  EXPECT_EQ(clash.status().code(), absl::StatusCode::kAlreadyExists) << clash.status();
  EXPECT_NE(clash.status().message().find("buffer group 0 is in use on this ring"),
            std::string::npos)
      << clash.status();
  o.buffer_group = 1;
  auto one = RxPool::Create(*ring, o);
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ((*one)->small_buffer_size(), 0u);
  EXPECT_EQ((*one)->Describe().find("size classes"), std::string::npos);
  auto pair2 = testsupport::MakeTcpPair();
  // The 257th message finds no buffer: its wait, and only its, times out.
  Held h2 = ring->Run(HoldSmallMessages(**one, pair2.server.get(), pair2.client.get(), 257, 64,
                                        absl::Milliseconds(300)));
  EXPECT_EQ(h2.error.code(), absl::StatusCode::kDeadlineExceeded) << h2.error;
  EXPECT_EQ(h2.held, 256u) << "one class of 256 buffers held more than 256 messages";
  EXPECT_EQ(h2.buffer_size, 65536u);
  ring->Drain();
}

// A small class of 2 buffers borrows the large one's: 40 messages held (32
// large, 2 small, then large again), none lost, in order.
TEST(RxSizeClass, TheSmallClassOutOfBuffersBorrowsTheLargeOnes) {
  auto ring = MakeRing();
  RxPool::Options o = PbufOptions(false, true);
  o.small_buffers = 2;
  auto pool = RxPool::Create(*ring, o);
  ASSERT_TRUE(pool.ok()) << pool.status();
  auto pair = testsupport::MakeTcpPair();
  Held h = ring->Run(
      HoldSmallMessages(**pool, pair.server.get(), pair.client.get(), 40, 100));
  ASSERT_TRUE(h.error.ok()) << h.error;
  EXPECT_EQ(h.held, 40u);
  EXPECT_EQ(h.first_bad, -1);
  EXPECT_EQ(h.class_moves, 2u);
  EXPECT_EQ(h.buffer_size, 65536u) << "the stream stayed on the exhausted small class";
  ring->Drain();
}

// One stream: bulk (stays on the large class), then small messages (moves
// to the small class, by cancelling the large receive), then bulk again
// (back to large); every byte verified in order across the moves.
TEST(RxSizeClass, AStreamFollowsItsTrafficAcrossClassesInOrder) {
  auto ring = MakeRing();
  auto pool = RxPool::Create(*ring, PbufOptions(false, true));
  ASSERT_TRUE(pool.ok()) << pool.status();
  auto pair = testsupport::MakeTcpPair();
  const size_t bulk = 8 << 20, smalls = 200, small_len = 64;
  const uint64_t total = 2 * bulk + smalls * small_len;
  std::atomic<int> phase{0};  // the consumer saw: 1 the first bulk, 2 the smalls
  std::thread writer([fd = pair.client.Release(), &phase, bulk, smalls, small_len] {
    testsupport::SeededStream fill(5);
    std::vector<uint8_t> buf(bulk);
    auto write_all = [fd](const uint8_t* p, size_t n) {
      while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) return;
        p += w;
        n -= static_cast<size_t>(w);
      }
    };
    fill.Fill(buf.data(), bulk);
    write_all(buf.data(), bulk);
    while (phase.load() < 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    for (size_t i = 0; i < smalls; i++) {
      fill.Fill(buf.data(), small_len);
      write_all(buf.data(), small_len);
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    while (phase.load() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    fill.Fill(buf.data(), bulk);
    write_all(buf.data(), bulk);
    close(fd);
  });
  struct Seen {
    absl::Status error;
    uint64_t bytes = 0;
    long first_bad = -1;
    uint32_t after_bulk = 0, after_smalls = 0, at_end = 0;
    uint64_t moves = 0;
  };
  Seen r = ring->Run([](RxPool& pool, int fd, std::atomic<int>& phase, uint64_t bulk,
                        uint64_t smalls_end) -> Task<Seen> {
    Seen r;
    testsupport::SeededStream expect(5);
    auto stream = pool.Stream(fd);
    if (!stream.ok()) {
      r.error = stream.status();
      co_return r;
    }
    for (;;) {
      absl::StatusOr<RxBuffer> b = co_await stream->Next(OpOptions{{}, absl::Seconds(10)});
      if (!b.ok()) {
        r.error = b.status();
        break;
      }
      if (b->empty()) break;
      long bad = expect.Verify(reinterpret_cast<const uint8_t*>(b->data()), b->size());
      if (bad >= 0 && r.first_bad < 0) r.first_bad = static_cast<long>(r.bytes) + bad;
      r.bytes += b->size();
      if (phase.load() == 0 && r.bytes >= bulk) {
        r.after_bulk = stream->buffer_size();
        phase.store(1);
      } else if (phase.load() == 1 && r.bytes >= smalls_end) {
        r.after_smalls = stream->buffer_size();
        phase.store(2);
      }
    }
    r.at_end = stream->buffer_size();
    r.moves = stream->class_moves();
    co_return r;
  }(**pool, pair.server.get(), phase, bulk, bulk + smalls * small_len));
  writer.join();
  ASSERT_TRUE(r.error.ok()) << r.error;
  EXPECT_EQ(r.bytes, total);
  EXPECT_EQ(r.first_bad, -1) << "bytes lost or reordered across a class move";
  EXPECT_EQ(r.after_bulk, 65536u) << "a bulk stream stayed on the small class";
  EXPECT_EQ(r.after_smalls, 2048u) << "small messages stayed on the large class";
  EXPECT_EQ(r.at_end, 65536u);
  EXPECT_EQ(r.moves, 2u);
  EXPECT_EQ((*pool)->outstanding(), 0u);
}

TEST(RecvStream, PeerResetMidStreamIsAnError) {
  auto ring = MakeRing();
  auto pool = RxPool::Create(*ring, PbufOptions(true, true));
  ASSERT_TRUE(pool.ok());
  auto pair = testsupport::MakeTcpPair();
  StreamSender sender(pair.client.Release(), 8, 1 << 20, 4096, SenderEnd::kReset);
  Received r = ring->Run(Consume(**pool, pair.server.get(), 8, 0));
  EXPECT_EQ(r.error.code(), absl::StatusCode::kUnavailable) << r.error;
  EXPECT_EQ(r.first_bad, -1) << "bytes before the reset must be intact";
}

Task<absl::Status> NextWithOptions(RxPool& pool, int fd, OpOptions options) {
  auto stream = pool.Stream(fd);
  if (!stream.ok()) co_return stream.status();
  auto b = co_await stream->Next(std::move(options));
  co_return b.status();
}

TEST(RecvStream, NextTimesOut) {
  auto ring = MakeRing();
  auto pool = RxPool::Create(*ring, PbufOptions(true, true));
  ASSERT_TRUE(pool.ok());
  auto pair = testsupport::MakeTcpPair();
  auto st = ring->Run(
      NextWithOptions(**pool, pair.server.get(), OpOptions{{}, absl::Milliseconds(30)}));
  EXPECT_EQ(st.code(), absl::StatusCode::kDeadlineExceeded) << st;
  ring->Drain();
  EXPECT_EQ(ring->in_flight(), 0u);
}

// A Next() with a deadline right after one that returned data: the first
// Next's timer is still being cancelled when the second arms its own.
TEST(RecvStream, NextTimesOutRightAfterANextThatGotData) {
  auto ring = MakeRing();
  auto pool = RxPool::Create(*ring, PbufOptions(false, false));
  ASSERT_TRUE(pool.ok());
  auto pair = testsupport::MakeTcpPair();
  ASSERT_EQ(write(pair.client.get(), "x", 1), 1);
  // If the second deadline is lost, end the wait after 5 s instead of hanging.
  std::atomic<bool> done{false};
  std::thread watchdog([fd = pair.server.get(), &done] {
    for (int i = 0; i < 100 && !done; i++) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (!done) shutdown(fd, SHUT_RDWR);
  });
  auto start = std::chrono::steady_clock::now();
  auto st = ring->Run([](RxPool& pool, int fd) -> Task<absl::Status> {
    auto stream = pool.Stream(fd);
    if (!stream.ok()) co_return stream.status();
    auto first = co_await stream->Next(OpOptions{{}, absl::Seconds(3)});
    if (!first.ok() || first->size() != 1) co_return absl::InternalError("no first byte");
    auto second = co_await stream->Next(OpOptions{{}, absl::Milliseconds(50)});
    co_return second.status();
  }(**pool, pair.server.get()));
  auto waited = std::chrono::steady_clock::now() - start;
  done = true;
  watchdog.join();
  EXPECT_EQ(st.code(), absl::StatusCode::kDeadlineExceeded) << st;
  EXPECT_LT(waited, std::chrono::seconds(3)) << "the second Next waited past its deadline";
  ring->Drain();
  EXPECT_EQ(ring->in_flight(), 0u);
}

// TryNext takes what is already queued, never waits, and leaves the end of
// the stream to Next(): the gathering an echo server does (wait for one
// buffer, take the rest, one sendmsg).
TEST(RecvStream, TryNextTakesOnlyWhatIsQueuedAndLeavesTheEndToNext) {
  auto ring = MakeRing();
  RxPool::Options o = TinyPbufOptions(false, 64);
  o.buffer_size = 1024;  // 16 KiB arrive in at least 16 buffers
  auto pool = RxPool::Create(*ring, o);
  ASSERT_TRUE(pool.ok()) << pool.status();
  auto pair = testsupport::MakeTcpPair();
  std::vector<uint8_t> data(16384);
  testsupport::SeededStream(11).Fill(data.data(), data.size());
  ASSERT_EQ(write(pair.client.get(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
  struct Outcome {
    size_t bytes = 0, tried = 0, taken = 0;
    long first_bad = -1;
    bool empty_after_drain = false, eof_left_to_next = false, next_saw_eof = false;
    absl::Status error;
  };
  Outcome r = ring->Run([](Ring& ring, RxPool& pool, int server, int client) -> Task<Outcome> {
    Outcome r;
    testsupport::SeededStream expect(11);
    auto stream = pool.Stream(server);
    if (!stream.ok()) {
      r.error = stream.status();
      co_return r;
    }
    auto take = [&](const RxBuffer& b) {
      long bad = expect.Verify(reinterpret_cast<const uint8_t*>(b.span().data()), b.size());
      if (bad >= 0 && r.first_bad < 0) r.first_bad = static_cast<long>(r.bytes) + bad;
      r.bytes += b.size();
    };
    while (r.bytes < 16384) {
      absl::StatusOr<RxBuffer> b = co_await stream->Next();
      if (!b.ok() || b->empty()) {
        r.error = b.ok() ? absl::OutOfRangeError("early EOF") : b.status();
        co_return r;
      }
      take(*b);
      // Let the rest of the stream's completions be handled, then gather.
      (void)co_await zcnet::Sleep(ring, absl::Milliseconds(20));
      for (std::optional<RxBuffer> more; (more = stream->TryNext());) {
        take(*more);
        r.taken++;
      }
      r.tried++;
    }
    r.empty_after_drain = !stream->TryNext().has_value();
    shutdown(client, SHUT_WR);
    (void)co_await zcnet::Sleep(ring, absl::Milliseconds(20));
    r.eof_left_to_next = !stream->TryNext().has_value();
    absl::StatusOr<RxBuffer> end = co_await stream->Next(OpOptions{{}, absl::Seconds(5)});
    r.next_saw_eof = end.ok() && end->empty();
    co_return r;
  }(*ring, **pool, pair.server.get(), pair.client.get()));
  ASSERT_TRUE(r.error.ok()) << r.error;
  EXPECT_EQ(r.bytes, 16384u);
  EXPECT_EQ(r.first_bad, -1) << "bytes out of order or wrong";
  EXPECT_GT(r.taken, 0u) << "TryNext took nothing of " << r.tried << " gathers";
  EXPECT_TRUE(r.empty_after_drain) << "TryNext made up a buffer";
  EXPECT_TRUE(r.eof_left_to_next) << "TryNext reported the end of the stream";
  EXPECT_TRUE(r.next_saw_eof) << "Next() did not report the end after TryNext";
  ring->Drain();
}

TEST(RecvStream, NextStopsOnRequest) {
  auto ring = MakeRing();
  auto pool = RxPool::Create(*ring, PbufOptions(true, true));
  ASSERT_TRUE(pool.ok());
  auto pair = testsupport::MakeTcpPair();
  std::stop_source stop;
  auto st = ring->Run([](Ring& ring, RxPool& pool, int fd, std::stop_source& stop) -> Task<absl::Status> {
    zcnet::Scope scope;
    scope.Spawn([](Ring& ring, std::stop_source& stop) -> Task<void> {
      (void)co_await zcnet::Sleep(ring, absl::Milliseconds(20));
      stop.request_stop();
    }(ring, stop));
    std::stop_token token = stop.get_token();
    auto st = co_await NextWithOptions(pool, fd, OpOptions{&token, {}});
    co_await scope.Join();
    co_return st;
  }(*ring, **pool, pair.server.get(), stop));
  EXPECT_EQ(st.code(), absl::StatusCode::kCancelled) << st;
}

TEST(RecvStream, DestroyedWhileArmedCancelsAndFreesLater) {
  auto ring = MakeRing();
  auto pool = RxPool::Create(*ring, PbufOptions(false, false));
  ASSERT_TRUE(pool.ok());
  auto pair = testsupport::MakeTcpPair();
  ring->Run([](RxPool& pool, int fd, int peer) -> Task<void> {
    auto stream = pool.Stream(fd);
    EXPECT_TRUE(stream.ok());
    if (write(peer, "abc", 3) != 3) ADD_FAILURE();
    auto b = co_await stream->Next();
    EXPECT_TRUE(b.ok());
    EXPECT_EQ(b->size(), 3u);
    // The stream (and its armed receive) goes away here, the buffer too.
  }(**pool, pair.server.get(), pair.client.get()));
  ring->Drain();
  EXPECT_EQ((*pool)->outstanding(), 0u);
  EXPECT_EQ(ring->in_flight(), 0u);
}

// The pool handle may go first: its buffers live on for the stream.
TEST(RecvStream, PoolDestroyedBeforeItsStreamStillDelivers) {
  auto ring = MakeRing();
  auto pool = RxPool::Create(*ring, PbufOptions(false, false));
  ASSERT_TRUE(pool.ok());
  auto pair = testsupport::MakeTcpPair();
  auto stream = (*pool)->Stream(pair.server.get());
  ASSERT_TRUE(stream.ok());
  pool->reset();
  ASSERT_EQ(::send(pair.client.get(), "after", 5, 0), 5);
  auto got = ring->Run([](zcnet::RecvStream& s) -> Task<absl::StatusOr<std::string>> {
    auto b = co_await s.Next(OpOptions{nullptr, absl::Seconds(10)});
    if (!b.ok()) co_return b.status();
    co_return std::string(reinterpret_cast<const char*>(b->data()), b->size());
  }(*stream));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, "after");
}

TEST(RecvStream, IncrementalPoolRefusesASecondStream) {
  auto ring = MakeRing();
  auto pool = RxPool::Create(*ring, PbufOptions(true, false));
  ASSERT_TRUE(pool.ok());
  ASSERT_TRUE((*pool)->incremental()) << (*pool)->Describe();
  auto p1 = testsupport::MakeTcpPair(), p2 = testsupport::MakeTcpPair();
  auto a = (*pool)->Stream(p1.server.get());
  ASSERT_TRUE(a.ok()) << a.status();
  auto b = (*pool)->Stream(p2.server.get());
  EXPECT_EQ(b.status().code(), absl::StatusCode::kFailedPrecondition) << b.status();
}

TEST(RecvStream, ADescriptorThatIsNotOpenIsRefusedByNumber) {
  auto ring = MakeRing();
  auto pool = RxPool::Create(*ring, RxPool::Options{});
  ASSERT_TRUE(pool.ok());
  int closed = ::dup(0);
  ::close(closed);
  auto s = (*pool)->Stream(closed);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << s.status();
  EXPECT_NE(std::string(s.status().message()).find("fd " + std::to_string(closed)),
            std::string::npos)
      << s.status();
}

}  // namespace
