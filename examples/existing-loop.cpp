// existing-loop - an application's own liburing event loop hosting zcnet.
//
// The application owns the io_uring and keeps doing its own work on it: a
// periodic timer and reads of /proc/self/stat, with user_data values of its
// own. zcnet attaches with Ring::Borrow() and runs an echo server and a client
// as coroutines on the same ring; the loop hands every CQE to Ring::Handle()
// first and treats the ones it declines as its own.
//
//   existing-loop [--round-trips N]
#include <arpa/inet.h>
#include <fcntl.h>
#include <getopt.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <liburing.h>
#include <zcnet/net/socket.hpp>
#include <zcnet/ring.hpp>
#include <zcnet/scope.hpp>

#include "command_line.hpp"

namespace {

using zcnet::Ring;
using zcnet::Socket;
using zcnet::Task;

constexpr uint64_t kTimerTag = 1;  // the application's user_data values
constexpr uint64_t kReadTag = 2;

Task<void> EchoOnce(zcnet::Listener& listener) {
  auto s = co_await listener.Accept();
  if (!s.ok()) co_return;
  std::byte buf[256];
  for (;;) {
    auto n = co_await s->Recv(absl::MakeSpan(buf));
    if (!n.ok() || *n == 0) co_return;
    if (!(co_await s->SendAll(absl::MakeConstSpan(buf, *n))).ok()) co_return;
  }
}

Task<void> Client(Ring& ring, uint16_t port, int round_trips, int& done) {
  auto s = Socket::OpenTcp(ring);
  if (!s.ok()) co_return;
  sockaddr_in a = zcnet::LoopbackAddress(port);
  if (!(co_await s->Connect(reinterpret_cast<sockaddr*>(&a), sizeof(a))).ok()) co_return;
  std::byte msg[64], back[64];
  for (int i = 0; i < round_trips; i++) {
    std::memset(msg, i & 0xff, sizeof(msg));
    if (!(co_await s->SendAll(absl::MakeConstSpan(msg))).ok()) co_return;
    if (!(co_await s->RecvExactly(absl::MakeSpan(back))).ok()) co_return;
    if (std::memcmp(msg, back, sizeof(msg)) != 0) co_return;
    done++;
  }
  (void)co_await s->Shutdown();
}

}  // namespace

int main(int argc, char** argv) {
  int round_trips = 1000;
  static const option opts[] = {{"round-trips", required_argument, nullptr, 'n'},
                                {"help", no_argument, nullptr, 'h'},
                                {nullptr, 0, nullptr, 0}};
  for (int c; (c = getopt_long(argc, argv, "", opts, nullptr)) != -1;) {
    if (c == 'n') {
      if (!examples::ParseUint("existing-loop", "--round-trips", optarg, 1, 100000000, &round_trips))
        return 2;
    } else {
      std::fprintf(c == 'h' ? stdout : stderr,
                   "usage: existing-loop [--round-trips N]\n"
                   "A plain liburing loop with its own timer and file reads hosts a zcnet echo\n"
                   "server and client (Ring::Borrow) on the same ring; prints what each did.\n");
      return c == 'h' ? 0 : 2;
    }
  }

  // The application's ring and its own requests.
  io_uring ring;
  if (int ret = io_uring_queue_init(256, &ring, 0); ret < 0) {
    std::fprintf(stderr, "existing-loop: io_uring_queue_init: %s\n", std::strerror(-ret));
    return 1;
  }
  int stat_fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  char stat_buf[512];
  __kernel_timespec tick{0, 10 * 1000 * 1000};
  auto arm_timer = [&] {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    io_uring_prep_timeout(sqe, &tick, 0, 0);
    io_uring_sqe_set_data64(sqe, kTimerTag);
  };
  arm_timer();

  // zcnet on the same ring.
  auto zring = Ring::Borrow(&ring);
  auto listener = zcnet::Listener::Bind(*zring, zcnet::LoopbackAddress());
  if (!listener.ok()) {
    std::fprintf(stderr, "existing-loop: %s\n", listener.status().ToString().c_str());
    return 1;
  }
  int done = 0;
  zcnet::Scope scope;
  scope.Spawn(EchoOnce(*listener));
  scope.Spawn(Client(*zring, listener->port(), round_trips, done));

  uint64_t ticks = 0, reads = 0, zcnet_cqes = 0;
  while (scope.active() > 0) {
    if (io_uring_submit_and_wait(&ring, 1) < 0) break;
    io_uring_cqe* cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&ring, head, cqe) {
      seen++;
      if (zring->Handle(cqe)) {
        zcnet_cqes++;
        continue;
      }
      if (cqe->user_data == kTimerTag) {
        ticks++;
        arm_timer();
        io_uring_sqe* sqe = io_uring_get_sqe(&ring);
        io_uring_prep_read(sqe, stat_fd, stat_buf, sizeof(stat_buf), 0);
        io_uring_sqe_set_data64(sqe, kReadTag);
      } else if (cqe->user_data == kReadTag && cqe->res > 0) {
        reads++;
      }
    }
    io_uring_cq_advance(&ring, seen);
  }
  std::printf("application: %llu timer ticks, %llu reads of /proc/self/stat\n",
              (unsigned long long)ticks, (unsigned long long)reads);
  std::printf("zcnet: %d of %d echo round trips, %llu CQEs handled\n", done, round_trips,
              (unsigned long long)zcnet_cqes);
  // The application's pending timer stays the application's business.
  zring.reset();
  io_uring_queue_exit(&ring);
  close(stat_fd);
  return done == round_trips ? 0 : 1;
}
