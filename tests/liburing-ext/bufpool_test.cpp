// Registered buffer pool: O(1) chunks, fixed-buffer I/O, errors that say why.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uringx/uringx.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <vector>

#include "support/loopback.hpp"

namespace {

using testsupport::Ring;

uringx_bufpool* MakePool(io_uring* ring, uint32_t chunk, uint32_t n, uint32_t flags = 0,
                         uint16_t buf_index = 0) {
  uringx_bufpool_params params{chunk, n, flags, buf_index};
  uringx_bufpool* pool = nullptr;
  uringx_reason reason;
  int ret = uringx_bufpool_create(ring, &params, &pool, &reason);
  EXPECT_EQ(ret, 0) << uringx_strerror(ret) << ": " << uringx_reason_str(reason);
  return pool;
}

TEST(Bufpool, HandsOutEveryChunkOnceThenEnobufs) {
  Ring ring;
  uringx_bufpool* pool = MakePool(ring.get(), 1000, 64);
  ASSERT_NE(pool, nullptr);
  EXPECT_EQ(uringx_bufpool_chunk_size(pool), 1024u) << "rounded up to 64";
  const auto* base = static_cast<const char*>(uringx_bufpool_base(pool));
  std::set<const void*> seen;
  std::vector<uringx_chunk> chunks(64);
  for (auto& c : chunks) {
    ASSERT_EQ(uringx_bufpool_alloc(pool, &c), 0);
    EXPECT_TRUE(seen.insert(c.addr).second) << "chunk handed out twice";
    EXPECT_GE(static_cast<const char*>(c.addr), base);
    EXPECT_LE(static_cast<const char*>(c.addr) + c.len, base + uringx_bufpool_region_len(pool));
    memset(c.addr, 0xab, c.len);  // the whole chunk is writable memory
  }
  uringx_chunk extra;
  EXPECT_EQ(uringx_bufpool_alloc(pool, &extra), -ENOBUFS);
  EXPECT_EQ(uringx_bufpool_nr_free(pool), 0u);
  ASSERT_EQ(uringx_bufpool_free(pool, chunks[10].token), 0);
  ASSERT_EQ(uringx_bufpool_alloc(pool, &extra), 0);
  EXPECT_EQ(extra.addr, chunks[10].addr);
  uringx_bufpool_destroy(pool);
}

TEST(Bufpool, DoubleFreeForeignAndStaleTokensAreRefused) {
  Ring ring;
  uringx_bufpool* a = MakePool(ring.get(), 4096, 4);
  ASSERT_NE(a, nullptr);
  uringx_chunk c;
  ASSERT_EQ(uringx_bufpool_alloc(a, &c), 0);
  EXPECT_EQ(uringx_bufpool_free(a, c.token), 0);
  EXPECT_EQ(uringx_bufpool_free(a, c.token), -EALREADY) << "double free";
  EXPECT_EQ(uringx_bufpool_free(a, 0), -EINVAL) << "not a token";
  EXPECT_EQ(uringx_bufpool_free(a, c.token + 1000), -EINVAL) << "index out of range";
  ASSERT_EQ(uringx_bufpool_alloc(a, &c), 0);
  uint64_t stale = c.token;
  uringx_bufpool_destroy(a);

  // A token from a destroyed pool is foreign to the next one.
  uringx_bufpool* b = MakePool(ring.get(), 4096, 4);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(uringx_bufpool_free(b, stale), -EINVAL) << "pool used after destroy";
  uringx_bufpool_destroy(b);
}

TEST(Bufpool, RejectsZeroAndOversizedRequests) {
  Ring ring;
  uringx_bufpool* pool = nullptr;
  uringx_bufpool_params zero_chunk{0, 4, 0, 0};
  EXPECT_EQ(uringx_bufpool_create(ring.get(), &zero_chunk, &pool, nullptr), -EINVAL);
  uringx_bufpool_params zero_count{4096, 0, 0, 0};
  EXPECT_EQ(uringx_bufpool_create(ring.get(), &zero_count, &pool, nullptr), -EINVAL);
  uringx_bufpool_params huge{1u << 20, 2048, 0, 0};  // 2 GiB > the kernel's 1 GiB limit
  EXPECT_EQ(uringx_bufpool_create(ring.get(), &huge, &pool, nullptr), -EINVAL);
  EXPECT_EQ(uringx_bufpool_alloc(nullptr, nullptr), -EINVAL);
}

// read_fixed into a chunk from a real socket proves the region is registered.
TEST(Bufpool, ChunksWorkAsFixedBuffersOnSockets) {
  Ring ring;
  uringx_bufpool* pool = MakePool(ring.get(), 8192, 8);
  ASSERT_NE(pool, nullptr);
  auto pair = testsupport::MakeTcpPair();
  uringx_chunk tx, rx;
  ASSERT_EQ(uringx_bufpool_alloc(pool, &tx), 0);
  ASSERT_EQ(uringx_bufpool_alloc(pool, &rx), 0);
  testsupport::SeededStream gen(3);
  gen.Fill(static_cast<uint8_t*>(tx.addr), 4000);

  io_uring_prep_write_fixed(io_uring_get_sqe(ring.get()), pair.client.get(), tx.addr, 4000, 0,
                            tx.buf_index);
  io_uring_submit_and_wait(ring.get(), 1);
  io_uring_cqe* cqe;
  ASSERT_EQ(io_uring_peek_cqe(ring.get(), &cqe), 0);
  EXPECT_EQ(cqe->res, 4000) << uringx_strerror(cqe->res);
  io_uring_cqe_seen(ring.get(), cqe);

  size_t got = 0;
  while (got < 4000) {
    io_uring_prep_read_fixed(io_uring_get_sqe(ring.get()), pair.server.get(),
                             static_cast<char*>(rx.addr) + got, 4000 - got, 0, rx.buf_index);
    io_uring_submit_and_wait(ring.get(), 1);
    ASSERT_EQ(io_uring_peek_cqe(ring.get(), &cqe), 0);
    ASSERT_GT(cqe->res, 0) << uringx_strerror(cqe->res);
    got += static_cast<size_t>(cqe->res);
    io_uring_cqe_seen(ring.get(), cqe);
  }
  EXPECT_EQ(memcmp(tx.addr, rx.addr, 4000), 0);
  uringx_bufpool_destroy(pool);
}

// One SQE, submitted and waited for: its result.
int RunOne(io_uring* ring) {
  io_uring_submit_and_wait(ring, 1);
  io_uring_cqe* cqe;
  if (io_uring_peek_cqe(ring, &cqe)) return -EIO;
  int res = cqe->res;
  io_uring_cqe_seen(ring, cqe);
  return res;
}

// Plain SEND/RECV on the pool's slot where the kernel takes it (7.3 in the
// VM), the ordinary form elsewhere (6.18 here). Which one ran is visible:
// with the chunks' user mappings revoked, only the slot's pinned pages work.
TEST(Bufpool, PlainSendAndRecvNameTheSlotWhereTheKernelTakesIt) {
  uringx_probe probe;
  ASSERT_EQ(uringx_probe_kernel(&probe), 0);
  if (getenv("ZCNET_EXPECT_FIXED_PLAIN")) {
    ASSERT_TRUE(probe.send_recv_fixed_buf);
  }
  Ring ring;
  uringx_bufpool* pool = MakePool(ring.get(), 4096, 4, URINGX_BUFPOOL_NO_HUGE);
  ASSERT_NE(pool, nullptr);
  EXPECT_EQ(uringx_bufpool_fixed_plain(pool), probe.send_recv_fixed_buf);
  auto pair = testsupport::MakeTcpPair();
  uringx_chunk tx, rx;
  ASSERT_EQ(uringx_bufpool_alloc(pool, &tx), 0);
  ASSERT_EQ(uringx_bufpool_alloc(pool, &rx), 0);
  ASSERT_EQ(reinterpret_cast<uintptr_t>(tx.addr) % 4096, 0u);
  ASSERT_EQ(reinterpret_cast<uintptr_t>(rx.addr) % 4096, 0u);
  testsupport::SeededStream gen(11);
  gen.Fill(static_cast<uint8_t*>(tx.addr), 4000);
  std::vector<uint8_t> want(static_cast<uint8_t*>(tx.addr), static_cast<uint8_t*>(tx.addr) + 4000);

  // The send's chunk unreadable and the receive's unwritable through the
  // user mapping.
  ASSERT_EQ(mprotect(tx.addr, 4096, PROT_NONE), 0);
  ASSERT_EQ(mprotect(rx.addr, 4096, PROT_READ), 0);
  io_uring_sqe* sqe = io_uring_get_sqe(ring.get());
  bool named = uringx_bufpool_prep_send(pool, sqe, pair.client.get(), tx.addr, 4000, MSG_NOSIGNAL);
  EXPECT_EQ(named, probe.send_recv_fixed_buf);
  EXPECT_EQ(!!(sqe->ioprio & IORING_RECVSEND_FIXED_BUF), named);
  int sent = RunOne(ring.get());
  if (named) {
    EXPECT_EQ(sent, 4000) << uringx_strerror(sent);
  } else {
    // The ordinary send went through the user mapping.
    EXPECT_EQ(sent, -EFAULT) << uringx_strerror(sent);
    ASSERT_EQ(mprotect(tx.addr, 4096, PROT_READ), 0);
    io_uring_prep_send(io_uring_get_sqe(ring.get()), pair.client.get(), tx.addr, 4000, 0);
    ASSERT_EQ(RunOne(ring.get()), 4000);
  }

  size_t got = 0;
  while (got < 4000) {
    sqe = io_uring_get_sqe(ring.get());
    EXPECT_EQ(uringx_bufpool_prep_recv(pool, sqe, pair.server.get(),
                                       static_cast<char*>(rx.addr) + got, 4000 - got, 0),
              named);
    int res = RunOne(ring.get());
    if (!named) {
      EXPECT_EQ(res, -EFAULT) << uringx_strerror(res);
      ASSERT_EQ(mprotect(rx.addr, 4096, PROT_READ | PROT_WRITE), 0);
      io_uring_prep_recv(io_uring_get_sqe(ring.get()), pair.server.get(),
                         static_cast<char*>(rx.addr) + got, 4000 - got, 0);
      res = RunOne(ring.get());
    }
    ASSERT_GT(res, 0) << uringx_strerror(res);
    got += static_cast<size_t>(res);
  }
  ASSERT_EQ(mprotect(tx.addr, 4096, PROT_READ | PROT_WRITE), 0);
  ASSERT_EQ(mprotect(rx.addr, 4096, PROT_READ | PROT_WRITE), 0);
  EXPECT_EQ(memcmp(rx.addr, want.data(), 4000), 0);

  // The knob: a pool that keeps plain operations off its slot.
  Ring ring2;
  uringx_bufpool* plain =
      MakePool(ring2.get(), 4096, 2, URINGX_BUFPOOL_NO_HUGE | URINGX_BUFPOOL_NO_FIXED_PLAIN);
  ASSERT_NE(plain, nullptr);
  EXPECT_FALSE(uringx_bufpool_fixed_plain(plain));
  sqe = io_uring_get_sqe(ring2.get());
  EXPECT_FALSE(uringx_bufpool_prep_send(plain, sqe, pair.client.get(),
                                        uringx_bufpool_base(plain), 1, 0));
  EXPECT_EQ(sqe->ioprio & IORING_RECVSEND_FIXED_BUF, 0);
  io_uring_prep_nop(sqe);
  RunOne(ring2.get());
  uringx_bufpool_destroy(plain);
  uringx_bufpool_destroy(pool);
}

TEST(Bufpool, SharesAnApplicationsSparseTable) {
  Ring ring;
  ASSERT_EQ(io_uring_register_buffers_sparse(ring.get(), 8), 0);
  uringx_bufpool* pool = MakePool(ring.get(), 4096, 4, 0, 5);
  ASSERT_NE(pool, nullptr);
  uringx_chunk c;
  ASSERT_EQ(uringx_bufpool_alloc(pool, &c), 0);
  EXPECT_EQ(c.buf_index, 5);
  auto pair = testsupport::MakeTcpPair();
  memcpy(c.addr, "fixed", 5);
  io_uring_prep_write_fixed(io_uring_get_sqe(ring.get()), pair.client.get(), c.addr, 5, 0,
                            c.buf_index);
  io_uring_submit_and_wait(ring.get(), 1);
  io_uring_cqe* cqe;
  ASSERT_EQ(io_uring_peek_cqe(ring.get(), &cqe), 0);
  EXPECT_EQ(cqe->res, 5);
  io_uring_cqe_seen(ring.get(), cqe);
  char buf[8] = {};
  EXPECT_EQ(read(pair.server.get(), buf, sizeof(buf)), 5);
  EXPECT_STREQ(buf, "fixed");
  uringx_bufpool_destroy(pool);
}

TEST(Bufpool, HugePagesWhenReservedElseNormalPages) {
  Ring ring, other_ring;
  uringx_bufpool* pool = MakePool(ring.get(), 65536, 32);
  ASSERT_NE(pool, nullptr);
  uringx_bufpool_params require{65536, 32, URINGX_BUFPOOL_REQUIRE_HUGE, 0};
  uringx_bufpool* huge = nullptr;
  int ret = uringx_bufpool_create(other_ring.get(), &require, &huge, nullptr);
  // vm-uringx-bufpool-hugetlb reserves huge pages first and sets this: the
  // hugetlb branch must then be the one taken.
  if (const char* e = std::getenv("ZCNET_EXPECT_HUGETLB"); e && std::string(e) == "1") {
    ASSERT_EQ(uringx_bufpool_backing(pool), URINGX_MEM_HUGETLB) << "huge pages are reserved";
  }
  if (uringx_bufpool_backing(pool) == URINGX_MEM_HUGETLB) {
    EXPECT_EQ(ret, 0);
    EXPECT_EQ(uringx_bufpool_backing(huge), URINGX_MEM_HUGETLB);
  } else {
    // No hugetlb pages reserved here: the default pool fell back, the strict one fails.
    EXPECT_EQ(ret, -ENOMEM);
    EXPECT_EQ(uringx_bufpool_backing(pool), URINGX_MEM_PAGES);
  }
  uringx_bufpool_destroy(huge);
  uringx_bufpool_destroy(pool);
}

// Without CAP_IPC_LOCK, registration is charged to RLIMIT_MEMLOCK; the error
// must name the limit. Runs in a child so the test process keeps its caps.
TEST(Bufpool, MemlockLimitIsReportedAsSuch) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    syscall(SYS_capget, &hdr, data);
    data[CAP_IPC_LOCK / 32].effective &= ~(1u << (CAP_IPC_LOCK % 32));
    if (syscall(SYS_capset, &hdr, data)) _exit(10);
    rlimit lim{64 << 10, 64 << 10};
    if (setrlimit(RLIMIT_MEMLOCK, &lim)) _exit(11);
    io_uring ring;
    if (io_uring_queue_init(8, &ring, 0)) _exit(12);
    uringx_bufpool_params params{1 << 20, 8, URINGX_BUFPOOL_NO_HUGE, 0};
    uringx_bufpool* pool = nullptr;
    uringx_reason reason = URINGX_REASON_NONE;
    int ret = uringx_bufpool_create(&ring, &params, &pool, &reason);
    if (ret != -ENOMEM) _exit(13);
    if (reason != URINGX_REASON_MEMLOCK) _exit(14);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "10: capset, 11: setrlimit, 12: ring, 13: not ENOMEM, 14: reason not memlock";
}

}  // namespace
