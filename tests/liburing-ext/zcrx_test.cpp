// zcrx end to end. NODEV copy mode needs Linux 7.x: on this host (6.18) the
// tests skip with the reason; the `vm` suite runs them in the Linux 7.3 VM.
#include <gtest/gtest.h>
#include <unistd.h>
#include <uringx/uringx.h>

#include <cerrno>
#include <future>
#include <cstring>
#include <string>
#include <thread>

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

// Copy mode fills page-size buffers only: a larger rx_buf_len is refused
// before the ifq is registered, with the reason that names it.
TEST(ZcrxNodev, BuffersLargerThanAPageAreRefusedInCopyMode) {
  if (auto why = NodevMissing(); !why.empty()) GTEST_SKIP() << why;
  Ring ring(256, kZcrxRingFlags);
  uringx_zcrx_params params{};
  params.area_size = 1 << 20;
  params.rq_entries = 256;
  params.rx_buf_len = 16384;
  uringx_zcrx* z = nullptr;
  uringx_reason reason = URINGX_REASON_NONE;
  int ret = uringx_zcrx_create(ring.get(), &params, &z, &reason);
  EXPECT_EQ(ret, -EOPNOTSUPP) << uringx_strerror(ret);
  EXPECT_EQ(reason, URINGX_REASON_NO_RX_PAGE_SIZE) << uringx_reason_name(reason);
  EXPECT_EQ(z, nullptr);
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

// Forwarding needs an area that is a dma-buf: a NODEV area (anonymous
// memory) cannot be bound for transmission, and says so before any syscall.
TEST(ZcrxNodev, AnAreaThatIsNoDmaBufCannotBeBoundForTransmission) {
  if (auto why = NodevMissing(); !why.empty()) GTEST_SKIP() << why;
  Ring ring(64, kZcrxRingFlags);
  uringx_rxsrc* src = MakeNodevSource(ring.get(), 1 << 20, 256);
  ASSERT_NE(src, nullptr);
  uringx_zcrx* z = uringx_rxsrc_zcrx(src);
  ASSERT_NE(z, nullptr);
  uringx_reason reason = URINGX_REASON_NONE;
  EXPECT_EQ(uringx_zcrx_bind_tx(z, "lo", 0, &reason), -EINVAL);
  EXPECT_EQ(reason, URINGX_REASON_AREA_NOT_DMABUF) << uringx_reason_str(reason);
  EXPECT_EQ(uringx_zcrx_tx_slot(z), -1);
  io_uring_sqe scratch;
  memset(&scratch, 0xa5, sizeof(scratch));
  const void* area = uringx_zcrx_area(z, nullptr);
  EXPECT_EQ(uringx_zcrx_prep_send(z, &scratch, 0, area, 1, 0), -EINVAL) << "not bound";
  EXPECT_EQ(scratch.opcode, 0xa5) << "nothing prepared";
  uringx_rxsrc_destroy(src);
}

}  // namespace

