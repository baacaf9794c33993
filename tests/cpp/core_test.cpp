// zcnet core: Task, Ring (owning), Scope, WhenAll/WhenAny, socket awaitables,
// cancellation and timeouts, destruction with requests in flight.
#include <absl/strings/str_cat.h>
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <zcnet/net/socket.hpp>
#include <zcnet/ring.hpp>
#include <zcnet/scope.hpp>
#include <zcnet/task.hpp>
#include <zcnet/when_all.hpp>

#include <random>
#include <chrono>
#include <thread>
#include <stdexcept>
#include <vector>

#include "support/loopback.hpp"

namespace {

using zcnet::Listener;
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

Task<int> Answer() { co_return 42; }
Task<int> AddOne(Task<int> t) { co_return (co_await std::move(t)) + 1; }

TEST(Task, ChainsResultsBySymmetricTransfer) {
  auto ring = MakeRing();
  EXPECT_EQ(ring->Run(AddOne(AddOne(Answer()))), 44);
}

Task<int> Deep(int n) {
  if (n == 0) co_return 0;
  co_return 1 + co_await Deep(n - 1);
}

// Symmetric transfer is a tail call only where the compiler emits one: GCC
// does at -O2, not under AddressSanitizer, where a shallower chain is used.
#if defined(__SANITIZE_ADDRESS__)
constexpr int kDeepChain = 2000;
#else
constexpr int kDeepChain = 1000000;
#endif

TEST(Task, DeepChainsDoNotGrowTheStack) {
  auto ring = MakeRing();
  EXPECT_EQ(ring->Run(Deep(kDeepChain)), kDeepChain);
}

Task<int> Throws() {
  throw std::runtime_error("boom");
  co_return 0;
}

TEST(Task, ExceptionsPropagateToTheAwaiter) {
  auto ring = MakeRing();
  EXPECT_THROW(ring->Run(AddOne(Throws())), std::runtime_error);
}

Task<void> EchoConnection(Socket s) {
  std::vector<std::byte> buf(4096);
  for (;;) {
    auto n = co_await s.Recv(absl::MakeSpan(buf));
    if (!n.ok() || *n == 0) co_return;
    auto st = co_await s.SendAll(absl::MakeConstSpan(buf.data(), *n));
    if (!st.ok()) co_return;
  }
}

// Half the connections through single accepts, half through one multishot.
Task<void> EchoServer(Listener& l, int connections) {
  Scope scope;
  int i = 0;
  for (; i < connections / 2; i++) {
    auto s = co_await l.Accept();
    if (!s.ok()) co_return;
    scope.Spawn(EchoConnection(std::move(*s)));
  }
  zcnet::AcceptStream many = l.AcceptMany();
  for (; i < connections; i++) {
    auto s = co_await many.Next();
    if (!s.ok()) {
      ADD_FAILURE() << s.status();
      co_return;
    }
    scope.Spawn(EchoConnection(std::move(*s)));
  }
  co_await scope.Join();
}

Task<absl::Status> EchoClient(Ring& ring, uint16_t port, uint32_t seed, int messages) {
  auto s = Socket::OpenTcp(ring);
  if (!s.ok()) co_return s.status();
  sockaddr_in addr = zcnet::LoopbackAddress(port);
  auto st = co_await s->Connect(reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  if (!st.ok()) co_return st;
  std::mt19937 rng(seed);
  std::vector<std::byte> out(8192), in(8192);
  for (int m = 0; m < messages; m++) {
    size_t len = 1 + rng() % out.size();
    for (size_t i = 0; i < len; i++) out[i] = static_cast<std::byte>(rng());
    // Split the message at a random point: two sends, one message.
    size_t split = rng() % len;
    st = co_await s->SendAll(absl::MakeConstSpan(out.data(), split));
    if (!st.ok()) co_return st;
    st = co_await s->SendAll(absl::MakeConstSpan(out.data() + split, len - split));
    if (!st.ok()) co_return st;
    st = co_await s->RecvExactly(absl::MakeSpan(in.data(), len));
    if (!st.ok()) co_return st;
    if (memcmp(in.data(), out.data(), len) != 0)
      co_return absl::DataLossError("echo mismatch");
  }
  co_return co_await s->Shutdown();
}

Task<int> EchoTest(Ring& ring, int connections, int messages) {
  auto listener = Listener::Bind(ring, zcnet::LoopbackAddress(0));
  if (!listener.ok()) co_return -1;
  Scope scope;
  int failures = 0;
  scope.Spawn(EchoServer(*listener, connections));
  for (int c = 0; c < connections; c++) {
    scope.Spawn([](Ring& ring, uint16_t port, int c, int messages, int& failures) -> Task<void> {
      auto st = co_await EchoClient(ring, port, 1000 + c, messages);
      if (!st.ok()) {
        failures++;
        ADD_FAILURE() << "client " << c << ": " << st;
      }
    }(ring, listener->port(), c, messages, failures));
  }
  co_await scope.Join();
  co_return failures;
}

TEST(Socket, EchoWithRandomSizesAndSplitsAcross200Connections) {
  auto ring = MakeRing();
  EXPECT_EQ(ring->Run(EchoTest(*ring, 200, 20)), 0);
  ring->Drain();  // the multishot accept's cancellation
  EXPECT_EQ(ring->in_flight(), 0u);
}

Task<absl::Status> RecvWithTimeout(Ring& ring, int fd, absl::Duration d) {
  Socket s(ring, fd);
  std::byte b[16];
  auto n = co_await s.Recv(absl::MakeSpan(b), OpOptions{{}, d});
  s.Release();
  co_return n.status();
}

TEST(Cancellation, TimeoutEndsARecvWithCancelled) {
  auto ring = MakeRing();
  auto pair = testsupport::MakeTcpPair();
  auto st = ring->Run(RecvWithTimeout(*ring, pair.server.get(), absl::Milliseconds(50)));
  EXPECT_EQ(st.code(), absl::StatusCode::kCancelled) << st;
}

Task<absl::Status> RecvStoppedBySleeper(Ring& ring, int fd) {
  std::stop_source stop;
  Socket s(ring, fd);
  std::byte b[16];
  Scope scope;
  scope.Spawn([](Ring& ring, std::stop_source& stop) -> Task<void> {
    (void)co_await zcnet::Sleep(ring, absl::Milliseconds(20));
    stop.request_stop();
  }(ring, stop));
  std::stop_token token = stop.get_token();
  auto n = co_await s.Recv(absl::MakeSpan(b), OpOptions{&token, {}});
  s.Release();
  co_await scope.Join();
  co_return n.status();
}

TEST(Cancellation, StopTokenCancelsAPendingRecv) {
  auto ring = MakeRing();
  auto pair = testsupport::MakeTcpPair();
  auto st = ring->Run(RecvStoppedBySleeper(*ring, pair.server.get()));
  EXPECT_EQ(st.code(), absl::StatusCode::kCancelled) << st;
}

Task<void> BlockedRecv(Ring& ring, int fd, std::vector<std::byte>& buf) {
  Socket s(ring, fd);
  (void)co_await s.Recv(absl::MakeSpan(buf));
  s.Release();
}

TEST(Cancellation, DestroyingAScopeWithRequestsInFlightWaitsForThem) {
  auto ring = MakeRing();
  auto pair = testsupport::MakeTcpPair();
  std::vector<std::byte> buf(64);
  ring->Run([](Ring& ring, int fd, std::vector<std::byte>& buf) -> Task<void> {
    {
      Scope scope;
      for (int i = 0; i < 8; i++) scope.Spawn(BlockedRecv(ring, fd, buf));
      EXPECT_EQ(scope.active(), 8u);
    }  // destroyed with 8 receives armed
    co_return;
  }(*ring, pair.server.get(), buf));
  EXPECT_GT(ring->in_flight(), 0u) << "the cancels and receives are still in flight";
  ring->Drain();
  EXPECT_EQ(ring->in_flight(), 0u);
}

Task<int> SleepThen(Ring& ring, int ms, int value) {
  (void)co_await zcnet::Sleep(ring, absl::Milliseconds(ms));
  co_return value;
}

TEST(Combinators, WhenAllCollectsEveryResult) {
  auto ring = MakeRing();
  auto [a, b, c] = ring->Run(zcnet::WhenAll(SleepThen(*ring, 30, 1), SleepThen(*ring, 10, 2),
                                            Answer()));
  EXPECT_EQ(a, 1);
  EXPECT_EQ(b, 2);
  EXPECT_EQ(c, 42);
}

TEST(Combinators, WhenAnyTakesTheFirstAndCancelsTheRest) {
  auto ring = MakeRing();
  std::vector<Task<int>> tasks;
  tasks.push_back(SleepThen(*ring, 5000, 1));
  tasks.push_back(SleepThen(*ring, 10, 2));
  tasks.push_back(SleepThen(*ring, 5000, 3));
  absl::Time start = absl::Now();
  auto [index, value] = ring->Run(zcnet::WhenAny(std::move(tasks)));
  EXPECT_EQ(index, 1u);
  EXPECT_EQ(value, 2);
  ring->Drain();  // the losers' cancelled sleeps
  EXPECT_LT(absl::Now() - start, absl::Seconds(2)) << "losers were not cancelled";
}

}  // namespace

namespace {

// Every awaitable kind: a deadline ends it, a stop request ends it, and the
// happy path does what it says. Ports only on 127.0.0.1.

TEST(Awaitables, AcceptTimesOut) {
  auto ring = MakeRing();
  auto l = Listener::Bind(*ring, zcnet::LoopbackAddress(0));
  ASSERT_TRUE(l.ok());
  auto st = ring->Run([](Listener& l) -> Task<absl::Status> {
    auto s = co_await l.Accept(OpOptions{nullptr, absl::Milliseconds(30)});
    co_return s.status();
  }(*l));
  EXPECT_EQ(st.code(), absl::StatusCode::kCancelled) << st;
}

TEST(Awaitables, AcceptStreamTimesOutThenStillAccepts) {
  auto ring = MakeRing();
  auto l = Listener::Bind(*ring, zcnet::LoopbackAddress(0));
  ASSERT_TRUE(l.ok());
  ring->Run([](Listener& l) -> Task<void> {
    zcnet::AcceptStream many = l.AcceptMany();
    auto first = co_await many.Next(OpOptions{nullptr, absl::Milliseconds(30)});
    EXPECT_EQ(first.status().code(), absl::StatusCode::kDeadlineExceeded) << first.status();
    // The multishot accept stayed armed: a connection now is delivered.
    testsupport::Fd c(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a = zcnet::LoopbackAddress(l.port());
    EXPECT_EQ(connect(c.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    auto second = co_await many.Next(OpOptions{nullptr, absl::Seconds(5)});
    EXPECT_TRUE(second.ok()) << second.status();
  }(*l));
  ring->Drain();
  EXPECT_EQ(ring->in_flight(), 0u);
}

TEST(Awaitables, AcceptStreamStopsOnRequest) {
  auto ring = MakeRing();
  auto l = Listener::Bind(*ring, zcnet::LoopbackAddress(0));
  ASSERT_TRUE(l.ok());
  auto st = ring->Run([](Ring& ring, Listener& l) -> Task<absl::Status> {
    std::stop_source stop;
    std::stop_token token = stop.get_token();
    Scope scope;
    scope.Spawn([](Ring& ring, std::stop_source& stop) -> Task<void> {
      (void)co_await zcnet::Sleep(ring, absl::Milliseconds(20));
      stop.request_stop();
    }(ring, stop));
    zcnet::AcceptStream many = l.AcceptMany();
    auto s = co_await many.Next(OpOptions{&token, {}});
    co_await scope.Join();
    co_return s.status();
  }(*ring, *l));
  EXPECT_EQ(st.code(), absl::StatusCode::kCancelled) << st;
}

TEST(Awaitables, ConnectToAClosedPortIsRefused) {
  auto ring = MakeRing();
  // Bind then close: the port is (almost surely) unused right after.
  uint16_t port;
  {
    auto l = Listener::Bind(*ring, zcnet::LoopbackAddress(0));
    ASSERT_TRUE(l.ok());
    port = l->port();
  }
  auto st = ring->Run([](Ring& ring, uint16_t port) -> Task<absl::Status> {
    auto s = Socket::OpenTcp(ring);
    sockaddr_in a = zcnet::LoopbackAddress(port);
    co_return co_await s->Connect(reinterpret_cast<sockaddr*>(&a), sizeof(a));
  }(*ring, port));
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable) << st;
  EXPECT_NE(std::string(st.message()).find("connect"), std::string::npos) << st;
}

// A peer that never reads: sends block once the socket buffers are full. The
// deadline ends the send; bytes already queued are reported, never lost.
TEST(Awaitables, SendIntoAFullSocketTimesOut) {
  auto ring = MakeRing();
  auto pair = testsupport::MakeTcpPair();
  constexpr size_t kBig = 64 << 20;
  auto r = ring->Run([](Ring& ring, int fd) -> Task<absl::StatusOr<size_t>> {
    Socket s(ring, fd);
    std::vector<std::byte> big(kBig);
    auto r = co_await s.Send(absl::MakeConstSpan(big), OpOptions{nullptr, absl::Milliseconds(100)},
                             MSG_WAITALL);
    s.Release();
    co_return r;
  }(*ring, pair.client.get()));
  if (r.ok()) {
    EXPECT_LT(*r, kBig) << "a 64 MiB send cannot complete into a peer that never reads";
    EXPECT_GT(*r, 0u);
  } else {
    EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled) << r.status();
  }
}

TEST(Awaitables, WritevGathersInOrderAndCloseCloses) {
  auto ring = MakeRing();
  auto pair = testsupport::MakeTcpPair();
  auto st = ring->Run([](Ring& ring, int fd) -> Task<absl::Status> {
    Socket s(ring, fd);
    char a[] = "zero-", b[] = "copy ", c[] = "tcp";
    iovec iov[3] = {{a, 5}, {b, 5}, {c, 3}};
    auto n = co_await s.Writev(absl::MakeConstSpan(iov));
    if (!n.ok()) co_return n.status();
    if (*n != 13) co_return absl::InternalError("short writev");
    co_return co_await s.Close();
  }(*ring, pair.client.Release()));
  EXPECT_TRUE(st.ok()) << st;
  char buf[32] = {};
  size_t got = 0;
  for (ssize_t n; (n = read(pair.server.get(), buf + got, sizeof(buf) - 1 - got)) > 0;)
    got += static_cast<size_t>(n);
  EXPECT_STREQ(buf, "zero-copy tcp") << "gathered in order, then EOF after Close";
}

// A NOP that completes with @res, in a 32-byte CQE when @big (IORING_NOP_CQE32).
auto Nop(Ring& ring, int res, bool big) {
  return zcnet::MakeIo(
      ring, OpOptions{},
      [res, big](io_uring_sqe* sqe) {
        io_uring_prep_nop(sqe);
        sqe->nop_flags = IORING_NOP_INJECT_RESULT | (big ? IORING_NOP_CQE32 : 0);
        sqe->len = static_cast<unsigned>(res);
        sqe->off = 0x1111;  // a big CQE's extra words
        sqe->addr = 0x2222;
      },
      [](int r, uint32_t flags) { return std::pair<int, uint32_t>(r, flags); });
}

// Rings are created with IORING_SETUP_CQE_MIXED where the kernel has it:
// 16-byte CQEs, 32 only for the completions that need it (zcrx). The
// completion loop must copy each at its own size and advance the queue by
// the slots each takes (and skip the kernel's padding CQEs): every result
// arrives at its own operation, across many wraps of a small queue.
TEST(Ring, MixedCompletionQueueHandsEveryCqeToItsOperationAtItsSize) {
  Ring::Options options;
  options.entries = 8;  // a 16-slot CQ: wraps, and pads before a split big CQE
  auto made = Ring::Create(options);
  ASSERT_TRUE(made.ok()) << made.status();
  Ring& ring = **made;
  if (!(ring.raw()->flags & IORING_SETUP_CQE_MIXED)) {
    EXPECT_TRUE(ring.raw()->flags & IORING_SETUP_CQE32) << "no mixed CQ: every CQE is 32 bytes";
    GTEST_SKIP() << "kernel without IORING_SETUP_CQE_MIXED (Linux < 6.18): rings use CQE32";
  }
  int wrong = ring.Run([](Ring& ring) -> Task<int> {
    int wrong = 0;
    std::mt19937 rng(7);
    for (int round = 0; round < 200; round++) {
      // Up to 7 in flight at once (the SQ), big and small mixed at random.
      int n = 1 + static_cast<int>(rng() % 7);
      std::vector<std::pair<int, uint32_t>> results(static_cast<size_t>(n));
      std::vector<bool> big;
      Scope scope;
      for (int i = 0; i < n; i++) {
        big.push_back(rng() & 1);
        scope.Spawn([](Ring& r, int res, bool b, std::pair<int, uint32_t>& out) -> Task<void> {
          out = co_await Nop(r, res, b);
        }(ring, round * 10 + i, big.back(), results[static_cast<size_t>(i)]));
      }
      co_await scope.Join();
      for (int i = 0; i < n; i++) {
        const auto& [res, flags] = results[static_cast<size_t>(i)];
        if (res != round * 10 + i || static_cast<bool>(flags & IORING_CQE_F_32) != big[static_cast<size_t>(i)])
          wrong++;
      }
    }
    co_return wrong;
  }(ring));
  EXPECT_EQ(wrong, 0) << "CQEs handed to the wrong operation or at the wrong size";

  Ring::Options all_big;
  all_big.cqe_mixed = false;
  auto cqe32 = Ring::Create(all_big);
  ASSERT_TRUE(cqe32.ok()) << cqe32.status();
  EXPECT_TRUE((*cqe32)->raw()->flags & IORING_SETUP_CQE32) << "cqe_mixed false: CQE32 as before";
  EXPECT_FALSE((*cqe32)->raw()->flags & IORING_SETUP_CQE_MIXED);
}

// The ring descriptor is registered by default (io_uring_enter skips the
// file lookup); a batched wait bounds its wait by the minimum timeout, and
// refuses half a configuration by name.
TEST(Ring, RegisteredDescriptorAndBatchedWaits) {
  auto plain = MakeRing();
  EXPECT_TRUE(plain->ring_fd_registered()) << "kernel 5.18+ registers ring descriptors";
  EXPECT_NE(plain->raw()->enter_ring_fd, plain->raw()->ring_fd);
  Ring::Options unregistered;
  unregistered.register_ring_fd = false;
  auto u = Ring::Create(unregistered);
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_FALSE((*u)->ring_fd_registered());
  EXPECT_EQ((*u)->raw()->enter_ring_fd, (*u)->raw()->ring_fd);

  // By default a batch of 16 within 50 us (6.12+; both kernels here);
  // a batch of 1 turns batching off.
  ASSERT_TRUE(plain->raw()->features & IORING_FEAT_MIN_TIMEOUT);
  EXPECT_EQ(plain->wait_batch(), Ring::Options::kAutoWaitBatch);
  EXPECT_EQ(plain->wait_min_usec(), Ring::Options::kAutoWaitMinUsec);
  EXPECT_EQ((*u)->wait_batch(), 16u);
  Ring::Options off;
  off.wait_batch = 1;
  auto unbatched = Ring::Create(off);
  ASSERT_TRUE(unbatched.ok()) << unbatched.status();
  EXPECT_EQ((*unbatched)->wait_batch(), 1u);

  Ring::Options half;
  half.wait_batch = 8;
  auto refused = Ring::Create(half);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(refused.status().message()).find("wait_batch = 8, wait_min_usec = 0"),
            std::string::npos)
      << refused.status();
  half.wait_batch = 1;
  half.wait_min_usec = 100;
  EXPECT_EQ(Ring::Create(half).status().code(), absl::StatusCode::kInvalidArgument);

  Ring::Options batched;
  batched.wait_batch = 8;
  batched.wait_min_usec = 300000;
  auto made = Ring::Create(batched);
  ASSERT_TRUE(made.ok()) << made.status();
  Ring& ring = **made;
  // Four NOPs complete in the first pass, microseconds after the ring was
  // made: completions fast enough to fill a batch of 8 in 300 ms. Then eight
  // receives whose bytes arrive 1 ms apart: one batch of eight, not a wakeup
  // each. (Not timers: the kernel wakes a waiter at every IORING_OP_TIMEOUT
  // completion, whatever the batch.)
  std::vector<testsupport::TcpPair> pairs;
  for (int i = 0; i < 8; i++) pairs.push_back(testsupport::MakeTcpPair());
  const uint64_t enters_before = ring.enter_calls();
  std::thread writer([&pairs] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the receives are armed
    for (auto& p : pairs) {
      EXPECT_EQ(write(p.client.get(), "x", 1), 1);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  int got = ring.Run([](Ring& ring, std::vector<testsupport::TcpPair>& pairs) -> Task<int> {
    int got = 0;
    Scope scope;
    for (int i = 0; i < 4; i++)
      scope.Spawn([](Ring& r) -> Task<void> { (void)co_await Nop(r, 0, false); }(ring));
    for (auto& p : pairs)
      scope.Spawn([](Ring& r, int fd, int& got) -> Task<void> {
        char c;
        auto n = co_await Socket(r, fd).Recv(absl::MakeSpan(reinterpret_cast<std::byte*>(&c), 1));
        if (n.ok() && *n == 1) got++;
      }(ring, p.server.Release(), got));  // the Socket closes it
    co_await scope.Join();
    co_return got;
  }(ring, pairs));
  writer.join();
  EXPECT_EQ(got, 8);
  EXPECT_LE(ring.enter_calls() - enters_before, 4u) << "eight completions 1 ms apart, batched";
  // A lone completion in a batched wait: it waits out the time bound (the
  // kernel's minimum), and that short batch ends the batching at once.
  auto nop_start = absl::Now();
  ring.Run([](Ring& ring) -> Task<void> { (void)co_await Nop(ring, 0, false); }(ring));
  EXPECT_GE(absl::Now() - nop_start, absl::Milliseconds(250)) << "the batched wait's bound";
  // So a lone receive is not held back for a batch that will not come.
  auto lone = testsupport::MakeTcpPair();
  std::thread late([&lone] {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    EXPECT_EQ(write(lone.client.get(), "y", 1), 1);
  });
  auto start = absl::Now();
  int n = ring.Run([](Ring& ring, int fd) -> Task<int> {
    char c;
    auto r = co_await Socket(ring, fd).Recv(absl::MakeSpan(reinterpret_cast<std::byte*>(&c), 1));
    co_return r.ok() ? static_cast<int>(*r) : -1;
  }(ring, lone.server.Release()));
  late.join();
  EXPECT_EQ(n, 1);
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(200)) << "a lone completion waited for a batch";
}

// Registered files: sockets made on a ring with a file table take its
// slots and their requests name them (the descriptor number is pointed at
// another socket to prove it); a full table leaves a socket on its
// descriptor; Close, Release and destruction empty the slot, so the socket
// really closes (its peer sees the end of the stream).
TEST(Ring, FixedFilesCarrySocketRequestsAndFreeTheirSlots) {
  Ring::Options o;
  o.fixed_files = 2;
  auto made = Ring::Create(o);
  ASSERT_TRUE(made.ok()) << made.status();
  Ring& ring = **made;
  EXPECT_EQ(ring.fixed_files(), 2u);
  EXPECT_EQ(MakeRing()->fixed_files(), 0u) << "off by default";

  auto a = testsupport::MakeTcpPair();
  auto b = testsupport::MakeTcpPair();
  auto c = testsupport::MakeTcpPair();
  {
    Socket sa(ring, a.server.Release());
    Socket sb(ring, b.server.Release());
    Socket sc(ring, c.server.Release());
    EXPECT_GE(sa.fixed_slot(), 0);
    EXPECT_GE(sb.fixed_slot(), 0);
    EXPECT_NE(sa.fixed_slot(), sb.fixed_slot());
    EXPECT_EQ(sc.fixed_slot(), -1) << "a full table leaves the socket on its descriptor";
    EXPECT_EQ(ring.fixed_files_in_use(), 2u);

    // sa's descriptor number now names c's socket; sa's requests still
    // reach a's socket, through the slot.
    const int fd_a = sa.fd();
    int other = dup(sc.fd());
    ASSERT_GE(other, 0);
    ASSERT_EQ(dup2(other, fd_a), fd_a);
    close(other);
    ASSERT_EQ(write(a.client.get(), "reply", 5), 5);
    ring.Run([](Socket& s) -> Task<void> {
      const char msg[] = "slot";
      auto sent = co_await s.Send(absl::MakeSpan(reinterpret_cast<const std::byte*>(msg), 4));
      EXPECT_TRUE(sent.ok()) << sent.status();
      char in[8];
      // (By descriptor it would wait on c's socket, where nothing comes.)
      auto got = co_await s.Recv(absl::MakeSpan(reinterpret_cast<std::byte*>(in), sizeof(in)),
                                 OpOptions{nullptr, absl::Seconds(10)});
      EXPECT_TRUE(got.ok() && *got == 5 && std::string(in, 5) == "reply") << got.status();
    }(sa));
    char buf[8];
    EXPECT_EQ(read(a.client.get(), buf, sizeof(buf)), 4) << "a's peer gets what sa sent";

    // Close empties the slot before closing: b's peer sees the end.
    ring.Run([](Socket& s) -> Task<void> { EXPECT_TRUE((co_await s.Close()).ok()); }(sb));
    EXPECT_EQ(ring.fixed_files_in_use(), 1u);
    EXPECT_EQ(read(b.client.get(), buf, sizeof(buf)), 0) << "b still open after Close";
    // A freed slot is taken again.
    Socket sb2(ring, dup(c.client.get()));
    EXPECT_GE(sb2.fixed_slot(), 0);
    int released = sb2.Release();
    EXPECT_EQ(sb2.fixed_slot(), -1);
    EXPECT_EQ(ring.fixed_files_in_use(), 1u);
    EXPECT_EQ(write(released, "r", 1), 1) << "Release keeps the descriptor open";
    close(released);
  }
  // Destroying sa emptied its slot: a's socket closed (its descriptor
  // number had been reused, so only the slot held it).
  EXPECT_EQ(ring.fixed_files_in_use(), 0u);
  char buf[8];
  EXPECT_EQ(read(a.client.get(), buf, sizeof(buf)), 0) << "a's socket outlived its Socket";

  Ring::Options huge;
  huge.fixed_files = 1u << 30;
  auto refused = Ring::Create(huge);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(std::string(refused.status().message()).find("fixed_files = 1073741824"),
            std::string::npos)
      << refused.status();
}

// The completion queue's size is a knob: the kernel's ring has what was
// asked (rounded up to a power of two), and a size the kernel would refuse
// is named before any ring is made.
TEST(Ring, CompletionQueueSizeIsAKnob) {
  Ring::Options o;
  o.entries = 64;
  auto plain = Ring::Create(o);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ((*plain)->raw()->cq.ring_entries, 128u) << "the kernel's default: twice entries";
  o.cq_entries = 3000;
  auto big = Ring::Create(o);
  ASSERT_TRUE(big.ok()) << big.status();
  EXPECT_EQ((*big)->raw()->cq.ring_entries, 4096u);
  EXPECT_EQ((*big)->Run([](Ring& r) -> Task<int> { co_return(co_await Nop(r, 7, false)).first; }(
                **big)),
            7);
  for (unsigned bad : {32u, 70000u}) {
    o.cq_entries = bad;
    auto refused = Ring::Create(o);
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(std::string(refused.status().message()).find(absl::StrCat("cq_entries = ", bad)),
              std::string::npos)
        << refused.status();
  }
}

// NAPI busy polling registers with the ring (6.9+) and leaves it working;
// on loopback there is no NAPI queue to poll, so only correctness is checked
// here: a receive still completes.
TEST(Ring, NapiBusyPollingRegistersAndTheRingStillWorks) {
  Ring::Options o;
  o.napi_busy_poll_usec = 50;
  o.napi_prefer_busy_poll = true;
  auto made = Ring::Create(o);
  ASSERT_TRUE(made.ok()) << made.status();
  Ring& ring = **made;
  EXPECT_TRUE(ring.napi_busy_polling());
  EXPECT_FALSE(MakeRing()->napi_busy_polling()) << "off by default";
  auto pair = testsupport::MakeTcpPair();
  ASSERT_EQ(write(pair.client.get(), "napi", 4), 4);
  std::string got = ring.Run([](Ring& ring, int fd) -> Task<std::string> {
    char buf[8] = {};
    auto n = co_await Socket(ring, fd).Recv(absl::MakeSpan(reinterpret_cast<std::byte*>(buf), 4));
    co_return n.ok() ? std::string(buf, *n) : n.status().ToString();
  }(ring, pair.server.Release()));
  EXPECT_EQ(got, "napi");
}

// After a short gathered send: the vectors sent whole are skipped, the one
// sent in part trimmed, nothing read past the end.
TEST(Awaitables, ConsumeSentResumesInsideTheVector) {
  char a[4], b[6], c[3];
  iovec iov[3] = {{a, 4}, {b, 6}, {c, 3}};
  EXPECT_EQ(zcnet::ConsumeSent(absl::MakeSpan(iov), 0, 0), 0u);
  EXPECT_EQ(zcnet::ConsumeSent(absl::MakeSpan(iov), 0, 6), 1u) << "a whole, 2 bytes of b";
  EXPECT_EQ(iov[1].iov_base, b + 2);
  EXPECT_EQ(iov[1].iov_len, 4u);
  EXPECT_EQ(zcnet::ConsumeSent(absl::MakeSpan(iov), 1, 4), 2u) << "the rest of b exactly";
  EXPECT_EQ(iov[2].iov_len, 3u);
  EXPECT_EQ(zcnet::ConsumeSent(absl::MakeSpan(iov), 2, 3), 3u) << "all sent";
  EXPECT_EQ(zcnet::ConsumeSent(absl::MakeSpan(iov), 3, 5), 3u) << "more than was there: stops at the end";
}

TEST(Awaitables, SleepStopsOnRequest) {
  auto ring = MakeRing();
  std::stop_source stop;
  stop.request_stop();
  std::stop_token token = stop.get_token();
  absl::Time start = absl::Now();
  auto st = ring->Run([](Ring& ring, const std::stop_token* t) -> Task<absl::Status> {
    co_return co_await zcnet::Sleep(ring, absl::Seconds(10), OpOptions{t, {}});
  }(*ring, &token));
  EXPECT_EQ(st.code(), absl::StatusCode::kCancelled) << st;
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
}

}  // namespace
