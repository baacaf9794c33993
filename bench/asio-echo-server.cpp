// SPDX-License-Identifier: MIT
// asio-echo-server - the echo server a C++ user writes with Boost.Asio, for
// bench/echo-compare: C++20 coroutines (co_spawn, use_awaitable) on Asio's
// io_uring backend (BOOST_ASIO_HAS_IO_URING, epoll disabled), one
// single-threaded io_context, a coroutine per connection reading into a
// 64 KiB buffer of its own and writing what it read back (async_write),
// TCP_NODELAY like the other servers.
//
// usage: asio-echo-server PORT
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>

#if !defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT)
#error "Boost.Asio must use its io_uring backend here (BOOST_ASIO_HAS_IO_URING, no epoll)"
#endif

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr size_t kBufferSize = 65536;

asio::awaitable<void> Echo(tcp::socket socket) {
  std::unique_ptr<char[]> buf(new char[kBufferSize]);
  for (;;) {
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(buf.get(), kBufferSize), kNoThrow);
    if (ec) co_return;  // end of stream or an error: the connection is done
    auto [wec, written] = co_await asio::async_write(socket, asio::buffer(buf.get(), n), kNoThrow);
    (void)written;
    if (wec) co_return;
  }
}

asio::awaitable<void> Accept(tcp::acceptor& acceptor) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(kNoThrow);
    if (ec) {
      std::fprintf(stderr, "asio-echo-server: accept: %s\n", ec.message().c_str());
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    asio::co_spawn(acceptor.get_executor(), Echo(std::move(socket)), asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  char* end = nullptr;
  long port = argc == 2 ? std::strtol(argv[1], &end, 10) : 0;
  if (argc != 2 || *end || port < 1 || port > 65535) {
    std::fprintf(stderr, "usage: asio-echo-server PORT (1..65535)\n");
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  asio::io_context ctx(1);  // one thread runs it: Asio's single-threaded hint
  boost::system::error_code ec;
  tcp::acceptor acceptor(ctx);
  tcp::endpoint where(tcp::v4(), static_cast<unsigned short>(port));
  acceptor.open(where.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(where, ec);
  if (!ec) acceptor.listen(4096, ec);
  if (ec) {
    std::fprintf(stderr, "asio-echo-server: listen on port %ld: %s\n", port,
                 ec.message().c_str());
    return 1;
  }
  asio::co_spawn(ctx, Accept(acceptor), asio::detached);
  ctx.run();
  return 0;
}
