// Bad input at every public uringx_* entry point: the exact negative errno,
// and the uringx_reason where the call has one. docs/errors.md is the table;
// this file checks the rows no other test checks (and the reasons of rows
// whose other test checks only the errno).
//
// Everything here runs on the host (Linux 6.18). Rows that need a kernel
// feature it lacks (zcrx NODEV mode, IORING_REGISTER_NET_TX_BUF) are only
// here when the check happens before the kernel is asked, or when 6.18 gives
// a defined answer; the comment at each such row says which.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uringx/uringx.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "support/loopback.hpp"

namespace {

using testsupport::Ring;

constexpr unsigned kZcrxRingFlags =
    IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQE32;
constexpr const char* kNoSuchIf = "zcnet-nosuch0";
constexpr const char* kTooLongIf = "zcnet-name-too-long-for-ifnamsiz";  // >= IFNAMSIZ

// What a reason out-parameter holds before the call: a value no call sets,
// so a reason the call forgot to write fails the comparison.
constexpr auto kUnset = URINGX_REASON__COUNT;
// Outcome::reason / Case::want_reason of calls without a reason out-parameter.
constexpr int kNoReason = -1;

struct Outcome {
  int ret;
  int reason = kNoReason;
};

struct Case {
  const char* input;
  std::function<Outcome()> call;
  int want;
  int want_reason = kNoReason;
};

const char* ReasonName(int r) {
  return r == kUnset ? "(not written)" : uringx_reason_name(static_cast<uringx_reason>(r));
}

// Runs the cases in order (later ones may depend on earlier ones' effects).
void Check(const char* fn, const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    Outcome o = c.call();
    EXPECT_EQ(o.ret, c.want) << fn << " with " << c.input << ": got " << o.ret << " ("
                             << uringx_strerror(o.ret) << "), want " << c.want << " ("
                             << uringx_strerror(c.want) << ")";
    if (c.want_reason != kNoReason) {
      EXPECT_EQ(o.reason, c.want_reason)
          << fn << " with " << c.input << ": reason " << ReasonName(o.reason) << ", want "
          << ReasonName(c.want_reason);
    }
  }
}

using testsupport::V4;
using testsupport::V6;

template <typename T>
const sockaddr* Sa(const T& a) {
  return reinterpret_cast<const sockaddr*>(&a);
}

bool NodevAvailable() {
  uringx_probe p;
  return uringx_probe_kernel(&p) == 0 && p.zcrx_nodev;
}

bool RxBufLenAvailable() {
  uringx_probe p;
  return uringx_probe_kernel(&p) == 0 && p.zcrx_rx_page_size;
}

// --- error.h -----------------------------------------------------------------

// Out of range: URINGX_REASON__COUNT (the first value past the table; C++
// cannot pass values outside the enum's range without undefined behaviour).
TEST(BadInput, ErrorStrings) {
  EXPECT_STREQ(uringx_strerror(INT_MIN), "Unknown error") << "-INT_MIN overflows";
  EXPECT_STREQ(uringx_strerror(-ENOBUFS), uringx_strerror(ENOBUFS));
  EXPECT_STREQ(uringx_reason_str(URINGX_REASON__COUNT), "unknown reason");
  EXPECT_STREQ(uringx_reason_name(URINGX_REASON__COUNT), "unknown");
}

// --- probe.h -----------------------------------------------------------------

TEST(BadInput, Probe) {
  uringx_zcrx_verdict zv;
  uringx_nictx_verdict nv;
  Check("uringx_probe_kernel", {
      {"out NULL", [] { return Outcome{uringx_probe_kernel(nullptr)}; }, -EINVAL},
  });
  Check("uringx_probe_zcrx", {
      {"out NULL", [] { return Outcome{uringx_probe_zcrx("lo", 0, nullptr)}; }, -EINVAL},
  });
  Check("uringx_probe_nictx", {
      {"out NULL", [] { return Outcome{uringx_probe_nictx("lo", nullptr)}; }, -EINVAL},
      {"ifname NULL", [&] { return Outcome{uringx_probe_nictx(nullptr, &nv)}; }, 0},
  });
  // 6.18 lacks IORING_REGISTER_NET_TX_BUF: the kernel check answers first
  // (a defined verdict); with the registration, the missing name is said.
  if (nv.kernel) {
    EXPECT_EQ(nv.reason, URINGX_REASON_NO_IFNAME);
  } else {
    EXPECT_EQ(nv.err, -EINVAL);
    EXPECT_EQ(nv.reason, URINGX_REASON_KERNEL_NO_NET_TX_BUF);
  }
  EXPECT_FALSE(nv.usable);
  ASSERT_EQ(uringx_probe_nictx(kNoSuchIf, &nv), 0);
  EXPECT_FALSE(nv.usable);
  if (nv.kernel) {
    EXPECT_EQ(nv.err, -ENODEV);
    EXPECT_EQ(nv.reason, URINGX_REASON_NO_SUCH_DEVICE);
  } else {
    EXPECT_EQ(nv.reason, URINGX_REASON_KERNEL_NO_NET_TX_BUF);
  }
  // The unknown device is found before any zcrx registration is tried.
  ASSERT_EQ(uringx_probe_zcrx(kNoSuchIf, 0, &zv), 0);
  EXPECT_EQ(zv.err, -ENODEV);
  EXPECT_EQ(zv.ifindex, 0u);
}

// --- bufpool.h -----------------------------------------------------------------

TEST(BadInput, BufpoolCreate) {
  Ring ring, tabled;
  ASSERT_EQ(ring.init_error(), 0);
  ASSERT_EQ(tabled.init_error(), 0);
  ASSERT_EQ(io_uring_register_buffers_sparse(tabled.get(), 4), 0);
  uringx_bufpool* pool = nullptr;
  uringx_reason r = kUnset;
  auto create = [&](io_uring* ring_arg, const uringx_bufpool_params* p, uringx_bufpool** out) {
    r = kUnset;
    return Outcome{uringx_bufpool_create(ring_arg, p, out, &r), r};
  };
  const uringx_bufpool_params ok{4096, 4, 0, 0};
  const uringx_bufpool_params zero_chunk{0, 4, 0, 0};
  const uringx_bufpool_params zero_count{4096, 0, 0, 0};
  const uringx_bufpool_params wraps{UINT32_MAX - 15, 1, 0, 0};  // rounding to 64 overflows
  const uringx_bufpool_params over_1g{1u << 20, 1025, 0, 0};    // 1 GiB + 1 MiB
  const uringx_bufpool_params slot_9{4096, 4, 0, 9};            // of a 4-slot table
  const uringx_bufpool_params bad_flag{4096, 4, 1u << 7, 0};
  const uringx_bufpool_params both_kinds{4096, 4,
                                         URINGX_BUFPOOL_NO_HUGE | URINGX_BUFPOOL_REQUIRE_HUGE, 0};
  Check("uringx_bufpool_create", {
      {"ring NULL", [&] { return create(nullptr, &ok, &pool); }, -EINVAL, URINGX_REASON_NONE},
      {"params NULL", [&] { return create(ring.get(), nullptr, &pool); }, -EINVAL,
       URINGX_REASON_NONE},
      {"out NULL", [&] { return create(ring.get(), &ok, nullptr); }, -EINVAL, URINGX_REASON_NONE},
      {"chunk_size 0", [&] { return create(ring.get(), &zero_chunk, &pool); }, -EINVAL,
       URINGX_REASON_NONE},
      {"nr_chunks 0", [&] { return create(ring.get(), &zero_count, &pool); }, -EINVAL,
       URINGX_REASON_NONE},
      {"chunk_size UINT32_MAX-15", [&] { return create(ring.get(), &wraps, &pool); }, -EINVAL,
       URINGX_REASON_NONE},
      {"region over 1 GiB", [&] { return create(ring.get(), &over_1g, &pool); }, -EINVAL,
       URINGX_REASON_NONE},
      {"unknown flag bit 7", [&] { return create(ring.get(), &bad_flag, &pool); }, -EINVAL,
       URINGX_REASON_NONE},
      {"NO_HUGE with REQUIRE_HUGE", [&] { return create(ring.get(), &both_kinds, &pool); },
       -EINVAL, URINGX_REASON_NONE},
      // The kernel answers (IORING_REGISTER_BUFFERS_UPDATE past the table).
      {"buf_index 9 of a 4-slot table", [&] { return create(tabled.get(), &slot_9, &pool); },
       -EINVAL, URINGX_REASON_OTHER},
  });
  EXPECT_EQ(pool, nullptr) << "no failed create wrote *out";

  // Huge pages required: without reserved 2 MiB pages, -ENOMEM and why.
  const uringx_bufpool_params huge{65536, 32, URINGX_BUFPOOL_REQUIRE_HUGE, 0};
  Outcome o = create(ring.get(), &huge, &pool);
  if (o.ret == 0) {
    EXPECT_EQ(uringx_bufpool_backing(pool), URINGX_MEM_HUGETLB);
    uringx_bufpool_destroy(pool);
    pool = nullptr;
  } else {
    EXPECT_EQ(o.ret, -ENOMEM);
    EXPECT_EQ(o.reason, URINGX_REASON_NO_MEMORY);
  }
}

