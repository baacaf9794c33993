// The probe answers from the running kernel; checked against what this host
// (Linux 6.18) and the project's VM kernel (Linux 7.3) are known to have.
#include <gtest/gtest.h>
#include <unistd.h>
#include <uringx/uringx.h>

#include <cerrno>

#include "support/loopback.hpp"

namespace {

bool AtLeast(int major, int minor) {
  auto [ma, mi] = testsupport::KernelVersion();
  return ma > major || (ma == major && mi >= minor);
}

TEST(Probe, ReportsTheKernelsIoUringFeatures) {
  uringx_probe p;
  ASSERT_EQ(uringx_probe_kernel(&p), 0);
  EXPECT_TRUE(p.io_uring);
  EXPECT_STRNE(p.kernel_release, "");
  if (AtLeast(6, 15)) {
    EXPECT_TRUE(p.op_recv_zc);
    EXPECT_TRUE(p.op_send_zc);
    EXPECT_TRUE(p.recv_multishot);
    EXPECT_TRUE(p.accept_multishot);
    EXPECT_TRUE(p.setup_defer_taskrun);
    EXPECT_TRUE(p.setup_cqe32);
    EXPECT_TRUE(p.recv_bundle);
    EXPECT_TRUE(p.pbuf_ring_inc);
  }
  // IORING_SETUP_CQE_MIXED came in 6.18.
  EXPECT_EQ(p.setup_cqe_mixed, AtLeast(6, 18));
}

TEST(Probe, NodevModeMatchesTheKernel) {
  uringx_probe p;
  ASSERT_EQ(uringx_probe_kernel(&p), 0);
  if (!AtLeast(7, 0)) {
    // 6.18 has RECV_ZC but no NODEV copy mode: absent, with that reason.
    EXPECT_FALSE(p.zcrx_nodev);
    EXPECT_EQ(p.zcrx_nodev_reason,
              p.op_recv_zc ? URINGX_REASON_KERNEL_NO_NODEV : URINGX_REASON_KERNEL_NO_RECV_ZC);
  } else if (AtLeast(7, 3)) {
    EXPECT_TRUE(p.zcrx_query);
    EXPECT_TRUE(p.zcrx_nodev);
    EXPECT_TRUE(p.zcrx_event);
    EXPECT_EQ(p.zcrx_nodev_reason, URINGX_REASON_NONE);
  }
}

TEST(Probe, ZcrxOnLoopbackIsRefusedWithTheDeviceReason) {
  uringx_zcrx_verdict v;
  ASSERT_EQ(uringx_probe_zcrx("lo", 0, &v), 0);
  EXPECT_FALSE(v.usable);
  EXPECT_EQ(v.ifindex, 1u);
  EXPECT_FALSE(v.has_parent_device);
  EXPECT_EQ(v.hds, URINGX_HDS_UNSUPPORTED) << "lo has no ring parameters";
  if (geteuid() != 0) {
    EXPECT_EQ(v.reason, URINGX_REASON_NOT_PERMITTED);
  } else {
    EXPECT_EQ(v.err, -EOPNOTSUPP) << uringx_strerror(v.err);
    EXPECT_EQ(v.reason, URINGX_REASON_VIRTUAL_DEVICE) << uringx_reason_str(v.reason);
  }
}

TEST(Probe, ZcrxNamesMissingDevicesAndQueues) {
  uringx_zcrx_verdict v;
  ASSERT_EQ(uringx_probe_zcrx("zcnet-nosuch0", 0, &v), 0);
  EXPECT_FALSE(v.usable);
  EXPECT_EQ(v.reason, URINGX_REASON_NO_SUCH_DEVICE);
  ASSERT_EQ(uringx_probe_zcrx("lo", 7, &v), 0);
  EXPECT_FALSE(v.usable);
  if (geteuid() == 0) {
    EXPECT_EQ(v.reason, URINGX_REASON_NO_SUCH_QUEUE);
  }
  EXPECT_EQ(uringx_probe_zcrx(nullptr, 0, &v), -EINVAL);
  EXPECT_EQ(uringx_probe_zcrx("", 0, &v), -EINVAL);
}

TEST(Probe, EveryReasonHasTextAndAName) {
  for (int r = 0; r < URINGX_REASON__COUNT; r++) {
    EXPECT_STRNE(uringx_reason_str(static_cast<uringx_reason>(r)), "unknown reason");
    EXPECT_STRNE(uringx_reason_name(static_cast<uringx_reason>(r)), "unknown");
  }
  EXPECT_STREQ(uringx_reason_name(static_cast<uringx_reason>(999)), "unknown");
  EXPECT_STREQ(uringx_strerror(-ENOBUFS), uringx_strerror(ENOBUFS));
}

}  // namespace
