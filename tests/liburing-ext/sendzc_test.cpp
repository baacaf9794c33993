// Zero-copy send: chunks stay lent until the kernel's notification.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uringx/uringx.h>

#include <cerrno>
#include <thread>
#include <vector>

#include "support/loopback.hpp"

namespace {

using testsupport::Ring;

struct PoolAndTracker {
  uringx_bufpool* pool = nullptr;
  uringx_sendzc sz{};
  PoolAndTracker(io_uring* ring, uint32_t chunk, uint32_t n, bool usage) {
    uringx_bufpool_params params{chunk, n, 0, 0};
    EXPECT_EQ(uringx_bufpool_create(ring, &params, &pool, nullptr), 0);
    EXPECT_EQ(uringx_sendzc_init(&sz, pool, usage), 0);
  }
  ~PoolAndTracker() {
    uringx_sendzc_fini(&sz);
    uringx_bufpool_destroy(pool);
  }
};

io_uring_cqe* WaitCqe(io_uring* ring) {
  io_uring_cqe* cqe = nullptr;
  __kernel_timespec ts{10, 0};
  int ret = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
  EXPECT_EQ(ret, 0) << uringx_strerror(ret);
  return ret ? nullptr : cqe;
}

TEST(Sendzc, ChunkIsNotReusedBeforeItsNotification) {
  Ring ring;
  PoolAndTracker pt(ring.get(), 4096, 2, true);
  ASSERT_NE(pt.pool, nullptr);
  auto pair = testsupport::MakeTcpPair();
  uringx_chunk a, b, again;
  ASSERT_EQ(uringx_bufpool_alloc(pt.pool, &a), 0);
  ASSERT_EQ(uringx_bufpool_alloc(pt.pool, &b), 0);
  memset(a.addr, 'z', 4096);
  ASSERT_EQ(uringx_sendzc_prep(&pt.sz, io_uring_get_sqe(ring.get()), pair.client.get(), a.token,
                               0, 4096, 77, 0),
            0);
  // The application is done with the chunk at once; the kernel is not.
  ASSERT_EQ(uringx_bufpool_free(pt.pool, a.token), 0);
  EXPECT_EQ(uringx_bufpool_alloc(pt.pool, &again), -ENOBUFS) << "lent chunk handed out";
  io_uring_submit(ring.get());

  bool released = false;
  while (!released) {
    io_uring_cqe* cqe = WaitCqe(ring.get());
    ASSERT_NE(cqe, nullptr);
    ASSERT_TRUE(uringx_sendzc_owns(cqe));
    uringx_sendzc_event ev;
    ASSERT_EQ(uringx_sendzc_complete(&pt.sz, cqe, &ev), 0);
    io_uring_cqe_seen(ring.get(), cqe);
    EXPECT_EQ(ev.cookie, 77u);
    EXPECT_EQ(ev.token, a.token);
    if (ev.kind == URINGX_SENDZC_SENT) {
      EXPECT_EQ(ev.res, 4096);
      EXPECT_FALSE(ev.last) << "a notification must follow";
      EXPECT_EQ(uringx_bufpool_alloc(pt.pool, &again), -ENOBUFS)
          << "chunk reused between the send CQE and its notification";
    } else {
      released = true;
    }
  }
  ASSERT_EQ(uringx_bufpool_alloc(pt.pool, &again), 0) << "chunk back after the notification";
  EXPECT_EQ(again.addr, a.addr);
  char buf[4096];
  size_t got = 0;
  while (got < sizeof(buf)) {
    ssize_t n = read(pair.server.get(), buf + got, sizeof(buf) - got);
    ASSERT_GT(n, 0);
    got += static_cast<size_t>(n);
  }
  EXPECT_EQ(std::string(buf, 4096), std::string(4096, 'z'));
}

TEST(Sendzc, UsageCountersAddUpToBytesSent) {
  Ring ring(512);
  PoolAndTracker pt(ring.get(), 16384, 64, true);
  ASSERT_NE(pt.pool, nullptr);
  auto pair = testsupport::MakeTcpPair();
  const uint64_t total = 8u << 20;
  testsupport::SeededStream gen(1234);

  std::thread reader([fd = pair.server.get(), total] {
    testsupport::SeededStream expect(1234);
    std::vector<uint8_t> buf(65536);
    uint64_t got = 0;
    while (got < total) {
      ssize_t n = read(fd, buf.data(), buf.size());
      if (n <= 0) break;
      if (expect.Verify(buf.data(), static_cast<size_t>(n)) >= 0) ADD_FAILURE() << "corrupt";
      got += static_cast<uint64_t>(n);
    }
    EXPECT_EQ(got, total);
  });

  uint64_t queued = 0, sent = 0;
  int inflight_sends = 0;
  while (sent < total || pt.sz.in_flight) {
    // Keep at most one send per socket in flight: a short send is resent in order.
    if (queued < total && inflight_sends == 0) {
      uringx_chunk c;
      if (uringx_bufpool_alloc(pt.pool, &c) == 0) {
        uint32_t len = static_cast<uint32_t>(std::min<uint64_t>(c.len, total - queued));
        gen.Fill(static_cast<uint8_t*>(c.addr), len);
        ASSERT_EQ(uringx_sendzc_prep(&pt.sz, io_uring_get_sqe(ring.get()), pair.client.get(),
                                     c.token, 0, len, len, MSG_WAITALL),
                  0);
        ASSERT_EQ(uringx_bufpool_free(pt.pool, c.token), 0);  // freed when notified
        queued += len;
        inflight_sends++;
      }
    }
    io_uring_submit(ring.get());
    io_uring_cqe* cqe = WaitCqe(ring.get());
    ASSERT_NE(cqe, nullptr);
    uringx_sendzc_event ev;
    ASSERT_EQ(uringx_sendzc_complete(&pt.sz, cqe, &ev), 0);
    io_uring_cqe_seen(ring.get(), cqe);
    if (ev.kind == URINGX_SENDZC_SENT) {
      ASSERT_EQ(ev.res, static_cast<int>(ev.cookie)) << "short zero-copy send: "
                                                     << uringx_strerror(ev.res);
      sent += static_cast<uint64_t>(ev.res);
      inflight_sends--;
    }
  }
  reader.join();
  EXPECT_EQ(pt.sz.bytes_sent, total);
  EXPECT_EQ(pt.sz.bytes_zerocopy + pt.sz.bytes_copied, total);
  EXPECT_EQ(pt.sz.notifications, pt.sz.sends);
  EXPECT_EQ(uringx_bufpool_nr_free(pt.pool), 64u) << "every chunk back after its notification";
  // Loopback cannot hand pages to a NIC: the kernel reports the copies.
  EXPECT_EQ(pt.sz.bytes_copied, total);
}

TEST(Sendzc, BadRequestsAreRefusedBeforeReachingTheKernel) {
  Ring ring;
  PoolAndTracker pt(ring.get(), 4096, 2, false);
  ASSERT_NE(pt.pool, nullptr);
  uringx_chunk c;
  ASSERT_EQ(uringx_bufpool_alloc(pt.pool, &c), 0);
  io_uring_sqe sqe{};
  EXPECT_EQ(uringx_sendzc_prep(&pt.sz, &sqe, 0, c.token, 0, 0, 0, 0), -EINVAL) << "zero length";
  EXPECT_EQ(uringx_sendzc_prep(&pt.sz, &sqe, 0, c.token, 0, 4097, 0, 0), -EINVAL) << "oversized";
  EXPECT_EQ(uringx_sendzc_prep(&pt.sz, &sqe, 0, c.token, 4000, 100, 0, 0), -EINVAL)
      << "range past the chunk";
  EXPECT_EQ(uringx_sendzc_prep(&pt.sz, &sqe, 0, 12345, 0, 10, 0, 0), -EINVAL) << "bad token";
  ASSERT_EQ(uringx_bufpool_free(pt.pool, c.token), 0);
  EXPECT_EQ(uringx_sendzc_prep(&pt.sz, &sqe, 0, c.token, 0, 10, 0, 0), -EALREADY)
      << "freed chunk";
  EXPECT_EQ(pt.sz.in_flight, 0u);
}

TEST(Sendzc, SendOnClosedSocketFailsAndReturnsTheChunk) {
  Ring ring;
  PoolAndTracker pt(ring.get(), 4096, 1, false);
  ASSERT_NE(pt.pool, nullptr);
  auto pair = testsupport::MakeTcpPair();
  pair.server.Reset();
  testsupport::ArmReset(pair.client.get());
  uringx_chunk c;
  ASSERT_EQ(uringx_bufpool_alloc(pt.pool, &c), 0);
  int fd = pair.client.Release();
  close(fd);  // now an invalid descriptor
  ASSERT_EQ(uringx_sendzc_prep(&pt.sz, io_uring_get_sqe(ring.get()), fd, c.token, 0, 100, 1, 0),
            0);
  io_uring_submit(ring.get());
  bool last = false;
  while (!last) {
    io_uring_cqe* cqe = WaitCqe(ring.get());
    ASSERT_NE(cqe, nullptr);
    uringx_sendzc_event ev;
    ASSERT_EQ(uringx_sendzc_complete(&pt.sz, cqe, &ev), 0);
    io_uring_cqe_seen(ring.get(), cqe);
    if (ev.kind == URINGX_SENDZC_SENT) {
      EXPECT_EQ(ev.res, -EBADF);
    }
    last = ev.last;
  }
  EXPECT_EQ(pt.sz.in_flight, 0u);
  ASSERT_EQ(uringx_bufpool_free(pt.pool, c.token), 0);
  EXPECT_EQ(uringx_bufpool_nr_free(pt.pool), 1u);
}

}  // namespace
