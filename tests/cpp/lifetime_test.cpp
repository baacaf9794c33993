// Lifetimes: every destruction order of tasks, pools, streams, buffers,
// sockets and the ring is safe, and CQE dispatch is re-entrant. One test per
// way it used to go wrong.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zcnet/net/socket.hpp>
#include <zcnet/ring.hpp>
#include <zcnet/rx_buffer.hpp>
#include <zcnet/scope.hpp>
#include <zcnet/tx_buffer.hpp>
#include <zcnet/when_all.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <stdexcept>
#include <thread>
#include <vector>

#include "support/loopback.hpp"

namespace {

using zcnet::OpOptions;
using zcnet::Ring;
using zcnet::RxBuffer;
using zcnet::RxPool;
using zcnet::Socket;
using zcnet::Task;
using zcnet::TxPool;

std::unique_ptr<Ring> MakeRing() {
  auto ring = Ring::Create();
  EXPECT_TRUE(ring.ok()) << ring.status();
  return std::move(*ring);
}

// Fails the test binary (a hang is a failure, not a timeout) after @seconds.
class Watchdog {
 public:
  explicit Watchdog(int seconds) : thread_([this, seconds] {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (!done_.load() && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (!done_.load()) {
      std::fprintf(stderr, "watchdog: %s hung for %d s\n",
                   ::testing::UnitTest::GetInstance()->current_test_info()->name(), seconds);
      std::_Exit(3);
    }
  }) {}
  ~Watchdog() {
    done_ = true;
    thread_.join();
  }

 private:
  std::atomic<bool> done_{false};
  std::thread thread_;
};

// Drives @ring for @ms milliseconds.
void PumpFor(Ring& ring, int ms) {
  ring.Run([](Ring& r, int ms) -> Task<void> {
    (void)co_await zcnet::Sleep(r, absl::Milliseconds(ms));
  }(ring, ms));
}

void WriteAll(int fd, const void* data, size_t len) {
  const char* p = static_cast<const char*>(data);
  while (len) {
    ssize_t n = ::send(fd, p, len, MSG_NOSIGNAL);
    ASSERT_GT(n, 0) << strerror(errno);
    p += n;
    len -= static_cast<size_t>(n);
  }
}

// --- Re-entrant dispatch ------------------------------------------------

// The user's report: a coroutine that owns a TxPool, sends from it and
// returns destroys the pool from inside the send's CQE; 50 rounds in a row.
Task<absl::Status> SendFromAPoolOfItsOwn(Ring& ring, int fd) {
  TxPool::Options o;
  o.chunks = 2;
  auto pool = TxPool::Create(ring, o);
  if (!pool.ok()) co_return pool.status();
  auto buf = co_await (*pool)->Acquire();
  if (!buf.ok()) co_return buf.status();
  std::memset(buf->data(), 'z', 8192);
  buf->resize(8192);
  auto sent = co_await zcnet::SendZc(fd, std::move(*buf));
  co_return sent.status();  // the pool dies here, its notification still due
}

TEST(Dispatch, APoolDestroyedInsideItsOwnCompletionDoesNotHang) {
  Watchdog dog(60);
  auto ring = MakeRing();
  auto pair = testsupport::MakeTcpPair();
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    char sink[65536];
    while (!stop.load())
      if (::recv(pair.server.get(), sink, sizeof(sink), MSG_DONTWAIT) <= 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  for (int round = 0; round < 50; round++) {
    absl::Status st = ring->Run(SendFromAPoolOfItsOwn(*ring, pair.client.get()));
    ASSERT_TRUE(st.ok()) << "round " << round << ": " << st;
  }
  ring->Drain();
  EXPECT_EQ(ring->in_flight(), 0u);
  stop = true;
  reader.join();
}

// An operation of the test's own whose handler throws on its first CQE.
struct ThrowingNop : zcnet::Operation {
  explicit ThrowingNop(Ring& ring, bool throws)
      : Operation(ring, &ThrowingNop::OnCqe), throws(throws) {}
  static void OnCqe(Operation* op, const io_uring_cqe*) {
    auto* self = static_cast<ThrowingNop*>(op);
    self->handled++;
    if (self->throws) throw std::runtime_error("handler failed");
  }
  void Submit() {
    io_uring_sqe* sqe = ring().GetSqe();
    io_uring_prep_nop(sqe);
    Ring::SetOp(sqe, this);
    ring().AddInFlight();
  }
  bool throws;
  int handled = 0;
};

TEST(Dispatch, AnExceptionInAHandlerNeitherRepeatsNorLosesCqes) {
  auto ring = MakeRing();
  ThrowingNop first(*ring, true), second(*ring, false);
  first.Submit();
  second.Submit();
  EXPECT_THROW(ring->RunOnce(), std::runtime_error);
  ring->Drain();
  EXPECT_EQ(first.handled, 1) << "a CQE whose handler threw was handled again";
  EXPECT_EQ(second.handled, 1) << "the CQE after the throwing one was lost or repeated";
  EXPECT_EQ(ring->in_flight(), 0u);
}

// --- Abandonment protects the whole chain -------------------------------

// Records when its frame is destroyed.
struct FrameGuard {
  bool* destroyed;
  ~FrameGuard() { *destroyed = true; }
};

Task<absl::Status> ReceiveIntoParentsBuffer(Ring& ring, int fd, bool* parent_freed) {
  FrameGuard guard{parent_freed};
  std::byte buf[256];
  Socket s(ring, ::dup(fd));
  co_return co_await s.RecvExactly(absl::MakeSpan(buf));  // the child writes into buf
}

TEST(Abandon, AParentAwaitingAChildIsFreedOnlyAfterTheChildsRequest) {
  auto ring = MakeRing();
  auto pair = testsupport::MakeTcpPair();
  bool parent_freed = false;
  {
    Task<absl::Status> parent = ReceiveIntoParentsBuffer(*ring, pair.server.get(), &parent_freed);
    parent.handle().resume();  // suspended in the child's Recv
    ASSERT_GT(ring->in_flight(), 0u);
  }  // the Task is destroyed
  EXPECT_FALSE(parent_freed) << "the frame holding the receive buffer was freed under the kernel";
  ring->Drain();  // the Recv's cancellation
  EXPECT_TRUE(parent_freed);
  EXPECT_EQ(ring->in_flight(), 0u);
}

Task<int> RecvInto(Ring& ring, int fd, std::byte* buf, size_t len) {
  Socket s(ring, ::dup(fd));
  auto n = co_await s.Recv(absl::MakeSpan(buf, len));
  co_return n.ok() ? static_cast<int>(*n) : -1;
}

Task<int> SleepThen(Ring& ring, int ms, int value) {
  (void)co_await zcnet::Sleep(ring, absl::Milliseconds(ms));
  co_return value;
}

TEST(Abandon, WhenAnyReturnsOnlyOnceTheLosersRequestsAreDone) {
  auto ring = MakeRing();
  auto pair = testsupport::MakeTcpPair();
  std::byte buf[64];
  size_t in_flight_after = 1;
  ring->Run([](Ring& ring, int fd, std::byte* buf, size_t& in_flight_after) -> Task<void> {
    std::vector<Task<int>> tasks;
    tasks.push_back(RecvInto(ring, fd, buf, 64));
    tasks.push_back(SleepThen(ring, 10, 7));
    auto [index, value] = co_await zcnet::WhenAny(std::move(tasks));
    EXPECT_EQ(index, 1u);
    EXPECT_EQ(value, 7);
    in_flight_after = ring.in_flight();  // buf may be reused from here on
  }(*ring, pair.server.get(), buf, in_flight_after));
  EXPECT_EQ(in_flight_after, 0u) << "WhenAny returned while the loser's Recv into buf was armed";
}

TEST(Abandon, AScopeDestroyedWithoutJoinKeepsEachChildChainAlive) {
  auto ring = MakeRing();
  auto pair = testsupport::MakeTcpPair();
  bool freed[3] = {};
  {
    zcnet::Scope scope;
    for (bool& f : freed)
      scope.Spawn([](Ring& ring, int fd, bool* f) -> Task<void> {
        (void)co_await ReceiveIntoParentsBuffer(ring, fd, f);
      }(*ring, pair.server.get(), &f));
  }
  for (bool f : freed) EXPECT_FALSE(f) << "a child's frame was freed with its Recv armed";
  ring->Drain();
  for (bool f : freed) EXPECT_TRUE(f);
}

TEST(Abandon, AnAcquireWaiterDestroyedBeforeItsChunkIsNeverResumed) {
  auto ring = MakeRing();
  TxPool::Options o;
  o.chunks = 1;
  auto pool = TxPool::Create(*ring, o);
  ASSERT_TRUE(pool.ok()) << pool.status();
  auto held = (*pool)->Allocate();
  ASSERT_TRUE(held.ok());
  bool second_got_it = false;
  auto waiter = [](TxPool& pool, bool* got) -> Task<void> {
    auto b = co_await pool.Acquire();
    if (got) *got = b.ok();
  };
  {
    Task<void> first = waiter(**pool, nullptr);
    first.handle().resume();  // queued first
  }  // ...and destroyed while queued
  Task<void> second = waiter(**pool, &second_got_it);
  second.handle().resume();
  held->Reset();  // the chunk returns: it must go to the live waiter
  ring->Drain();
  EXPECT_TRUE(second.done());
  EXPECT_TRUE(second_got_it) << "the chunk went to a destroyed waiter";
}

// --- Streams: abandoning a Next(), stale descriptors ----------------------

TEST(Streams, AbandoningANextLeavesTheReceiveUsable) {
  auto ring = MakeRing();
  auto pool = RxPool::Create(*ring, RxPool::Options{});
  ASSERT_TRUE(pool.ok()) << pool.status();
  auto pair = testsupport::MakeTcpPair();
  auto stream = (*pool)->Stream(pair.server.get());
  ASSERT_TRUE(stream.ok()) << stream.status();
  {
    Task<void> t = [](zcnet::RecvStream& s) -> Task<void> { (void)co_await s.Next(); }(*stream);
    t.handle().resume();
  }  // abandoned while waiting in Next()
  WriteAll(pair.client.get(), "hello", 5);
  auto got = ring->Run([](zcnet::RecvStream& s) -> Task<absl::StatusOr<std::string>> {
    auto b = co_await s.Next(OpOptions{nullptr, absl::Seconds(10)});
    if (!b.ok()) co_return b.status();
    co_return std::string(reinterpret_cast<const char*>(b->data()), b->size());
  }(*stream));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, "hello");
}

TEST(Streams, AbandoningAnAcceptNextLeavesTheAcceptUsable) {
  auto ring = MakeRing();
  auto l = zcnet::Listener::Bind(*ring, zcnet::LoopbackAddress(0));
  ASSERT_TRUE(l.ok()) << l.status();
  zcnet::AcceptStream many = l->AcceptMany();
  {
    Task<void> t = [](zcnet::AcceptStream& a) -> Task<void> { (void)co_await a.Next(); }(many);
    t.handle().resume();
  }
  testsupport::Fd c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a = zcnet::LoopbackAddress(l->port());
  ASSERT_EQ(::connect(c.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  auto st = ring->Run([](zcnet::AcceptStream& a) -> Task<absl::Status> {
    auto s = co_await a.Next(OpOptions{nullptr, absl::Seconds(10)});
    co_return s.status();
  }(many));
  EXPECT_TRUE(st.ok()) << st;
}

// The stream starves on a 2-buffer pool, the application closes its
// descriptor and the number goes to another connection; the re-arm must
// still read the original socket.
TEST(Streams, AReArmAfterTheFdNumberIsReusedReadsTheOriginalSocket) {
  auto ring = MakeRing();
  RxPool::Options o;
  o.buffers = 2;
  o.buffer_size = 4096;
  o.bundles = false;
  auto pool = RxPool::Create(*ring, o);
  ASSERT_TRUE(pool.ok()) << pool.status();
  auto original = testsupport::MakeTcpPair();
  std::vector<uint8_t> data(64 << 10);
  testsupport::SeededStream(11).Fill(data.data(), data.size());
  WriteAll(original.client.get(), data.data(), data.size());
  int number = original.server.get();
  auto stream = (*pool)->Stream(number);
  ASSERT_TRUE(stream.ok());
  std::deque<RxBuffer> held;
  ring->Run([](zcnet::RecvStream& s, std::deque<RxBuffer>& held) -> Task<void> {
    for (int i = 0; i < 2; i++) {
      auto b = co_await s.Next();
      if (b.ok()) held.push_back(std::move(*b));
    }
  }(*stream, held));
  PumpFor(*ring, 20);  // the ENOBUFS end of the receive
  ASSERT_GE((*pool)->out_of_buffers(), 1u) << "the stream did not run dry";
  // The application closes its descriptor; an unrelated connection gets the number.
  original.server.Reset();
  auto other = testsupport::MakeTcpPair();
  int moved = ::dup2(other.server.get(), number);
  ASSERT_EQ(moved, number);
  WriteAll(other.client.get(), "WRONG CONNECTION", 16);
  testsupport::SeededStream expect(11);
  uint64_t verified = 0;
  for (auto& b : held) {
    ASSERT_EQ(expect.Verify(reinterpret_cast<const uint8_t*>(b.data()), b.size()), -1);
    verified += b.size();
  }
  held.clear();  // buffers come back: the stream re-arms
  auto bad = ring->Run([](zcnet::RecvStream& s, testsupport::SeededStream& expect,
                          uint64_t& verified, uint64_t total) -> Task<long> {
    while (verified < total) {
      auto b = co_await s.Next(OpOptions{nullptr, absl::Seconds(10)});
      if (!b.ok() || b->empty()) co_return -2;
      long at = expect.Verify(reinterpret_cast<const uint8_t*>(b->data()), b->size());
      if (at >= 0) co_return static_cast<long>(verified) + at;
      verified += b->size();
    }
    co_return -1;
  }(*stream, expect, verified, data.size()));
  EXPECT_EQ(bad, -1) << "the stream read another connection's bytes (or none)";
  ::close(number);
}

// A send abandoned before it was submitted never runs: the application may
// close the descriptor at once, and a new connection that gets the number
// receives nothing of the old one's.
TEST(Streams, AnAbandonedUnsubmittedSendNeverReachesAReusedFdNumber) {
  auto ring = MakeRing();
  auto old_pair = testsupport::MakeTcpPair();
  int number = old_pair.client.get();
  {
    Task<void> t = [](Ring& ring, int fd) -> Task<void> {
      static const char kMsg[] = "FOR THE OLD CONNECTION";
      (void)co_await zcnet::MakeIo(
          ring, {}, [fd](io_uring_sqe* sqe) { io_uring_prep_send(sqe, fd, kMsg, 22, 0); },
          [](int res, uint32_t) { return res; });
    }(*ring, number);
    t.handle().resume();  // the send's SQE is queued, not submitted
  }  // abandoned
  old_pair.client.Reset();
  auto new_pair = testsupport::MakeTcpPair();
  int reused = ::dup2(new_pair.client.get(), number);
  ASSERT_EQ(reused, number);
  ring->Drain();
  char buf[64];
  ssize_t n = ::recv(new_pair.server.get(), buf, sizeof(buf), MSG_DONTWAIT);
  EXPECT_EQ(n, -1) << "the old connection's send went out on the reused number";
  EXPECT_EQ(errno, EAGAIN);
  if (reused != new_pair.client.get()) ::close(reused);
}

// --- Incremental rings, decode errors, fair re-arming ----------------------


TEST(Streams, AnIncrementalRingArmsANewStreamOnlyAfterTheOldReceiveEnded) {
  auto ring = MakeRing();
  RxPool::Options o;
  o.incremental = true;
  auto pool = RxPool::Create(*ring, o);
  ASSERT_TRUE(pool.ok()) << pool.status();
  if (!(*pool)->incremental()) GTEST_SKIP() << "the kernel refused incremental buffer rings";
  auto a = testsupport::MakeTcpPair(), b = testsupport::MakeTcpPair();
  {
    auto first = (*pool)->Stream(a.server.get());
    ASSERT_TRUE(first.ok());
    Task<void> t = [](zcnet::RecvStream& s) -> Task<void> { (void)co_await s.Next(); }(*first);
    t.handle().resume();  // armed
  }  // the stream goes; its receive's cancellation is not in yet
  auto second = (*pool)->Stream(b.server.get());
  ASSERT_TRUE(second.ok()) << second.status();
  Task<absl::StatusOr<std::string>> next =
      [](zcnet::RecvStream& s) -> Task<absl::StatusOr<std::string>> {
    auto r = co_await s.Next(OpOptions{nullptr, absl::Seconds(10)});
    if (!r.ok()) co_return r.status();
    co_return std::string(reinterpret_cast<const char*>(r->data()), r->size());
  }(*second);
  next.handle().resume();
  EXPECT_EQ(second->arms(), 0u) << "two receives armed on one incremental ring";
  WriteAll(b.client.get(), "second", 6);
  while (!next.done()) ring->RunOnce();
  auto got = next.Result();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, "second");
  EXPECT_EQ(second->arms(), 1u);
}

// The last SQE zcnet queued (not yet submitted): its user_data.
uint64_t LastQueuedUserData(io_uring* ring) {
  return ring->sq.sqes[(ring->sq.sqe_tail - 1) & *ring->sq.kring_mask].user_data;
}

TEST(Streams, ACompletionThatCannotBeDecodedFailsTheStreamEvenWithMoreToCome) {
  Watchdog dog(30);
  auto ring = MakeRing();
  auto pool = RxPool::Create(*ring, RxPool::Options{});
  ASSERT_TRUE(pool.ok()) << pool.status();
  auto pair = testsupport::MakeTcpPair();
  auto stream = (*pool)->Stream(pair.server.get());
  ASSERT_TRUE(stream.ok());
  Task<absl::Status> next = [](zcnet::RecvStream& s) -> Task<absl::Status> {
    auto b = co_await s.Next();  // no deadline: the receive is the last SQE queued
    co_return b.status();
  }(*stream);
  next.handle().resume();
  // A completion the pool cannot account for (buffer id past the ring),
  // flagged as one of many: the kernel would keep the receive armed.
  alignas(io_uring_cqe) unsigned char storage[2 * sizeof(io_uring_cqe)] = {};
  auto* bogus = reinterpret_cast<io_uring_cqe*>(storage);
  bogus->user_data = LastQueuedUserData(ring->raw());
  bogus->res = 100;
  bogus->flags = IORING_CQE_F_MORE | IORING_CQE_F_BUFFER | (60000u << IORING_CQE_BUFFER_SHIFT);
  ASSERT_TRUE(ring->Handle(bogus));
  while (!next.done()) ring->RunOnce();
  absl::Status st = next.Result();
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss) << st;
}

TEST(Streams, ReturnedBuffersReArmNoMoreStarvedStreamsThanTheyCanFill) {
  Watchdog dog(60);
  auto ring = MakeRing();
  RxPool::Options o;
  o.buffers = 4;
  o.buffer_size = 4096;
  o.bundles = false;
  auto pool = RxPool::Create(*ring, o);
  ASSERT_TRUE(pool.ok()) << pool.status();
  constexpr int kStreams = 8;
  std::vector<testsupport::TcpPair> pairs;
  std::vector<zcnet::RecvStream> streams;
  std::vector<uint8_t> chunk(8192, 'x');
  for (int i = 0; i < kStreams; i++) {
    pairs.push_back(testsupport::MakeTcpPair());
    WriteAll(pairs.back().client.get(), chunk.data(), chunk.size());
    auto s = (*pool)->Stream(pairs.back().server.get());
    ASSERT_TRUE(s.ok());
    streams.push_back(std::move(*s));
  }
  // Every stream waits; 4 buffers go to the first receives, the rest starve.
  std::deque<RxBuffer> held;
  zcnet::Scope scope;
  for (auto& s : streams)
    scope.Spawn([](zcnet::RecvStream& s, std::deque<RxBuffer>& held) -> Task<void> {
      for (;;) {
        auto b = co_await s.Next();
        if (!b.ok() || b->empty()) co_return;
        held.push_back(std::move(*b));
      }
    }(s, held));
  // Until every receive that can start has ended out of buffers.
  for (int i = 0; i < 400 && (*pool)->out_of_buffers() < kStreams - 4; i++) PumpFor(*ring, 5);
  ASSERT_EQ((*pool)->outstanding(), 4u);
  ASSERT_GE((*pool)->out_of_buffers(), static_cast<uint64_t>(kStreams - 4));
  uint64_t arms_before = 0;
  for (auto& s : streams) arms_before += s.arms();
  held.pop_front();  // one buffer back
  PumpFor(*ring, 20);
  uint64_t arms_after = 0;
  for (auto& s : streams) arms_after += s.arms();
  EXPECT_LE(arms_after - arms_before, 2u)
      << "one returned buffer re-armed " << arms_after - arms_before << " starved streams";
  for (auto& p : pairs) p.client.Reset();
  for (int i = 0; i < 2000 && scope.active(); i++) {
    held.clear();  // the consumers hold what they get: let it go until EOF
    PumpFor(*ring, 1);
  }
  EXPECT_EQ(scope.active(), 0u) << "streams never reached EOF";
  held.clear();
}

// --- Teardown in any order ------------------------------------------------

TEST(Teardown, ARingDestroyedWithASleepPendingCancelsIt) {
  Watchdog dog(30);
  auto ring = MakeRing();
  absl::Status result = absl::OkStatus();
  Task<void> sleeper = [](Ring& ring, absl::Status& result) -> Task<void> {
    result = co_await zcnet::Sleep(ring, absl::Hours(1));
  }(*ring, result);
  sleeper.handle().resume();
  ring.reset();
  EXPECT_TRUE(sleeper.done());
  EXPECT_EQ(result.code(), absl::StatusCode::kCancelled) << result;
}

TEST(Teardown, ARingDestroyedWithAnOrphanedStreamArmedCancelsIt) {
  Watchdog dog(30);
  auto ring = MakeRing();
  auto pair = testsupport::MakeTcpPair();
  {
    auto pool = RxPool::Create(*ring, RxPool::Options{});
    ASSERT_TRUE(pool.ok());
    auto stream = (*pool)->Stream(pair.server.get());
    ASSERT_TRUE(stream.ok());
    Task<void> t = [](zcnet::RecvStream& s) -> Task<void> { (void)co_await s.Next(); }(*stream);
    t.handle().resume();
  }
  ring.reset();  // must not hang
}

TEST(Teardown, AnRxBufferOutlivesItsPool) {
  auto ring = MakeRing();
  auto pair = testsupport::MakeTcpPair();
  WriteAll(pair.client.get(), "still here", 10);
  RxBuffer kept;
  {
    auto pool = RxPool::Create(*ring, RxPool::Options{});
    ASSERT_TRUE(pool.ok());
    auto stream = (*pool)->Stream(pair.server.get());
    ASSERT_TRUE(stream.ok());
    kept = ring->Run([](zcnet::RecvStream& s) -> Task<RxBuffer> {
      auto b = co_await s.Next(OpOptions{nullptr, absl::Seconds(10)});
      co_return b.ok() ? std::move(*b) : RxBuffer();
    }(*stream));
  }  // stream and pool handle gone; the buffer is still held
  ring->Drain();
  ASSERT_EQ(kept.size(), 10u);
  EXPECT_EQ(std::memcmp(kept.data(), "still here", 10), 0);
  kept.Reset();
}

TEST(Teardown, ATxBufferOutlivesItsPool) {
  auto ring = MakeRing();
  zcnet::TxBuffer kept;
  {
    auto pool = TxPool::Create(*ring, TxPool::Options{});
    ASSERT_TRUE(pool.ok());
    auto b = (*pool)->Allocate();
    ASSERT_TRUE(b.ok());
    kept = std::move(*b);
  }
  std::memset(kept.data(), 1, kept.capacity());  // still mapped
  auto pair = testsupport::MakeTcpPair();
  kept.resize(4096);
  auto sent = ring->Run([](int fd, zcnet::TxBuffer b) -> Task<absl::StatusOr<size_t>> {
    co_return co_await zcnet::SendZc(fd, std::move(b));
  }(pair.client.get(), std::move(kept)));
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_EQ(*sent, 4096u);
  ring->Drain();
}

// --- Zero-copy verdicts are per socket ------------------------------------

TEST(TxPoolSlots, PoolsTakeTheirOwnSlotsAndANamedHeldSlotIsRefused) {
  auto ring = MakeRing();
  auto first = TxPool::Create(*ring, TxPool::Options{});
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = TxPool::Create(*ring, TxPool::Options{});
  ASSERT_TRUE(second.ok()) << "two pools on one ring: " << second.status();
  TxPool::Options named;
  named.buf_index = 0;  // the first pool's
  auto third = TxPool::Create(*ring, named);
  EXPECT_EQ(third.status().code(), absl::StatusCode::kFailedPrecondition) << third.status();
  EXPECT_NE(std::string(third.status().message()).find("slot 0"), std::string::npos);
  // Both send from their own registered memory.
  auto pair = testsupport::MakeTcpPair();
  for (TxPool* p : {first->get(), second->get()}) {
    auto b = p->Allocate();
    ASSERT_TRUE(b.ok());
    std::memset(b->data(), 'q', 4096);
    b->resize(4096);
    auto sent = ring->Run([](int fd, zcnet::TxBuffer b) -> Task<absl::StatusOr<size_t>> {
      co_return co_await zcnet::SendZc(fd, std::move(b));
    }(pair.client.get(), std::move(*b)));
    ASSERT_TRUE(sent.ok()) << sent.status();
  }
  ring->Drain();
  char buf[8192];
  size_t got = 0;
  while (got < sizeof(buf)) {
    ssize_t n = ::recv(pair.server.get(), buf + got, sizeof(buf) - got, 0);
    ASSERT_GT(n, 0);
    got += static_cast<size_t>(n);
  }
  for (char c : buf) ASSERT_EQ(c, 'q');
}

// --- NIC-registered pools: fall back, saying why ---------------------------
// lo never transmits from device memory (and the host kernel has no
// IORING_REGISTER_NET_TX_BUF); vm-netdevsim-nictx runs the mode on netdevsim.

TEST(TxPoolNic, AutoFallsBackToARegisteredPoolAndSaysWhy) {
  auto ring = MakeRing();
  TxPool::Options o;
  o.nic_ifname = "lo";
  auto pool = TxPool::Create(*ring, o);
  ASSERT_TRUE(pool.ok()) << pool.status();
  EXPECT_FALSE((*pool)->nic_registered());
  std::string d = (*pool)->Describe();
  EXPECT_NE(d.find("registered pool ("), std::string::npos) << d;
  EXPECT_NE(d.find("NIC-registered pool on lo unavailable: "), std::string::npos) << d;
  // The fallback is a working pool: a send goes out.
  auto pair = testsupport::MakeTcpPair();
  auto b = (*pool)->Allocate();
  ASSERT_TRUE(b.ok());
  std::memset(b->data(), 'n', 8192);
  b->resize(8192);
  auto sent = ring->Run([](int fd, zcnet::TxBuffer b) -> Task<absl::StatusOr<size_t>> {
    co_return co_await zcnet::SendZc(fd, std::move(b));
  }(pair.client.get(), std::move(*b)));
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_EQ(*sent, 8192u);
  ring->Drain();
}

TEST(TxPoolNic, RequireFailsNamingTheInterfaceAndTheReason) {
  auto ring = MakeRing();
  TxPool::Options o;
  o.nic_ifname = "lo";
  o.nic = TxPool::Options::Nic::kRequire;
  auto pool = TxPool::Create(*ring, o);
  ASSERT_FALSE(pool.ok());
  std::string m(pool.status().message());
  EXPECT_NE(m.find("NIC-registered pool on lo"), std::string::npos) << m;
  // The slot it claimed is free again.
  auto plain = TxPool::Create(*ring, TxPool::Options{});
  EXPECT_TRUE(plain.ok()) << plain.status();
}

TEST(SendZcVerdict, ACopyingSocketDoesNotTurnZeroCopyOffForAnother) {
  auto ring = MakeRing();
  TxPool::Options o;
  o.chunks = 8;
  auto pool = TxPool::Create(*ring, o);
  ASSERT_TRUE(pool.ok());
  auto a = testsupport::MakeTcpPair(), b = testsupport::MakeTcpPair();
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    char sink[65536];
    while (!stop.load()) {
      bool any = false;
      for (int fd : {a.server.get(), b.server.get()})
        any |= ::recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0;
      if (!any) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  auto send_some = [](TxPool& pool, int fd, int n) -> Task<absl::Status> {
    for (int i = 0; i < n; i++) {
      auto buf = co_await pool.Acquire();
      if (!buf.ok()) co_return buf.status();
      buf->resize(buf->capacity());
      auto r = co_await zcnet::SendZc(fd, std::move(*buf));
      if (!r.ok()) co_return r.status();
    }
    co_return absl::OkStatus();
  };
  ASSERT_TRUE(ring->Run(send_some(**pool, a.client.get(), 16)).ok());
  ring->Drain();
  ASSERT_TRUE((*pool)->copies_seen(a.client.get())) << "loopback copies; the kernel must say so";
  uint64_t zc_before = (*pool)->stats().zc_sends;
  ASSERT_TRUE(ring->Run(send_some(**pool, b.client.get(), 4)).ok());
  EXPECT_EQ((*pool)->stats().zc_sends - zc_before, 4u)
      << "socket b was never tried with zero copy because socket a copies";
  // The copying socket is retried after kCopyVerdictRetrySends plain sends.
  zc_before = (*pool)->stats().zc_sends;
  ASSERT_TRUE(ring->Run(send_some(**pool, a.client.get(), TxPool::kCopyVerdictRetrySends + 1)).ok());
  EXPECT_GE((*pool)->stats().zc_sends - zc_before, 1u) << "the copy verdict never decays";
  ring->Drain();
  stop = true;
  reader.join();
}

}  // namespace