TEST(BadInput, BufpoolTokens) {
  Ring ring;
  uringx_bufpool_params params{4096, 2, 0, 0};
  uringx_bufpool* pool = nullptr;
  ASSERT_EQ(uringx_bufpool_create(ring.get(), &params, &pool, nullptr), 0);
  uringx_chunk held, freed;
  ASSERT_EQ(uringx_bufpool_alloc(pool, &held), 0);
  ASSERT_EQ(uringx_bufpool_alloc(pool, &freed), 0);
  ASSERT_EQ(uringx_bufpool_free(pool, freed.token), 0);
  const uint64_t bad_gen = held.token | (1ULL << 32);  // generation bits set: never issued
  uringx_chunk c;
  uint64_t t;
  Check("uringx_bufpool_alloc", {
      {"out NULL", [&] { return Outcome{uringx_bufpool_alloc(pool, nullptr)}; }, -EINVAL},
  });
  Check("uringx_bufpool_free", {
      {"pool NULL", [&] { return Outcome{uringx_bufpool_free(nullptr, held.token)}; }, -EINVAL},
      {"generation bits set", [&] { return Outcome{uringx_bufpool_free(pool, bad_gen)}; },
       -EINVAL},
  });
  Check("uringx_bufpool_lend", {
      {"pool NULL", [&] { return Outcome{uringx_bufpool_lend(nullptr, held.token)}; }, -EINVAL},
      {"token 0", [&] { return Outcome{uringx_bufpool_lend(pool, 0)}; }, -EINVAL},
      {"free chunk", [&] { return Outcome{uringx_bufpool_lend(pool, freed.token)}; }, -EALREADY},
  });
  Check("uringx_bufpool_unlend", {
      {"pool NULL", [&] { return Outcome{uringx_bufpool_unlend(nullptr, held.token)}; },
       -EINVAL},
      {"token 0", [&] { return Outcome{uringx_bufpool_unlend(pool, 0)}; }, -EINVAL},
      {"chunk not lent", [&] { return Outcome{uringx_bufpool_unlend(pool, held.token)}; },
       -EALREADY},
  });
  Check("uringx_bufpool_chunk", {
      {"pool NULL", [&] { return Outcome{uringx_bufpool_chunk(nullptr, held.token, &c)}; },
       -EINVAL},
      {"out NULL", [&] { return Outcome{uringx_bufpool_chunk(pool, held.token, nullptr)}; },
       -EINVAL},
      {"token 0", [&] { return Outcome{uringx_bufpool_chunk(pool, 0, &c)}; }, -EINVAL},
      {"free chunk", [&] { return Outcome{uringx_bufpool_chunk(pool, freed.token, &c)}; },
       -EALREADY},
  });
  Check("uringx_bufpool_token", {
      {"pool NULL", [&] { return Outcome{uringx_bufpool_token(nullptr, 0, &t)}; }, -EINVAL},
      {"token NULL", [&] { return Outcome{uringx_bufpool_token(pool, 0, nullptr)}; }, -EINVAL},
      {"index == nr_chunks", [&] { return Outcome{uringx_bufpool_token(pool, 2, &t)}; },
       -EINVAL},
  });
  // None of the refusals changed the pool.
  EXPECT_EQ(uringx_bufpool_nr_free(pool), 1u);
  EXPECT_EQ(uringx_bufpool_free(pool, held.token), 0);
  uringx_bufpool_destroy(pool);
}

// Every row is refused before the kernel is asked (no udmabuf, no
// IORING_REGISTER_NET_TX_BUF is needed to tell).
TEST(BadInput, BufpoolNic) {
  Ring ring;
  uringx_bufpool* pool = nullptr;
  uringx_reason r = kUnset;
  const uringx_bufpool_params ok{4096, 4, 0, 0};
  const uringx_bufpool_params not_paged{1000, 4, 0, 0};  // 1024 after rounding
  Check("uringx_bufpool_create_nic", {
      {"ifname NULL",
       [&] {
         r = kUnset;
         return Outcome{uringx_bufpool_create_nic(ring.get(), &ok, nullptr, &pool, &r), r};
       },
       -EINVAL, URINGX_REASON_NONE},
      {"chunk_size not a page multiple",
       [&] {
         r = kUnset;
         return Outcome{uringx_bufpool_create_nic(ring.get(), &not_paged, "lo", &pool, &r), r};
       },
       -EINVAL, URINGX_REASON_NONE},
      {"unknown interface",
       [&] {
         r = kUnset;
         return Outcome{uringx_bufpool_create_nic(ring.get(), &ok, kNoSuchIf, &pool, &r), r};
       },
       -ENODEV, URINGX_REASON_NO_SUCH_DEVICE},
  });
  EXPECT_EQ(pool, nullptr);
  // The refused unknown interface left no table behind: a plain pool registers its own.
  ASSERT_EQ(uringx_bufpool_create(ring.get(), &ok, &pool, nullptr), 0);
  uringx_bufpool_destroy(pool);
}

// --- sendzc.h ------------------------------------------------------------------

