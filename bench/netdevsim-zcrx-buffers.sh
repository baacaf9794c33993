#!/usr/bin/env bash
# zcrx buffer length on a real rx queue: zcnet-bench's stream workload over
# a netdevsim pair (inside kernel/run-vm, patched kernel), receiving with
# plain IORING_OP_RECV and with zcrx at 4 KiB and at larger buffers, one
# zcnet-bench run per buffer length, at MTU 1500 and 9000. netdevsim, like
# a NIC without hardware GRO, gives each frame's payload buffers of its
# own, so buffers larger than a page matter once a frame's payload is.
# TCG makes throughput and CPU figures meaningless as absolutes; CQEs per
# MB is the result.
#
# Usage (from the repository root, after the release build):
#   kernel/run-vm --timeout 1500 -- bench/netdevsim-zcrx-buffers.sh build/release [LEN...]
# (default lengths: 4096 16384)
set -euo pipefail

build=${1:?usage: netdevsim-zcrx-buffers.sh BUILD_DIR [LEN...]}
shift
lengths=("$@")
[ ${#lengths[@]} -gt 0 ] || lengths=(4096 16384)
fail() { echo "netdevsim-zcrx-buffers: $*" >&2; exit 1; }

. "$(dirname "$0")/../tests/vm/netdevsim_pair.sh"
nsim_pair 61 62
ip netns exec zc-b ethtool -G "$if_b" tcp-data-split on
# Buffers above a page must be physically contiguous: 64 MiB of 2 MiB pages.
echo 40 >/proc/sys/vm/nr_hugepages

for mtu in 1500 9000; do
	ip -n zc-a link set "$if_a" mtu "$mtu"
	ip -n zc-b link set "$if_b" mtu "$mtu"
	for len in "${lengths[@]}"; do
		echo "==> MTU $mtu, zcrx buffers of $len bytes"
		ip netns exec zc-b "$build/bench/zcnet-bench" --quick --trials 3 --workloads stream \
			--strategies uring-recv,zcrx --zcrx-ifname "$if_b" --zcrx-queue 0 \
			--zcrx-buf-len "$len" --server-addr 192.0.2.2 --client-netns /run/netns/zc-a ||
			fail "zcnet-bench at MTU $mtu with $len-byte buffers failed"
	done
done
