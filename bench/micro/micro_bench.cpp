// bench/micro: Google Benchmark microbenchmarks for the per-operation costs
// the hot paths pay: bufpool alloc/free, buffer-ring release (refill) in
// batches, resuming a zcnet coroutine from a CQE, and a plain send and
// receive of registered memory by address or on its slot.
#include <benchmark/benchmark.h>
#include <liburing.h>
#include <uringx/uringx.h>
#include <zcnet/ring.hpp>
#include <zcnet/task.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

namespace {

struct OwnedRing {
  io_uring ring{};
  OwnedRing() {
    if (io_uring_queue_init(256, &ring, 0)) std::abort();
  }
  ~OwnedRing() { io_uring_queue_exit(&ring); }
};

void BM_BufpoolAllocFree(benchmark::State& state) {
  OwnedRing r;
  uringx_bufpool_params params{4096, 1024, URINGX_BUFPOOL_NO_HUGE, 0};
  uringx_bufpool* pool = nullptr;
  if (uringx_bufpool_create(&r.ring, &params, &pool, nullptr)) {
    state.SkipWithError("bufpool_create failed");
    return;
  }
  uringx_chunk c;
  for (auto _ : state) {
    uringx_bufpool_alloc(pool, &c);
    benchmark::DoNotOptimize(c.addr);
    uringx_bufpool_free(pool, c.token);
  }
  uringx_bufpool_destroy(pool);
}
BENCHMARK(BM_BufpoolAllocFree);

// Releasing views back to a provided-buffer ring: each release republishes a
// buffer (one ring entry and a tail store). Views come from real receives.
void BM_PbufringRelease(benchmark::State& state) {
  const uint32_t batch = static_cast<uint32_t>(state.range(0));
  OwnedRing r;
  uringx_pbufring_params params{1024, 256, 1, 0};
  uringx_pbufring* pbr = nullptr;
  if (uringx_pbufring_create(&r.ring, &params, &pbr, nullptr)) {
    state.SkipWithError("pbufring_create failed");
    return;
  }
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) std::abort();
  std::vector<uringx_rx_view> views(batch);
  std::vector<char> payload(static_cast<size_t>(batch) * 256, 'x');
  for (auto _ : state) {
    // One receive per buffer: a multishot receive fills `batch` buffers.
    uint32_t got = 0;
    if (write(sv[1], payload.data(), payload.size()) < 0) std::abort();
    uringx_pbufring_prep_recv(pbr, io_uring_get_sqe(&r.ring), sv[0]);
    io_uring_submit(&r.ring);
    while (got < batch) {
      io_uring_cqe* cqe;
      io_uring_wait_cqe(&r.ring, &cqe);
      uringx_rx_event ev;
      if (uringx_pbufring_decode(pbr, cqe, &views[got], batch - got, &ev) || ev.error) {
        state.SkipWithError("receive into the buffer ring failed");
        return;
      }
      got += ev.nr_views;
      io_uring_cqe_seen(&r.ring, cqe);
    }
    io_uring_prep_cancel_fd(io_uring_get_sqe(&r.ring), sv[0], IORING_ASYNC_CANCEL_ALL);
    io_uring_submit_and_wait(&r.ring, 2);
    io_uring_cqe* cqe;
    while (io_uring_peek_cqe(&r.ring, &cqe) == 0) io_uring_cqe_seen(&r.ring, cqe);
    // Only the releases are timed (manual time): Pause/ResumeTiming costs more.
    auto t0 = std::chrono::steady_clock::now();
    for (uint32_t i = 0; i < batch; i++) uringx_pbufring_release(pbr, views[i].token);
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * batch);
  close(sv[0]);
  close(sv[1]);
  uringx_pbufring_destroy(pbr);
}
BENCHMARK(BM_PbufringRelease)->Arg(1)->Arg(16)->Arg(64)->UseManualTime();

// Resuming a coroutine from a CQE: a NOP per co_await, CQEs handled by
// Ring::Run (submit, wait, route by user_data, resume).
zcnet::Task<void> NopLoop(zcnet::Ring& ring, int64_t n) {
  struct Result {
    int operator()(int res, uint32_t) const { return res; }
  };
  for (int64_t i = 0; i < n; i++)
    (void)co_await zcnet::MakeIo(ring, {}, [](io_uring_sqe* sqe) { io_uring_prep_nop(sqe); },
                                 Result{});
}

