// liburing-ext steer: the Toeplitz hash against the published RSS
// verification vectors, queue choice and local-port picking over an
// indirection table, and clear errors from devices without RSS or rules.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uringx/steer.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "support/loopback.hpp"

namespace {

// The RSS verification key and vectors published with Microsoft's RSS
// specification (also in the Linux tools' RSS tests).
const uint8_t kKey[40] = {0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67,
                          0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
                          0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
                          0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};

using testsupport::V4;
using testsupport::V6;

uint32_t HashOf(const sockaddr_in& f, const sockaddr_in& t) {
  uint8_t in[12];
  memcpy(in, &f.sin_addr, 4);
  memcpy(in + 4, &t.sin_addr, 4);
  memcpy(in + 8, &f.sin_port, 2);
  memcpy(in + 10, &t.sin_port, 2);
  return uringx_toeplitz(kKey, sizeof(kKey), in, sizeof(in));
}

uint32_t HashOf(const sockaddr_in6& f, const sockaddr_in6& t) {
  uint8_t in[36];
  memcpy(in, &f.sin6_addr, 16);
  memcpy(in + 16, &t.sin6_addr, 16);
  memcpy(in + 32, &f.sin6_port, 2);
  memcpy(in + 34, &t.sin6_port, 2);
  return uringx_toeplitz(kKey, sizeof(kKey), in, sizeof(in));
}

TEST(Steer, ToeplitzMatchesTheRssVerificationVectors) {
  struct V4Case {
    const char *src, *dst;
    uint16_t sport, dport;
    uint32_t hash;
  } v4[] = {
      {"66.9.149.187", "161.142.100.80", 2794, 1766, 0x51ccc178},
      {"199.92.111.2", "65.69.140.83", 14230, 4739, 0xc626b0ea},
      {"24.19.198.95", "12.22.207.184", 12898, 38024, 0x5c2b394a},
      {"38.27.205.30", "209.142.163.6", 48228, 2217, 0xafc7327f},
      {"153.39.163.191", "202.188.127.2", 44251, 1303, 0x10e828a2},
  };
  for (const auto& c : v4) {
    sockaddr_in s = V4(c.src, c.sport), d = V4(c.dst, c.dport);
    EXPECT_EQ(HashOf(s, d), c.hash)
        << c.src << " -> " << c.dst;
  }
  struct V6Case {
    const char *src, *dst;
    uint16_t sport, dport;
    uint32_t hash;
  } v6[] = {
      {"3ffe:2501:200:1fff::7", "3ffe:2501:200:3::1", 2794, 1766, 0x40207d3d},
      {"3ffe:501:8::260:97ff:fe40:efab", "ff02::1", 14230, 4739, 0xdde51bbf},
      {"3ffe:1900:4545:3:200:f8ff:fe21:67cf", "fe80::200:f8ff:fe21:67cf", 44251, 38024,
       0x02d1feef},
  };
  for (const auto& c : v6) {
    sockaddr_in6 s = V6(c.src, c.sport), d = V6(c.dst, c.dport);
    EXPECT_EQ(HashOf(s, d), c.hash)
        << c.src << " -> " << c.dst;
  }
}

struct FakeRss {
  std::vector<uint32_t> indir;
  std::vector<uint8_t> key{kKey, kKey + sizeof(kKey)};
  uringx_rss rss{};
  explicit FakeRss(uint32_t queues) : indir(128) {
    for (uint32_t i = 0; i < indir.size(); i++) indir[i] = i % queues;
    rss.rx_queues = queues;
    rss.indir_size = static_cast<uint32_t>(indir.size());
    rss.indir = indir.data();
    rss.key_size = static_cast<uint32_t>(key.size());
    rss.key = key.data();
    rss.toeplitz = true;
  }
};

TEST(Steer, QueueIsTheIndirectionEntryOfTheHash) {
  FakeRss f(4);
  sockaddr_in s = V4("66.9.149.187", 2794), d = V4("161.142.100.80", 1766);
  int q = uringx_rss_queue(&f.rss, reinterpret_cast<sockaddr*>(&s), reinterpret_cast<sockaddr*>(&d));
  EXPECT_EQ(q, static_cast<int>((0x51ccc178u % 128) % 4));
  sockaddr_in6 s6 = V6("::1", 1);
  EXPECT_EQ(uringx_rss_queue(&f.rss, reinterpret_cast<sockaddr*>(&s6), reinterpret_cast<sockaddr*>(&d)),
            -EINVAL)
      << "mixed families";
  f.rss.toeplitz = false;
  EXPECT_EQ(uringx_rss_queue(&f.rss, reinterpret_cast<sockaddr*>(&s), reinterpret_cast<sockaddr*>(&d)),
            -EOPNOTSUPP);
}

// A client that wants the server's replies on queue Q of its own device
// picks a local port: the packets it receives (server -> client) hash to Q.
TEST(Steer, PickedLocalPortsLandOnEveryRequestedQueue) {
  FakeRss f(4);
  for (int family : {AF_INET, AF_INET6}) {
    for (unsigned int q = 0; q < 4; q++) {
      sockaddr_storage local{}, remote{};
      if (family == AF_INET) {
        *reinterpret_cast<sockaddr_in*>(&local) = V4("10.0.0.2", 0);
        *reinterpret_cast<sockaddr_in*>(&remote) = V4("10.0.0.1", 8080);
      } else {
        *reinterpret_cast<sockaddr_in6*>(&local) = V6("fd00::2", 0);
        *reinterpret_cast<sockaddr_in6*>(&remote) = V6("fd00::1", 8080);
      }
      int port = uringx_rss_pick_port(&f.rss, reinterpret_cast<sockaddr*>(&local),
                                      reinterpret_cast<sockaddr*>(&remote), q, 32768, 60999);
      ASSERT_GE(port, 32768) << "family " << family << " queue " << q << ": " << port;
      ASSERT_LE(port, 60999);
      if (family == AF_INET)
        reinterpret_cast<sockaddr_in*>(&local)->sin_port = htons(static_cast<uint16_t>(port));
      else
        reinterpret_cast<sockaddr_in6*>(&local)->sin6_port = htons(static_cast<uint16_t>(port));
      EXPECT_EQ(uringx_rss_queue(&f.rss, reinterpret_cast<sockaddr*>(&remote),
                                 reinterpret_cast<sockaddr*>(&local)),
                static_cast<int>(q));
    }
  }
  sockaddr_in local = V4("10.0.0.2", 0), remote = V4("10.0.0.1", 8080);
  EXPECT_EQ(uringx_rss_pick_port(&f.rss, reinterpret_cast<sockaddr*>(&local),
                                 reinterpret_cast<sockaddr*>(&remote), 9, 32768, 60999),
            -EADDRNOTAVAIL)
      << "no bucket maps to queue 9";
}

// Two sockets bound for one queue get two ports (the second skips the port
// the first holds), both mapping to the queue. Ports below the ephemeral
// range, so that connections of tests running alongside rarely hold one;
// which candidate is free is not asserted (another process may hold any).
TEST(Steer, BindPortSkipsPortsInUse) {
  FakeRss f(4);
  sockaddr_in local = V4("127.0.0.1", 0), remote = V4("127.0.0.1", 8080);
  int a = socket(AF_INET, SOCK_STREAM, 0), b = socket(AF_INET, SOCK_STREAM, 0);
  int pa = uringx_rss_bind_port(a, &f.rss, reinterpret_cast<sockaddr*>(&local),
                                reinterpret_cast<sockaddr*>(&remote), 2, 21000, 21999);
  int pb = uringx_rss_bind_port(b, &f.rss, reinterpret_cast<sockaddr*>(&local),
                                reinterpret_cast<sockaddr*>(&remote), 2, 21000, 21999);
  ASSERT_GT(pa, 0) << pa;
  ASSERT_GT(pb, 0) << pb;
  EXPECT_NE(pa, pb);
  for (int p : {pa, pb}) {
    sockaddr_in bound{};
    socklen_t len = sizeof(bound);
    int fd = p == pa ? a : b;
    ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len), 0);
    EXPECT_EQ(ntohs(bound.sin_port), p);
    EXPECT_EQ(uringx_rss_queue(&f.rss, reinterpret_cast<sockaddr*>(&remote),
                               reinterpret_cast<sockaddr*>(&bound)),
              2);
  }
  close(a);
  close(b);
}

