// rxsrc: the best receive mechanism, with the reason for the ones not taken.
#include <gtest/gtest.h>
#include <unistd.h>
#include <uringx/uringx.h>

#include <cerrno>

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
