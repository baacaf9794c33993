// zcnet-proxy - TCP proxy that moves payload through registered buffers.
//
//   zcnet-proxy --listen ADDR --upstream ADDR [--chunks N] [--chunk-size B] [--tx-nic IF]
//   zcnet-proxy --listen ADDR --upstream ADDR --zcrx IF [--zcrx-queue Q] [--zcrx-area-mb M]
//
// Each direction of each connection receives into a TxPool chunk (memory
// registered once; RecvInto names its slot where the kernel takes registered
// buffers for plain receives, Linux 7.x) and forwards that same chunk with
// SendZc: no payload copy in user space. The chunk returns to the pool at the kernel's notification.
//
// --zcrx IF: both directions receive zero-copy into a zcrx area on IF's rx
// queue Q whose memory IF also maps for transmission (RxPool
// Options::forward_ifname), and forward each received buffer with SendZc
// from where it landed: bytes the CPU never touches and no per-packet DMA
// mapping either way (zcnet's kernel patches; both flows must arrive on
// queue Q). Where that cannot be done the pool says why and forwards by
// plain sends.
//
// Prints per-connection byte counts and the pool's statistics.
#include <arpa/inet.h>
#include <getopt.h>
#include <signal.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <zcnet/net/address.hpp>
#include <zcnet/net/socket.hpp>
#include <zcnet/ring.hpp>
#include <zcnet/rx_buffer.hpp>
#include <zcnet/scope.hpp>
#include <zcnet/tx_buffer.hpp>

#include "command_line.hpp"

namespace {

using zcnet::Ring;
using zcnet::RxPool;
using zcnet::Socket;
using zcnet::Task;
using zcnet::TxPool;

[[noreturn]] void Usage(int code) {
  std::fprintf(code ? stderr : stdout,
               "usage: zcnet-proxy --listen ADDR --upstream ADDR [--chunks N] "
               "[--chunk-size B] [--connections N] [--tx-nic IF]\n"
               "       zcnet-proxy --listen ADDR --upstream ADDR --zcrx IF [--zcrx-queue Q] "
               "[--zcrx-area-mb M] [--zcrx-rcvbuf B] [--connections N]\n"
               "Forwards every accepted connection to the upstream through registered\n"
               "buffers with zero-copy send. --connections: exit after N connections.\n"
               "--tx-nic IF: send from a pool IF has DMA-mapped once (NIC-registered;\n"
               "falls back to ordinary registered buffers, saying why, where it cannot).\n"
               "--zcrx IF: receive zero-copy on IF's rx queue Q (default 0) into memory IF\n"
               "also maps for TX, and forward from it: no copy, no per-packet DMA mapping.\n"
               "The area (M MiB, default 16) holds what every socket received and nobody\n"
               "read yet: each proxied socket gets SO_RCVBUF B (default 1 MiB; 0: autotuned)\n"
               "so that one direction cannot take it all. Size M above connections x 2 x\n"
               "(2 B + 2 MiB).\n"
               "ADDR: A.B.C.D:PORT, [IPv6]:PORT, unix:/path or unix:@abstract-name.\n");
  std::exit(code);
}

// One direction: receive into a chunk, send the chunk; EOF -> shutdown(SHUT_WR).
Task<uint64_t> Pump(TxPool& pool, Socket& from, Socket& to) {
  uint64_t moved = 0;
  for (;;) {
    auto b = co_await pool.Acquire();
    if (!b.ok()) break;
    auto n = co_await zcnet::RecvInto(from.fd(), *b);  // sets b->size()
    if (!n.ok() || *n == 0) break;
    auto sent = co_await zcnet::SendZc(to.fd(), std::move(*b));
    if (!sent.ok()) break;
    moved += *sent;
  }
  (void)co_await to.Shutdown();
  co_return moved;
}

// One direction, zcrx: receive buffers from the NIC's queue and send each on
// from where it landed; EOF -> shutdown(SHUT_WR).
Task<uint64_t> Pump(RxPool& pool, Socket& from, Socket& to) {
  uint64_t moved = 0;
  auto stream = pool.Stream(from.fd());
  if (!stream.ok()) {
    std::fprintf(stderr, "zcnet-proxy: %s\n", stream.status().ToString().c_str());
  } else {
    for (;;) {
      auto b = co_await stream->Next();
      if (!b.ok()) {
        if (!absl::IsCancelled(b.status()))
          std::fprintf(stderr, "zcnet-proxy: receive: %s\n", b.status().ToString().c_str());
        break;
      }
      if (b->empty()) break;  // end of stream
      auto sent = co_await zcnet::SendZc(to.fd(), std::move(*b));
      if (!sent.ok()) {
        std::fprintf(stderr, "zcnet-proxy: forward: %s\n", sent.status().ToString().c_str());
        break;
      }
      moved += *sent;
    }
  }
  (void)co_await to.Shutdown();
  co_return moved;
}

// The pool a proxy forwards through: TxPool chunks, or a zcrx RxPool.
struct Pools {
  TxPool* tx = nullptr;
  RxPool* rx = nullptr;
  int rcvbuf = 0;  // SO_RCVBUF of every proxied socket, 0: the kernel's
};

// With zcrx, what a socket has received and nobody has read yet sits in the
// area: the NIC's buffers, shared by every socket on the queue. Autotuned
// receive buffers (up to tcp_rmem's 6 MiB each) would let one direction's
// unread data take the whole area while it waits on the other direction,
// whose arrivals the NIC then drops for want of a buffer: a deadlock through
// the peer. A fixed SO_RCVBUF bounds each socket's share.
void LimitReceiveBuffer(int fd, int bytes) {
  if (bytes > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes)) != 0)
    std::fprintf(stderr, "zcnet-proxy: SO_RCVBUF %d: %s\n", bytes, std::strerror(errno));
}

