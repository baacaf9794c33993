#!/usr/bin/env bash
# Inside the zcnet VM (kernel/run-vm, patched kernel): one dma-buf in both
# directions on a netdevsim port. A udmabuf is the zcrx area of the port's
# queue 0 and is also bound for the port's TX (IORING_REGISTER_NET_TX_BUF);
# the peer's 4 MiB stream is received into it without a copy and echoed
# back from the very bytes that arrived, and the peer verifies every byte
# (tests/vm/nictx_test.c --echo). DMA API debugging must report nothing:
# the two mappings of one dma-buf overlap, which dma-debug accepts since
# kernel patch 15 (before it, each page pool sync of a receive buffer was
# reported as a sync of memory never mapped).
#
# Usage: netdevsim_dmabuf_echo.sh BUILD_DIR [ROUNDS]
set -euo pipefail

build=$1
rounds=${2:-3}
fail() { echo "netdevsim_dmabuf_echo: FAIL: $*"; exit 1; }

. "$(dirname "$0")/netdevsim_pair.sh"
nsim_pair 71 72
ip netns exec zc-a ethtool -G "$if_a" tcp-data-split on
for round in $(seq 1 "$rounds"); do
	echo "netdevsim_dmabuf_echo: round $round of $rounds"
	ip netns exec zc-a "$build/tests/zcnet-nictx-test" --echo "$if_a" zc-b 192.0.2.1 ||
		fail "the echo from one dma-buf, round $round"
done

errors=$(cat /sys/kernel/debug/dma-api/error_count)
echo "DMA API debug: $errors error(s)"
[ "$errors" = 0 ] || { dmesg | grep 'DMA-API:'; fail "DMA API debugging reported $errors error(s)"; }
echo "netdevsim_dmabuf_echo: ok"
