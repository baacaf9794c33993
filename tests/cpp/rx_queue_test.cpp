// Placement by receive queue and zcrx sharing, what the host can check:
// RxQueueMap over netdev netlink, its errors, and ShareZcrx/Import refusals.
// The real thing (4 zcrx queues, 6 rings) runs in the VM:
// tests/vm/nsim_rings_test.cpp.
#include <gtest/gtest.h>
#include <zcnet/net/rx_queue.hpp>
#include <zcnet/ring.hpp>
#include <zcnet/rx_buffer.hpp>

#include <string>

#include "support/loopback.hpp"

namespace {

TEST(RxQueueMap, LoopbackHasOneQueueWithoutNapi) {
  auto map = zcnet::RxQueueMap::Read("lo");
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_EQ(map->ifname(), "lo");
  EXPECT_EQ(map->queues(), 1u);
  EXPECT_EQ(map->napi_id(0), 0u);
  EXPECT_EQ(map->napi_id(7), 0u) << "out of range: no NAPI";
}

TEST(RxQueueMap, UnknownInterfaceIsNamed) {
  auto map = zcnet::RxQueueMap::Read("zcnet-nosuch0");
  ASSERT_FALSE(map.ok());
  EXPECT_NE(map.status().message().find("zcnet-nosuch0"), std::string::npos) << map.status();
  EXPECT_NE(map.status().message().find("no network interface of that name"), std::string::npos) << map.status();
}

TEST(RxQueueMap, LoopbackConnectionIsNotFoundWithTheReason) {
  auto map = zcnet::RxQueueMap::Read("lo");
  ASSERT_TRUE(map.ok());
  auto pair = testsupport::MakeTcpPair();
  auto q = map->QueueOf(pair.server.get());
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().code(), absl::StatusCode::kNotFound) << q.status();
  EXPECT_NE(q.status().message().find("no NAPI of lo"), std::string::npos) << q.status();
  auto bad = map->QueueOf(-1);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << bad.status();
}

TEST(ZcrxShare, ABufferRingPoolHasNoIfqToShare) {
  auto ring = zcnet::Ring::Create();
  ASSERT_TRUE(ring.ok()) << ring.status();
  zcnet::RxPool::Options o;
  o.mode = URINGX_RXSRC_PBUF;
  o.buffers = 8;
  o.buffer_size = 4096;
  auto pool = zcnet::RxPool::Create(**ring, o);
  ASSERT_TRUE(pool.ok()) << pool.status();
  auto share = (*pool)->ShareZcrx();
  ASSERT_FALSE(share.ok());
  EXPECT_EQ(share.status().code(), absl::StatusCode::kFailedPrecondition) << share.status();
  EXPECT_NE(share.status().message().find("pbuf-ring, not zcrx"), std::string::npos)
      << share.status();
  EXPECT_FALSE((*pool)->shared());
  auto imported = zcnet::RxPool::Import(**ring, zcnet::ZcrxShare{});
  ASSERT_FALSE(imported.ok());
  EXPECT_EQ(imported.status().code(), absl::StatusCode::kInvalidArgument) << imported.status();
}

}  // namespace