Task<uint64_t> PumpThrough(Pools pools, Socket& from, Socket& to) {
  if (pools.rx) co_return co_await Pump(*pools.rx, from, to);
  co_return co_await Pump(*pools.tx, from, to);
}

Task<void> Proxy(Pools pools, Socket client, zcnet::Address upstream_addr, int id) {
  auto upstream = Socket::OpenFor(client.ring(), upstream_addr);
  if (!upstream.ok()) {
    std::fprintf(stderr, "zcnet-proxy: connection %d: %s\n", id, upstream.status().ToString().c_str());
    co_return;
  }
  LimitReceiveBuffer(upstream->fd(), pools.rcvbuf);
  auto st = co_await upstream->Connect(upstream_addr);
  if (!st.ok()) {
    std::fprintf(stderr, "zcnet-proxy: connection %d: connect to upstream %s: %s\n", id,
                 upstream_addr.ToString().c_str(), st.ToString().c_str());
    co_return;
  }
  uint64_t up = 0, down = 0;
  zcnet::Scope scope;
  scope.Spawn([](Pools p, Socket& a, Socket& b, uint64_t& out) -> Task<void> {
    out = co_await PumpThrough(p, a, b);
  }(pools, client, *upstream, up));
  scope.Spawn([](Pools p, Socket& a, Socket& b, uint64_t& out) -> Task<void> {
    out = co_await PumpThrough(p, a, b);
  }(pools, *upstream, client, down));
  co_await scope.Join();
  std::printf("connection %d: %llu bytes up, %llu bytes down\n", id, (unsigned long long)up,
              (unsigned long long)down);
  std::fflush(stdout);
}

