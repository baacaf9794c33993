// zcnet-proxy - TCP proxy that moves payload through registered buffers.
//
//   zcnet-proxy --listen ADDR --upstream ADDR [--chunks N] [--chunk-size B] [--tx-nic IF]
//
// Each direction of each connection receives into a TxPool chunk (memory
// registered once) and forwards that same chunk with SendZc: no payload copy
// in user space. The chunk returns to the pool at the kernel's notification.
// Prints per-connection byte counts and the pool's zero-copy statistics.
#include <arpa/inet.h>
#include <getopt.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <zcnet/net/address.hpp>
#include <zcnet/net/socket.hpp>
#include <zcnet/ring.hpp>
#include <zcnet/scope.hpp>
#include <zcnet/tx_buffer.hpp>

#include "command_line.hpp"

namespace {

using zcnet::Ring;
using zcnet::Socket;
using zcnet::Task;
using zcnet::TxPool;

[[noreturn]] void Usage(int code) {
  std::fprintf(code ? stderr : stdout,
               "usage: zcnet-proxy --listen ADDR --upstream ADDR [--chunks N] "
               "[--chunk-size B] [--connections N] [--tx-nic IF]\n"
               "Forwards every accepted connection to the upstream through registered\n"
               "buffers with zero-copy send. --connections: exit after N connections.\n"
               "--tx-nic IF: send from a pool IF has DMA-mapped once (NIC-registered;\n"
               "falls back to ordinary registered buffers, saying why, where it cannot).\n"
               "ADDR: A.B.C.D:PORT, [IPv6]:PORT, unix:/path or unix:@abstract-name.\n");
  std::exit(code);
}

// One direction: receive into a chunk, send the chunk; EOF -> shutdown(SHUT_WR).
Task<uint64_t> Pump(TxPool& pool, Socket& from, Socket& to) {
  uint64_t moved = 0;
  for (;;) {
    auto b = co_await pool.Acquire();
    if (!b.ok()) break;
    auto n = co_await from.Recv(b->span());
    if (!n.ok() || *n == 0) break;
    b->resize(*n);
    auto sent = co_await zcnet::SendZc(to.fd(), std::move(*b));
    if (!sent.ok()) break;
    moved += *sent;
  }
  (void)co_await to.Shutdown();
  co_return moved;
}

Task<void> Proxy(TxPool& pool, Socket client, zcnet::Address upstream_addr, int id) {
  auto upstream = Socket::OpenFor(client.ring(), upstream_addr);
  if (!upstream.ok()) {
    std::fprintf(stderr, "zcnet-proxy: connection %d: %s\n", id, upstream.status().ToString().c_str());
    co_return;
  }
  auto st = co_await upstream->Connect(upstream_addr);
  if (!st.ok()) {
    std::fprintf(stderr, "zcnet-proxy: connection %d: connect to upstream %s: %s\n", id,
                 upstream_addr.ToString().c_str(), st.ToString().c_str());
    co_return;
  }
  uint64_t up = 0, down = 0;
  zcnet::Scope scope;
  scope.Spawn([](TxPool& p, Socket& a, Socket& b, uint64_t& out) -> Task<void> {
    out = co_await Pump(p, a, b);
  }(pool, client, *upstream, up));
  scope.Spawn([](TxPool& p, Socket& a, Socket& b, uint64_t& out) -> Task<void> {
    out = co_await Pump(p, a, b);
  }(pool, *upstream, client, down));
  co_await scope.Join();
  std::printf("connection %d: %llu bytes up, %llu bytes down\n", id, (unsigned long long)up,
              (unsigned long long)down);
  std::fflush(stdout);
}

Task<int> Serve(Ring& ring, zcnet::Address listen_addr, zcnet::Address upstream, TxPool::Options po,
                int max_connections) {
  auto pool = TxPool::Create(ring, po);
  if (!pool.ok()) {
    std::fprintf(stderr, "zcnet-proxy: %s\n", pool.status().ToString().c_str());
    co_return 1;
  }
  auto listener = zcnet::Listener::Bind(ring, listen_addr);
  if (!listener.ok()) {
    std::fprintf(stderr, "zcnet-proxy: %s\n", listener.status().ToString().c_str());
    co_return 1;
  }
  std::printf("zcnet-proxy listening on %s\npool: %s\n", listener->address().ToString().c_str(),
              (*pool)->Describe().c_str());
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
    scope.Spawn(Proxy(**pool, std::move(*c), upstream, id));
  }
  co_await scope.Join();
  const auto& st = (*pool)->stats();
  std::printf("pool: %llu zero-copy sends, %llu plain sends (%llu shorter than %zu bytes), "
              "kernel reported %llu bytes zero-copy and %llu copied; copy fallback %s\n",
              (unsigned long long)st.zc_sends, (unsigned long long)st.plain_sends,
              (unsigned long long)st.short_sends, po.zc_min_bytes,
              (unsigned long long)st.bytes_zerocopy, (unsigned long long)st.bytes_copied,
              (*pool)->copies_seen() ? "engaged" : "not engaged");
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
                                {"help", no_argument, nullptr, 'h'},
                                {nullptr, 0, nullptr, 0}};
  zcnet::Address listen, upstream;
  bool have_listen = false, have_upstream = false;
  TxPool::Options po;
  po.chunks = 256;
  int connections = 0;
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
  return (*ring)->Run(Serve(**ring, listen, upstream, po, connections));
}
