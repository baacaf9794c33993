// zcnet-sink - receive a TCP stream with zcnet and say what it cost.
//
//   zcnet-sink --listen ADDR [--verify] [--rx auto|pbuf|zcrx] [--ifname IF --queue Q]
//   zcnet-sink --self BYTES [--verify] [--rx ...]
//
// Receives on a RecvStream (zcrx when the named NIC queue allows it, else a
// provided-buffer ring; the choice and its reason are printed), optionally
// verifies every byte against uringx-stream's pattern, and prints throughput,
// completions and io_uring_enter calls. --self sends BYTES to itself over
// 127.0.0.1 from a TxPool with SendZc, in the same ring.
#include <arpa/inet.h>
#include <getopt.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <absl/strings/str_cat.h>
#include <zcnet/net/address.hpp>
#include <zcnet/net/socket.hpp>
#include <zcnet/ring.hpp>
#include <zcnet/rx_buffer.hpp>
#include <zcnet/scope.hpp>
#include <zcnet/tx_buffer.hpp>

#include "command_line.hpp"
#include "stream_pattern.hpp"

namespace {

using zcnet::Ring;
using zcnet::RxPool;
using zcnet::Task;

struct Options {
  zcnet::Address listen = zcnet::Address::Loopback4();
  uint64_t self_bytes = 0;
  uint64_t expect_bytes = 0;  // --bytes: the stream's length, checked at EOF
  bool verify = false;
  RxPool::Options pool;
};

[[noreturn]] void Usage(int code) {
  std::fprintf(code ? stderr : stdout,
               "usage: zcnet-sink --listen ADDR [--verify] [--bytes N] [--rx auto|pbuf|zcrx]\n"
               "                  [--ifname IF [--queue N]]\n"
               "       zcnet-sink --self BYTES [--verify] [--rx ...]\n"
               "Receives one TCP stream (--self: sends it to itself over 127.0.0.1 with\n"
               "SendZc) and prints throughput and which receive mechanism ran, and why.\n"
               "--verify checks every byte against uringx-stream's pattern; with --bytes N\n"
               "(implied by --self) the stream must also be exactly N bytes long.\n"
               "ADDR: A.B.C.D:PORT, [IPv6]:PORT, unix:/path or unix:@abstract-name.\n");
  std::exit(code);
}

Task<absl::Status> SendSelf(Ring& ring, zcnet::Address to, uint64_t total) {
  auto pool = zcnet::TxPool::Create(ring, {});
  if (!pool.ok()) co_return pool.status();
  auto s = zcnet::Socket::OpenFor(ring, to);
  if (!s.ok()) co_return s.status();
  auto st = co_await s->Connect(to);
  if (!st.ok()) co_return absl::Status(st.code(), absl::StrCat("connect to ", to.ToString(), ": ", st.message()));
  for (uint64_t sent = 0; sent < total;) {
    auto b = co_await (*pool)->Acquire();
    if (!b.ok()) co_return b.status();
    size_t n = std::min<uint64_t>(b->capacity(), total - sent);
    examples::FillPattern(b->data(), sent, n);
    b->resize(n);
    auto r = co_await zcnet::SendZc(s->fd(), std::move(*b));
    if (!r.ok()) co_return r.status();
    sent += *r;
  }
  co_return co_await s->Shutdown();
}

Task<int> Sink(Ring& ring, const Options& o) {
  auto pool = RxPool::Create(ring, o.pool);
  if (!pool.ok()) {
    std::fprintf(stderr, "zcnet-sink: %s\n", pool.status().ToString().c_str());
    co_return 1;
  }
  std::printf("receive mechanism: %s\n", (*pool)->Describe().c_str());
  auto listener = zcnet::Listener::Bind(ring, o.listen);
  if (!listener.ok()) {
    std::fprintf(stderr, "zcnet-sink: %s\n", listener.status().ToString().c_str());
    co_return 1;
  }
  std::printf("listening on %s\n", listener->address().ToString().c_str());
  std::fflush(stdout);

  zcnet::Scope scope;
  absl::Status send_status;
  if (o.self_bytes) {
    scope.Spawn([](Ring& ring, zcnet::Address to, uint64_t n, absl::Status& out) -> Task<void> {
      out = co_await SendSelf(ring, to, n);
    }(ring, listener->address(), o.self_bytes, send_status));
  }
  auto conn = co_await listener->Accept();
  if (!conn.ok()) {
    std::fprintf(stderr, "zcnet-sink: %s\n", conn.status().ToString().c_str());
    co_return 1;
  }
  absl::Time start = absl::Now();
  uint64_t enters0 = ring.enter_calls();
  uint64_t got = 0, bad_at = UINT64_MAX;
  absl::Status recv_status;
  {
    auto stream = (*pool)->Stream(conn->fd());
    if (!stream.ok()) co_return 1;
    for (;;) {
      auto b = co_await stream->Next();
      if (!b.ok()) {
        recv_status = b.status();
        break;
      }
      if (b->empty()) break;
      if (o.verify && bad_at == UINT64_MAX) {
        long bad = examples::CheckPattern(b->data(), got, b->size());
        if (bad >= 0) bad_at = got + static_cast<uint64_t>(bad);
      }
      got += b->size();
    }
    double secs = absl::ToDoubleSeconds(absl::Now() - start);
    std::printf("received %llu bytes in %.3f s: %.2f Gbit/s; %llu receive CQEs (%.1f per MB), "
                "%llu io_uring_enter (%.2f per MB)\n",
                (unsigned long long)got, secs, static_cast<double>(got) * 8 / secs / 1e9,
                (unsigned long long)stream->cqes(), static_cast<double>(stream->cqes()) / (static_cast<double>(got) / 1e6),
                (unsigned long long)(ring.enter_calls() - enters0),
                static_cast<double>(ring.enter_calls() - enters0) / (static_cast<double>(got) / 1e6));
  }
  co_await scope.Join();
  uringx_zcrx_stats zs = (*pool)->zcrx_stats();
  if (zs.kernel_counts)
    std::printf("zcrx copy fallback (kernel counters): %llu completions, %llu bytes\n",
                (unsigned long long)zs.copy_count, (unsigned long long)zs.copy_bytes);
  uint64_t want = o.self_bytes ? o.self_bytes : o.expect_bytes;
  bool length_ok = !want || got == want;
  if (o.verify) {
    if (bad_at != UINT64_MAX)
      std::printf("verify: MISMATCH at offset %llu\n", (unsigned long long)bad_at);
    else if (!length_ok)
      std::printf("verify: MISMATCH: the stream ended after %llu of %llu bytes\n",
                  (unsigned long long)got, (unsigned long long)want);
    else if (want)
      std::printf("verify: every byte matched (%llu of %llu bytes)\n", (unsigned long long)got,
                  (unsigned long long)want);
    else
      std::printf("verify: the %llu bytes received matched (length not checked: no --bytes)\n",
                  (unsigned long long)got);
  }
  int rc = 0;
  if (!recv_status.ok()) {
    std::fprintf(stderr, "zcnet-sink: %s\n", recv_status.ToString().c_str());
    rc = 1;
  }
  if (!send_status.ok()) {
    std::fprintf(stderr, "zcnet-sink: sender: %s\n", send_status.ToString().c_str());
    rc = 1;
  }
  if (!length_ok) {
    std::fprintf(stderr, "zcnet-sink: received %llu of %llu bytes\n", (unsigned long long)got,
                 (unsigned long long)want);
    rc = 1;
  }
  if (bad_at != UINT64_MAX) {
    std::fprintf(stderr, "zcnet-sink: corrupt byte at offset %llu\n", (unsigned long long)bad_at);
    rc = 1;
  }
  co_return rc;
}

}  // namespace