TEST(BadInput, Sendzc) {
  Ring ring;
  uringx_bufpool_params params{4096, 2, 0, 0};
  uringx_bufpool* pool = nullptr;
  ASSERT_EQ(uringx_bufpool_create(ring.get(), &params, &pool, nullptr), 0);
  uringx_sendzc sz{};
  Check("uringx_sendzc_init", {
      {"sz NULL", [&] { return Outcome{uringx_sendzc_init(nullptr, pool, false)}; }, -EINVAL},
      {"pool NULL", [&] { return Outcome{uringx_sendzc_init(&sz, nullptr, false)}; }, -EINVAL},
  });
  ASSERT_EQ(uringx_sendzc_init(&sz, pool, false), 0);
  uringx_chunk c;
  ASSERT_EQ(uringx_bufpool_alloc(pool, &c), 0);
  io_uring_sqe sqe{};
  // Lent, then freed by the caller: the free waits for the notification.
  ASSERT_EQ(uringx_sendzc_prep(&sz, &sqe, 0, c.token, 0, 10, 7, 0), 0);
  ASSERT_EQ(uringx_bufpool_free(pool, c.token), 0);
  io_uring_sqe other{};
  Check("uringx_sendzc_prep", {
      {"sz NULL", [&] { return Outcome{uringx_sendzc_prep(nullptr, &other, 0, c.token, 0, 10, 0, 0)}; },
       -EINVAL},
      {"sqe NULL", [&] { return Outcome{uringx_sendzc_prep(&sz, nullptr, 0, c.token, 0, 10, 0, 0)}; },
       -EINVAL},
      {"chunk freed while lent",
       [&] { return Outcome{uringx_sendzc_prep(&sz, &other, 0, c.token, 0, 10, 0, 0)}; },
       -EALREADY},
  });
  uringx_chunk d;
  ASSERT_EQ(uringx_bufpool_alloc(pool, &d), 0);
  Check("uringx_sendzc_prep", {
      {"offset past the chunk",
       [&] { return Outcome{uringx_sendzc_prep(&sz, &other, 0, d.token, 5000, 1, 0, 0)}; },
       -EINVAL},
  });
  io_uring_cqe foreign{};  // user_data 0: not a SEND_ZC of this tracker
  io_uring_cqe past_end{};
  past_end.user_data = URINGX_SENDZC_TAG << 56 | 99ULL << 32;  // chunk 99 of 2
  uringx_sendzc_event ev;
  Check("uringx_sendzc_complete", {
      {"CQE of another kind", [&] { return Outcome{uringx_sendzc_complete(&sz, &foreign, &ev)}; },
       -EPROTO},
      {"chunk index past the pool",
       [&] { return Outcome{uringx_sendzc_complete(&sz, &past_end, &ev)}; }, -EPROTO},
  });
  EXPECT_EQ(sz.in_flight, 1u) << "refused CQEs are not counted";
  // The one prepared send's notification (never submitted) ends the lend:
  // the deferred free completes.
  io_uring_cqe notif{};
  notif.user_data = sqe.user_data;
  notif.flags = IORING_CQE_F_NOTIF;
  ASSERT_EQ(uringx_sendzc_complete(&sz, &notif, &ev), 0);
  EXPECT_EQ(ev.kind, URINGX_SENDZC_RELEASED);
  EXPECT_EQ(sz.in_flight, 0u);
  // The same notification again (stale or repeated): the chunk is no longer
  // lent, so it is refused and no counter moves.
  uint64_t notifications = sz.notifications;
  Check("uringx_sendzc_complete", {
      {"a repeated notification", [&] { return Outcome{uringx_sendzc_complete(&sz, &notif, &ev)}; },
       -EPROTO},
  });
  EXPECT_EQ(sz.in_flight, 0u) << "in_flight wrapped";
  EXPECT_EQ(sz.notifications, notifications);
  EXPECT_EQ(uringx_bufpool_nr_free(pool), 1u);
  ASSERT_EQ(uringx_bufpool_free(pool, d.token), 0);
  uringx_sendzc_fini(&sz);
  uringx_bufpool_destroy(pool);
}

// --- nictx.h -------------------------------------------------------------------

// Argument checks of uringx_nictx_create all happen before the kernel is
// asked (6.18 has no IORING_REGISTER_NET_TX_BUF; the registration's own
// refusals run in the VM, tests/vm/nictx_test.c).
TEST(BadInput, NictxCreate) {
  Ring ring;
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  uringx_nictx p;
  auto create = [&](io_uring* r, const char* ifname, size_t size, uint32_t chunk) {
    std::memset(&p, 0xa5, sizeof(p));  // the reason must be written, not left over
    int ret = uringx_nictx_create(&p, r, ifname, size, chunk, 0);
    return Outcome{ret, p.reason};
  };
  Check("uringx_nictx_create", {
      {"p NULL",
       [&] { return Outcome{uringx_nictx_create(nullptr, ring.get(), "lo", page, static_cast<uint32_t>(page), 0)}; },
       -EINVAL},
      {"ring NULL", [&] { return create(nullptr, "lo", page, static_cast<uint32_t>(page)); },
       -EINVAL, URINGX_REASON_OTHER},
      {"ifname NULL", [&] { return create(ring.get(), nullptr, page, static_cast<uint32_t>(page)); },
       -EINVAL, URINGX_REASON_OTHER},
      {"chunk_size 0", [&] { return create(ring.get(), "lo", page, 0); }, -EINVAL,
       URINGX_REASON_OTHER},
      {"chunk_size not a page multiple", [&] { return create(ring.get(), "lo", page, 1000); },
       -EINVAL, URINGX_REASON_OTHER},
      {"size not a chunk multiple",
       [&] { return create(ring.get(), "lo", 3 * page, static_cast<uint32_t>(2 * page)); },
       -EINVAL, URINGX_REASON_OTHER},
      {"size 0", [&] { return create(ring.get(), "lo", 0, static_cast<uint32_t>(page)); }, -EINVAL,
       URINGX_REASON_OTHER},
      {"size 4 GiB", [&] { return create(ring.get(), "lo", size_t{1} << 32, static_cast<uint32_t>(page)); },
       -EINVAL, URINGX_REASON_OTHER},
  });
  // A pool whose create failed is empty and safe to use and destroy.
  ASSERT_EQ(create(ring.get(), kNoSuchIf, page, static_cast<uint32_t>(page)).ret, -ENODEV);
  EXPECT_EQ(p.ring, nullptr);
  Check("uringx_nictx_alloc", {
      {"pool whose create failed", [&] { return Outcome{uringx_nictx_alloc(&p)}; }, -ENOBUFS},
  });
  Check("uringx_nictx_free", {
      {"pool whose create failed", [&] { return Outcome{uringx_nictx_free(&p, 0)}; }, -EINVAL},
  });
  uringx_nictx_destroy(&p);  // no-op: nothing registered
  uringx_nictx_destroy(nullptr);
}

// The chunk bookkeeping is plain data in the public struct. A registered
// pool needs IORING_REGISTER_NET_TX_BUF (not on 6.18), so a hand-filled
// struct, as uringx_nictx_create() leaves it, stands in: prep_send only
// writes an SQE and complete only reads a CQE, so no kernel is asked.
struct FakeNictx {
  static constexpr uint32_t kChunks = 2, kChunk = 4096;
  std::vector<uint8_t> mem = std::vector<uint8_t>(kChunks * kChunk);
  std::vector<uint32_t> stack = std::vector<uint32_t>(kChunks);
  std::vector<uint8_t> state = std::vector<uint8_t>(kChunks);
  uringx_nictx p{};
  FakeNictx() {
    p.base = mem.data();
    p.size = mem.size();
    p.chunk_size = kChunk;
    p.nr_chunks = kChunks;
    p.memfd = p.dmabuf_fd = -1;
    p.free_chunks = stack.data();
    p.chunk_state = state.data();
    for (uint32_t i = 0; i < kChunks; i++) stack[i] = kChunks - 1 - i;
    p.nr_free = kChunks;
  }
};

