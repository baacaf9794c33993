#!/usr/bin/env bash
# Installed use: `meson install` into a scratch destdir, then an out-of-tree
# C program (uringx) and C++ program (zcnet) built with `pkg-config --cflags
# --libs` alone, linked and run. Catches a .pc file that leaves out what the
# public headers need (abseil's Status is used inline by zcnet's headers).
#
# Usage: installed_use.sh BUILD_DIR
set -euo pipefail

build=$1
fail() { echo "installed_use: FAIL: $*"; exit 1; }
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT

meson install -C "$build" --destdir "$dest" --no-rebuild --quiet >/dev/null ||
	fail "meson install --destdir $dest"
zcnet_pc=$(find "$dest" -name zcnet.pc | head -1)
[ -n "$zcnet_pc" ] || fail "no zcnet.pc installed"
libdir=$(dirname "$(dirname "$zcnet_pc")")
export PKG_CONFIG_PATH=$(dirname "$zcnet_pc")
export PKG_CONFIG_SYSROOT_DIR=$dest

cat >"$dest/probe.c" <<'C'
#include <stdio.h>
#include <uringx/uringx.h>
int main(void)
{
	struct uringx_probe p;
	int ret = uringx_probe_kernel(&p);

	if (ret) {
		fprintf(stderr, "uringx_probe_kernel: %s\n", uringx_strerror(ret));
		return 1;
	}
	printf("uringx from the installed tree: io_uring %s, kernel %s\n",
	       p.io_uring ? "yes" : "no", p.kernel_release);
	return p.io_uring ? 0 : 1;
}
C
cat >"$dest/ring.cpp" <<'CPP'
#include <cstdio>
#include <zcnet/net/socket.hpp>
#include <zcnet/ring.hpp>
#include <zcnet/runtime.hpp>

zcnet::Task<absl::Status> Nap(zcnet::Ring& ring) {
  co_return co_await zcnet::Sleep(ring, absl::Milliseconds(1));
}

int main() {
  auto ring = zcnet::Ring::Create();
  if (!ring.ok()) {
    std::fprintf(stderr, "%s\n", ring.status().ToString().c_str());
    return 1;
  }
  absl::Status st = (*ring)->Run(Nap(**ring));
  std::printf("zcnet from the installed tree: a sleep through the ring: %s\n",
              st.ToString().c_str());
  return st.ok() ? 0 : 1;
}
CPP
# shellcheck disable=SC2046
cc -Wall -Werror "$dest/probe.c" -o "$dest/probe" $(pkg-config --cflags --libs uringx) ||
	fail "building a C program with pkg-config uringx"
# shellcheck disable=SC2046
c++ -std=c++20 -Wall -Werror "$dest/ring.cpp" -o "$dest/ring" $(pkg-config --cflags --libs zcnet) ||
	fail "building a C++ program with pkg-config zcnet (pkg-config --libs zcnet: $(pkg-config --libs zcnet))"
LD_LIBRARY_PATH=$libdir "$dest/probe" || fail "running the C program"
LD_LIBRARY_PATH=$libdir "$dest/ring" || fail "running the C++ program"
echo "installed_use: ok"