void BM_CoroutineNopRoundTrip(benchmark::State& state) {
  auto ring = zcnet::Ring::Create();
  if (!ring.ok()) {
    state.SkipWithError("ring");
    return;
  }
  constexpr int64_t kPerIteration = 1000;
  for (auto _ : state) (*ring)->Run(NopLoop(**ring, kPerIteration));
  state.SetItemsProcessed(state.iterations() * kPerIteration);
}
BENCHMARK(BM_CoroutineNopRoundTrip);

// The same NOP round trip in plain liburing, for the coroutine's own cost.
void BM_PlainNopRoundTrip(benchmark::State& state) {
  io_uring ring;
  io_uring_params p{};
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQE32;
  if (io_uring_queue_init_params(256, &ring, &p)) {
    state.SkipWithError("ring");
    return;
  }
  constexpr int64_t kPerIteration = 1000;
  for (auto _ : state) {
    for (int64_t i = 0; i < kPerIteration; i++) {
      io_uring_prep_nop(io_uring_get_sqe(&ring));
      io_uring_submit_and_wait(&ring, 1);
      io_uring_cqe* cqe;
      io_uring_peek_cqe(&ring, &cqe);
      benchmark::DoNotOptimize(cqe->res);
      io_uring_cqe_seen(&ring, cqe);
    }
  }
  state.SetItemsProcessed(state.iterations() * kPerIteration);
  io_uring_queue_exit(&ring);
}
BENCHMARK(BM_PlainNopRoundTrip);

}  // namespace

// A plain IORING_OP_SEND of range(0) bytes from one chunk of a registered
// pool over TCP loopback and the IORING_OP_RECV of them into another, linked,
// one submit per iteration: by address (range(1) 0) or naming the pool's
// slot (1, IORING_RECVSEND_FIXED_BUF, Linux 7.x; the kernel of the VM).
// Run with --benchmark_enable_random_interleaving for ABAB order.
void BM_PlainSendRecv(benchmark::State& state) {
  const size_t len = static_cast<size_t>(state.range(0));
  const bool fixed = state.range(1) != 0;
  OwnedRing r;
  uint32_t flags = URINGX_BUFPOOL_NO_HUGE | (fixed ? 0u : uint32_t{URINGX_BUFPOOL_NO_FIXED_PLAIN});
  uringx_bufpool_params params{static_cast<uint32_t>(len), 2, flags, 0};
  uringx_bufpool* pool = nullptr;
  if (uringx_bufpool_create(&r.ring, &params, &pool, nullptr)) {
    state.SkipWithError("bufpool_create failed");
    return;
  }
  if (fixed && !uringx_bufpool_fixed_plain(pool)) {
    uringx_bufpool_destroy(pool);
    state.SkipWithError("the kernel refuses IORING_RECVSEND_FIXED_BUF on plain SEND/RECV");
    return;
  }
  int lfd = socket(AF_INET, SOCK_STREAM, 0), cfd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof(a);
  if (bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) || listen(lfd, 1) ||
      getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &alen) ||
      connect(cfd, reinterpret_cast<sockaddr*>(&a), sizeof(a)))
    std::abort();
  int sfd = accept(lfd, nullptr, nullptr);
  int one = 1;
  setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  uringx_chunk tx, rx;
  uringx_bufpool_alloc(pool, &tx);
  uringx_bufpool_alloc(pool, &rx);
  memset(tx.addr, 'z', len);
  uint64_t bytes = 0;
  for (auto _ : state) {
    io_uring_sqe* sqe = io_uring_get_sqe(&r.ring);
    uringx_bufpool_prep_send(pool, sqe, cfd, tx.addr, len, MSG_WAITALL);
    sqe->flags |= IOSQE_IO_LINK;
    uringx_bufpool_prep_recv(pool, io_uring_get_sqe(&r.ring), sfd, rx.addr, len, MSG_WAITALL);
    io_uring_submit_and_wait(&r.ring, 2);
    io_uring_cqe* cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&r.ring, head, cqe) {
      if (cqe->res != static_cast<int>(len)) {
        state.SkipWithError("short or failed send/recv");
        break;
      }
      seen++;
    }
    io_uring_cq_advance(&r.ring, seen);
    bytes += len;
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  close(sfd);
  close(cfd);
  close(lfd);
  uringx_bufpool_destroy(pool);
}
BENCHMARK(BM_PlainSendRecv)->ArgsProduct({{64, 4096, 65536}, {0, 1}});

BENCHMARK_MAIN();