TEST(Steer, DevicesWithoutRssOrRulesSayWhy) {
  uringx_rss rss;
  enum uringx_reason why;
  EXPECT_EQ(uringx_rss_read("zcnet-none0", &rss, &why), -ENODEV);
  EXPECT_EQ(why, URINGX_REASON_NO_SUCH_DEVICE);
  int ret = uringx_rss_read("lo", &rss, &why);
  EXPECT_LT(ret, 0) << "loopback has no RSS";
  EXPECT_EQ(why, URINGX_REASON_NO_RSS) << uringx_reason_str(why) << " (" << ret << ")";
  sockaddr_in dst = V4("0.0.0.0", 8080);
  uint32_t rule = 0;
  ret = uringx_steer_add("lo", reinterpret_cast<sockaddr*>(&dst), 0, &rule, &why);
  EXPECT_LT(ret, 0) << "loopback has no ntuple rules";
  EXPECT_TRUE(why == URINGX_REASON_NO_NTUPLE || why == URINGX_REASON_NOT_PERMITTED)
      << uringx_reason_str(why) << " (" << ret << ")";
  EXPECT_EQ(uringx_steer_add("zcnet-none0", reinterpret_cast<sockaddr*>(&dst), 0, &rule, &why),
            -ENODEV);
  EXPECT_EQ(why, URINGX_REASON_NO_SUCH_DEVICE);
}

}  // namespace

