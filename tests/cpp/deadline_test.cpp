// Deadlines on an owning Ring share one kernel timer (detail/deadline_queue):
// requests that complete first cost no timer SQE, an earlier deadline moves
// the timer, every deadline fires in order and cancels only its own request,
// stream waits time out through the same queue. Ports only on 127.0.0.1.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <vector>

#include <absl/time/clock.h>

#include "support/loopback.hpp"
#include "zcnet/net/socket.hpp"
#include "zcnet/ring.hpp"
#include "zcnet/rx_buffer.hpp"
#include "zcnet/scope.hpp"
#include "zcnet/task.hpp"
#include "zcnet/tx_buffer.hpp"

namespace {

using zcnet::OpOptions;
using zcnet::Ring;
using zcnet::Scope;
using zcnet::Socket;
using zcnet::Task;

std::unique_ptr<Ring> MakeRing() {
  auto ring = Ring::Create();
  EXPECT_TRUE(ring.ok()) << ring.status();
  return std::move(*ring);
}

// A one-byte Recv on @fd with @timeout; the Socket does not own @fd.
Task<absl::StatusOr<size_t>> RecvOne(Ring& ring, int fd, absl::Duration timeout) {
  Socket s(ring, fd);
  std::byte b[1];
  auto n = co_await s.Recv(absl::MakeSpan(b), OpOptions{nullptr, timeout});
  s.Release();
  co_return n;
}

// 200 receives with a 10 s deadline each, answered at once: one timer SQE
// (the first deadline's arm; every later one is later), no timer fires.
TEST(Deadlines, RequestsThatCompleteFirstShareOneTimerSqe) {
  auto ring = MakeRing();
  std::vector<testsupport::TcpPair> pairs;
  for (int i = 0; i < 200; i++) pairs.push_back(testsupport::MakeTcpPair());
  int ok = ring->Run([](Ring& ring, std::vector<testsupport::TcpPair>& pairs) -> Task<int> {
    int ok = 0;
    for (auto& p : pairs) {
      EXPECT_EQ(write(p.client.get(), "x", 1), 1);
      auto n = co_await RecvOne(ring, p.server.get(), absl::Seconds(10));
      if (n.ok() && *n == 1) ok++;
    }
    co_return ok;
  }(*ring, pairs));
  EXPECT_EQ(ok, 200);
  EXPECT_EQ(ring->deadline_timer_sqes(), 1u) << "a later deadline never touches the timer";
  EXPECT_EQ(ring->deadline_timer_fires(), 0u);
}

// TxPool sends with a deadline use the queue too: 100 sends of a chunk
// with a 10 s deadline cost one timer SQE and one CQE each (a linked
// timeout would add its own CQE per send); then a send to a peer that never
// reads is cancelled at its deadline through the queue.
TEST(Deadlines, TxPoolSendsShareTheQueue) {
  auto ring = MakeRing();
  zcnet::TxPool::Options o;
  o.chunks = 4;
  o.chunk_size = 64 << 10;
  auto pool = zcnet::TxPool::Create(*ring, o);
  ASSERT_TRUE(pool.ok()) << pool.status();
  auto pair = testsupport::MakeTcpPair();
  std::thread reader([fd = pair.server.get()] {
    char buf[4096];
    size_t got = 0;
    while (got < 100 * 1000) {
      ssize_t n = read(fd, buf, sizeof(buf));
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
  });
  const uint64_t cqes_before = ring->cqes_handled();
  int sent = ring->Run([](zcnet::TxPool& pool, int fd) -> Task<int> {
    int sent = 0;
    for (int i = 0; i < 100; i++) {
      auto b = co_await pool.Acquire();
      if (!b.ok()) break;
      b->resize(1000);
      auto n = co_await zcnet::SendZc(fd, std::move(*b), OpOptions{nullptr, absl::Seconds(10)});
      if (n.ok() && *n == 1000) sent++;
    }
    co_return sent;
  }(**pool, pair.client.get()));
  reader.join();
  EXPECT_EQ(sent, 100);
  EXPECT_EQ(ring->deadline_timer_sqes(), 1u);
  EXPECT_EQ(ring->deadline_timer_fires(), 0u);
  EXPECT_LE(ring->cqes_handled() - cqes_before, 100u) << "a CQE per send, no timer CQEs";

  // A peer that never reads: a send blocks once the socket buffers fill,
  // and its deadline cancels it. (Chunks stay lent until the peer is gone.)
  zcnet::TxPool::Options big;
  big.chunks = 64;
  big.chunk_size = 1 << 20;
  big.copy_fallback = false;
  auto pool2 = zcnet::TxPool::Create(*ring, big);
  ASSERT_TRUE(pool2.ok()) << pool2.status();
  auto stuck = testsupport::MakeTcpPair();
  const absl::Time start = absl::Now();
  absl::Status last = ring->Run([](zcnet::TxPool& pool, int fd) -> Task<absl::Status> {
    for (int i = 0; i < 64; i++) {
      auto b = pool.Allocate();
      if (!b.ok()) co_return b.status();
      b->resize(b->capacity());
      auto n = co_await zcnet::SendZc(fd, std::move(*b), OpOptions{nullptr, absl::Milliseconds(200)});
      if (!n.ok()) co_return n.status();
    }
    co_return absl::OkStatus();
  }(**pool2, stuck.client.get()));
  EXPECT_TRUE(absl::IsCancelled(last)) << last;
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(200));
  EXPECT_GE(ring->deadline_timer_fires(), 1u) << "cancelled by the queue's timer";
  stuck.server.Reset();  // the peer goes away: the lent chunks come back
  stuck.client.Reset();
  auto give_up = absl::Now() + absl::Seconds(10);
  while ((*pool2)->lent_chunks() && absl::Now() < give_up) ring->Drain();
  EXPECT_EQ((*pool2)->lent_chunks(), 0u);
  EXPECT_GE(ring->deadline_timer_fires(), 1u) << "cancelled by the queue's timer";
}

// Deadlines of 300, 100 and 200 ms, added in that order on silent sockets:
// each request is cancelled once its own deadline has passed, in deadline
// order; the 100 ms one moved the armed timer.
TEST(Deadlines, EachFiresInOrderAndAnEarlierOneMovesTheTimer) {
  auto ring = MakeRing();
  std::vector<testsupport::TcpPair> pairs;
  for (int i = 0; i < 3; i++) pairs.push_back(testsupport::MakeTcpPair());
  const absl::Duration timeouts[3] = {absl::Milliseconds(300), absl::Milliseconds(100),
                                      absl::Milliseconds(200)};
  absl::Duration took[3];
  absl::StatusCode code[3];
  const absl::Time start = absl::Now();
  ring->Run([](Ring& ring, std::vector<testsupport::TcpPair>& pairs, const absl::Duration* t,
               absl::Duration* took, absl::StatusCode* code, absl::Time start) -> Task<void> {
    Scope scope;
    for (int i = 0; i < 3; i++)
      scope.Spawn([](Ring& ring, int fd, absl::Duration t, absl::Duration& took,
                     absl::StatusCode& code, absl::Time start) -> Task<void> {
        auto n = co_await RecvOne(ring, fd, t);
        took = absl::Now() - start;
        code = n.status().code();
      }(ring, pairs[static_cast<size_t>(i)].server.get(), t[i], took[i], code[i], start));
    co_await scope.Join();
  }(*ring, pairs, timeouts, took, code, start));
  for (int i = 0; i < 3; i++) {
    EXPECT_EQ(code[i], absl::StatusCode::kCancelled) << i;
    EXPECT_GE(took[i], timeouts[i]) << i << ": cancelled before its deadline";
  }
  EXPECT_LT(took[1], took[2]);
  EXPECT_LT(took[2], took[0]);
  // Arm (300), move (100), then after each fire the next: 200, 300.
  EXPECT_EQ(ring->deadline_timer_sqes(), 4u);
  EXPECT_EQ(ring->deadline_timer_fires(), 3u);
}

// A deadline whose request completed first is dead: when the timer it armed
// fires, nothing is cancelled, and requests that came later (one without a
// deadline, one whose deadline reuses the slot) complete with their data.
TEST(Deadlines, ADeadOneCancelsNothingWhenItsTimerFires) {
  auto ring = MakeRing();
  auto first = testsupport::MakeTcpPair();
  auto second = testsupport::MakeTcpPair();
  auto third = testsupport::MakeTcpPair();
  ASSERT_EQ(write(first.client.get(), "a", 1), 1);
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    EXPECT_EQ(write(second.client.get(), "b", 1), 1);
    EXPECT_EQ(write(third.client.get(), "c", 1), 1);
  });
  auto results = ring->Run([](Ring& ring, int a, int b, int c) -> Task<std::vector<absl::Status>> {
    std::vector<absl::Status> out;
    auto n = co_await RecvOne(ring, a, absl::Milliseconds(50));  // completes at once
    out.push_back(n.status());
    Scope scope;
    absl::Status sb, sc;
    scope.Spawn([](Ring& ring, int fd, absl::Status& st) -> Task<void> {
      Socket s(ring, fd);
      std::byte buf[1];
      st = (co_await s.Recv(absl::MakeSpan(buf))).status();  // no deadline
      s.Release();
    }(ring, b, sb));
    scope.Spawn([](Ring& ring, int fd, absl::Status& st) -> Task<void> {
      st = (co_await RecvOne(ring, fd, absl::Seconds(5))).status();
    }(ring, c, sc));
    co_await scope.Join();
    out.push_back(sb);
    out.push_back(sc);
    co_return out;
  }(*ring, first.server.get(), second.server.get(), third.server.get()));
  writer.join();
  ASSERT_EQ(results.size(), 3u);
  for (const absl::Status& st : results) EXPECT_TRUE(st.ok()) << st;
  EXPECT_GE(ring->deadline_timer_fires(), 1u) << "the dead deadline's timer fired meanwhile";
}