TEST(BadInput, NictxChunks) {
  FakeNictx f;
  uringx_nictx* p = &f.p;
  const int held = uringx_nictx_alloc(p);
  const int lent = uringx_nictx_alloc(p);
  ASSERT_EQ(held, 0);
  ASSERT_EQ(lent, 1);
  Check("uringx_nictx_alloc", {
      {"every chunk out", [&] { return Outcome{uringx_nictx_alloc(p)}; }, -ENOBUFS},
  });
  io_uring_sqe sqe{}, lent_sqe{};
  ASSERT_EQ(uringx_nictx_prep_send(p, &lent_sqe, 3, lent, 0, 100, 9, 0), 0);
  Check("uringx_nictx_prep_send", {
      {"p NULL", [&] { return Outcome{uringx_nictx_prep_send(nullptr, &sqe, 3, held, 0, 1, 0, 0)}; },
       -EINVAL},
      {"sqe NULL", [&] { return Outcome{uringx_nictx_prep_send(p, nullptr, 3, held, 0, 1, 0, 0)}; },
       -EINVAL},
      {"len 0", [&] { return Outcome{uringx_nictx_prep_send(p, &sqe, 3, held, 0, 0, 0, 0)}; },
       -EINVAL},
      {"chunk == nr_chunks",
       [&] { return Outcome{uringx_nictx_prep_send(p, &sqe, 3, FakeNictx::kChunks, 0, 1, 0, 0)}; },
       -EINVAL},
      {"offset past the chunk",
       [&] { return Outcome{uringx_nictx_prep_send(p, &sqe, 3, held, FakeNictx::kChunk + 1, 1, 0, 0)}; },
       -EINVAL},
      {"range past the chunk",
       [&] { return Outcome{uringx_nictx_prep_send(p, &sqe, 3, held, 4000, 100, 0, 0)}; },
       -EINVAL},
      {"chunk lent", [&] { return Outcome{uringx_nictx_prep_send(p, &sqe, 3, lent, 0, 1, 0, 0)}; },
       -EALREADY},
  });
  Check("uringx_nictx_free", {
      {"chunk == nr_chunks", [&] { return Outcome{uringx_nictx_free(p, FakeNictx::kChunks)}; },
       -EINVAL},
      {"chunk lent", [&] { return Outcome{uringx_nictx_free(p, lent)}; }, -EALREADY},
  });
  io_uring_cqe foreign{}, past_end{}, not_lent{};
  past_end.user_data = URINGX_NICTX_TAG << 56 | 99ULL << 32;
  not_lent.user_data = URINGX_NICTX_TAG << 56 | static_cast<uint64_t>(held) << 32;
  uringx_nictx_event ev;
  Check("uringx_nictx_complete", {
      {"CQE of another kind", [&] { return Outcome{uringx_nictx_complete(p, &foreign, &ev)}; },
       -EPROTO},
      {"chunk index past the pool", [&] { return Outcome{uringx_nictx_complete(p, &past_end, &ev)}; },
       -EPROTO},
      {"chunk not lent (stale or duplicate CQE)",
       [&] { return Outcome{uringx_nictx_complete(p, &not_lent, &ev)}; }, -EPROTO},
  });
  EXPECT_EQ(p->in_flight, 1u) << "refused CQEs are not counted";
  // A socket routed through another device: the kernel's -ENODEV comes
  // with the reason, and the send is over (the chunk is free again).
  io_uring_cqe routed{};
  routed.user_data = lent_sqe.user_data;
  routed.res = -ENODEV;
  ASSERT_EQ(uringx_nictx_complete(p, &routed, &ev), 0);
  EXPECT_EQ(ev.kind, URINGX_NICTX_SENT);
  EXPECT_EQ(ev.res, -ENODEV);
  EXPECT_EQ(ev.reason, URINGX_REASON_ROUTE_OTHER_DEVICE);
  EXPECT_TRUE(ev.last);
  EXPECT_EQ(ev.cookie, 9u);
  EXPECT_EQ(p->in_flight, 0u);
  EXPECT_EQ(uringx_nictx_free(p, held), 0);
  Check("uringx_nictx_free", {
      {"chunk already free", [&] { return Outcome{uringx_nictx_free(p, held)}; }, -EALREADY},
  });
  EXPECT_EQ(p->nr_free, FakeNictx::kChunks);
}

// A gathered send names CPU addresses inside one held chunk; every range is
// checked before any is rewritten to the slot's offsets.
TEST(BadInput, NictxGatheredSend) {
  FakeNictx f;
  uringx_nictx* p = &f.p;
  const int held = uringx_nictx_alloc(p);
  const int lent = uringx_nictx_alloc(p);
  ASSERT_EQ(held, 0);
  ASSERT_EQ(lent, 1);
  io_uring_sqe lent_sqe{};
  ASSERT_EQ(uringx_nictx_prep_send(p, &lent_sqe, 3, lent, 0, 100, 9, 0), 0);
  auto* const base = static_cast<uint8_t*>(uringx_nictx_chunk(p, held));
  auto* const other = static_cast<uint8_t*>(uringx_nictx_chunk(p, lent));
  iovec ok[2] = {{base + 100, 50}, {base, 10}};
  iovec past_end[2] = {{base, 10}, {base + FakeNictx::kChunk - 5, 10}};
  iovec empty[1] = {{base, 0}};
  iovec in_other[1] = {{other, 10}};
  iovec of_lent[1] = {{other, 10}};
  io_uring_sqe sqe{};
  Check("uringx_nictx_prep_sendv", {
      {"p NULL", [&] { return Outcome{uringx_nictx_prep_sendv(nullptr, &sqe, 3, held, ok, 2, 0, 0)}; },
       -EINVAL},
      {"sqe NULL", [&] { return Outcome{uringx_nictx_prep_sendv(p, nullptr, 3, held, ok, 2, 0, 0)}; },
       -EINVAL},
      {"iov NULL", [&] { return Outcome{uringx_nictx_prep_sendv(p, &sqe, 3, held, nullptr, 2, 0, 0)}; },
       -EINVAL},
      {"nr 0", [&] { return Outcome{uringx_nictx_prep_sendv(p, &sqe, 3, held, ok, 0, 0, 0)}; }, -EINVAL},
      {"nr past UIO_MAXIOV",
       [&] { return Outcome{uringx_nictx_prep_sendv(p, &sqe, 3, held, ok, 1025, 0, 0)}; }, -EINVAL},
      {"chunk == nr_chunks",
       [&] { return Outcome{uringx_nictx_prep_sendv(p, &sqe, 3, FakeNictx::kChunks, ok, 2, 0, 0)}; },
       -EINVAL},
      {"a range past the chunk's end",
       [&] { return Outcome{uringx_nictx_prep_sendv(p, &sqe, 3, held, past_end, 2, 0, 0)}; }, -EINVAL},
      {"an empty range", [&] { return Outcome{uringx_nictx_prep_sendv(p, &sqe, 3, held, empty, 1, 0, 0)}; },
       -EINVAL},
      {"a range of another chunk",
       [&] { return Outcome{uringx_nictx_prep_sendv(p, &sqe, 3, held, in_other, 1, 0, 0)}; }, -EINVAL},
      {"chunk lent", [&] { return Outcome{uringx_nictx_prep_sendv(p, &sqe, 3, lent, of_lent, 1, 0, 0)}; },
       -EALREADY},
  });
  EXPECT_EQ(past_end[0].iov_base, base) << "a refused vector is left as it was";
  EXPECT_EQ(sqe.opcode, 0) << "a refused call prepares nothing";

  ASSERT_EQ(uringx_nictx_prep_sendv(p, &sqe, 3, held, ok, 2, 7, MSG_NOSIGNAL), 0);
  EXPECT_EQ(sqe.opcode, IORING_OP_SEND_ZC);
  EXPECT_EQ(sqe.ioprio, IORING_RECVSEND_FIXED_BUF | IORING_SEND_VECTORIZED |
                            IORING_SEND_ZC_REPORT_USAGE);
  EXPECT_EQ(sqe.addr, reinterpret_cast<uintptr_t>(ok));
  EXPECT_EQ(sqe.len, 2u);
  EXPECT_EQ(sqe.msg_flags, static_cast<uint32_t>(MSG_NOSIGNAL));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(ok[0].iov_base), 100u) << "the slot's address: a pool offset";
  EXPECT_EQ(reinterpret_cast<uintptr_t>(ok[1].iov_base), 0u);
  EXPECT_EQ(p->in_flight, 2u);
  Check("uringx_nictx_free", {
      {"chunk lent by the gathered send", [&] { return Outcome{uringx_nictx_free(p, held)}; },
       -EALREADY},
  });
}

// --- pbufring.h ----------------------------------------------------------------