namespace {

// The NAPI map of a device: netdev netlink's queue-get, no privilege.
TEST(RxQueueNapi, LoopbackHasOneRxQueueWithoutNapi) {
  uringx_rx_queue_napi q[4];
  uringx_reason why = URINGX_REASON_OTHER;
  int n = uringx_rx_queues_napi("lo", q, 4, &why);
  ASSERT_EQ(n, 1) << uringx_strerror(n) << ": " << uringx_reason_str(why);
  EXPECT_EQ(why, URINGX_REASON_NONE);
  EXPECT_EQ(q[0].queue, 0u);
  EXPECT_EQ(q[0].napi_id, 0u) << "lo receives through no NAPI instance";
  // Counting only.
  EXPECT_EQ(uringx_rx_queues_napi("lo", nullptr, 0, nullptr), 1);
}

TEST(RxQueueNapi, BadArgumentsAndUnknownDevicesSayWhy) {
  uringx_rx_queue_napi q[1];
  uringx_reason why = URINGX_REASON_NONE;
  EXPECT_EQ(uringx_rx_queues_napi("zcnet-nosuch0", q, 1, &why), -ENODEV);
  EXPECT_EQ(why, URINGX_REASON_NO_SUCH_DEVICE);
  EXPECT_EQ(uringx_rx_queues_napi(nullptr, q, 1, nullptr), -EINVAL);
  EXPECT_EQ(uringx_rx_queues_napi("lo", nullptr, 1, nullptr), -EINVAL);
  EXPECT_EQ(uringx_socket_rx_queue(-1, q, 0, &why), -EBADF);
  EXPECT_EQ(uringx_socket_rx_queue(0, nullptr, 1, nullptr), -EINVAL);
}

// A loopback connection's packets came through no NAPI: the placement
// helper says so rather than naming a queue.
TEST(RxQueueNapi, LoopbackSocketHasNoReceiveQueue) {
  int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(l, 0);
  sockaddr_in a = V4("127.0.0.1", 0);
  ASSERT_EQ(bind(l, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(listen(l, 4), 0);
  socklen_t len = sizeof(a);
  ASSERT_EQ(getsockname(l, reinterpret_cast<sockaddr*>(&a), &len), 0);
  int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(connect(c, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  int s = accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
  ASSERT_GE(s, 0);
  ASSERT_EQ(write(c, "x", 1), 1);
  char ch;
  ASSERT_EQ(read(s, &ch, 1), 1);
  uringx_rx_queue_napi q[1];
  ASSERT_EQ(uringx_rx_queues_napi("lo", q, 1, nullptr), 1);
  uringx_reason why = URINGX_REASON_NONE;
  EXPECT_EQ(uringx_socket_rx_queue(s, q, 1, &why), -ENOENT);
  EXPECT_EQ(why, URINGX_REASON_NO_NAPI);
  close(s);
  close(c);
  close(l);
}

}  // namespace
