// Bad input to the C++ layer: each explicit check of docs/errors.md's C++
// table that no behaviour test covers, with the status code and the words
// the message must contain (the parameter and what it accepts).
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zcnet/net/address.hpp>
#include <zcnet/net/socket.hpp>
#include <zcnet/ring.hpp>
#include <zcnet/runtime.hpp>
#include <zcnet/rx_buffer.hpp>
#include <zcnet/tx_buffer.hpp>

#include <string>
#include <thread>

#include "support/loopback.hpp"

namespace {

using zcnet::Ring;
using zcnet::RxPool;
using zcnet::Task;
using zcnet::TxPool;

void ExpectRefused(const absl::Status& st, absl::StatusCode code, const std::string& words) {
  EXPECT_EQ(st.code(), code) << st;
  EXPECT_NE(st.message().find(words), absl::string_view::npos)
      << "the message does not say '" << words << "': " << st;
}

std::unique_ptr<Ring> MakeRing() {
  auto ring = Ring::Create();
  EXPECT_TRUE(ring.ok()) << ring.status();
  return ring.ok() ? std::move(*ring) : nullptr;
}

TEST(CppBadInput, RxPoolSizesPastTheBufferRingsLimits) {
  auto ring = MakeRing();
  ASSERT_TRUE(ring);
  RxPool::Options o;
  o.mode = URINGX_RXSRC_PBUF;
  o.buffers = 65536;
  ExpectRefused(RxPool::Create(*ring, o).status(), absl::StatusCode::kInvalidArgument,
                "Options::buffers = 65536: wants a power of two, 1..32768");
  o.buffers = 64;
  o.buffer_size = (16u << 20) + 1;
  ExpectRefused(RxPool::Create(*ring, o).status(), absl::StatusCode::kInvalidArgument,
                "Options::buffer_size = 16777217");
}

TEST(CppBadInput, TxPoolSlotsOutOfRangeOrNoneFree) {
  auto ring = MakeRing();
  ASSERT_TRUE(ring);
  TxPool::Options o;
  o.buf_index = 0x10001;
  ExpectRefused(TxPool::Create(*ring, o).status(), absl::StatusCode::kFailedPrecondition,
                "fixed-buffer slot 65537 is out of range");

  // A ring whose application registered its own buffer table: zcnet cannot
  // pick a slot there, and says to name one.
  io_uring app;
  ASSERT_EQ(io_uring_queue_init(8, &app, 0), 0);
  ASSERT_EQ(io_uring_register_buffers_sparse(&app, 4), 0);
  {
    auto borrowed = Ring::Borrow(&app);
    ExpectRefused(TxPool::Create(*borrowed, TxPool::Options{}).status(),
                  absl::StatusCode::kFailedPrecondition, "set Options::buf_index");
    // Naming a slot of that table works.
    TxPool::Options named;
    named.buf_index = 2;
    named.chunks = 2;
    auto pool = TxPool::Create(*borrowed, named);
    EXPECT_TRUE(pool.ok()) << pool.status();
  }
  io_uring_queue_exit(&app);
}

TEST(CppBadInput, SendZcOfAnEmptyTxBuffer) {
  auto ring = MakeRing();
  ASSERT_TRUE(ring);
  auto pair = testsupport::MakeTcpPair();
  absl::Status st = ring->Run([](int fd) -> Task<absl::Status> {
    co_return (co_await zcnet::SendZc(fd, zcnet::TxBuffer{})).status();
  }(pair.client.get()));
  ExpectRefused(st, absl::StatusCode::kInvalidArgument, "send_zc: empty TxBuffer");
}

TEST(CppBadInput, AddressesFromBadSockaddrsAndEmptyAddresses) {
  sockaddr_storage ss{};
  ExpectRefused(zcnet::Address::FromSockaddr(nullptr, sizeof(sockaddr_in)).status(),
                absl::StatusCode::kInvalidArgument, "bad sockaddr length");
  ExpectRefused(zcnet::Address::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), 1).status(),
                absl::StatusCode::kInvalidArgument, "bad sockaddr length");
  ExpectRefused(
      zcnet::Address::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), sizeof(ss) + 1).status(),
      absl::StatusCode::kInvalidArgument, "bad sockaddr length");
  ss.ss_family = AF_PACKET;
  ExpectRefused(
      zcnet::Address::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), sizeof(sockaddr_in)).status(),
      absl::StatusCode::kInvalidArgument, "is not AF_INET, AF_INET6 or AF_UNIX");

  auto ring = MakeRing();
  ASSERT_TRUE(ring);
  zcnet::Address empty;
  ExpectRefused(zcnet::Socket::OpenFor(*ring, empty).status(), absl::StatusCode::kInvalidArgument,
                "Socket::OpenFor: the address has no family");
  ExpectRefused(zcnet::Listener::Bind(*ring, empty).status(), absl::StatusCode::kInvalidArgument,
                "Listener::Bind: empty address");
}

TEST(CppBadInput, RuntimeMorePinnedRingsThanCpusAndSpawnPastTheRings) {
  unsigned cpus = std::thread::hardware_concurrency();
  zcnet::Runtime::Options o;
  o.threads = cpus + 64;
  o.pin = true;
  ExpectRefused(zcnet::Runtime::Create(o).status(), absl::StatusCode::kInvalidArgument,
                "Runtime: pin asks for " + std::to_string(cpus + 64) + " rings on");

  zcnet::Runtime::Options one;
  one.threads = 1;
  auto rt = zcnet::Runtime::Create(one);
  ASSERT_TRUE(rt.ok()) << rt.status();
  absl::Status st = (*rt)->Spawn(3, [](Ring&) -> Task<void> { co_return; });
  ExpectRefused(st, absl::StatusCode::kInvalidArgument, "Runtime::Spawn: ring 3 of 1");
  (*rt)->RequestStop();
  (*rt)->Join();
}

}  // namespace
