#!/usr/bin/env bash
# Inside the zcnet VM (kernel/run-vm, patched kernel): many rings with a
# zcrx area per rx queue on a 4-queue netdevsim port, connections placed by
# receive queue (tests/vm/nsim_rings_test.cpp). The port's debugfs counters,
# read here (`ip netns exec` hides debugfs), must show frames on all four
# queues.
#
# Usage: netdevsim_rings.sh BUILD_DIR
set -euo pipefail

build=$1
fail() { echo "netdevsim_rings: FAIL: $*"; exit 1; }

. "$(dirname "$0")/netdevsim_pair.sh"
NSIM_QUEUES=4 nsim_pair 45 46
ip netns exec zc-a sysctl -qw net.ipv6.conf."$if_a".disable_ipv6=1
ip netns exec zc-b sysctl -qw net.ipv6.conf."$if_b".disable_ipv6=1
ip netns exec zc-b ethtool -G "$if_b" tcp-data-split on

before=$(awk '{print $2}' "$rxq_frames_b" | paste -sd' ')
ZCNET_SKIPS_FAIL=1 NSIM_RX_IF=$if_b NSIM_RX_ADDR=192.0.2.2 NSIM_PEER_NETNS=/run/netns/zc-a \
	NSIM_PEER_ADDR=192.0.2.1 timeout 600 ip netns exec zc-b \
	"$build/tests/zcnet-nsim-rings-test" || fail "nsim_rings_test"
after=$(awk '{print $2}' "$rxq_frames_b" | paste -sd' ')
read -r -a b <<<"$before"
read -r -a a <<<"$after"
for q in 0 1 2 3; do
	d=$((a[q] - b[q]))
	echo "server queue $q: $d frames"
	[ "$d" -gt 0 ] || fail "no frame on server queue $q"
done
echo "netdevsim_rings: ok"