// Ten receives with the same 50 ms deadline, added microseconds apart,
// expire in one or two timer CQEs (the second no sooner than 0.5 ms after
// the first), each cancelled.
TEST(Deadlines, DeadlinesDueTogetherExpireInOneFire) {
  auto ring = MakeRing();
  std::vector<testsupport::TcpPair> pairs;
  for (int i = 0; i < 10; i++) pairs.push_back(testsupport::MakeTcpPair());
  int cancelled = ring->Run([](Ring& ring, std::vector<testsupport::TcpPair>& pairs) -> Task<int> {
    int cancelled = 0;
    Scope scope;
    for (auto& p : pairs)
      scope.Spawn([](Ring& ring, int fd, int& cancelled) -> Task<void> {
        auto n = co_await RecvOne(ring, fd, absl::Milliseconds(50));
        if (n.status().code() == absl::StatusCode::kCancelled) cancelled++;
      }(ring, p.server.get(), cancelled));
    co_await scope.Join();
    co_return cancelled;
  }(*ring, pairs));
  EXPECT_EQ(cancelled, 10);
  EXPECT_LE(ring->deadline_timer_fires(), 2u) << "due together: a fire or two, not ten";
}

// A stream's Next() with a deadline: DeadlineExceeded once it passes, and
// 100 waits answered in time cost no timer SQE beyond the first.
TEST(Deadlines, StreamWaitsUseTheRingsTimer) {
  auto ring = MakeRing();
  auto pool = zcnet::RxPool::Create(*ring, zcnet::RxPool::Options{});
  ASSERT_TRUE(pool.ok()) << pool.status();
  auto pair = testsupport::MakeTcpPair();
  auto st = ring->Run([](zcnet::RxPool& pool, int fd, int client) -> Task<absl::Status> {
    auto stream = pool.Stream(fd);
    if (!stream.ok()) co_return stream.status();
    auto first = co_await stream->Next(OpOptions{nullptr, absl::Milliseconds(30)});
    EXPECT_EQ(first.status().code(), absl::StatusCode::kDeadlineExceeded) << first.status();
    for (int i = 0; i < 100; i++) {
      EXPECT_EQ(write(client, "y", 1), 1);
      auto b = co_await stream->Next(OpOptions{nullptr, absl::Seconds(10)});
      if (!b.ok()) co_return b.status();
      while (stream->TryNext()) {
      }
    }
    co_return absl::OkStatus();
  }(**pool, pair.server.get(), pair.client.get()));
  EXPECT_TRUE(st.ok()) << st;
  // The 30 ms wait's arm, its fire, then one arm for the first 10 s wait.
  EXPECT_EQ(ring->deadline_timer_fires(), 1u);
  EXPECT_EQ(ring->deadline_timer_sqes(), 2u);
  pool->reset();
  ring->Drain();
}

