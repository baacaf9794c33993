// NIC-registered TX pools: argument checks and the probe's verdict. The data
// path needs a device with netmem TX (netdevsim with kernel/patches) and runs
// in the VM suite (vm-netdevsim-nictx).
#include <gtest/gtest.h>
#include <uringx/uringx.h>

#include <cerrno>

#include "support/loopback.hpp"

namespace {

using testsupport::Ring;

TEST(Nictx, BadArgumentsAreRefusedBeforeTheKernelIsAsked) {
  Ring ring;
  uringx_nictx pool;
  EXPECT_EQ(uringx_nictx_create(&pool, ring.get(), "lo", 1 << 20, 1000, 0), -EINVAL)
      << "chunk size not a multiple of the page size";
  EXPECT_EQ(uringx_nictx_create(&pool, ring.get(), "lo", (1 << 20) + 4096, 1 << 16, 0),
            -EINVAL)
      << "size not a multiple of the chunk size";
  EXPECT_EQ(uringx_nictx_create(&pool, ring.get(), nullptr, 1 << 20, 1 << 16, 0), -EINVAL);
  EXPECT_EQ(uringx_nictx_create(&pool, ring.get(), "zcnet-no-such-if", 1 << 20, 1 << 16, 0),
            -ENODEV);
  EXPECT_EQ(pool.reason, URINGX_REASON_NO_SUCH_DEVICE);
}

TEST(Nictx, ProbeSaysWhyAndCreateAgrees) {
  uringx_nictx_verdict v;
  ASSERT_EQ(uringx_probe_nictx("lo", &v), 0);
  EXPECT_FALSE(v.usable) << "lo never transmits from device memory";
  EXPECT_NE(v.reason, URINGX_REASON_NONE);
  if (!v.kernel) {
    EXPECT_EQ(v.reason, URINGX_REASON_KERNEL_NO_NET_TX_BUF) << uringx_reason_str(v.reason);
    EXPECT_EQ(v.err, -EINVAL);
  } else {
    EXPECT_EQ(v.reason, URINGX_REASON_NO_NETMEM_TX) << uringx_reason_str(v.reason);
    EXPECT_EQ(v.err, -EOPNOTSUPP);
  }

  Ring ring;
  ASSERT_EQ(io_uring_register_buffers_sparse(ring.get(), 1), 0);
  uringx_nictx pool;
  int ret = uringx_nictx_create(&pool, ring.get(), "lo", 1 << 16, 1 << 16, 0);
  EXPECT_LT(ret, 0);
  // Without /dev/udmabuf creation stops there; otherwise the kernel answers
  // as the probe said.
  if (pool.reason != URINGX_REASON_NO_UDMABUF) {
    EXPECT_EQ(pool.reason, v.reason) << uringx_reason_str(pool.reason);
  }
  EXPECT_STRNE(uringx_reason_str(pool.reason), "unknown reason");
}

}  // namespace