TEST(BadInput, Pbufring) {
  Ring ring;
  uringx_pbufring* pbr = nullptr;
  uringx_reason r = kUnset;
  auto create = [&](io_uring* ring_arg, const uringx_pbufring_params* p,
                    uringx_pbufring** out) {
    r = kUnset;
    return Outcome{uringx_pbufring_create(ring_arg, p, out, &r), r};
  };
  const uringx_pbufring_params ok{4, 256, 11, 0};
  const uringx_pbufring_params zero{0, 256, 11, 0};
  const uringx_pbufring_params three{3, 256, 11, 0};
  const uringx_pbufring_params too_many{65536, 256, 11, 0};
  const uringx_pbufring_params zero_size{4, 0, 11, 0};
  const uringx_pbufring_params too_big{4, (1u << 24) + 1, 11, 0};
  const uringx_pbufring_params bad_flag{4, 256, 11, 1u << 9};
  Check("uringx_pbufring_create", {
      {"ring NULL", [&] { return create(nullptr, &ok, &pbr); }, -EINVAL, URINGX_REASON_NONE},
      {"params NULL", [&] { return create(ring.get(), nullptr, &pbr); }, -EINVAL,
       URINGX_REASON_NONE},
      {"out NULL", [&] { return create(ring.get(), &ok, nullptr); }, -EINVAL, URINGX_REASON_NONE},
      {"nr_bufs 0", [&] { return create(ring.get(), &zero, &pbr); }, -EINVAL, URINGX_REASON_NONE},
      {"nr_bufs 3", [&] { return create(ring.get(), &three, &pbr); }, -EINVAL, URINGX_REASON_NONE},
      {"nr_bufs 65536", [&] { return create(ring.get(), &too_many, &pbr); }, -EINVAL,
       URINGX_REASON_NONE},
      {"buf_size 0", [&] { return create(ring.get(), &zero_size, &pbr); }, -EINVAL,
       URINGX_REASON_NONE},
      {"buf_size 16 MiB + 1", [&] { return create(ring.get(), &too_big, &pbr); }, -EINVAL,
       URINGX_REASON_NONE},
      {"unknown flag bit 9", [&] { return create(ring.get(), &bad_flag, &pbr); }, -EINVAL,
       URINGX_REASON_NONE},
  });
  ASSERT_EQ(pbr, nullptr);
  ASSERT_EQ(uringx_pbufring_create(ring.get(), &ok, &pbr, nullptr), 0);
  uringx_pbufring* dup = nullptr;
  // The kernel answers: the buffer group id is taken.
  Check("uringx_pbufring_create", {
      {"bgid in use", [&] { return create(ring.get(), &ok, &dup); }, -EEXIST, URINGX_REASON_OTHER},
  });
  EXPECT_EQ(dup, nullptr);
  Check("uringx_pbufring_release", {
      {"pbr NULL", [&] { return Outcome{uringx_pbufring_release(nullptr, 1)}; }, -EINVAL},
  });
  uringx_pbufring_destroy(pbr);
}

// Receive CQEs that do not match the ring: refused, nothing consumed.
TEST(BadInput, PbufringCqes) {
  Ring ring;
  const uringx_pbufring_params params{4, 256, 12, 0};  // no bundles, not incremental
  uringx_pbufring* pbr = nullptr;
  ASSERT_EQ(uringx_pbufring_create(ring.get(), &params, &pbr, nullptr), 0);
  uringx_rx_view views[2];
  uringx_rx_event ev;
  io_uring_cqe no_buffer{}, spans_two{}, fits{};
  no_buffer.res = 10;  // data without IORING_CQE_F_BUFFER
  spans_two.res = 300;  // more than one 256-byte buffer, without bundles
  spans_two.flags = IORING_CQE_F_BUFFER | (0u << IORING_CQE_BUFFER_SHIFT);
  fits.res = 10;
  fits.flags = IORING_CQE_F_BUFFER | (0u << IORING_CQE_BUFFER_SHIFT);
  Check("uringx_pbufring_decode", {
      {"data CQE without a buffer",
       [&] { return Outcome{uringx_pbufring_decode(pbr, &no_buffer, views, 2, &ev)}; }, -EPROTO},
      {"one CQE over two buffers without bundles",
       [&] { return Outcome{uringx_pbufring_decode(pbr, &spans_two, views, 2, &ev)}; }, -EPROTO},
      {"max_views 0", [&] { return Outcome{uringx_pbufring_decode(pbr, &fits, views, 0, &ev)}; },
       -ENOSPC},
  });
  EXPECT_EQ(uringx_pbufring_available(pbr), 4u) << "refused CQEs consumed nothing";
  EXPECT_EQ(uringx_pbufring_outstanding(pbr), 0u);

  // A real receive, then the same CQE again: its buffer is no longer the kernel's.
  auto pair = testsupport::MakeTcpPair();
  ASSERT_EQ(write(pair.client.get(), "hello", 5), 5);
  uringx_pbufring_prep_recv(pbr, io_uring_get_sqe(ring.get()), pair.server.get());
  ASSERT_EQ(io_uring_submit(ring.get()), 1);
  io_uring_cqe* cqe = nullptr;
  ASSERT_EQ(io_uring_wait_cqe(ring.get(), &cqe), 0);
  const io_uring_cqe seen = *cqe;
  io_uring_cqe_seen(ring.get(), cqe);
  ASSERT_EQ(uringx_pbufring_decode(pbr, &seen, views, 2, &ev), 0);
  ASSERT_EQ(ev.nr_views, 1u);
  const uint64_t token = views[0].token;
  // Tokens: [tag:16][generation:16][slot:16][buffer id:16].
  const uint64_t bid_99 = (token & ~0xffffULL) | 99;
  const uint64_t slot_100 = (token & ~0xffff0000ULL) | (100ULL << 16);
  Check("uringx_pbufring_decode", {
      {"the same CQE twice", [&] { return Outcome{uringx_pbufring_decode(pbr, &seen, views, 2, &ev)}; },
       -EPROTO},
  });
  Check("uringx_pbufring_release", {
      {"buffer id past the ring", [&] { return Outcome{uringx_pbufring_release(pbr, bid_99)}; },
       -EINVAL},
      {"view slot out of range", [&] { return Outcome{uringx_pbufring_release(pbr, slot_100)}; },
       -EINVAL},
  });
  EXPECT_EQ(uringx_pbufring_outstanding(pbr), 1u);
  EXPECT_EQ(uringx_pbufring_release(pbr, token), 0);
  // Still armed: closing the ring cancels the receive; the pool goes first.
  uringx_pbufring_destroy(pbr);
}

// --- zcrx.h --------------------------------------------------------------------

