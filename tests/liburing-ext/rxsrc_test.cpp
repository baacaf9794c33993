// rxsrc: the best receive mechanism, with the reason for the ones not taken.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uringx/uringx.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "support/loopback.hpp"
#include "support/rx_loop.hpp"

namespace {

using testsupport::Ring;

TEST(Rxsrc, AutoOnLoopbackFallsBackToBufferRingWithTheReason) {
  Ring ring(64, IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQE32);
  uringx_rxsrc_params params{};
  params.mode = URINGX_RXSRC_AUTO;
  params.zcrx.ifname = "lo";
  params.zcrx.area_size = 1 << 20;
  params.pbuf = {64, 4096, 1, URINGX_PBUF_INC | URINGX_PBUF_BUNDLE};
  uringx_rxsrc* src = nullptr;
  ASSERT_EQ(uringx_rxsrc_create(ring.get(), &params, &src, nullptr), 0);
  EXPECT_EQ(uringx_rxsrc_kind(src), URINGX_RX_PBUF);
  EXPECT_STREQ(uringx_rxsrc_kind_name(src), "pbuf-ring");
  if (geteuid() == 0) {
    EXPECT_EQ(uringx_rxsrc_reason(src), URINGX_REASON_VIRTUAL_DEVICE);
    EXPECT_EQ(uringx_rxsrc_zcrx_err(src), -EOPNOTSUPP);
  }

  // Same consumer calls, real data: the fallback is a working source.
  auto pair = testsupport::MakeTcpPair();
  testsupport::StreamSender sender(pair.client.Release(), 99, 4u << 20, 32768,
                                   testsupport::SenderEnd::kClose);
  auto r = testsupport::RunRxLoop(ring.get(), src, pair.server.get(), 99, {});
  EXPECT_EQ(r.first_mismatch, -1);
  EXPECT_EQ(r.bytes, 4u << 20);
  EXPECT_TRUE(r.eof);
  uringx_rxsrc_destroy(src);
}

TEST(Rxsrc, AutoWithoutInterfaceSaysSo) {
  Ring ring;
  uringx_rxsrc_params params{};
  params.pbuf = {8, 4096, 1, 0};
  uringx_rxsrc* src = nullptr;
  ASSERT_EQ(uringx_rxsrc_create(ring.get(), &params, &src, nullptr), 0);
  EXPECT_EQ(uringx_rxsrc_kind(src), URINGX_RX_PBUF);
  EXPECT_EQ(uringx_rxsrc_reason(src), URINGX_REASON_NO_IFNAME);
  uringx_rxsrc_destroy(src);
}

TEST(Rxsrc, ForcedZcrxFailsWithTheReasonInsteadOfFallingBack) {
  Ring ring(64, IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQE32);
  uringx_rxsrc_params params{};
  params.mode = URINGX_RXSRC_ZCRX;
  params.zcrx.ifname = "lo";
  params.zcrx.area_size = 1 << 20;
  uringx_rxsrc* src = nullptr;
  uringx_reason reason = URINGX_REASON_NONE;
  int ret = uringx_rxsrc_create(ring.get(), &params, &src, &reason);
  EXPECT_NE(ret, 0);
  EXPECT_EQ(src, nullptr);
  if (geteuid() == 0) {
    EXPECT_EQ(ret, -EOPNOTSUPP);
    EXPECT_EQ(reason, URINGX_REASON_VIRTUAL_DEVICE);
  }
}

// Receives @fd's data (the peer wrote and shut down) on class @cls until
// the EOF CQE; the views' tokens, and the bytes.
std::vector<uringx_rx_view> ReceiveToEof(io_uring* ring, uringx_rxsrc* src, int fd,
                                         uringx_rx_class cls, size_t* bytes) {
  std::vector<uringx_rx_view> got;
  io_uring_sqe* sqe = io_uring_get_sqe(ring);
  uringx_rxsrc_prep_recv_class(src, sqe, fd, cls);
  io_uring_submit(ring);
  std::vector<uringx_rx_view> views(uringx_rxsrc_max_views(src));
  for (;;) {
    io_uring_cqe* cqe = nullptr;
    if (io_uring_wait_cqe(ring, &cqe) < 0) break;
    uringx_rx_event ev{};
    int ret = uringx_rxsrc_decode_class(src, cls, cqe, views.data(),
                                        static_cast<uint32_t>(views.size()), &ev);
    bool more = cqe->flags & IORING_CQE_F_MORE;
    io_uring_cqe_seen(ring, cqe);
    EXPECT_EQ(ret, 0);
    for (uint32_t i = 0; i < ev.nr_views; i++) {
      *bytes += views[i].len;
      got.push_back(views[i]);
    }
    if (!more) break;
  }
  return got;
}

// Two buffer rings behind one source: each receive draws from the class it
// was armed on, and views of both go back through the one release call.
TEST(Rxsrc, SizeClassesReceiveIntoTheRingTheReceiveWasArmedOn) {
  Ring ring;
  uringx_rxsrc_params params{};
  params.mode = URINGX_RXSRC_PBUF;
  params.pbuf = {8, 8192, 1, URINGX_PBUF_BUNDLE};
  params.pbuf_small = {16, 512, 2, URINGX_PBUF_BUNDLE};
  uringx_rxsrc* src = nullptr;
  ASSERT_EQ(uringx_rxsrc_create(ring.get(), &params, &src, nullptr), 0);
  EXPECT_EQ(uringx_rxsrc_nr_classes(src), 2u);
  EXPECT_EQ(uringx_rxsrc_class_buf_size(src, URINGX_RX_CLASS_LARGE), 8192u);
  EXPECT_EQ(uringx_rxsrc_class_buf_size(src, URINGX_RX_CLASS_SMALL), 512u);
  EXPECT_EQ(uringx_rxsrc_class_nr_bufs(src, URINGX_RX_CLASS_SMALL), 16u);
  EXPECT_EQ(uringx_rxsrc_nr_bufs(src), 24u);
  EXPECT_EQ(uringx_rxsrc_available(src), 24u);
  uringx_pbufring* large = uringx_rxsrc_pbufring(src);
  uringx_pbufring* small = uringx_rxsrc_small_pbufring(src);
  ASSERT_NE(small, nullptr);
  EXPECT_EQ(uringx_pbufring_bgid(small), 2);

  // 100 bytes on the small class: one small buffer.
  auto a = testsupport::MakeTcpPair();
  char msg[3000];
  memset(msg, 'a', sizeof(msg));
  ASSERT_EQ(write(a.client.get(), msg, 100), 100);
  shutdown(a.client.get(), SHUT_WR);
  size_t bytes = 0;
  auto small_views = ReceiveToEof(ring.get(), src, a.server.get(), URINGX_RX_CLASS_SMALL, &bytes);
  EXPECT_EQ(bytes, 100u);
  ASSERT_EQ(small_views.size(), 1u);
  EXPECT_TRUE(uringx_pbufring_owns(small, small_views[0].token));
  EXPECT_FALSE(uringx_pbufring_owns(large, small_views[0].token));
  EXPECT_EQ(uringx_rxsrc_class_available(src, URINGX_RX_CLASS_SMALL), 15u);
  EXPECT_EQ(uringx_rxsrc_class_available(src, URINGX_RX_CLASS_LARGE), 8u);

  // 3000 bytes on the large class: one large buffer, where the small class
  // would have taken six.
  auto b = testsupport::MakeTcpPair();
  ASSERT_EQ(write(b.client.get(), msg, sizeof(msg)), static_cast<ssize_t>(sizeof(msg)));
  shutdown(b.client.get(), SHUT_WR);
  bytes = 0;
  auto large_views = ReceiveToEof(ring.get(), src, b.server.get(), URINGX_RX_CLASS_LARGE, &bytes);
  EXPECT_EQ(bytes, sizeof(msg));
  ASSERT_EQ(large_views.size(), 1u);
  EXPECT_TRUE(uringx_pbufring_owns(large, large_views[0].token));
  EXPECT_EQ(uringx_rxsrc_class_available(src, URINGX_RX_CLASS_LARGE), 7u);
  EXPECT_EQ(uringx_rxsrc_outstanding(src), 2u);

  EXPECT_EQ(uringx_rxsrc_release(src, small_views[0].token), 0);
  EXPECT_EQ(uringx_rxsrc_release(src, large_views[0].token), 0);
  EXPECT_EQ(uringx_rxsrc_release(src, small_views[0].token), -EALREADY);
  EXPECT_EQ(uringx_rxsrc_outstanding(src), 0u);
  EXPECT_EQ(uringx_rxsrc_available(src), 24u);
  uringx_rxsrc_destroy(src);
}

TEST(Rxsrc, SizeClassParametersAreChecked) {
  Ring ring;
  uringx_rxsrc_params params{};
  params.mode = URINGX_RXSRC_PBUF;
  params.pbuf = {8, 4096, 1, 0};
  uringx_rxsrc* src = nullptr;
  params.pbuf_small = {8, 4096, 2, 0};  // not smaller
  EXPECT_EQ(uringx_rxsrc_create(ring.get(), &params, &src, nullptr), -EINVAL);
  params.pbuf_small = {8, 512, 1, 0};  // the same group
  EXPECT_EQ(uringx_rxsrc_create(ring.get(), &params, &src, nullptr), -EINVAL);
  params.pbuf_small = {8, 512, 2, URINGX_PBUF_BUNDLE};  // other modes
  EXPECT_EQ(uringx_rxsrc_create(ring.get(), &params, &src, nullptr), -EINVAL);
  EXPECT_EQ(src, nullptr);
  // The large ring was unregistered on the failures: its group is free.
  params.pbuf_small = {8, 512, 2, 0};
  ASSERT_EQ(uringx_rxsrc_create(ring.get(), &params, &src, nullptr), 0);
  EXPECT_EQ(uringx_rxsrc_nr_classes(src), 2u);
  uringx_rxsrc_destroy(src);
  // Beside an incremental ring no small class is made: it packs already.
  params.pbuf.flags = params.pbuf_small.flags = URINGX_PBUF_INC;
  ASSERT_EQ(uringx_rxsrc_create(ring.get(), &params, &src, nullptr), 0);
  if (uringx_pbufring_incremental(uringx_rxsrc_pbufring(src))) {
    EXPECT_EQ(uringx_rxsrc_nr_classes(src), 1u);
    EXPECT_EQ(uringx_rxsrc_small_pbufring(src), nullptr);
    EXPECT_EQ(uringx_rxsrc_class_buf_size(src, URINGX_RX_CLASS_SMALL), 0u);
  }
  uringx_rxsrc_destroy(src);
}

TEST(Rxsrc, ZcrxNeedsTheRightRingFlags) {
  Ring ring;  // no DEFER_TASKRUN, no CQE32
  uringx_zcrx_params params{};
  params.area_size = 1 << 20;
  uringx_zcrx* z = nullptr;
  uringx_reason reason;
  EXPECT_EQ(uringx_zcrx_create(ring.get(), &params, &z, &reason), -EINVAL);
  EXPECT_EQ(reason, URINGX_REASON_KERNEL_RING_FLAGS);
}

}  // namespace
