// zcnet-echo - echo server and load client on zcnet coroutines.
//
//   zcnet-echo server [--port P] [--rx auto|pbuf] [--buffers N] [--buffer-size B]
//   zcnet-echo client --port P [--connections N] [--size B] [--depth D] [--seconds S]
//
// The server receives with one multishot receive per connection from a shared
// provided-buffer ring (RxPool) and echoes the RxBuffers back, those that
// arrived together in one sendmsg (--send gather, the default). The client
// keeps D messages of B bytes in flight per connection and reports requests
// per second and round-trip latency percentiles.
#include <arpa/inet.h>
#include <getopt.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include <absl/strings/str_cat.h>
#include <absl/time/clock.h>
#include <zcnet/net/socket.hpp>
#include <zcnet/ring.hpp>
#include <zcnet/rx_buffer.hpp>
#include <zcnet/scope.hpp>

#include "command_line.hpp"

namespace {

using zcnet::Listener;
using zcnet::Ring;
using zcnet::RxPool;
using zcnet::Scope;
using zcnet::Socket;
using zcnet::Task;

struct Options {
  std::string mode;
  uint16_t port = 7777;
  std::optional<zcnet::Address> address;  // --address: instead of 127.0.0.1:--port
  zcnet::Address Target() const { return address ? *address : zcnet::Address::Loopback4(port); }
  uringx_rxsrc_mode rx = URINGX_RXSRC_AUTO;
  uint32_t buffers = 4096;
  uint32_t buffer_size = 4096;
  int connections = 64;
  size_t size = 128;
  int depth = 16;
  double seconds = 5;  // client: test length; server: lifetime when given
  bool seconds_given = false;
  bool gather = true;  // server --send: gather what arrived together into one send
  unsigned deadline_ms = 0;  // server --deadline-ms: every receive wait and send, 0: none
  zcnet::Ring::Options ring;  // --cqe, --ring-fd, --wait-batch, --wait-usec, --cq-entries, --fixed-files
};

[[noreturn]] void Usage(int code) {
  std::fprintf(code ? stderr : stdout,
               "usage: zcnet-echo server [--port P | --address A] [--rx auto|pbuf] [--buffers N] "
               "[--buffer-size B] [--send gather|one] [--seconds S]\n"
               "                         [--cqe mixed|32] [--ring-fd registered|plain]\n"
               "                         [--wait-batch N --wait-usec U] [--cq-entries N] [--fixed-files N]\n"
               "                         [--deadline-ms MS [--deadlines queue|per-op]] [--napi-busy-poll U]\n"
               "       zcnet-echo client --port P | --address A [--connections N] [--size B] "
               "[--depth D] [--seconds S]\n"
               "--address: 127.0.0.1:P, [::1]:P or unix:/path (unix:@name: abstract); default\n"
               "127.0.0.1 and --port.\n"
               "Echo server on zcnet coroutines (multishot receive into a shared provided-buffer\n"
               "ring), and a load client that keeps D messages in flight per connection and\n"
               "prints requests/s and latency. Server --seconds: exit after S seconds (0: never).\n"
               "Server --send: gather (default) echoes every buffer that arrived together in one\n"
               "sendmsg; one sends each buffer on its own. The ring's knobs (zcnet::Ring::Options):\n"
               "--cqe mixed (default; 32-byte CQEs only where needed) or 32 (every CQE),\n"
               "--ring-fd registered (default) or plain, --wait-batch N --wait-usec U: wait for N\n"
               "completions or U microseconds with at least one, while completions come fast enough\n"
               "(default: 16 within 50 us where the kernel has it; --wait-batch 1: no batching),\n"
               "--cq-entries N: the completion queue's size (default: twice the ring's entries).\n"
               "--fixed-files N: a registered file table of N slots that accepted sockets take\n"
               "(their sends name the slot; default 0: none).\n"
               "--deadline-ms MS: a deadline on every receive wait and send (a connection idle\n"
               "that long is closed), on the ring's one timer (--deadlines queue, the default)\n"
               "or a kernel timer per operation (per-op).\n"
               "--napi-busy-poll U: a waiting ring busy-polls its sockets' NIC queues for up to U\n"
               "microseconds (IORING_REGISTER_NAPI; server and client; loopback has no NAPI).\n");
  std::exit(code);
}

// The most buffers one gathered send takes (the kernel's UIO_MAXIOV is 1024).
constexpr size_t kMaxGather = 64;

Task<void> Echo(RxPool& pool, Socket s, const std::stop_token& stop, bool gather,
                unsigned deadline_ms) {
  // A deadline on every wait and send, as an RPC server has: a connection
  // idle (or not draining) for that long is closed.
  std::optional<absl::Duration> deadline;
  if (deadline_ms) deadline = absl::Milliseconds(deadline_ms);
  const zcnet::OpOptions send_options{nullptr, deadline};
  auto stream = pool.Stream(s.fd());
  if (!stream.ok()) co_return;
  std::vector<zcnet::RxBuffer> batch;
  std::vector<iovec> iov;
  for (;;) {
    absl::StatusOr<zcnet::RxBuffer> b = co_await stream->Next(zcnet::OpOptions{&stop, deadline});
    if (!b.ok() || b->empty()) co_return;
    // Whatever else arrived with it goes out in the same send: one sendmsg,
    // one segment train and one completion instead of one per buffer.
    batch.push_back(*std::move(b));
    while (gather && batch.size() < kMaxGather) {
      std::optional<zcnet::RxBuffer> more = stream->TryNext();
      if (!more) break;
      batch.push_back(*std::move(more));
    }
    if (batch.size() == 1) {
      // Send awaitables directly: no coroutine frame per message on this path.
      for (absl::Span<const std::byte> rest = batch[0].span(); !rest.empty();) {
        absl::StatusOr<size_t> n = co_await s.Send(rest, send_options);
        if (!n.ok()) co_return;
        rest.remove_prefix(*n);
      }
    } else {
      iov.clear();
      for (const zcnet::RxBuffer& x : batch)
        iov.push_back({const_cast<std::byte*>(x.span().data()), x.span().size()});
      for (size_t first = 0; first < iov.size();) {
        absl::StatusOr<size_t> n =
            co_await s.Writev(absl::MakeConstSpan(iov).subspan(first), send_options);
        if (!n.ok()) co_return;
        first = zcnet::ConsumeSent(absl::MakeSpan(iov), first, *n);  // short: resume inside
      }
    }
    batch.clear();  // the buffers go back to the pool
  }
}

// Waits for SIGTERM, SIGINT or SIGALRM (--seconds) on @signal_fd, then asks
// the server to stop: it stops accepting, ends every connection and exits 0.
Task<void> StopOnSignal(Ring& ring, int signal_fd, std::stop_source& stop) {
  signalfd_siginfo si{};
  std::stop_token token = stop.get_token();
  int res = co_await zcnet::MakeIo(
      ring, zcnet::OpOptions{&token, {}},
      [signal_fd, &si](io_uring_sqe* sqe) { io_uring_prep_read(sqe, signal_fd, &si, sizeof(si), 0); },
      [](int r, uint32_t) { return r; });
  if (res == static_cast<int>(sizeof(si)))
    std::fprintf(stderr, "zcnet-echo: %s: stopping\n", strsignal(static_cast<int>(si.ssi_signo)));
  stop.request_stop();
}

Task<int> Serve(Ring& ring, const Options& o, int signal_fd) {
  RxPool::Options po;
  po.mode = o.rx;
  po.buffers = o.buffers;
  po.buffer_size = o.buffer_size;
  auto pool = RxPool::Create(ring, po);
  if (!pool.ok()) {
    std::fprintf(stderr, "zcnet-echo: %s\n", pool.status().ToString().c_str());
    co_return 1;
  }
  auto listener = Listener::Bind(ring, o.Target());
  if (!listener.ok()) {
    std::fprintf(stderr, "zcnet-echo: %s\n", listener.status().ToString().c_str());
    co_return 1;
  }
  std::printf("zcnet-echo server on %s, receive: %s, wait: %s\n",
              listener->address().ToString().c_str(), (*pool)->Describe().c_str(),
              ring.wait_batch() > 1
                  ? absl::StrCat("batches of ", ring.wait_batch(), " within ", ring.wait_min_usec(),
                                 " us while completions come that fast").c_str()
                  : "one completion at a time");
  if (ring.napi_busy_polling())
    std::printf("zcnet-echo: NAPI busy poll %u us\n", o.ring.napi_busy_poll_usec);
  std::fflush(stdout);
  std::stop_source stop;
  std::stop_token token = stop.get_token();
  Scope scope;
  scope.Spawn(StopOnSignal(ring, signal_fd, stop));
  zcnet::AcceptStream accepts = listener->AcceptMany();
  absl::Time last_limit_report = absl::InfinitePast();
  int rc = 0;
  for (;;) {
    auto s = co_await accepts.Next(zcnet::OpOptions{&token, {}});
    if (!s.ok() && absl::IsResourceExhausted(s.status())) {
      // At the descriptor limit the connection waits in the listen backlog:
      // keep serving, say so once a second, try again shortly.
      if (absl::Now() - last_limit_report > absl::Seconds(1)) {
        std::fprintf(stderr, "zcnet-echo: %s\n", s.status().ToString().c_str());
        last_limit_report = absl::Now();
      }
      (void)co_await zcnet::Sleep(ring, absl::Milliseconds(10), zcnet::OpOptions{&token, {}});
      if (token.stop_requested()) break;
      continue;
    }
    if (!s.ok()) {
      if (!absl::IsCancelled(s.status())) {
        std::fprintf(stderr, "zcnet-echo: %s\n", s.status().ToString().c_str());
        rc = 1;
      }
      break;
    }
    scope.Spawn(Echo(**pool, std::move(*s), token, o.gather, o.deadline_ms));
  }
  stop.request_stop();
  co_await scope.Join();
  // What the ring did, for benchmarks (bench/results/echo-compare).
  std::fprintf(stderr,
               "zcnet-echo server: %llu io_uring_enter, %llu CQEs, deadline timer %llu SQEs "
               "%llu CQEs\n",
               static_cast<unsigned long long>(ring.enter_calls()),
               static_cast<unsigned long long>(ring.cqes_handled()),
               static_cast<unsigned long long>(ring.deadline_timer_sqes()),
               static_cast<unsigned long long>(ring.deadline_timer_fires()));
  co_return rc;
}

struct ClientStats {
  uint64_t requests = 0;
  std::vector<double> rtt_us;
  int errors = 0;
  absl::Status first_error;  // what the first failed connection ran into
  void Fail(absl::Status st) {
    errors++;
    if (first_error.ok()) first_error = std::move(st);
  }
};

Task<void> Load(Ring& ring, const Options& o, absl::Time end, ClientStats& stats) {
  zcnet::Address target = o.Target();
  auto s = Socket::OpenFor(ring, target);
  if (!s.ok()) {
    stats.Fail(s.status());
    co_return;
  }
  absl::Status connected = co_await s->Connect(target);
  if (!connected.ok()) {
    stats.Fail(absl::Status(connected.code(), absl::StrCat("connect to ", target.ToString(), ": ",
                                                           connected.message())));
    co_return;
  }
  std::vector<std::byte> out(o.size * o.depth, std::byte{'z'}), in(out.size());
  while (absl::Now() < end) {
    absl::Time t0 = absl::Now();
    // D requests written at once: the pipeline.
    absl::Status st = co_await s->SendAll(absl::MakeConstSpan(out));
    if (st.ok()) st = co_await s->RecvExactly(absl::MakeSpan(in));
    if (!st.ok()) {
      stats.Fail(st);
      co_return;
    }
    stats.requests += static_cast<uint64_t>(o.depth);
    stats.rtt_us.push_back(absl::ToDoubleMicroseconds(absl::Now() - t0));
  }
  (void)co_await s->Shutdown();
}

Task<int> RunClient(Ring& ring, const Options& o) {
  ClientStats stats;
  absl::Time start = absl::Now();
  absl::Time end = start + absl::Seconds(o.seconds);
  Scope scope;
  for (int c = 0; c < o.connections; c++) scope.Spawn(Load(ring, o, end, stats));
  co_await scope.Join();
  double secs = absl::ToDoubleSeconds(absl::Now() - start);
  std::sort(stats.rtt_us.begin(), stats.rtt_us.end());
  auto pct = [&](double p) {
    if (stats.rtt_us.empty()) return 0.0;
    return stats.rtt_us[std::min(stats.rtt_us.size() - 1,
                                 static_cast<size_t>(p * static_cast<double>(stats.rtt_us.size())))];
  };
  std::printf(
      "connections %d, size %zu, depth %d: %.0f requests/s, round trip (depth %d) p50 %.1f us "
      "p99 %.1f us, %llu io_uring_enter, errors %d\n",
      o.connections, o.size, o.depth, static_cast<double>(stats.requests) / secs, o.depth,
      pct(0.50), pct(0.99), static_cast<unsigned long long>(ring.enter_calls()), stats.errors);
  if (stats.errors)
    std::fprintf(stderr, "zcnet-echo: %d of %d connections failed; the first: %s\n", stats.errors,
                 o.connections, stats.first_error.ToString().c_str());
  co_return stats.errors ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) Usage(2);
  Options o;
  o.mode = argv[1];
  if (o.mode == "--help" || o.mode == "-h") Usage(0);
  if (o.mode != "server" && o.mode != "client") {
    std::fprintf(stderr, "zcnet-echo: the first argument is server or client, got '%s'\n", argv[1]);
    return 2;
  }
  const char* me = "zcnet-echo";
  static const option opts[] = {
      {"port", required_argument, nullptr, 'p'},        {"rx", required_argument, nullptr, 'r'},
      {"address", required_argument, nullptr, 'a'},
      {"buffers", required_argument, nullptr, 'b'},     {"buffer-size", required_argument, nullptr, 'B'},
      {"connections", required_argument, nullptr, 'c'}, {"size", required_argument, nullptr, 's'},
      {"depth", required_argument, nullptr, 'd'},       {"seconds", required_argument, nullptr, 't'},
      {"send", required_argument, nullptr, 'S'},
      {"cqe", required_argument, nullptr, 'C'},         {"ring-fd", required_argument, nullptr, 'R'},
      {"wait-batch", required_argument, nullptr, 'W'},  {"wait-usec", required_argument, nullptr, 'U'},
      {"cq-entries", required_argument, nullptr, 'Q'},  {"fixed-files", required_argument, nullptr, 'F'},
      {"deadline-ms", required_argument, nullptr, 'D'}, {"deadlines", required_argument, nullptr, 'E'},
      {"napi-busy-poll", required_argument, nullptr, 'N'},
      {"help", no_argument, nullptr, 'h'},              {nullptr, 0, nullptr, 0}};
  optind = 2;
  for (int c; (c = getopt_long(argc, argv, "", opts, nullptr)) != -1;) {
    switch (c) {
      case 'p':
        if (!examples::ParseUint(me, "--port", optarg, 0, 65535, &o.port)) return 2;
        break;
      case 'a': {
        zcnet::Address a;
        if (!examples::ParseAddress(me, "--address", optarg, &a)) return 2;
        o.address = a;
        break;
      }
      case 'r':
        if (!std::strcmp(optarg, "pbuf")) o.rx = URINGX_RXSRC_PBUF;
        else if (!std::strcmp(optarg, "auto")) o.rx = URINGX_RXSRC_AUTO;
        else {
          std::fprintf(stderr, "zcnet-echo: --rx wants auto or pbuf, got '%s'\n", optarg);
          return 2;
        }
        break;
      // Pool sizes are checked where they are used (RxPool::Create names the
      // field and its range); here only that they are numbers.
      case 'b':
        if (!examples::ParseUint(me, "--buffers", optarg, 0, UINT32_MAX, &o.buffers)) return 2;
        break;
      case 'B':
        if (!examples::ParseUint(me, "--buffer-size", optarg, 0, UINT32_MAX, &o.buffer_size)) return 2;
        break;
      case 'c':
        if (!examples::ParseUint(me, "--connections", optarg, 1, 100000, &o.connections)) return 2;
        break;
      case 's':
        if (!examples::ParseUint(me, "--size", optarg, 1, 16u << 20, &o.size)) return 2;
        break;
      case 'd':
        if (!examples::ParseUint(me, "--depth", optarg, 1, 4096, &o.depth)) return 2;
        break;
      case 't':
        if (!examples::ParseSeconds(me, "--seconds", optarg, 0, 86400 * 365, &o.seconds)) return 2;
        o.seconds_given = true;
        break;
      case 'S':
        if (!std::strcmp(optarg, "gather")) o.gather = true;
        else if (!std::strcmp(optarg, "one")) o.gather = false;
        else {
          std::fprintf(stderr, "zcnet-echo: --send wants gather or one, got '%s'\n", optarg);
          return 2;
        }
        break;
      case 'C':
        if (!std::strcmp(optarg, "mixed")) o.ring.cqe_mixed = true;
        else if (!std::strcmp(optarg, "32")) o.ring.cqe_mixed = false;
        else {
          std::fprintf(stderr, "zcnet-echo: --cqe wants mixed or 32, got '%s'\n", optarg);
          return 2;
        }
        break;
      case 'R':
        if (!std::strcmp(optarg, "registered")) o.ring.register_ring_fd = true;
        else if (!std::strcmp(optarg, "plain")) o.ring.register_ring_fd = false;
        else {
          std::fprintf(stderr, "zcnet-echo: --ring-fd wants registered or plain, got '%s'\n", optarg);
          return 2;
        }
        break;
      case 'W':
        if (!examples::ParseUint(me, "--wait-batch", optarg, 1, 4096, &o.ring.wait_batch)) return 2;
        break;
      case 'U':
        if (!examples::ParseUint(me, "--wait-usec", optarg, 0, 1000000, &o.ring.wait_min_usec)) return 2;
        break;
      case 'Q':
        if (!examples::ParseUint(me, "--cq-entries", optarg, 1, 65536, &o.ring.cq_entries)) return 2;
        break;
      case 'F':
        if (!examples::ParseUint(me, "--fixed-files", optarg, 0, 65536, &o.ring.fixed_files)) return 2;
        break;
      case 'N':
        if (!examples::ParseUint(me, "--napi-busy-poll", optarg, 1, 1000000,
                                 &o.ring.napi_busy_poll_usec))
          return 2;
        break;
      case 'D':
        if (!examples::ParseUint(me, "--deadline-ms", optarg, 1, 3600000, &o.deadline_ms)) return 2;
        break;
      case 'E':
        if (!std::strcmp(optarg, "queue")) {
          o.ring.deadline_queue = true;
        } else if (!std::strcmp(optarg, "per-op")) {
          o.ring.deadline_queue = false;
        } else {
          std::fprintf(stderr, "zcnet-echo: --deadlines wants queue or per-op, got '%s'\n", optarg);
          return 2;
        }
        break;
      case 'h': Usage(0);
      default: Usage(2);
    }
  }
  if (optind < argc) {
    std::fprintf(stderr, "zcnet-echo: unexpected argument '%s'\n", argv[optind]);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  // The server stops cleanly on SIGTERM/SIGINT, or SIGALRM after --seconds,
  // read from a signalfd through the ring.
  int signal_fd = -1;
  if (o.mode == "server") {
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGALRM);
    sigprocmask(SIG_BLOCK, &mask, nullptr);
    signal_fd = signalfd(-1, &mask, SFD_CLOEXEC);
    if (signal_fd < 0) {
      std::perror("zcnet-echo: signalfd");
      return 1;
    }
    if (o.seconds_given && o.seconds > 0) alarm(static_cast<unsigned>(o.seconds));
  }
  zcnet::Ring::Options ro = o.ring;
  ro.entries = 4096;
  auto ring = Ring::Create(ro);
  if (!ring.ok()) {
    std::fprintf(stderr, "zcnet-echo: %s\n", ring.status().ToString().c_str());
    return 1;
  }
  return o.mode == "server" ? (*ring)->Run(Serve(**ring, o, signal_fd))
                            : (*ring)->Run(RunClient(**ring, o));
}
