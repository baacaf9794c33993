// SendZc(fd, RxBuffer): received bytes forwarded on. On a host without zcrx
// the pool cannot be bound for transmission: it says why, and forwards by
// plain sends, verified byte for byte. (Zero-copy forwarding from a zcrx
// area the NIC maps both ways runs in the VM: vm-netdevsim-forward.)
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zcnet/ring.hpp>
#include <zcnet/rx_buffer.hpp>
#include <zcnet/scope.hpp>

#include <string>

#include "support/loopback.hpp"

namespace {

using testsupport::SenderEnd;
using testsupport::StreamSender;
using zcnet::Ring;
using zcnet::RxBuffer;
using zcnet::RxPool;
using zcnet::Task;

std::unique_ptr<Ring> MakeRing() {
  auto ring = Ring::Create();
  EXPECT_TRUE(ring.ok()) << ring.status();
  return std::move(*ring);
}

RxPool::Options ForwardingPool(const char* ifname) {
  RxPool::Options o;
  o.forward_ifname = ifname;
  o.buffers = 64;
  o.buffer_size = 16384;
  return o;
}

struct Forwarded {
  uint64_t bytes = 0;
  absl::Status error;
};

// Receives @from until EOF and forwards each buffer to @to, then shuts @to.
Task<Forwarded> Forward(RxPool& pool, int from, int to) {
  Forwarded f;
  auto stream = pool.Stream(from);
  if (!stream.ok()) {
    f.error = stream.status();
    co_return f;
  }
  for (;;) {
    auto b = co_await stream->Next();
    if (!b.ok()) {
      f.error = b.status();
      break;
    }
    if (b->empty()) break;
    auto sent = co_await zcnet::SendZc(to, std::move(*b));
    if (!sent.ok()) {
      f.error = sent.status();
      break;
    }
    f.bytes += *sent;
  }
  shutdown(to, SHUT_WR);
  co_return f;
}

TEST(Forward, APoolThatCannotForwardZeroCopySaysWhyAndForwardsEveryByte) {
  auto ring = MakeRing();
  auto pool = RxPool::Create(*ring, ForwardingPool("lo"));
  ASSERT_TRUE(pool.ok()) << pool.status();
  EXPECT_FALSE((*pool)->forwards_zero_copy());
  std::string described = (*pool)->Describe();
  std::printf("pool: %s\n", described.c_str());
  EXPECT_NE(described.find("forwarding to lo copies: the pool is not zcrx"), std::string::npos)
      << described;

  auto in = testsupport::MakeTcpPair();
  auto out = testsupport::MakeTcpPair();
  const uint64_t total = 16ull << 20;
  StreamSender sender(in.client.Release(), 4242, total, 100000, SenderEnd::kClose);
  // The far end reads and verifies on a thread of its own.
  uint64_t got = 0;
  long first_bad = -1;
  std::thread reader([&, fd = out.server.get()] {
    testsupport::SeededStream expect(4242);
    std::vector<uint8_t> buf(1 << 16);
    for (;;) {
      ssize_t n = read(fd, buf.data(), buf.size());
      if (n <= 0) break;
      long bad = expect.Verify(buf.data(), static_cast<size_t>(n));
      if (bad >= 0 && first_bad < 0) first_bad = static_cast<long>(got) + bad;
      got += static_cast<uint64_t>(n);
    }
  });
  Forwarded f = ring->Run(Forward(**pool, in.server.get(), out.client.get()));
  reader.join();
  EXPECT_TRUE(f.error.ok()) << f.error;
  EXPECT_EQ(f.bytes, total);
  EXPECT_EQ(got, total);
  EXPECT_EQ(first_bad, -1);
  const auto& st = (*pool)->forward_stats();
  EXPECT_GT(st.plain_sends, 0u);
  EXPECT_EQ(st.zc_sends, 0u);
  EXPECT_EQ((*pool)->outstanding(), 0u) << "a forwarded buffer was not given back";
}

TEST(Forward, AFailedForwardNamesTheErrorAndGivesTheBufferBack) {
  auto ring = MakeRing();
  auto pool = RxPool::Create(*ring, ForwardingPool("lo"));
  ASSERT_TRUE(pool.ok()) << pool.status();
  auto in = testsupport::MakeTcpPair();
  ASSERT_EQ(write(in.client.get(), "hello", 5), 5);
  const int closed = 999999;  // a descriptor number that is not open
  ASSERT_EQ(fcntl(closed, F_GETFD), -1);
  absl::Status status = ring->Run([](RxPool& p, int from, int to) -> Task<absl::Status> {
    auto stream = p.Stream(from);
    if (!stream.ok()) co_return stream.status();
    auto b = co_await stream->Next();
    if (!b.ok()) co_return b.status();
    auto sent = co_await zcnet::SendZc(to, std::move(*b));
    co_return sent.status();
  }(**pool, in.server.get(), closed));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_NE(status.ToString().find("Bad file descriptor"), std::string::npos) << status;
  EXPECT_EQ((*pool)->outstanding(), 0u);
}

TEST(Forward, AnEmptyBufferIsRefused) {
  auto ring = MakeRing();
  absl::Status status = ring->Run([](int fd) -> Task<absl::Status> {
    auto sent = co_await zcnet::SendZc(fd, RxBuffer());
    co_return sent.status();
  }(1));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_NE(status.ToString().find("empty RxBuffer"), std::string::npos) << status;
}

}  // namespace
