#include "rx_loop.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace testsupport {

namespace {

constexpr uint64_t kRecvTag = 0x7265637600000001ULL;   // "recv"
constexpr uint64_t kCancelTag = 0x63616e6300000001ULL;  // "canc"
constexpr uint64_t kZcrxEventTag = 0x7a63727800000001ULL;

}  // namespace

RxLoopResult RunRxLoop(io_uring* ring, uringx_rxsrc* src, int fd, uint64_t seed,
                       const RxLoopOptions& options) {
  RxLoopResult r;
  SeededStream expect(seed);
  std::vector<uringx_rx_view> views(uringx_rxsrc_max_views(src));
  std::deque<uint64_t> held;
  bool waiting_for_buffers = false, cancel_pending = false;
  uint64_t area_len = 0;
  const uint8_t* area = nullptr;
  if (uringx_rxsrc_kind(src) == URINGX_RX_ZCRX)
    area = static_cast<const uint8_t*>(uringx_zcrx_area(uringx_rxsrc_zcrx(src), &area_len));

  auto release_all = [&] {
    while (!held.empty()) {
      int ret = uringx_rxsrc_release(src, held.front());
      if (ret && !r.loop_error) r.loop_error = ret;
      held.pop_front();
    }
    uringx_rxsrc_flush(src);
  };
  auto arm = [&] {
    io_uring_sqe* sqe = io_uring_get_sqe(ring);
    uringx_rxsrc_prep_recv(src, sqe, fd);
    io_uring_sqe_set_data64(sqe, kRecvTag);
    r.arms++;
  };

  arm();
  while (!r.eof && !r.error && !r.loop_error) {
    io_uring_submit(ring);
    io_uring_cqe* cqe = nullptr;
    bool stall_wait = options.hold == HoldPolicy::kHoldUntilStalled && !held.empty();
    int wait_ms = stall_wait ? options.stall_ms : options.idle_timeout_ms;
    __kernel_timespec ts{wait_ms / 1000, (wait_ms % 1000) * 1000000LL};
    int ret = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
    if (ret == -ETIME && stall_wait) {
      r.stalls++;
      release_all();  // the stream stalled on the held buffers: give them back
      continue;
    }
    if (ret) {
      // Say what the socket was doing while the receive waited.
      tcp_info ti{};
      socklen_t tl = sizeof(ti);
      int so_error = 0;
      socklen_t el = sizeof(so_error);
      getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl);
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &el);
      char probe;
      ssize_t n = ::recv(fd, &probe, 1, MSG_DONTWAIT | MSG_PEEK);
      std::fprintf(stderr,
                   "rx loop: no completion in %d ms (%s); socket: tcp state %u, SO_ERROR %d, "
                   "a peek now returns %zd (%s), %u arms so far\n",
                   options.idle_timeout_ms, uringx_strerror(ret), ti.tcpi_state, so_error, n,
                   n < 0 ? std::strerror(errno) : "ok", static_cast<unsigned>(r.arms));
      r.loop_error = ret;
      r.timeout_tcp_state = ti.tcpi_state;
      r.timeout_so_error = so_error;
      break;
    }
    unsigned head, seen = 0;
    io_uring_for_each_cqe(ring, head, cqe) {
      seen++;
      uint64_t ud = cqe->user_data;
      if (uringx_rxsrc_kind(src) == URINGX_RX_ZCRX &&
          uringx_zcrx_is_event(uringx_rxsrc_zcrx(src), cqe)) {
        r.zcrx_events++;
        continue;
      }
      if (ud == kCancelTag) {
        // 0: the receive was found and cancelled; -EALREADY: found while
        // running, it ends at its next completion. -ENOENT: it had ended.
        if (cqe->res == 0 || cqe->res == -EALREADY) r.cancels_found++;
        continue;
      }
      if (ud != kRecvTag) {
        r.loop_error = -EPROTO;
        continue;
      }
      uringx_rx_event ev;
      ret = uringx_rxsrc_decode(src, cqe, views.data(), static_cast<uint32_t>(views.size()), &ev);
      if (ret) {
        std::fprintf(stderr, "rx loop: decode failed: %s\n", uringx_strerror(ret));
        r.loop_error = ret;
        continue;
      }
      if (cqe->flags & IORING_CQE_F_BUF_MORE) r.buf_more_cqes++;
      if (ev.nr_views) {
        r.data_cqes++;
        if (ev.nr_views > r.max_views_per_cqe) r.max_views_per_cqe = ev.nr_views;
      }
      for (uint32_t i = 0; i < ev.nr_views; i++) {
        const auto* p = static_cast<const uint8_t*>(views[i].data);
        if (area && (p < area || p + views[i].len > area + area_len)) r.views_in_area = false;
        long bad = expect.Verify(p, views[i].len);
        if (bad >= 0 && r.first_mismatch < 0)
          r.first_mismatch = static_cast<long>(r.bytes) + bad;
        r.bytes += views[i].len;
        held.push_back(views[i].token);
      }
      if (options.hold == HoldPolicy::kReleaseAtOnce) {
        release_all();
      } else if (options.hold == HoldPolicy::kHoldWindow) {
        while (held.size() > options.window) {
          uringx_rxsrc_release(src, held.front());
          held.pop_front();
        }
        uringx_rxsrc_flush(src);
      }

      if (ev.armed) {
        if (options.cancel_after_cqes && !cancel_pending &&
            r.data_cqes >= options.cancel_after_cqes * (r.cancels + 1)) {
          io_uring_sqe* sqe = io_uring_get_sqe(ring);
          io_uring_prep_cancel64(sqe, kRecvTag, 0);
          io_uring_sqe_set_data64(sqe, kCancelTag);
          cancel_pending = true;
        }
        continue;
      }
      if (ev.error == -ECANCELED && cancel_pending) {
        cancel_pending = false;
        r.cancels++;
        arm();
      } else if (ev.rearm) {
        cancel_pending = false;
        if (ev.out_of_buffers) {
          r.starved_rearms++;
          waiting_for_buffers = true;
        } else {
          arm();
        }
      } else if (ev.eof) {
        r.eof = true;
      } else if (ev.error) {
        r.error = ev.error;
      }
    }
    io_uring_cq_advance(ring, seen);
    if (waiting_for_buffers) {
      // The consumer catches up: views go back, then the receive re-arms.
      release_all();
      waiting_for_buffers = false;
      arm();
    }
  }
  release_all();
  return r;
}

}  // namespace testsupport