// Every row fails before IORING_REGISTER_ZCRX_IFQ is tried, except NODEV
// mode, which 6.18 lacks (checked against the probe's answer).
TEST(BadInput, Zcrx) {
  Ring ring(8, kZcrxRingFlags);
  if (ring.init_error()) GTEST_SKIP() << "no DEFER_TASKRUN|CQE32 ring: " << uringx_strerror(ring.init_error());
  uringx_zcrx* z = nullptr;
  uringx_reason r = kUnset;
  auto create = [&](io_uring* ring_arg, const uringx_zcrx_params* p, uringx_zcrx** out) {
    r = kUnset;
    return Outcome{uringx_zcrx_create(ring_arg, p, out, &r), r};
  };
  auto params = [](const char* ifname, uint64_t area, uint32_t rq,
                   uringx_zcrx_mem mem = URINGX_ZCRX_MEM_AUTO) {
    uringx_zcrx_params p{};
    p.ifname = ifname;
    p.area_size = area;
    p.rq_entries = rq;
    p.mem = mem;
    return p;
  };
  const auto ok = params("lo", 1 << 20, 64);
  const auto zero_area = params("lo", 0, 64);
  const auto rq_3 = params("lo", 1 << 20, 3);
  const auto rq_big = params("lo", 1 << 20, 65536);
  const auto no_dev = params(kNoSuchIf, 1 << 20, 64);
  const auto bad_mem = params("lo", 1 << 20, 64, static_cast<uringx_zcrx_mem>(7));
  auto with_buf_len = [](uringx_zcrx_params p, uint32_t len) {
    p.rx_buf_len = len;
    return p;
  };
  const auto buf_len_odd = with_buf_len(ok, 12288);
  const auto buf_len_small = with_buf_len(ok, 2048);
  Check("uringx_zcrx_create", {
      {"rx_buf_len 12288 (not a power of two)",
       [&] { return create(ring.get(), &buf_len_odd, &z); }, -EINVAL, URINGX_REASON_NONE},
      {"rx_buf_len 2048 (below the page size)",
       [&] { return create(ring.get(), &buf_len_small, &z); }, -EINVAL, URINGX_REASON_NONE},
      {"unknown mem 7", [&] { return create(ring.get(), &bad_mem, &z); }, -EINVAL,
       URINGX_REASON_NONE},
      {"ring NULL", [&] { return create(nullptr, &ok, &z); }, -EINVAL, URINGX_REASON_NONE},
      {"params NULL", [&] { return create(ring.get(), nullptr, &z); }, -EINVAL, URINGX_REASON_NONE},
      {"out NULL", [&] { return create(ring.get(), &ok, nullptr); }, -EINVAL, URINGX_REASON_NONE},
      {"area_size 0", [&] { return create(ring.get(), &zero_area, &z); }, -EINVAL,
       URINGX_REASON_NONE},
      {"rq_entries 3", [&] { return create(ring.get(), &rq_3, &z); }, -EINVAL, URINGX_REASON_NONE},
      {"rq_entries 65536", [&] { return create(ring.get(), &rq_big, &z); }, -EINVAL,
       URINGX_REASON_NONE},
      {"unknown interface", [&] { return create(ring.get(), &no_dev, &z); }, -ENODEV,
       URINGX_REASON_NO_SUCH_DEVICE},
  });
  // A hugetlb area without reserved huge pages fails before the device is
  // looked up; with them, the unknown device is what fails.
  const auto huge = params(kNoSuchIf, 2 << 20, 64, URINGX_ZCRX_MEM_HUGETLB);
  Outcome o = create(ring.get(), &huge, &z);
  if (o.ret == -ENOMEM) {
    EXPECT_EQ(o.reason, URINGX_REASON_NO_MEMORY);
  } else {
    EXPECT_EQ(o.ret, -ENODEV);
    EXPECT_EQ(o.reason, URINGX_REASON_NO_SUCH_DEVICE);
  }
  // Buffers larger than a page: 6.18's zcrx has no rx_buf_len (no
  // ZCRX_FEATURE_RX_PAGE_SIZE), which is said before anything is registered.
  if (!RxBufLenAvailable()) {
    const auto large = with_buf_len(ok, 16384);
    Check("uringx_zcrx_create", {
        {"rx_buf_len 16384 on a kernel without it", [&] { return create(ring.get(), &large, &z); },
         -EOPNOTSUPP, URINGX_REASON_KERNEL_NO_RX_BUF_LEN},
    });
  }
  // NODEV copy mode (ifname NULL): 6.18 lacks it, which is said before registering.
  if (!NodevAvailable()) {
    const auto nodev = params(nullptr, 1 << 20, 64);
    Check("uringx_zcrx_create", {
        {"ifname NULL on a kernel without NODEV", [&] { return create(ring.get(), &nodev, &z); },
         -EOPNOTSUPP, URINGX_REASON_KERNEL_NO_NODEV},
    });
  }
  EXPECT_EQ(z, nullptr);
  Check("uringx_zcrx_release", {
      {"zcrx NULL", [&] { return Outcome{uringx_zcrx_release(nullptr, 1)}; }, -EINVAL},
  });
}

// Import refusals that come before the share's owner is used: a stand-in
// owner pointer (never dereferenced on these paths) makes the share look
// live, so the checks after the owner test are reached.
TEST(BadInput, ZcrxShare) {
  Ring zring(8, kZcrxRingFlags), plain;
  if (zring.init_error()) GTEST_SKIP() << "no DEFER_TASKRUN|CQE32 ring";
  alignas(16) char stand_in[64] = {};
  auto* owner = reinterpret_cast<uringx_zcrx*>(stand_in);
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  uringx_zcrx_share no_fd{-1, owner};
  uringx_zcrx_share live{pipefd[0], owner};
  uringx_zcrx* z = nullptr;
  uringx_reason r = kUnset;
  auto import = [&](io_uring* ring, uringx_zcrx_share* share, uringx_zcrx** out) {
    r = kUnset;
    return Outcome{uringx_zcrx_import(ring, share, out, &r), r};
  };
  Check("uringx_zcrx_import", {
      {"ring NULL", [&] { return import(nullptr, &live, &z); }, -EINVAL, URINGX_REASON_NONE},
      {"share NULL", [&] { return import(zring.get(), nullptr, &z); }, -EINVAL, URINGX_REASON_NONE},
      {"share fd -1", [&] { return import(zring.get(), &no_fd, &z); }, -EINVAL, URINGX_REASON_NONE},
      {"out NULL", [&] { return import(zring.get(), &live, nullptr); }, -EINVAL, URINGX_REASON_NONE},
      {"ring without DEFER_TASKRUN|CQE32", [&] { return import(plain.get(), &live, &z); }, -EINVAL,
       URINGX_REASON_KERNEL_RING_FLAGS},
  });
  EXPECT_EQ(z, nullptr);
  EXPECT_EQ(live.fd, pipefd[0]) << "a refused share is not consumed";
  uringx_rxsrc* src = nullptr;
  Check("uringx_rxsrc_import", {
      {"out NULL", [&] {
         r = kUnset;
         return Outcome{uringx_rxsrc_import(zring.get(), &live, nullptr, &r), r};
       }, -EINVAL, URINGX_REASON_NONE},
      {"ring without DEFER_TASKRUN|CQE32", [&] {
         r = kUnset;
         return Outcome{uringx_rxsrc_import(plain.get(), &live, &src, &r), r};
       }, -EINVAL, URINGX_REASON_KERNEL_RING_FLAGS},
  });
  EXPECT_EQ(src, nullptr);
  close(pipefd[0]);
  close(pipefd[1]);
}

// --- rxsrc.h -------------------------------------------------------------------