// A deadline's callback resumes a coroutine that drives the ring itself (a
// nested RunOnce loop) until another request, whose deadline is still
// queued, has ended: the timer is armed for that deadline before the
// callback runs, so the nested loop ends.
TEST(Deadlines, ACallbackThatDrivesTheRingStillSeesTheNextDeadline) {
  auto ring = MakeRing();
  auto pool = zcnet::RxPool::Create(*ring, zcnet::RxPool::Options{});
  ASSERT_TRUE(pool.ok()) << pool.status();
  auto waited = testsupport::MakeTcpPair();
  auto silent = testsupport::MakeTcpPair();
  absl::Status recv_status, wait_status;
  bool recv_done = false;
  ring->Run([](Ring& ring, zcnet::RxPool& pool, int stream_fd, int silent_fd,
               absl::Status& recv_status, absl::Status& wait_status,
               bool& recv_done) -> Task<void> {
    Scope scope;
    scope.Spawn([](Ring& ring, int fd, absl::Status& st, bool& done) -> Task<void> {
      st = (co_await RecvOne(ring, fd, absl::Milliseconds(200))).status();
      done = true;
    }(ring, silent_fd, recv_status, recv_done));
    scope.Spawn([](Ring& ring, zcnet::RxPool& pool, int fd, absl::Status& st,
                   bool& done) -> Task<void> {
      auto stream = pool.Stream(fd);
      if (!stream.ok()) {
        st = stream.status();
        co_return;
      }
      st = (co_await stream->Next(OpOptions{nullptr, absl::Milliseconds(30)})).status();
      const absl::Time give_up = absl::Now() + absl::Seconds(5);
      while (!done && absl::Now() < give_up) ring.RunOnce();  // nested
    }(ring, pool, stream_fd, wait_status, recv_done));
    co_await scope.Join();
  }(*ring, **pool, waited.server.get(), silent.server.get(), recv_status, wait_status,
                                                                  recv_done));
  EXPECT_EQ(wait_status.code(), absl::StatusCode::kDeadlineExceeded) << wait_status;
  EXPECT_TRUE(recv_done) << "the nested loop never saw the 200 ms deadline";
  EXPECT_EQ(recv_status.code(), absl::StatusCode::kCancelled) << recv_status;
  pool->reset();
  ring->Drain();
}

