// zcrx end to end. NODEV copy mode needs Linux 7.x: on this host (6.18) the
// tests skip with the reason; the `vm` suite runs them in the Linux 7.3 VM.
#include <gtest/gtest.h>
#include <unistd.h>
#include <uringx/uringx.h>

#include <cerrno>
#include <string>

#include "support/loopback.hpp"
#include "support/rx_loop.hpp"

namespace {

using testsupport::Ring;

constexpr unsigned kZcrxRingFlags =
    IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQE32;

std::string NodevMissing() {
  uringx_probe p;
  if (uringx_probe_kernel(&p)) return "probe failed";
  if (p.zcrx_nodev) return "";
  return std::string("zcrx NODEV mode unavailable on this kernel: ") +
         uringx_reason_str(p.zcrx_nodev_reason) + " (runs in the `vm` suite)";
}

uringx_rxsrc* MakeNodevSource(io_uring* ring, uint64_t area, uint32_t rq_entries,
                              uringx_zcrx_mem mem = URINGX_ZCRX_MEM_AUTO) {
  uringx_rxsrc_params params{};
  params.mode = URINGX_RXSRC_ZCRX;
  params.zcrx.ifname = nullptr;
  params.zcrx.area_size = area;
  params.zcrx.rq_entries = rq_entries;
  params.zcrx.mem = mem;
  params.zcrx.event_user_data = 0x7a63727800000001ULL;
  uringx_rxsrc* src = nullptr;
  uringx_reason reason = URINGX_REASON_NONE;
  int ret = uringx_rxsrc_create(ring, &params, &src, &reason);
  EXPECT_EQ(ret, 0) << uringx_strerror(ret) << ": " << uringx_reason_str(reason);
  return src;
}

TEST(ZcrxNodev, SeededStreamVerifiedWithKernelCopyCounters) {
  if (auto why = NodevMissing(); !why.empty()) GTEST_SKIP() << why;
  Ring ring(256, kZcrxRingFlags);
  uringx_rxsrc* src = MakeNodevSource(ring.get(), 4u << 20, 1024);
  ASSERT_NE(src, nullptr);
  EXPECT_STREQ(uringx_rxsrc_kind_name(src), "zcrx-nodev");
  auto pair = testsupport::MakeTcpPair();
  const uint64_t total = 32u << 20;
  testsupport::StreamSender sender(pair.client.Release(), 2024, total, 65536,
                                   testsupport::SenderEnd::kClose);
  auto r = testsupport::RunRxLoop(ring.get(), src, pair.server.get(), 2024, {});
  EXPECT_EQ(r.loop_error, 0) << uringx_strerror(r.loop_error);
  EXPECT_EQ(r.error, 0) << uringx_strerror(r.error);
  EXPECT_TRUE(r.eof);
  EXPECT_EQ(r.first_mismatch, -1);
  EXPECT_EQ(r.bytes, total);
  EXPECT_TRUE(r.views_in_area) << "a CQE pointed outside the registered area";
  struct uringx_zcrx_stats stats;
  uringx_zcrx_get_stats(uringx_rxsrc_zcrx(src), &stats);
  ASSERT_TRUE(stats.kernel_counts);
  // NODEV mode copies everything, and the kernel says so.
  EXPECT_EQ(stats.copy_bytes, total);
  EXPECT_GT(stats.copy_count, 0u);
  EXPECT_GT(r.zcrx_events, 0u) << "no copy-fallback event CQE";
  std::printf("zcrx nodev: %llu bytes, %llu CQEs, copy_count %llu copy_bytes %llu events %llu\n",
              (unsigned long long)r.bytes, (unsigned long long)r.data_cqes,
              (unsigned long long)stats.copy_count, (unsigned long long)stats.copy_bytes,
              (unsigned long long)r.zcrx_events);
  uringx_rxsrc_destroy(src);
}

TEST(ZcrxNodev, SmallAreaHeldViewsRefillWithoutLoss) {
  if (auto why = NodevMissing(); !why.empty()) GTEST_SKIP() << why;
  Ring ring(256, kZcrxRingFlags);
  // 64 pages: the area runs dry while the consumer holds views.
  uringx_rxsrc* src = MakeNodevSource(ring.get(), 64 * 4096, 64);
  ASSERT_NE(src, nullptr);
  auto pair = testsupport::MakeTcpPair();
  const uint64_t total = 8u << 20;
  testsupport::StreamSender sender(pair.client.Release(), 7, total, 30000,
                                   testsupport::SenderEnd::kClose);
  testsupport::RxLoopOptions options;
  options.hold = testsupport::HoldPolicy::kHoldUntilStarved;
  auto r = testsupport::RunRxLoop(ring.get(), src, pair.server.get(), 7, options);
  EXPECT_EQ(r.loop_error, 0) << uringx_strerror(r.loop_error);
  EXPECT_EQ(r.first_mismatch, -1);
  EXPECT_EQ(r.bytes, total);
  EXPECT_GT(r.starved_rearms, 0u) << "the area never ran dry";
  EXPECT_TRUE(r.eof);
  uringx_rxsrc_destroy(src);
}

// A dmabuf area is not CPU-writable to the kernel, so copy mode cannot fill
// it: the kernel refuses it cleanly. (A udmabuf area carrying a zero-copy
// stream on a NIC queue is tested on netdevsim: tests/vm/nsim_zcrx_test.cpp.)
TEST(ZcrxNodev, UdmabufAreaIsRefusedInCopyMode) {
  if (auto why = NodevMissing(); !why.empty()) GTEST_SKIP() << why;
  Ring ring(256, kZcrxRingFlags);
  uringx_rxsrc_params params{};
  params.mode = URINGX_RXSRC_ZCRX;
  params.zcrx.area_size = 1 << 20;
  params.zcrx.rq_entries = 256;
  params.zcrx.mem = URINGX_ZCRX_MEM_UDMABUF;
  uringx_rxsrc* src = nullptr;
  uringx_reason reason = URINGX_REASON_NONE;
  int ret = uringx_rxsrc_create(ring.get(), &params, &src, &reason);
  EXPECT_EQ(ret, -EINVAL) << uringx_strerror(ret);
  EXPECT_EQ(src, nullptr);
  uringx_rxsrc_destroy(src);
}

TEST(ZcrxNodev, DoubleAndForeignReleaseAreRefused) {
  if (auto why = NodevMissing(); !why.empty()) GTEST_SKIP() << why;
  Ring ring(64, kZcrxRingFlags);
  uringx_rxsrc* src = MakeNodevSource(ring.get(), 1 << 20, 256);
  ASSERT_NE(src, nullptr);
  auto pair = testsupport::MakeTcpPair();
  ASSERT_EQ(write(pair.client.get(), "zero-copy", 9), 9);
  uringx_rxsrc_prep_recv(src, io_uring_get_sqe(ring.get()), pair.server.get());
  io_uring_submit(ring.get());
  io_uring_cqe* cqe = nullptr;
  uringx_rx_view view{};
  uringx_rx_event ev{};
  do {
    ASSERT_EQ(io_uring_wait_cqe(ring.get(), &cqe), 0);
    if (!uringx_zcrx_is_event(uringx_rxsrc_zcrx(src), cqe)) {
      ASSERT_EQ(uringx_rxsrc_decode(src, cqe, &view, 1, &ev), 0);
    }
    io_uring_cqe_seen(ring.get(), cqe);
  } while (!ev.nr_views);
  EXPECT_EQ(std::string(static_cast<const char*>(view.data), view.len), "zero-copy");
  EXPECT_EQ(uringx_rxsrc_release(src, view.token ^ (1ULL << 50)), -EINVAL) << "foreign tag";
  EXPECT_EQ(uringx_rxsrc_release(src, view.token), 0);
  EXPECT_EQ(uringx_rxsrc_release(src, view.token), -EALREADY);
  EXPECT_GE(uringx_rxsrc_flush(src), 0);
  uringx_rxsrc_destroy(src);
}

}  // namespace