TEST(BadInput, Rxsrc) {
  Ring plain, zring(64, kZcrxRingFlags);
  if (zring.init_error()) GTEST_SKIP() << "no DEFER_TASKRUN|CQE32 ring";
  uringx_rxsrc* src = nullptr;
  uringx_reason r = kUnset;
  auto create = [&](io_uring* ring, const uringx_rxsrc_params* p, uringx_rxsrc** out) {
    r = kUnset;
    return Outcome{uringx_rxsrc_create(ring, p, out, &r), r};
  };
  auto params = [](uringx_rxsrc_mode mode, const char* ifname, uint32_t nr_bufs) {
    uringx_rxsrc_params p{};
    p.mode = mode;
    p.zcrx.ifname = ifname;
    p.zcrx.area_size = 1 << 20;
    p.zcrx.rq_entries = 64;
    p.pbuf = {nr_bufs, 4096, 21, 0};
    return p;
  };
  const auto ok = params(URINGX_RXSRC_PBUF, nullptr, 8);
  const auto bad_mode = params(static_cast<uringx_rxsrc_mode>(7), nullptr, 8);
  const auto bad_pbuf = params(URINGX_RXSRC_PBUF, nullptr, 3);
  const auto zcrx_plain = params(URINGX_RXSRC_ZCRX, "lo", 8);
  const auto auto_bad_pbuf = params(URINGX_RXSRC_AUTO, kNoSuchIf, 3);
  Check("uringx_rxsrc_create", {
      {"ring NULL", [&] { return create(nullptr, &ok, &src); }, -EINVAL, URINGX_REASON_NONE},
      {"params NULL", [&] { return create(plain.get(), nullptr, &src); }, -EINVAL, URINGX_REASON_NONE},
      {"out NULL", [&] { return create(plain.get(), &ok, nullptr); }, -EINVAL, URINGX_REASON_NONE},
      {"mode 7", [&] { return create(plain.get(), &bad_mode, &src); }, -EINVAL, URINGX_REASON_NONE},
      {"mode PBUF, nr_bufs 3", [&] { return create(plain.get(), &bad_pbuf, &src); }, -EINVAL,
       URINGX_REASON_NONE},
      {"mode ZCRX on a ring without DEFER_TASKRUN|CQE32",
       [&] { return create(plain.get(), &zcrx_plain, &src); }, -EINVAL,
       URINGX_REASON_KERNEL_RING_FLAGS},
      // zcrx fails on the unknown device, then the buffer ring on its
      // parameters: the buffer ring's answer is the one returned.
      {"mode AUTO, unknown interface and nr_bufs 3",
       [&] { return create(zring.get(), &auto_bad_pbuf, &src); }, -EINVAL, URINGX_REASON_NONE},
  });
  EXPECT_EQ(src, nullptr);
  if (!NodevAvailable()) {
    const auto nodev = params(URINGX_RXSRC_ZCRX, nullptr, 8);
    Check("uringx_rxsrc_create", {
        {"mode ZCRX, ifname NULL on a kernel without NODEV",
         [&] { return create(zring.get(), &nodev, &src); }, -EOPNOTSUPP,
         URINGX_REASON_KERNEL_NO_NODEV},
    });
  }
  // AUTO is not an error: it falls back to the buffer ring and keeps why.
  const auto auto_no_dev = params(URINGX_RXSRC_AUTO, kNoSuchIf, 8);
  ASSERT_EQ(uringx_rxsrc_create(zring.get(), &auto_no_dev, &src, &r), 0);
  EXPECT_EQ(uringx_rxsrc_kind(src), URINGX_RX_PBUF);
  EXPECT_EQ(uringx_rxsrc_reason(src), URINGX_REASON_NO_SUCH_DEVICE);
  EXPECT_EQ(uringx_rxsrc_zcrx_err(src), -ENODEV);
  uringx_rxsrc_destroy(src);
  const auto auto_plain = params(URINGX_RXSRC_AUTO, "lo", 8);
  ASSERT_EQ(uringx_rxsrc_create(plain.get(), &auto_plain, &src, &r), 0);
  EXPECT_EQ(uringx_rxsrc_kind(src), URINGX_RX_PBUF);
  EXPECT_EQ(uringx_rxsrc_reason(src), URINGX_REASON_KERNEL_RING_FLAGS);
  EXPECT_EQ(uringx_rxsrc_zcrx_err(src), -EINVAL);
  // A buffer ring source refuses a token of no source, and has nothing to flush.
  EXPECT_EQ(uringx_rxsrc_release(src, 0), -EINVAL);
  EXPECT_EQ(uringx_rxsrc_flush(src), 0);
  uringx_rxsrc_destroy(src);
}

// --- steer.h -------------------------------------------------------------------

const uint8_t kKey[40] = {0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67,
                          0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
                          0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
                          0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};

struct FakeRss {
  std::vector<uint32_t> indir = std::vector<uint32_t>(128);
  std::vector<uint8_t> key{kKey, kKey + sizeof(kKey)};
  uringx_rss rss{};
  FakeRss() {
    for (uint32_t i = 0; i < indir.size(); i++) indir[i] = i % 4;
    rss.rx_queues = 4;
    rss.indir_size = static_cast<uint32_t>(indir.size());
    rss.indir = indir.data();
    rss.key_size = static_cast<uint32_t>(key.size());
    rss.key = key.data();
    rss.toeplitz = true;
  }
};

TEST(BadInput, RssAndToeplitz) {
  uringx_rss rss;
  uringx_reason why = kUnset;
  auto read = [&](const char* ifname) {
    why = kUnset;
    return Outcome{uringx_rss_read(ifname, &rss, &why), why};
  };
  Check("uringx_rss_read", {
      {"ifname NULL", [&] { return read(nullptr); }, -ENODEV, URINGX_REASON_NO_SUCH_DEVICE},
      {"ifname of IFNAMSIZ or more", [&] { return read(kTooLongIf); }, -ENODEV,
       URINGX_REASON_NO_SUCH_DEVICE},
      // lo has no RSS: the kernel answers ETHTOOL_GRSSH with EOPNOTSUPP.
      {"lo (no RSS)", [&] { return read("lo"); }, -EOPNOTSUPP, URINGX_REASON_NO_RSS},
      {"out NULL", [&] {
         why = kUnset;
         return Outcome{uringx_rss_read("lo", nullptr, &why), why};
       }, -EINVAL, URINGX_REASON_NONE},
  });
  EXPECT_EQ(rss.indir, nullptr) << "a refused read leaves nothing to free";
  uringx_rss_free(&rss);  // a zeroed uringx_rss frees nothing

  const uint8_t data[12] = {1, 2, 3};
  EXPECT_EQ(uringx_toeplitz(kKey, 3, data, 0), 0u) << "key shorter than 4 bytes";
  EXPECT_EQ(uringx_toeplitz(kKey, 15, data, 12), 0u) << "key shorter than len + 4";
  EXPECT_NE(uringx_toeplitz(kKey, 16, data, 12), 0u) << "the shortest key that covers the input";
  EXPECT_EQ(uringx_toeplitz(kKey, 16, data, SIZE_MAX - 1), 0u) << "len + 4 wraps around";
  EXPECT_EQ(uringx_toeplitz(nullptr, 16, data, 12), 0u) << "key NULL";
  EXPECT_EQ(uringx_toeplitz(kKey, 16, nullptr, 12), 0u) << "data NULL";

  FakeRss f;
  sockaddr_in s4 = V4("10.0.0.1", 80), d4 = V4("10.0.0.2", 40000);
  sockaddr_in6 s6 = V6("fd00::1", 80), d6 = V6("fd00::2", 40000);
  sockaddr_storage unix_a{}, unix_b{};
  unix_a.ss_family = unix_b.ss_family = AF_UNIX;
  uringx_rss no_indir = f.rss, no_key = f.rss, short_key = f.rss;
  no_indir.indir_size = 0;
  no_key.key = nullptr;
  short_key.key_size = 20;  // covers IPv4 (12 + 4), not IPv6 (36 + 4)
  Check("uringx_rss_queue", {
      {"rss NULL", [&] { return Outcome{uringx_rss_queue(nullptr, Sa(s4), Sa(d4))}; }, -EINVAL},
      {"indir_size 0", [&] { return Outcome{uringx_rss_queue(&no_indir, Sa(s4), Sa(d4))}; }, -EINVAL},
      {"key NULL", [&] { return Outcome{uringx_rss_queue(&no_key, Sa(s4), Sa(d4))}; }, -EINVAL},
      {"from NULL", [&] { return Outcome{uringx_rss_queue(&f.rss, nullptr, Sa(d4))}; }, -EINVAL},
      {"to NULL", [&] { return Outcome{uringx_rss_queue(&f.rss, Sa(s4), nullptr)}; }, -EINVAL},
      {"AF_UNIX addresses", [&] { return Outcome{uringx_rss_queue(&f.rss, Sa(unix_a), Sa(unix_b))}; },
       -EAFNOSUPPORT},
      {"IPv6 with a 20-byte key", [&] { return Outcome{uringx_rss_queue(&short_key, Sa(s6), Sa(d6))}; },
       -EOPNOTSUPP},
  });
  EXPECT_GE(uringx_rss_queue(&short_key, Sa(s4), Sa(d4)), 0) << "IPv4 fits a 20-byte key";
}

