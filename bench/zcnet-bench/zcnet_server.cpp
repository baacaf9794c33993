// SPDX-License-Identifier: MIT
// zcnet-bench: the zcnet C++20 coroutine layer serving the same sockets as
// the C strategies, on the best mechanism RxPool finds (zcrx on a NIC queue
// when one is named, else the provided-buffer ring with bundles). One
// coroutine per connection: co_await Next() for a buffer and TryNext() for
// what arrived with it, verify them or echo them in one gathered send
// (Writev: sendmsg), drop them to return the memory.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bench.h"
#include "zcnet/net/socket.hpp"
#include "zcnet/ring.hpp"
#include "zcnet/rx_buffer.hpp"
#include "zcnet/scope.hpp"
#include "zcnet/task.hpp"

namespace {

using zcnet::RxPool;
using zcnet::Task;

// The most received buffers one echo send gathers.
constexpr size_t kMaxGather = 64;

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
  std::vector<zcnet::RxBuffer> batch;
  std::vector<iovec> iov;
  for (;;) {
    absl::StatusOr<zcnet::RxBuffer> b = co_await stream->Next();
    if (!b.ok()) {
      if (!run->error) run->error = -ECONNABORTED;
      break;
    }
    if (b->empty()) break;  // end of stream
    batch.push_back(*std::move(b));
    while (batch.size() < kMaxGather) {
      std::optional<zcnet::RxBuffer> more = stream->TryNext();
      if (!more) break;
      batch.push_back(*std::move(more));
    }
    iov.clear();
    for (const zcnet::RxBuffer& x : batch) {
      const auto* data = reinterpret_cast<const uint8_t*>(x.data());
      if (run->mode == SERVE_SINK &&
          !pattern_check(conn_stream_base(run->first_conn + idx) + offset, data, x.size()))
        run->bad_bytes += x.size();
      offset += x.size();
      run->bytes += x.size();
      iov.push_back({const_cast<uint8_t*>(data), x.size()});
    }
    if (run->mode == SERVE_ECHO) {
      for (size_t first = 0; first < iov.size();) {
        absl::StatusOr<size_t> n;
        if (iov.size() - first == 1)  // one buffer: a plain send
          n = co_await socket.Send(absl::MakeConstSpan(
              static_cast<const std::byte*>(iov[first].iov_base), iov[first].iov_len));
        else
          n = co_await socket.Writev(absl::MakeConstSpan(iov).subspan(first));
        counters->sends++;
        if (!n.ok()) {
          if (!run->error) run->error = -EPIPE;
          co_return;
        }
        first = zcnet::ConsumeSent(absl::MakeSpan(iov), first, *n);  // short: resume inside
      }
    }
    batch.clear();  // the buffers go back to the pool
  }
  counters->recv_cqes += stream->cqes();
}

Task<int> ServeAll(zcnet::Ring& ring, server_run* run, bool one_class) {
  RxPool::Options po;
  if (one_class) po.small_buffers = RxPool::Options::kNoSmall;
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
  std::string classes;
  if (uint32_t small = (*pool)->small_buffer_size())
    classes = ", size classes " + std::to_string(small) + "/" + std::to_string(po.buffer_size);
  std::snprintf(run->detail, sizeof(run->detail), "coroutines on %s%s%s", (*pool)->mechanism(),
                std::strcmp((*pool)->mechanism(), "pbuf-ring") ? "" : " bundle", classes.c_str());
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

int Serve(server_run* run, bool one_class) {
  zcnet::Ring::Options ro;
  ro.entries = 1024;
  auto ring = zcnet::Ring::Create(ro);
  if (!ring.ok()) {
    std::snprintf(run->detail, sizeof(run->detail), "%s", ring.status().ToString().c_str());
    run->error = -EIO;
    return run->error;
  }
  int ret = (*ring)->Run(ServeAll(**ring, run, one_class));
  run->syscalls += (*ring)->enter_calls();
  server_done(run);
  return ret;
}

}  // namespace

extern "C" int zcnet_serve(server_run* run) { return Serve(run, false); }
extern "C" int zcnet_serve_one_class(server_run* run) { return Serve(run, true); }

extern "C" const char* zcnet_unavailable(const server_run* cfg, char* why, size_t len) {
  (void)cfg;
  (void)why;
  (void)len;
  return nullptr;  // RxPool falls back to a buffer ring wherever io_uring works
}