// Threads outnumber queues: a second ring receives from the same ifq
// (ZCRX_CTRL_EXPORT on the owner's ring, ZCRX_REG_IMPORT on the other).
// Both rings run a seeded stream at once through a 64-buffer area, holding
// views so that the area runs dry and both return buffers through the one
// refill ring; every byte verified on both. A view is only the decoding
// sharer's to release; the owner destroyed first leaves the importer
// working (the area goes with the last sharer).
TEST(ZcrxNodev, TwoRingsShareOneIfqThroughExportAndImport) {
  if (auto why = NodevMissing(); !why.empty()) GTEST_SKIP() << why;
  uringx_probe p;
  ASSERT_EQ(uringx_probe_kernel(&p), 0);
  ASSERT_TRUE(p.zcrx_share) << "Linux 7.3 exports and imports zcrx ifqs";

  const uint64_t total = 8u << 20;
  std::promise<uringx_zcrx_share> shared;
  std::promise<uint64_t> importer_token;  // a view the importer decoded
  std::promise<void> owner_done, owner_gone;
  testsupport::RxLoopResult owner_result, importer_result, after_result;
  int foreign_release = 0;

  std::thread owner([&] {
    Ring ring(256, kZcrxRingFlags);
    uringx_rxsrc* src = MakeNodevSource(ring.get(), 64 * 4096, 64);
    if (!src) {
      shared.set_value({-1, nullptr});
      return;
    }
    uringx_zcrx_share share{};
    uringx_reason why = URINGX_REASON_NONE;
    int ret = uringx_zcrx_export(uringx_rxsrc_zcrx(src), &share, &why);
    EXPECT_EQ(ret, 0) << uringx_strerror(ret) << ": " << uringx_reason_str(why);
    EXPECT_TRUE(uringx_zcrx_shared(uringx_rxsrc_zcrx(src)));
    shared.set_value(share);
    auto pair = testsupport::MakeTcpPair();
    testsupport::StreamSender sender(pair.client.Release(), 31, total, 30000,
                                     testsupport::SenderEnd::kClose);
    testsupport::RxLoopOptions options;
    options.hold = testsupport::HoldPolicy::kHoldWindow;
    options.window = 24;
    owner_result = testsupport::RunRxLoop(ring.get(), src, pair.server.get(), 31, options);
    // A token the other ring decoded is not this sharer's to release.
    foreign_release = uringx_rxsrc_release(src, importer_token.get_future().get());
    owner_done.set_value();
    uringx_rxsrc_destroy(src);
    owner_gone.set_value();
  });

  Ring ring(256, kZcrxRingFlags);
  uringx_zcrx_share share = shared.get_future().get();
  ASSERT_GE(share.fd, 0);
  uringx_rxsrc* src = nullptr;
  uringx_reason why = URINGX_REASON_NONE;
  int ret = uringx_rxsrc_import(ring.get(), &share, &src, &why);
  ASSERT_EQ(ret, 0) << uringx_strerror(ret) << ": " << uringx_reason_str(why);
  EXPECT_EQ(share.fd, -1) << "import consumes the share";
  EXPECT_TRUE(uringx_zcrx_shared(uringx_rxsrc_zcrx(src)));
  EXPECT_EQ(uringx_rxsrc_nr_bufs(src), 64u);
  {
    auto pair = testsupport::MakeTcpPair();
    testsupport::StreamSender sender(pair.client.Release(), 32, total, 30000,
                                     testsupport::SenderEnd::kClose);
    testsupport::RxLoopOptions options;
    options.hold = testsupport::HoldPolicy::kHoldWindow;
    options.window = 24;
    importer_result = testsupport::RunRxLoop(ring.get(), src, pair.server.get(), 32, options);
  }
  // One view held across the owner's release attempt.
  {
    auto pair = testsupport::MakeTcpPair();
    ASSERT_EQ(write(pair.client.get(), "shared", 6), 6);
    // Bounded waits: a hang here would hide which step stopped.
    auto wait_cqe = [&](io_uring_cqe** cqe) {
      __kernel_timespec ts{10, 0};
      return io_uring_wait_cqe_timeout(ring.get(), cqe, &ts);
    };
    uringx_rxsrc_prep_recv(src, io_uring_get_sqe(ring.get()), pair.server.get());
    io_uring_submit(ring.get());
    uringx_rx_view view{};
    uringx_rx_event ev{};
    do {
      io_uring_cqe* cqe = nullptr;
      ASSERT_EQ(wait_cqe(&cqe), 0) << "no completion for the 6 bytes in 10 s";
      ASSERT_EQ(uringx_rxsrc_decode(src, cqe, &view, 1, &ev), 0);
      io_uring_cqe_seen(ring.get(), cqe);
      // The owner is still streaming and may hold the shared area dry: the
      // receive then ends asking to be re-armed (nothing is lost).
      if (!ev.nr_views && ev.rearm) {
        uringx_rxsrc_prep_recv(src, io_uring_get_sqe(ring.get()), pair.server.get());
        io_uring_submit(ring.get());
      }
      ASSERT_FALSE(ev.eof || ev.error) << "the receive ended: " << uringx_strerror(ev.error);
    } while (!ev.nr_views);
    EXPECT_EQ(std::string(static_cast<const char*>(view.data), view.len), "shared");
    importer_token.set_value(view.token);
    owner_done.get_future().get();
    EXPECT_EQ(foreign_release, -EINVAL) << "the owner released the importer's view";
    EXPECT_EQ(uringx_rxsrc_release(src, view.token), 0);
    EXPECT_GE(uringx_rxsrc_flush(src), 0);
    ::shutdown(pair.server.get(), SHUT_RDWR);
    // Drain to the receive's final CQE.
    for (;;) {
      io_uring_cqe* cqe = nullptr;
      ASSERT_EQ(wait_cqe(&cqe), 0) << "no final completion in 10 s after shutdown";
      ASSERT_EQ(uringx_rxsrc_decode(src, cqe, &view, 1, &ev), 0);
      bool more = cqe->flags & IORING_CQE_F_MORE;
      io_uring_cqe_seen(ring.get(), cqe);
      if (ev.nr_views) uringx_rxsrc_release(src, view.token);
      if (!more) break;
    }
  }
  owner_gone.get_future().get();
  owner.join();
  // The owner's ring and struct are gone; the area lives with this sharer.
  {
    auto pair = testsupport::MakeTcpPair();
    testsupport::StreamSender sender(pair.client.Release(), 33, total, 30000,
                                     testsupport::SenderEnd::kClose);
    testsupport::RxLoopOptions options;
    options.hold = testsupport::HoldPolicy::kHoldUntilStarved;
    after_result = testsupport::RunRxLoop(ring.get(), src, pair.server.get(), 33, options);
  }
  for (auto* r : {&owner_result, &importer_result, &after_result}) {
    EXPECT_EQ(r->loop_error, 0) << uringx_strerror(r->loop_error);
    EXPECT_EQ(r->error, 0) << uringx_strerror(r->error);
    EXPECT_EQ(r->first_mismatch, -1);
    EXPECT_EQ(r->bytes, total);
    EXPECT_TRUE(r->eof);
    EXPECT_TRUE(r->views_in_area);
  }
  EXPECT_GT(owner_result.starved_rearms + importer_result.starved_rearms, 0u)
      << "the shared area never ran dry";
  std::printf("shared ifq: owner %llu CQEs (%llu dry), importer %llu CQEs (%llu dry), after "
              "the owner left %llu CQEs (%llu dry)\n",
              (unsigned long long)owner_result.data_cqes,
              (unsigned long long)owner_result.starved_rearms,
              (unsigned long long)importer_result.data_cqes,
              (unsigned long long)importer_result.starved_rearms,
              (unsigned long long)after_result.data_cqes,
              (unsigned long long)after_result.starved_rearms);
  uringx_rxsrc_destroy(src);
}

TEST(ZcrxShare, BadSharesAreRefused) {
  Ring ring(8, kZcrxRingFlags);
  uringx_zcrx_share none{-1, nullptr};
  uringx_zcrx* z = nullptr;
  EXPECT_EQ(uringx_zcrx_import(ring.get(), &none, &z, nullptr), -EINVAL);
  EXPECT_EQ(uringx_zcrx_export(nullptr, &none, nullptr), -EINVAL);
  uringx_zcrx_share_drop(&none);  // no-op
  uringx_zcrx_share_drop(nullptr);
}