int main(int argc, char** argv) {
  static const option opts[] = {{"listen", required_argument, nullptr, 'l'},
                                {"self", required_argument, nullptr, 's'},
                                {"verify", no_argument, nullptr, 'v'},
                                {"bytes", required_argument, nullptr, 'b'},
                                {"rx", required_argument, nullptr, 'r'},
                                {"ifname", required_argument, nullptr, 'i'},
                                {"queue", required_argument, nullptr, 'q'},
                                {"help", no_argument, nullptr, 'h'},
                                {nullptr, 0, nullptr, 0}};
  Options o;
  bool listen_given = false;
  for (int c; (c = getopt_long(argc, argv, "", opts, nullptr)) != -1;) {
    switch (c) {
      case 'l': {
        auto a = zcnet::Address::Parse(optarg);
        if (!a.ok()) {
          std::fprintf(stderr, "zcnet-sink: --listen: %s\n", std::string(a.status().message()).c_str());
          return 2;
        }
        o.listen = *a;
        listen_given = true;
        break;
      }
      case 's':
        o.self_bytes = examples::ParseSize(optarg);
        if (!o.self_bytes) {
          std::fprintf(stderr, "zcnet-sink: --self wants a size such as 64M, got '%s'\n", optarg);
          return 2;
        }
        break;
      case 'v': o.verify = true; break;
      case 'b':
        o.expect_bytes = examples::ParseSize(optarg);
        if (!o.expect_bytes) {
          std::fprintf(stderr, "zcnet-sink: --bytes wants a size such as 64M, got '%s'\n", optarg);
          return 2;
        }
        break;
      case 'i': o.pool.ifname = optarg; break;
      case 'q':
        if (!examples::ParseUint("zcnet-sink", "--queue", optarg, 0, 4095, &o.pool.queue)) return 2;
        break;
      case 'r':
        if (!std::strcmp(optarg, "auto")) o.pool.mode = URINGX_RXSRC_AUTO;
        else if (!std::strcmp(optarg, "pbuf")) o.pool.mode = URINGX_RXSRC_PBUF;
        else if (!std::strcmp(optarg, "zcrx")) o.pool.mode = URINGX_RXSRC_ZCRX;
        else {
          std::fprintf(stderr, "zcnet-sink: --rx wants auto, pbuf or zcrx, got '%s'\n", optarg);
          return 2;
        }
        break;
      case 'h': Usage(0);
      default: Usage(2);
    }
  }
  if (listen_given == (o.self_bytes != 0)) {
    std::fprintf(stderr, "zcnet-sink: give exactly one of --listen ADDR and --self BYTES\n");
    return 2;
  }
  if (optind < argc) {
    std::fprintf(stderr, "zcnet-sink: unexpected argument '%s'\n", argv[optind]);
    return 2;
  }
  auto ring = Ring::Create();
  if (!ring.ok()) {
    std::fprintf(stderr, "zcnet-sink: %s\n", ring.status().ToString().c_str());
    return 1;
  }
  return (*ring)->Run(Sink(**ring, o));
}