Task<int> Serve(Ring& ring, zcnet::Address listen_addr, zcnet::Address upstream, TxPool::Options po,
                const RxPool::Options* ro, int rcvbuf, int max_connections) {
  std::unique_ptr<TxPool> txpool;
  std::unique_ptr<RxPool> rxpool;
  std::string described;
  if (ro) {
    auto pool = RxPool::Create(ring, *ro);
    if (!pool.ok()) {
      std::fprintf(stderr, "zcnet-proxy: %s\n", pool.status().ToString().c_str());
      co_return 1;
    }
    rxpool = std::move(*pool);
    described = rxpool->Describe();
  } else {
    auto pool = TxPool::Create(ring, po);
    if (!pool.ok()) {
      std::fprintf(stderr, "zcnet-proxy: %s\n", pool.status().ToString().c_str());
      co_return 1;
    }
    txpool = std::move(*pool);
    described = txpool->Describe();
  }
  Pools pools{txpool.get(), rxpool.get(), rxpool ? rcvbuf : 0};
  auto listener = zcnet::Listener::Bind(ring, listen_addr);
  if (!listener.ok()) {
    std::fprintf(stderr, "zcnet-proxy: %s\n", listener.status().ToString().c_str());
    co_return 1;
  }
  LimitReceiveBuffer(listener->fd(), pools.rcvbuf);  // accepted sockets inherit it
  std::printf("zcnet-proxy listening on %s\npool: %s\n", listener->address().ToString().c_str(),
              described.c_str());
  std::fflush(stdout);
  zcnet::Scope scope;
  auto accepts = listener->AcceptMany();
  for (int id = 0; max_connections == 0 || id < max_connections; id++) {
    auto c = co_await accepts.Next();
    if (!c.ok()) {
      std::fprintf(stderr, "zcnet-proxy: %s\n", c.status().ToString().c_str());
      if (!absl::IsResourceExhausted(c.status())) break;
      // Descriptor limit: the connection waits in the backlog; keep
      // forwarding the ones we have and try again shortly.
      co_await zcnet::Sleep(ring, absl::Milliseconds(10));
      id--;
      continue;
    }
    scope.Spawn(Proxy(pools, std::move(*c), upstream, id));
  }
  co_await scope.Join();
  if (rxpool) {
    const auto& f = rxpool->forward_stats();
    auto z = rxpool->zcrx_stats();
    std::printf("pool: %llu zero-copy forwards from the receive area, %llu plain; %llu "
                "notifications, %llu reported copied; zcrx copy fallback %llu completions, "
                "%llu bytes\n",
                (unsigned long long)f.zc_sends, (unsigned long long)f.plain_sends,
                (unsigned long long)f.notifications, (unsigned long long)f.copied,
                (unsigned long long)z.copy_count, (unsigned long long)z.copy_bytes);
    co_return 0;
  }
  const auto& st = txpool->stats();
  std::printf("pool: %llu zero-copy sends, %llu plain sends (%llu shorter than %zu bytes), "
              "kernel reported %llu bytes zero-copy and %llu copied; copy fallback %s; "
              "%llu plain sends and receives on the registered slot\n",
              (unsigned long long)st.zc_sends, (unsigned long long)st.plain_sends,
              (unsigned long long)st.short_sends, po.zc_min_bytes,
              (unsigned long long)st.bytes_zerocopy, (unsigned long long)st.bytes_copied,
              txpool->copies_seen() ? "engaged" : "not engaged",
              (unsigned long long)st.fixed_plain_ops);
  co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
  static const option opts[] = {{"listen", required_argument, nullptr, 'l'},
                                {"upstream", required_argument, nullptr, 'u'},
                                {"chunks", required_argument, nullptr, 'n'},
                                {"chunk-size", required_argument, nullptr, 'b'},
                                {"connections", required_argument, nullptr, 'c'},
                                {"tx-nic", required_argument, nullptr, 't'},
                                {"zcrx", required_argument, nullptr, 'z'},
                                {"zcrx-queue", required_argument, nullptr, 'q'},
                                {"zcrx-area-mb", required_argument, nullptr, 'a'},
                                {"zcrx-rcvbuf", required_argument, nullptr, 'r'},
                                {"help", no_argument, nullptr, 'h'},
                                {nullptr, 0, nullptr, 0}};
  zcnet::Address listen, upstream;
  bool have_listen = false, have_upstream = false;
  TxPool::Options po;
  po.chunks = 256;
  int connections = 0;
  RxPool::Options ro;
  ro.mode = URINGX_RXSRC_ZCRX;
  ro.zcrx_area_bytes = 16ull << 20;
  // A pump holds one buffer at a time: a stream needs no deep queue, and a
  // deep one lets one direction take the buffers the other direction's
  // arrivals need (the area also holds what waits in both sockets).
  ro.stream_quota = 512;
  uint32_t area_mb = 16;
  bool zcrx = false;
  int rcvbuf = 1 << 20;
  const char* me = "zcnet-proxy";
  for (int c; (c = getopt_long(argc, argv, "", opts, nullptr)) != -1;) {
    switch (c) {
      case 'l':
        if (!examples::ParseAddress(me, "--listen", optarg, &listen)) return 2;
        have_listen = true;
        break;
      case 'u':
        if (!examples::ParseAddress(me, "--upstream", optarg, &upstream)) return 2;
        have_upstream = true;
        break;
      case 'n':
        if (!examples::ParseUint(me, "--chunks", optarg, 2, 65536, &po.chunks)) return 2;
        break;
      case 'b':
        if (!examples::ParseUint(me, "--chunk-size", optarg, 4096, 16u << 20, &po.chunk_size)) return 2;
        break;
      case 'c':
        if (!examples::ParseUint(me, "--connections", optarg, 0, 1u << 30, &connections)) return 2;
        break;
      case 't': po.nic_ifname = optarg; break;
      case 'z':
        ro.ifname = ro.forward_ifname = optarg;
        zcrx = true;
        break;
      case 'q':
        if (!examples::ParseUint(me, "--zcrx-queue", optarg, 0, 1023, &ro.queue)) return 2;
        break;
      case 'a':
        if (!examples::ParseUint(me, "--zcrx-area-mb", optarg, 1, 1u << 16, &area_mb)) return 2;
        ro.zcrx_area_bytes = uint64_t{area_mb} << 20;
        break;
      case 'r':
        if (!examples::ParseUint(me, "--zcrx-rcvbuf", optarg, 0, 1u << 30, &rcvbuf)) return 2;
        break;
      case 'h': Usage(0);
      default: Usage(2);
    }
  }
  if (!have_listen || !have_upstream) {
    std::fprintf(stderr, "zcnet-proxy: --listen ADDR and --upstream ADDR are both required\n");
    return 2;
  }
  if (upstream.is_ip() && upstream.port() == 0) {
    std::fprintf(stderr, "zcnet-proxy: --upstream %s: port 0 is not a destination\n",
                 upstream.ToString().c_str());
    return 2;
  }
  if (optind < argc) {
    std::fprintf(stderr, "zcnet-proxy: unexpected argument '%s'\n", argv[optind]);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  auto ring = Ring::Create();
  if (!ring.ok()) {
    std::fprintf(stderr, "zcnet-proxy: %s\n", ring.status().ToString().c_str());
    return 1;
  }
  if (zcrx && !po.nic_ifname.empty()) {
    std::fprintf(stderr, "zcnet-proxy: --zcrx forwards from the receive area; --tx-nic is the "
                         "TxPool mode's: give one of them\n");
    return 2;
  }
  return (*ring)->Run(
      Serve(**ring, listen, upstream, po, zcrx ? &ro : nullptr, rcvbuf, connections));
}
