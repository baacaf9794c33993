#!/usr/bin/env bash
# Inside the zcnet VM (kernel/run-vm, patched kernel): liburing-ext's steer
# helpers on a 4-queue netdevsim pair.
#   1. uringx_rss_read() sees the client port's table and key (Toeplitz);
#   2. for each queue, 4 client connections bound to ports that
#      uringx_rss_pick_port() chose: every frame the client receives (the
#      server's SYN-ACK, data, ACKs) lands on that queue, 64 KiB echoed and
#      verified on each;
#   3. uringx_steer_add() on the server port: connections to the steered
#      port arrive on the rule's queue only; uringx_steer_del() removes it.
#
# Usage: netdevsim_rss.sh BUILD_DIR
set -euo pipefail

build=$1
check=$build/tests/uringx-steer-check
fail() { echo "netdevsim_rss: FAIL: $*"; exit 1; }

. "$(dirname "$0")/netdevsim_pair.sh"
. "$(dirname "$0")/../tools/wait_listening.sh"
NSIM_QUEUES=4 nsim_pair 41 42
rxq_frames_a=/sys/kernel/debug/netdevsim/netdevsim41/ports/0/rx_queue_frames
ip netns exec zc-a sysctl -qw net.ipv6.conf."$if_a".disable_ipv6=1
ip netns exec zc-b sysctl -qw net.ipv6.conf."$if_b".disable_ipv6=1

ip netns exec zc-b "$check" serve 192.0.2.2 7400 &
server=$!
ip netns exec zc-b "$check" serve 192.0.2.2 7401 &
server2=$!
trap 'kill $server $server2 2>/dev/null || true' EXIT
wait_listening zc-b 7400
wait_listening zc-b 7401

# 1.
out=$(ip netns exec zc-a "$check" rss "$if_a") || fail "rss read on $if_a"
echo "$out"
grep -q "4 rx queues, 128-entry table, 40-byte key, toeplitz" <<<"$out" ||
	fail "unexpected RSS report: $out"

counts() { awk '{print $2}' "$1" | paste -sd' '; }
delta() {	# BEFORE AFTER -> per-queue differences
	local -a b=($1) a=($2) d=()
	local i
	for i in "${!a[@]}"; do d+=($((a[i] - b[i]))); done
	echo "${d[*]}"
}

# 2.
for q in 0 1 2 3; do
	before=$(counts "$rxq_frames_a")
	ip netns exec zc-a "$check" pick "$if_a" 192.0.2.1 192.0.2.2 7400 $q 4 ||
		fail "connections for queue $q"
	d=($(delta "$before" "$(counts "$rxq_frames_a")"))
	echo "client frames per queue, 4 connections picked for queue $q: ${d[*]}"
	for o in 0 1 2 3; do
		if [ $o = $q ]; then
			[ "${d[o]}" -gt 0 ] || fail "no frame on queue $q"
		else
			[ "${d[o]}" = 0 ] || fail "frames for queue $q landed on queue $o"
		fi
	done
done

# 3.
ip netns exec zc-b ethtool -K "$if_b" ntuple on
loc=$(ip netns exec zc-b "$check" rule-add "$if_b" 7401 2) || fail "uringx_steer_add"
rules=$(ip netns exec zc-b ethtool -n "$if_b" | grep -c '^Filter:' || true)
[ "$rules" = 1 ] || fail "ethtool -n lists $rules rules after uringx_steer_add, not 1"
ip netns exec zc-b ethtool -n "$if_b" | grep -A6 '^Filter:'
before=$(counts "$rxq_frames_b")
ip netns exec zc-a "$check" echo 192.0.2.2 7401 16 || fail "echo over the steered port"
d=($(delta "$before" "$(counts "$rxq_frames_b")"))
echo "server frames per queue, 16 connections to the steered port: ${d[*]}"
for q in 0 1 3; do [ "${d[q]}" = 0 ] || fail "frames to port 7401 on queue $q (rule says 2)"; done
[ "${d[2]}" -gt 0 ] || fail "no frame on queue 2"
ip netns exec zc-b "$check" rule-del "$if_b" "$loc" || fail "uringx_steer_del"
rules=$(ip netns exec zc-b ethtool -n "$if_b" | grep -c '^Filter:' || true)
[ "$rules" = 0 ] || fail "$rules rules left after uringx_steer_del"
echo "netdevsim_rss: ok"
