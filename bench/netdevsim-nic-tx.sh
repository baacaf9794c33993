#!/usr/bin/env bash
# Zero-copy send from memory the NIC mapped once (issue 11): zcnet-bench's
# stream-tx workload over a netdevsim pair (inside kernel/run-vm, patched
# kernel), every sender into the same IORING_OP_RECV receiver, with the
# sending port's per-packet DMA maps read around each trial
# (--tx-dma-counters: netdevsim's debugfs tx_dma_maps). The row
# "SEND_ZC NIC" sends from a udmabuf bound for the port's TX
# (IORING_REGISTER_NET_TX_BUF, --tx-nic). TCG makes throughput and CPU
# figures meaningless as absolutes; DMA maps per MB and the copied bytes are
# the result.
#
# Usage (from the repository root, after the release build):
#   kernel/run-vm --timeout 1500 -- bench/netdevsim-nic-tx.sh build/release [zcnet-bench options]
set -euo pipefail

build=${1:?usage: netdevsim-nic-tx.sh BUILD_DIR [zcnet-bench options]}
shift
fail() { echo "netdevsim-nic-tx: $*" >&2; exit 1; }

. "$(dirname "$0")/../tests/vm/netdevsim_pair.sh"
nsim_pair 63 64
# `ip netns exec` mounts a sysfs of the namespace over /sys, which hides
# /sys/kernel/debug: debugfs once more where the benchmark can read it.
mkdir -p /tmp/zc-debugfs
mountpoint -q /tmp/zc-debugfs || mount -t debugfs none /tmp/zc-debugfs
counters=/tmp/zc-debugfs/netdevsim/netdevsim63/ports/0
[ -r "$counters/tx_dma_maps" ] || fail "no $counters/tx_dma_maps (kernel without the patches?)"
ip netns exec zc-b "$build/bench/zcnet-bench" --quick --trials 3 --workloads stream-tx \
	--server-addr 192.0.2.2 --client-netns /run/netns/zc-a --tx-nic "$if_a" \
	--tx-dma-counters "$counters" "$@" || fail "zcnet-bench failed"