TEST(BadInput, PickAndBindPort) {
  FakeRss f;
  sockaddr_in local = V4("127.0.0.1", 0), remote = V4("127.0.0.1", 8080);
  sockaddr_in6 remote6 = V6("::1", 8080);
  uringx_rss no_key = f.rss, not_toeplitz = f.rss;
  no_key.key = nullptr;
  not_toeplitz.toeplitz = false;
  auto pick = [&](const uringx_rss* rss, const sockaddr* l, const sockaddr* r, uint16_t lo,
                  uint16_t hi) { return Outcome{uringx_rss_pick_port(rss, l, r, 1, lo, hi)}; };
  Check("uringx_rss_pick_port", {
      {"rss NULL", [&] { return pick(nullptr, Sa(local), Sa(remote), 22000, 22999); }, -EINVAL},
      {"key NULL", [&] { return pick(&no_key, Sa(local), Sa(remote), 22000, 22999); }, -EINVAL},
      {"local NULL", [&] { return pick(&f.rss, nullptr, Sa(remote), 22000, 22999); }, -EINVAL},
      {"remote NULL", [&] { return pick(&f.rss, Sa(local), nullptr, 22000, 22999); }, -EINVAL},
      {"lo > hi", [&] { return pick(&f.rss, Sa(local), Sa(remote), 22999, 22000); }, -EINVAL},
      {"lo 0", [&] { return pick(&f.rss, Sa(local), Sa(remote), 0, 22999); }, -EINVAL},
      {"IPv4 local, IPv6 remote", [&] { return pick(&f.rss, Sa(local), Sa(remote6), 22000, 22999); },
       -EINVAL},
      {"device not hashing with Toeplitz",
       [&] { return pick(&not_toeplitz, Sa(local), Sa(remote), 22000, 22999); }, -EOPNOTSUPP},
  });

  testsupport::Fd a(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  testsupport::Fd b(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_GE(a.get(), 0);
  ASSERT_GE(b.get(), 0);
  const int pa = uringx_rss_bind_port(a.get(), &f.rss, Sa(local), Sa(remote), 1, 22000, 22999);
  ASSERT_GT(pa, 0) << uringx_strerror(pa);
  const uint16_t held = static_cast<uint16_t>(pa);
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  testsupport::Fd rd(pipefd[0]), wr(pipefd[1]);
  auto bind_port = [&](int fd, const sockaddr* l, uint16_t lo, uint16_t hi) {
    return Outcome{uringx_rss_bind_port(fd, &f.rss, l, Sa(remote), 1, lo, hi)};
  };
  Check("uringx_rss_bind_port", {
      {"local NULL", [&] { return bind_port(b.get(), nullptr, 22000, 22999); }, -EINVAL},
      {"fd -1", [&] { return bind_port(-1, Sa(local), 22000, 22999); }, -EBADF},
      {"fd not a socket", [&] { return bind_port(rd.get(), Sa(local), 22000, 22999); }, -ENOTSOCK},
      {"socket already bound", [&] { return bind_port(a.get(), Sa(local), 22000, 22999); }, -EINVAL},
      {"every matching port in use", [&] { return bind_port(b.get(), Sa(local), held, held); },
       -EADDRNOTAVAIL},
  });
}

TEST(BadInput, SteerRules) {
  sockaddr_in dst = V4("0.0.0.0", 8080);
  sockaddr_storage unix_dst{};
  unix_dst.ss_family = AF_UNIX;
  uint32_t rule = 0;
  uringx_reason why = kUnset;
  auto add = [&](const char* ifname, const sockaddr* d) {
    why = kUnset;
    return Outcome{uringx_steer_add(ifname, d, 0, &rule, &why), why};
  };
  Check("uringx_steer_add", {
      {"dst NULL", [&] { return add("lo", nullptr); }, -EINVAL, URINGX_REASON_OTHER},
      {"dst AF_UNIX", [&] { return add("lo", Sa(unix_dst)); }, -EINVAL, URINGX_REASON_OTHER},
      {"ifname NULL", [&] { return add(nullptr, Sa(dst)); }, -ENODEV, URINGX_REASON_NO_SUCH_DEVICE},
      {"ifname of IFNAMSIZ or more", [&] { return add(kTooLongIf, Sa(dst)); }, -ENODEV,
       URINGX_REASON_NO_SUCH_DEVICE},
  });
  Check("uringx_steer_del", {
      {"ifname NULL", [] { return Outcome{uringx_steer_del(nullptr, 0)}; }, -EINVAL},
      {"ifname of IFNAMSIZ or more", [] { return Outcome{uringx_steer_del(kTooLongIf, 0)}; },
       -EINVAL},
      // SIOCETHTOOL looks the device up before checking CAP_NET_ADMIN.
      {"unknown interface", [] { return Outcome{uringx_steer_del(kNoSuchIf, 0)}; }, -ENODEV},
  });
}

TEST(BadInput, RxQueueNapi) {
  uringx_rx_queue_napi q[2] = {{77, 77}, {77, 77}};
  uringx_reason why = kUnset;
  auto napi = [&](const char* ifname, uringx_rx_queue_napi* out, unsigned max) {
    why = kUnset;
    return Outcome{uringx_rx_queues_napi(ifname, out, max, &why), why};
  };
  Check("uringx_rx_queues_napi", {
      {"ifname NULL", [&] { return napi(nullptr, q, 2); }, -EINVAL, URINGX_REASON_NONE},
      {"out NULL, max 2", [&] { return napi("lo", nullptr, 2); }, -EINVAL, URINGX_REASON_NONE},
      // More queues than max: the count, nothing written past max.
      {"lo, max 0", [&] { return napi("lo", q, 0); }, 1, URINGX_REASON_NONE},
  });
  EXPECT_EQ(q[0].queue, 77u) << "max 0: nothing written";
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  testsupport::Fd rd(pipefd[0]), wr(pipefd[1]);
  auto queue_of = [&](int fd, const uringx_rx_queue_napi* queues, unsigned n) {
    why = kUnset;
    return Outcome{uringx_socket_rx_queue(fd, queues, n, &why), why};
  };
  Check("uringx_socket_rx_queue", {
      {"queues NULL, n 1", [&] { return queue_of(0, nullptr, 1); }, -EINVAL, URINGX_REASON_NONE},
      {"fd -1", [&] { return queue_of(-1, q, 1); }, -EBADF, URINGX_REASON_OTHER},
      {"fd not a socket", [&] { return queue_of(rd.get(), q, 1); }, -ENOTSOCK, URINGX_REASON_OTHER},
  });
}

// --- destroy / fini / drop of NULL ---------------------------------------------

TEST(BadInput, NullDestroysAreNoOps) {
  // Each would crash were NULL dereferenced; none returns anything.
  uringx_bufpool_destroy(nullptr);
  uringx_pbufring_destroy(nullptr);
  uringx_zcrx_destroy(nullptr);
  uringx_rxsrc_destroy(nullptr);
  uringx_nictx_destroy(nullptr);
  uringx_sendzc_fini(nullptr);
  uringx_zcrx_share_drop(nullptr);
  uringx_sendzc zeroed{};
  uringx_sendzc_fini(&zeroed);  // init never ran (or failed): nothing to free
  EXPECT_EQ(zeroed.pending_bytes, nullptr);
}

}  // namespace
