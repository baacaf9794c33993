// Provided-buffer ring receive: every byte verified, in order, under pressure.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uringx/uringx.h>

#include <cerrno>
#include <cstdio>
#include <memory>

#include "support/loopback.hpp"
#include "support/rx_loop.hpp"

namespace {

using testsupport::HoldPolicy;
using testsupport::Ring;
using testsupport::RunRxLoop;
using testsupport::RxLoopOptions;
using testsupport::SenderEnd;
using testsupport::StreamSender;

struct RxsrcDeleter {
  void operator()(uringx_rxsrc* s) const { uringx_rxsrc_destroy(s); }
};
using RxsrcPtr = std::unique_ptr<uringx_rxsrc, RxsrcDeleter>;

RxsrcPtr MakePbufSource(io_uring* ring, uint32_t nr_bufs, uint32_t buf_size, uint32_t flags) {
  uringx_rxsrc_params params{};
  params.mode = URINGX_RXSRC_PBUF;
  params.pbuf.nr_bufs = nr_bufs;
  params.pbuf.buf_size = buf_size;
  params.pbuf.bgid = 7;
  params.pbuf.flags = flags;
  uringx_rxsrc* src = nullptr;
  uringx_reason reason;
  int ret = uringx_rxsrc_create(ring, &params, &src, &reason);
  EXPECT_EQ(ret, 0) << uringx_strerror(ret) << ": " << uringx_reason_str(reason);
  return RxsrcPtr(src);
}

struct StreamCase {
  const char* name;
  uint32_t nr_bufs;
  uint32_t buf_size;
  uint32_t flags;
  HoldPolicy hold;
  uint64_t total;
  size_t max_chunk;
};

class PbufStream : public ::testing::TestWithParam<StreamCase> {};

TEST_P(PbufStream, DeliversSeededStreamInOrderToEof) {
  const StreamCase& c = GetParam();
  Ring ring;
  auto src = MakePbufSource(ring.get(), c.nr_bufs, c.buf_size, c.flags);
  ASSERT_TRUE(src);
  auto pair = testsupport::MakeTcpPair();
  const uint64_t seed = 0x5eed0000u + c.nr_bufs * 131 + c.buf_size;
  StreamSender sender(pair.client.Release(), seed, c.total, c.max_chunk, SenderEnd::kClose);
  RxLoopOptions options;
  options.hold = c.hold;
  auto r = RunRxLoop(ring.get(), src.get(), pair.server.get(), seed, options);
  sender.Join();
  EXPECT_EQ(r.loop_error, 0) << uringx_strerror(r.loop_error);
  EXPECT_EQ(r.error, 0) << uringx_strerror(r.error);
  EXPECT_TRUE(r.eof);
  EXPECT_EQ(r.first_mismatch, -1) << "corrupt byte at offset " << r.first_mismatch;
  EXPECT_EQ(r.bytes, c.total);
  EXPECT_EQ(uringx_rxsrc_outstanding(src.get()), 0u);
  EXPECT_EQ(uringx_pbufring_available(uringx_rxsrc_pbufring(src.get())), c.nr_bufs);
  // The mode asked for is the mode that ran: incremental rings (6.12) and
  // bundles (6.10) exist on every kernel zcnet is tested on, so a silent
  // fallback to plain buffers is a failure, not a pass.
  uringx_pbufring* pbr = uringx_rxsrc_pbufring(src.get());
  if (testsupport::KernelVersion() >= std::make_pair(6, 12)) {
    EXPECT_EQ(uringx_pbufring_incremental(pbr), (c.flags & URINGX_PBUF_INC) != 0);
    EXPECT_EQ(uringx_pbufring_bundles(pbr), (c.flags & URINGX_PBUF_BUNDLE) != 0);
    EXPECT_EQ(uringx_pbufring_downgrade(pbr), URINGX_REASON_NONE)
        << uringx_reason_str(uringx_pbufring_downgrade(pbr));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Pools, PbufStream,
    ::testing::Values(
        StreamCase{"plain", 64, 4096, 0, HoldPolicy::kReleaseAtOnce, 8u << 20, 65536},
        StreamCase{"bundle", 64, 1024, URINGX_PBUF_BUNDLE, HoldPolicy::kReleaseAtOnce, 8u << 20,
                   65536},
        StreamCase{"incremental", 8, 65536, URINGX_PBUF_INC, HoldPolicy::kReleaseAtOnce,
                   8u << 20, 3000},
        StreamCase{"inc_bundle", 16, 8192, URINGX_PBUF_INC | URINGX_PBUF_BUNDLE,
                   HoldPolicy::kReleaseAtOnce, 8u << 20, 20000},
        StreamCase{"tiny_starved", 4, 256, 0, HoldPolicy::kHoldUntilStarved, 1u << 20, 9000},
        StreamCase{"tiny_bundle_starved", 4, 256, URINGX_PBUF_BUNDLE,
                   HoldPolicy::kHoldUntilStarved, 1u << 20, 9000},
        StreamCase{"tiny_inc_starved", 2, 512, URINGX_PBUF_INC, HoldPolicy::kHoldUntilStarved,
                   1u << 20, 700}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Pbufring, TinyPoolForcesEnobufsAndLosesNothing) {
  Ring ring;
  auto src = MakePbufSource(ring.get(), 4, 256, 0);
  ASSERT_TRUE(src);
  auto pair = testsupport::MakeTcpPair();
  const uint64_t total = 2u << 20;
  StreamSender sender(pair.client.Release(), 42, total, 16384, SenderEnd::kClose);
  RxLoopOptions options;
  options.hold = HoldPolicy::kHoldUntilStarved;
  auto r = RunRxLoop(ring.get(), src.get(), pair.server.get(), 42, options);
  EXPECT_GT(r.starved_rearms, 0u) << "the pool never ran dry; ENOBUFS path untested";
  EXPECT_EQ(r.arms, r.starved_rearms + 1);
  EXPECT_EQ(r.first_mismatch, -1);
  EXPECT_EQ(r.bytes, total);
  EXPECT_TRUE(r.eof);
}

TEST(Pbufring, BundlesSpanSeveralBuffers) {
  Ring ring;
  auto src = MakePbufSource(ring.get(), 64, 512, URINGX_PBUF_BUNDLE);
  ASSERT_TRUE(src);
  if (!uringx_pbufring_bundles(uringx_rxsrc_pbufring(src.get())))
    GTEST_SKIP() << uringx_reason_str(URINGX_REASON_KERNEL_NO_BUNDLE);
  auto pair = testsupport::MakeTcpPair();
  const uint64_t total = 4u << 20;
  StreamSender sender(pair.client.Release(), 9, total, 65536, SenderEnd::kClose);
  auto r = RunRxLoop(ring.get(), src.get(), pair.server.get(), 9, {});
  EXPECT_GT(r.max_views_per_cqe, 1u) << "no CQE covered more than one buffer";
  EXPECT_EQ(r.first_mismatch, -1);
  EXPECT_EQ(r.bytes, total);
}

TEST(Pbufring, IncrementalBuffersHoldSeveralReceives) {
  Ring ring;
  auto src = MakePbufSource(ring.get(), 4, 1 << 20, URINGX_PBUF_INC);
  ASSERT_TRUE(src);
  if (!uringx_pbufring_incremental(uringx_rxsrc_pbufring(src.get())))
    GTEST_SKIP() << uringx_reason_str(URINGX_REASON_KERNEL_NO_PBUF_INC);
  auto pair = testsupport::MakeTcpPair();
  const uint64_t total = 1u << 20;
  StreamSender sender(pair.client.Release(), 77, total, 1500, SenderEnd::kClose);
  auto r = RunRxLoop(ring.get(), src.get(), pair.server.get(), 77, {});
  EXPECT_GT(r.buf_more_cqes, 0u) << "no CQE left room in its buffer (IORING_CQE_F_BUF_MORE)";
  EXPECT_EQ(r.first_mismatch, -1);
  EXPECT_EQ(r.bytes, total);
}

// Cancels race with live data: whatever the kernel had delivered before the
// cancel is kept, the rest waits in the socket for the re-armed receive.
// Whether a cancel finds the receive armed depends on scheduling (when the
// kernel outruns the loop, each receive ends on ENOBUFS first), so streams
// are repeated, each verified whole, until cancels have hit armed receives.
TEST(Pbufring, CancelsDuringTrafficLoseNothing) {
  uint64_t found = 0;
  for (int attempt = 1; attempt <= 8 && found == 0; attempt++) {
    Ring ring;
    auto src = MakePbufSource(ring.get(), 256, 2048, 0);
    ASSERT_TRUE(src);
    auto pair = testsupport::MakeTcpPair();
    const uint64_t total = 4u << 20;
    StreamSender sender(pair.client.Release(), 5, total, 1024, SenderEnd::kClose);
    RxLoopOptions options;
    options.cancel_after_cqes = 8;
    auto r = RunRxLoop(ring.get(), src.get(), pair.server.get(), 5, options);
    std::printf("stream %d: cancels that found an armed receive: %llu, receives they ended: "
                "%llu, arms: %llu\n", attempt, static_cast<unsigned long long>(r.cancels_found),
                static_cast<unsigned long long>(r.cancels), static_cast<unsigned long long>(r.arms));
    EXPECT_EQ(r.first_mismatch, -1);
    EXPECT_EQ(r.bytes, total);
    EXPECT_TRUE(r.eof);
    found += r.cancels_found;
  }
  EXPECT_GT(found, 0u) << "no cancel hit an armed receive in 8 streams: the test tested nothing";
}

// Deterministic end and re-arm: a receive parked on an empty socket is
// cancelled, data arrives, a new receive gets exactly that data.
TEST(Pbufring, MultishotEndsOnCancelAndRearmsInOrder) {
  Ring ring;
  uringx_pbufring_params params{8, 4096, 9, URINGX_PBUF_INC};
  uringx_pbufring* pbr = nullptr;
  ASSERT_EQ(uringx_pbufring_create(ring.get(), &params, &pbr, nullptr), 0);
  auto pair = testsupport::MakeTcpPair();
  testsupport::SeededStream gen(17), expect(17);
  constexpr uint64_t kRecv = 1, kCancel = 2;
  uint64_t received = 0, sent = 0;
  uringx_rx_view views[8];
  for (int round = 0; round < 5; round++) {
    io_uring_sqe* sqe = io_uring_get_sqe(ring.get());
    uringx_pbufring_prep_recv(pbr, sqe, pair.server.get());
    io_uring_sqe_set_data64(sqe, kRecv);
    io_uring_submit(ring.get());
    // Data for this round, then read it back.
    uint8_t chunk[3000];
    gen.Fill(chunk, sizeof(chunk));
    ASSERT_EQ(write(pair.client.get(), chunk, sizeof(chunk)), (ssize_t)sizeof(chunk));
    sent += sizeof(chunk);
    while (received < sent) {
      io_uring_cqe* cqe;
      ASSERT_EQ(io_uring_wait_cqe(ring.get(), &cqe), 0);
      uringx_rx_event ev;
      ASSERT_EQ(uringx_pbufring_decode(pbr, cqe, views, 8, &ev), 0);
      io_uring_cqe_seen(ring.get(), cqe);
      ASSERT_TRUE(ev.armed) << "receive ended early: " << uringx_strerror(ev.error);
      for (uint32_t i = 0; i < ev.nr_views; i++) {
        EXPECT_EQ(expect.Verify(static_cast<const uint8_t*>(views[i].data), views[i].len), -1);
        received += views[i].len;
        ASSERT_EQ(uringx_pbufring_release(pbr, views[i].token), 0);
      }
    }
    // The socket is empty: the receive is parked and the cancel must hit it.
    sqe = io_uring_get_sqe(ring.get());
    io_uring_prep_cancel64(sqe, kRecv, 0);
    io_uring_sqe_set_data64(sqe, kCancel);
    io_uring_submit(ring.get());
    bool ended = false, cancel_done = false;
    while (!ended || !cancel_done) {
      io_uring_cqe* cqe;
      ASSERT_EQ(io_uring_wait_cqe(ring.get(), &cqe), 0);
      if (cqe->user_data == kCancel) {
        EXPECT_EQ(cqe->res, 0) << "cancel did not find the receive";
        cancel_done = true;
      } else {
        uringx_rx_event ev;
        ASSERT_EQ(uringx_pbufring_decode(pbr, cqe, views, 8, &ev), 0);
        EXPECT_EQ(ev.nr_views, 0u);
        EXPECT_EQ(ev.error, -ECANCELED);
        ended = true;
      }
      io_uring_cqe_seen(ring.get(), cqe);
    }
  }
  EXPECT_EQ(received, sent);
  EXPECT_EQ(uringx_pbufring_outstanding(pbr), 0u);
  uringx_pbufring_destroy(pbr);
}

TEST(Pbufring, PeerResetEndsStreamWithEconnreset) {
  Ring ring;
  auto src = MakePbufSource(ring.get(), 16, 4096, 0);
  ASSERT_TRUE(src);
  auto pair = testsupport::MakeTcpPair();
  // Everything sent is read before the reset, then the reset is the error.
  const uint64_t total = 256 << 10;
  StreamSender sender(pair.client.get(), 11, total, 4096, SenderEnd::kNothing);
  sender.Join();
  RxLoopOptions options;
  options.idle_timeout_ms = 500;
  auto first = RunRxLoop(ring.get(), src.get(), pair.server.get(), 11, options);
  // The loop times out once the sender is idle: all bytes arrived intact.
  EXPECT_EQ(first.bytes, total);
  EXPECT_EQ(first.first_mismatch, -1);
  // Cancel the still-armed receive, then reset the connection.
  io_uring_sqe* sqe = io_uring_get_sqe(ring.get());
  io_uring_prep_cancel_fd(sqe, pair.server.get(), IORING_ASYNC_CANCEL_ALL);
  io_uring_submit_and_wait(ring.get(), 2);  // the cancel and the receive's last CQE
  io_uring_cqe* cqe;
  while (io_uring_peek_cqe(ring.get(), &cqe) == 0) io_uring_cqe_seen(ring.get(), cqe);
  ASSERT_EQ(uringx_rxsrc_outstanding(src.get()), 0u);
  testsupport::ArmReset(pair.client.get());
  pair.client.Reset();
  options.idle_timeout_ms = 5000;
  auto r = RunRxLoop(ring.get(), src.get(), pair.server.get(), 0, options);
  EXPECT_EQ(r.error, -ECONNRESET) << uringx_strerror(r.error);
  EXPECT_EQ(r.bytes, 0u);
}

TEST(Pbufring, BadFdsFailTheReceiveClearly) {
  Ring ring;
  auto src = MakePbufSource(ring.get(), 4, 256, 0);
  ASSERT_TRUE(src);
  RxLoopOptions options;
  options.idle_timeout_ms = 2000;
  auto closed = RunRxLoop(ring.get(), src.get(), 1000000, 0, options);
  EXPECT_EQ(closed.error, -EBADF);
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  auto notsock = RunRxLoop(ring.get(), src.get(), pipefd[0], 0, options);
  EXPECT_EQ(notsock.error, -ENOTSOCK);
  close(pipefd[0]);
  close(pipefd[1]);
}

TEST(Pbufring, ReleaseRejectsForeignAndDoubleTokens) {
  Ring ring;
  uringx_pbufring_params params{16, 4096, 3, 0};
  uringx_pbufring *a = nullptr, *b = nullptr;
  ASSERT_EQ(uringx_pbufring_create(ring.get(), &params, &a, nullptr), 0);
  params.bgid = 4;
  ASSERT_EQ(uringx_pbufring_create(ring.get(), &params, &b, nullptr), 0);
  params.bgid = 3;
  uringx_pbufring* dup = nullptr;
  EXPECT_EQ(uringx_pbufring_create(ring.get(), &params, &dup, nullptr), -EEXIST);

  auto pair = testsupport::MakeTcpPair();
  ASSERT_EQ(write(pair.client.get(), "hello", 5), 5);
  uringx_pbufring_prep_recv(a, io_uring_get_sqe(ring.get()), pair.server.get());
  io_uring_submit(ring.get());
  io_uring_cqe* cqe;
  ASSERT_EQ(io_uring_wait_cqe(ring.get(), &cqe), 0);
  uringx_rx_view view;
  uringx_rx_event ev;
  ASSERT_EQ(uringx_pbufring_decode(a, cqe, &view, 1, &ev), 0);
  io_uring_cqe_seen(ring.get(), cqe);
  ASSERT_EQ(ev.nr_views, 1u);
  EXPECT_EQ(std::string(static_cast<const char*>(view.data), view.len), "hello");
  EXPECT_EQ(uringx_pbufring_available(a), 15u);

  EXPECT_EQ(uringx_pbufring_release(b, view.token), -EINVAL) << "token of another pool";
  EXPECT_EQ(uringx_pbufring_release(a, 0), -EINVAL) << "not a token";
  EXPECT_EQ(uringx_pbufring_release(a, view.token), 0);
  EXPECT_EQ(uringx_pbufring_release(a, view.token), -EALREADY) << "double release";
  EXPECT_EQ(uringx_pbufring_available(a), 16u);

  // A CQE that names a buffer this ring never handed out is refused.
  io_uring_cqe fake{};
  fake.res = 10;
  uringx_rx_view unused;
  fake.flags = IORING_CQE_F_BUFFER | (99u << IORING_CQE_BUFFER_SHIFT);
  EXPECT_EQ(uringx_pbufring_decode(a, &fake, &unused, 1, &ev), -EPROTO);

  uringx_pbufring_destroy(a);
  uringx_pbufring_destroy(b);
}

TEST(Pbufring, RejectsBadParameters) {
  Ring ring;
  uringx_pbufring* p = nullptr;
  uringx_pbufring_params params{0, 4096, 1, 0};
  EXPECT_EQ(uringx_pbufring_create(ring.get(), &params, &p, nullptr), -EINVAL) << "zero buffers";
  params = {3, 4096, 1, 0};
  EXPECT_EQ(uringx_pbufring_create(ring.get(), &params, &p, nullptr), -EINVAL) << "not a power of 2";
  params = {4, 0, 1, 0};
  EXPECT_EQ(uringx_pbufring_create(ring.get(), &params, &p, nullptr), -EINVAL) << "zero size";
  params = {4, (1u << 24) + 1, 1, 0};
  EXPECT_EQ(uringx_pbufring_create(ring.get(), &params, &p, nullptr), -EINVAL) << "oversized";
}

}  // namespace
