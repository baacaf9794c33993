// SPDX-License-Identifier: MIT
// zcnet-bench: Boost.Asio, what a C++ user picks instead of zcnet, serving
// the same sockets with the same verification: C++20 coroutines
// (co_spawn, use_awaitable) on Asio's io_uring backend (the translation unit
// is built with BOOST_ASIO_HAS_IO_URING and BOOST_ASIO_DISABLE_EPOLL), one
// single-threaded io_context, one coroutine per connection reading into a
// buffer of its own (MAX_IO bytes, as uring-recv) and writing what it read
// back with async_write.
//
// Asio's ring is private, so its syscalls and CQEs are not counted (shown
// as '-').
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/version.hpp>
#include <cerrno>
#include <cstdio>
#include <memory>

#include "bench.h"

#if !defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT)
#error "Boost.Asio must use its io_uring backend here (BOOST_ASIO_HAS_IO_URING, no epoll)"
#endif

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

asio::awaitable<void> ServeConn(tcp::socket socket, int idx, server_run* run) {
  std::unique_ptr<uint8_t[]> buf(new uint8_t[MAX_IO]);
  uint64_t offset = 0;
  for (;;) {
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(buf.get(), MAX_IO), kNoThrow);
    if (ec == asio::error::eof) break;
    if (ec) {
      if (!run->error) run->error = -ec.value();
      break;
    }
    if (run->mode == SERVE_SINK &&
        !pattern_check(conn_stream_base(run->first_conn + idx) + offset, buf.get(), n))
      run->bad_bytes += n;
    offset += n;
    run->bytes += n;
    if (run->mode == SERVE_ECHO) {
      auto [wec, written] =
          co_await asio::async_write(socket, asio::buffer(buf.get(), n), kNoThrow);
      (void)written;
      if (wec) {
        if (!run->error) run->error = -EPIPE;
        break;
      }
    }
  }
}

}  // namespace

extern "C" int asio_serve(server_run* run) {
  asio::io_context ctx(1);  // one thread runs it: Asio's single-threaded hint
  for (int i = 0; i < run->nr_fds; i++) {
    int fd = dup(run->fds[i]);  // the socket owns its fd; the bench owns the original
    if (fd < 0) {
      run->error = -errno;
      return run->error;
    }
    boost::system::error_code ec;
    tcp::socket socket(ctx);
    socket.assign(tcp::v4(), fd, ec);
    if (ec) {
      close(fd);
      run->error = -ec.value();
      return run->error;
    }
    asio::co_spawn(ctx, ServeConn(std::move(socket), i, run), asio::detached);
  }
  std::snprintf(run->detail, sizeof(run->detail), "Boost %d.%d Asio coroutines, io_uring",
                BOOST_VERSION / 100000, BOOST_VERSION / 100 % 1000);
  run->syscalls = SYSCALLS_UNKNOWN;
  server_ready(run);
  ctx.run();
  server_done(run);
  return run->error;
}