// An infinite timeout is no deadline: the request waits for its data.
TEST(Deadlines, AnInfiniteTimeoutNeverFires) {
  auto ring = MakeRing();
  auto pair = testsupport::MakeTcpPair();
  std::thread writer([&pair] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_EQ(write(pair.client.get(), "i", 1), 1);
  });
  auto n = ring->Run(RecvOne(*ring, pair.server.get(), absl::InfiniteDuration()));
  writer.join();
  EXPECT_TRUE(n.ok()) << n.status();
}

// Ring::Options::deadline_queue = false: a kernel timer per operation, as
// before; the deadlines still end what they bound, the queue is unused.
TEST(Deadlines, PerOperationTimersWhenTheQueueIsOff) {
  Ring::Options o;
  o.deadline_queue = false;
  auto made = Ring::Create(o);
  ASSERT_TRUE(made.ok()) << made.status();
  Ring& ring = **made;
  auto quiet = testsupport::MakeTcpPair();
  auto busy = testsupport::MakeTcpPair();
  ASSERT_EQ(write(busy.client.get(), "z", 1), 1);
  auto timed_out = ring.Run(RecvOne(ring, quiet.server.get(), absl::Milliseconds(30)));
  EXPECT_EQ(timed_out.status().code(), absl::StatusCode::kCancelled) << timed_out.status();
  auto answered = ring.Run(RecvOne(ring, busy.server.get(), absl::Seconds(10)));
  EXPECT_TRUE(answered.ok()) << answered.status();
  EXPECT_EQ(ring.deadline_timer_sqes(), 0u);
  EXPECT_EQ(ring.deadline_timer_fires(), 0u);
}

}  // namespace
