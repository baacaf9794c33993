// zcnet Address: parsing (and its errors), printing, and verified echo over
// IPv6 loopback and a Unix-domain socket through Listener and Socket.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zcnet/net/address.hpp>
#include <zcnet/net/socket.hpp>
#include <zcnet/ring.hpp>
#include <zcnet/scope.hpp>

#include <cstring>
#include <string>
#include <vector>

namespace {

using zcnet::Address;
using zcnet::Listener;
using zcnet::Ring;
using zcnet::Socket;
using zcnet::Task;

TEST(Address, ParsesAndPrintsEachFamily) {
  struct Case {
    const char* text;
    int family;
    uint16_t port;
    const char* printed;
  } cases[] = {
      {"127.0.0.1:8080", AF_INET, 8080, "127.0.0.1:8080"},
      {"0.0.0.0:0", AF_INET, 0, "0.0.0.0:0"},
      {"[::1]:443", AF_INET6, 443, "[::1]:443"},
      {"[fd00::2]:7", AF_INET6, 7, "[fd00::2]:7"},
      {"[fe80::1%1]:9", AF_INET6, 9, "[fe80::1%1]:9"},
      {"[fe80::1%lo]:9", AF_INET6, 9, "[fe80::1%1]:9"},
      {"unix:/run/zcnet.sock", AF_UNIX, 0, "unix:/run/zcnet.sock"},
      {"unix:@zcnet-abstract", AF_UNIX, 0, "unix:@zcnet-abstract"},
  };
  for (const auto& c : cases) {
    auto a = Address::Parse(c.text);
    ASSERT_TRUE(a.ok()) << c.text << ": " << a.status();
    EXPECT_EQ(a->family(), c.family) << c.text;
    EXPECT_EQ(a->port(), c.port) << c.text;
    EXPECT_EQ(a->ToString(), c.printed) << c.text;
    auto again = Address::Parse(a->ToString());
    ASSERT_TRUE(again.ok()) << a->ToString();
    EXPECT_EQ(again->length(), a->length());
    EXPECT_EQ(std::memcmp(again->sockaddr_ptr(), a->sockaddr_ptr(), a->length()), 0) << c.text;
  }
}

TEST(Address, BadTextIsNamedWithWhatIsWrong) {
  struct Case {
    const char* text;
    const char* says;
  } cases[] = {
      {"127.0.0.1", "no port"},
      {"127.0.0.1:65536", "is not 0..65535"},
      {"127.0.0.1:-1", "is not 0..65535"},
      {"127.0.0.1:", "is not 0..65535"},
      {"localhost:80", "not an IPv4 address (names are not resolved)"},
      {"::1:80", "an IPv6 address goes in brackets"},
      {"[::1:80", "closing ']'"},
      {"[::g]:80", "is not an IPv6 address"},
      {"[fe80::1%zcnet-nope0]:80", "no interface 'zcnet-nope0'"},
      {"unix:", "empty path"},
  };
  for (const auto& c : cases) {
    auto a = Address::Parse(c.text);
    ASSERT_FALSE(a.ok()) << c.text;
    EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_NE(a.status().message().find(c.says), std::string_view::npos) << a.status();
    EXPECT_NE(a.status().message().find(c.text), std::string_view::npos) << a.status();
  }
  std::string long_path = "unix:/" + std::string(200, 'x');
  EXPECT_NE(Address::Parse(long_path).status().message().find("path longer than 107 bytes"),
            std::string_view::npos);
}

// An echo server on @l and a client sending @n bytes while it reads them
// back: true if every byte came back.
Task<bool> EchoOver(Ring& ring, Listener& l, size_t n) {
  zcnet::Scope scope;
  bool ok = false;
  scope.Spawn([](Listener& l) -> Task<void> {
    auto s = co_await l.Accept();
    if (!s.ok()) co_return;
    std::vector<std::byte> buf(4096);
    for (;;) {
      auto got = co_await s->Recv(absl::MakeSpan(buf));
      if (!got.ok() || *got == 0) co_return;
      if (!(co_await s->SendAll(absl::MakeConstSpan(buf.data(), *got))).ok()) co_return;
    }
  }(l));
  auto c = Socket::OpenFor(ring, l.address());
  std::vector<std::byte> out(n), in(n);
  for (size_t i = 0; i < n; i++) out[i] = std::byte(static_cast<uint8_t>(i * 37 + 11));
  if (c.ok() && (co_await c->Connect(l.address())).ok()) {
    // Send and receive at once: a Unix socket buffers far less than 1 MiB.
    scope.Spawn([](Socket& c, const std::vector<std::byte>& out) -> Task<void> {
      if ((co_await c.SendAll(out)).ok()) (void)co_await c.Shutdown();
    }(*c, out));
    if ((co_await c->RecvExactly(absl::MakeSpan(in))).ok())
      ok = std::memcmp(in.data(), out.data(), n) == 0;
  }
  co_await scope.Join();
  co_return ok;
}

TEST(Address, IPv6LoopbackEchoesThroughListenerAndSocket) {
  auto ring = Ring::Create();
  ASSERT_TRUE(ring.ok());
  auto l = Listener::Bind(**ring, Address::Loopback6(0));
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->address().family(), AF_INET6);
  EXPECT_GT(l->port(), 0) << "port 0 got a free port";
  EXPECT_EQ(l->address().ToString(), "[::1]:" + std::to_string(l->port()));
  EXPECT_TRUE((*ring)->Run(EchoOver(**ring, *l, 1 << 20)));
}

TEST(Address, UnixSocketEchoesThroughListenerAndSocket) {
  auto ring = Ring::Create();
  ASSERT_TRUE(ring.ok());
  std::string path = "/tmp/zcnet-address-test-" + std::to_string(getpid()) + ".sock";
  ::unlink(path.c_str());
  auto addr = Address::Parse("unix:" + path);
  ASSERT_TRUE(addr.ok()) << addr.status();
  auto l = Listener::Bind(**ring, *addr);
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->address().ToString(), "unix:" + path);
  EXPECT_TRUE((*ring)->Run(EchoOver(**ring, *l, 1 << 20)));
  // The path is taken while it exists: the error names it.
  auto again = Listener::Bind(**ring, *addr);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find(path), std::string_view::npos) << again.status();
  ::unlink(path.c_str());
}

TEST(Address, AbstractUnixSocketEchoes) {
  auto ring = Ring::Create();
  ASSERT_TRUE(ring.ok());
  auto addr = Address::Parse("unix:@zcnet-address-test-" + std::to_string(getpid()));
  ASSERT_TRUE(addr.ok());
  auto l = Listener::Bind(**ring, *addr);
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_TRUE((*ring)->Run(EchoOver(**ring, *l, 256 << 10)));
}

}  // namespace
