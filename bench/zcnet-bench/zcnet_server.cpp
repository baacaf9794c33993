// SPDX-License-Identifier: MIT
// zcnet-bench: the zcnet C++20 coroutine layer serving the same sockets as
// the C strategies, on the best mechanism RxPool finds (zcrx on a NIC queue
// when one is named, else the provided-buffer ring with bundles). One
// coroutine per connection: co_await Next() for a buffer, verify or echo it
// with co_await Send(), drop it to return the memory.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>

#include "bench.h"
#include "zcnet/net/socket.hpp"
#include "zcnet/ring.hpp"
#include "zcnet/rx_buffer.hpp"
#include "zcnet/scope.hpp"
#include "zcnet/task.hpp"

namespace {

using zcnet::RxPool;
using zcnet::Task;

struct ConnCounters {
  uint64_t recv_cqes = 0;
  uint64_t sends = 0;
};

Task<void> ServeConn(RxPool& pool, zcnet::Socket socket, int idx, server_run* run,
                     ConnCounters* counters) {
  auto stream = pool.Stream(socket.fd());
  if (!stream.ok()) {
    if (!run->error) run->error = -EIO;
    co_return;
  }
  uint64_t offset = 0;
  for (;;) {
    absl::StatusOr<zcnet::RxBuffer> b = co_await stream->Next();
    if (!b.ok()) {
      if (!run->error) run->error = -ECONNABORTED;
      break;
    }
    if (b->empty()) break;  // end of stream
    const auto* data = reinterpret_cast<const uint8_t*>(b->data());
    if (run->mode == SERVE_SINK &&
        !pattern_check(conn_stream_base(run->first_conn + idx) + offset, data, b->size()))
      run->bad_bytes += b->size();
    offset += b->size();
    run->bytes += b->size();
    if (run->mode != SERVE_ECHO) continue;
    for (absl::Span<const std::byte> rest = b->span(); !rest.empty();) {
      absl::StatusOr<size_t> n = co_await socket.Send(rest);
      counters->sends++;
      if (!n.ok()) {
        if (!run->error) run->error = -EPIPE;
        co_return;
      }
      rest.remove_prefix(*n);
    }
  }
  counters->recv_cqes += stream->cqes();
}

Task<int> ServeAll(zcnet::Ring& ring, server_run* run) {
  RxPool::Options po;
  po.ifname = run->zcrx_ifname;
  po.queue = run->zcrx_queue;
  po.buffers = run->pbuf_bufs;  // the same ring as the C pbuf strategies
  po.buffer_size = 16384;
  po.incremental = false;  // one pool feeds every connection
  auto pool = RxPool::Create(ring, po);
  if (!pool.ok()) {
    std::snprintf(run->detail, sizeof(run->detail), "%s", pool.status().ToString().c_str());
    co_return -EIO;
  }
  std::snprintf(run->detail, sizeof(run->detail), "coroutines on %s%s",
                (*pool)->mechanism(),
                std::strcmp((*pool)->mechanism(), "pbuf-ring") ? "" : " bundle");
  std::unique_ptr<ConnCounters[]> counters(new ConnCounters[run->nr_fds]);
  server_ready(run);
  {
    zcnet::Scope scope;
    for (int i = 0; i < run->nr_fds; i++) {
      int fd = dup(run->fds[i]);  // the Socket owns its fd; the bench owns the original
      if (fd < 0) {
        run->error = -errno;
        break;
      }
      scope.Spawn(ServeConn(**pool, zcnet::Socket(ring, fd), i, run, &counters[i]));
    }
    co_await scope.Join();
  }
  for (int i = 0; i < run->nr_fds; i++) run->cqes += counters[i].recv_cqes + counters[i].sends;
  run->rx_out_of_buffers = static_cast<int64_t>((*pool)->out_of_buffers());
  co_return run->error;
}

}  // namespace

extern "C" int zcnet_serve(server_run* run) {
  zcnet::Ring::Options ro;
  ro.entries = 1024;
  auto ring = zcnet::Ring::Create(ro);
  if (!ring.ok()) {
    std::snprintf(run->detail, sizeof(run->detail), "%s", ring.status().ToString().c_str());
    run->error = -EIO;
    return run->error;
  }
  int ret = (*ring)->Run(ServeAll(**ring, run));
  run->syscalls += (*ring)->enter_calls();
  server_done(run);
  return ret;
}

extern "C" const char* zcnet_unavailable(const server_run* cfg, char* why, size_t len) {
  (void)cfg;
  (void)why;
  (void)len;
  return nullptr;  // RxPool falls back to a buffer ring wherever io_uring works
}
