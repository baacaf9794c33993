// zcnet-proxy - TCP proxy that moves payload through registered buffers.
//
//   zcnet-proxy --listen A:P --upstream B:Q [--chunks N] [--chunk-size B] [--tx-nic IF]
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
               "usage: zcnet-proxy --listen ADDR:PORT --upstream ADDR:PORT [--chunks N] "
               "[--chunk-size B] [--connections N] [--tx-nic IF]\n"
               "Forwards every accepted connection to the upstream through registered\n"
               "buffers with zero-copy send. --connections: exit after N connections.\n"
               "--tx-nic IF: send from a pool IF has DMA-mapped once (NIC-registered;\n"
               "falls back to ordinary registered buffers, saying why, where it cannot).\n");
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

Task<void> Proxy(TxPool& pool, Socket client, sockaddr_in upstream_addr, int id) {
  auto upstream = Socket::OpenTcp(client.ring());
  if (!upstream.ok()) co_return;
  auto st = co_await upstream->Connect(reinterpret_cast<sockaddr*>(&upstream_addr),
                                       sizeof(upstream_addr));
  if (!st.ok()) {
    std::fprintf(stderr, "zcnet-proxy: connection %d: upstream %s\n", id, st.ToString().c_str());
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

Task<int> Serve(Ring& ring, sockaddr_in listen_addr, sockaddr_in upstream, TxPool::Options po,
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
  std::printf("zcnet-proxy listening on port %u\npool: %s\n", listener->port(),
              (*pool)->Describe().c_str());
  std::fflush(stdout);
  zcnet::Scope scope;
  auto accepts = listener->AcceptMany();
  for (int id = 0; max_connections == 0 || id < max_connections; id++) {
    auto c = co_await accepts.Next();
    if (!c.ok()) break;
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
  std::string listen, upstream;
  TxPool::Options po;
  po.chunks = 256;
  int connections = 0;
  for (int c; (c = getopt_long(argc, argv, "", opts, nullptr)) != -1;) {
    switch (c) {
      case 'l': listen = optarg; break;
      case 'u': upstream = optarg; break;
      case 'n': po.chunks = static_cast<uint32_t>(std::atoi(optarg)); break;
      case 'b': po.chunk_size = static_cast<uint32_t>(std::atoi(optarg)); break;
      case 'c': connections = std::atoi(optarg); break;
      case 't': po.nic_ifname = optarg; break;
      case 'h': Usage(0);
      default: Usage(2);
    }
  }
  sockaddr_in la, ua;
  if (!examples::ParseEndpoint(listen, &la) || !examples::ParseEndpoint(upstream, &ua)) {
    std::fprintf(stderr, "zcnet-proxy: --listen and --upstream want IPv4:PORT\n");
    Usage(2);
  }
  signal(SIGPIPE, SIG_IGN);
  auto ring = Ring::Create();
  if (!ring.ok()) {
    std::fprintf(stderr, "zcnet-proxy: %s\n", ring.status().ToString().c_str());
    return 1;
  }
  return (*ring)->Run(Serve(**ring, la, ua, po, connections));
}
