#!/usr/bin/env bash
# NAPI busy polling (zcnet::Ring::Options::napi_busy_poll_usec,
# IORING_REGISTER_NAPI) on a device with NAPI: a zcnet-echo ping-pong (one
# connection, 64 B, depth 1) over a netdevsim pair (inside kernel/run-vm),
# the server and client rings busy-polling or not, in alternating rounds
# (ABAB) so the VM's drift falls on both alike. Loopback has no NAPI, so
# the host cannot measure this. TCG emulates the CPUs: the latency is not a
# hardware figure, the ratio between the two in the same rounds is the
# result.
#
# Usage (from the repository root, after the release build):
#   kernel/run-vm --timeout 900 -- bench/netdevsim-napi-busy-poll.sh build/release [ROUNDS [USEC]]
# (default: 5 rounds, 50 us)
set -euo pipefail

build=${1:?usage: netdevsim-napi-busy-poll.sh BUILD_DIR [ROUNDS [USEC]]}
rounds=${2:-5}
usec=${3:-50}
echo_bin=$build/examples/zcnet-echo
fail() { echo "netdevsim-napi-busy-poll: $*" >&2; exit 1; }
[ -x "$echo_bin" ] || fail "no $echo_bin (build first)"

. "$(dirname "$0")/../tests/vm/netdevsim_pair.sh"
nsim_pair 71 72

port=7900
# One ping-pong of 3 s: prints the client's line. $1: extra flags for both.
pingpong() {
	port=$((port + 1))
	# shellcheck disable=SC2086
	ip netns exec zc-b "$echo_bin" server --address "192.0.2.2:$port" --seconds 6 $1 \
		>/tmp/napi-server.txt 2>&1 &
	local server=$!
	sleep 0.5
	# shellcheck disable=SC2086
	ip netns exec zc-a "$echo_bin" client --address "192.0.2.2:$port" --connections 1 \
		--size 64 --depth 1 --seconds 3 $1 || fail "client failed: $(cat /tmp/napi-server.txt)"
	kill "$server" 2>/dev/null || true
	wait "$server" 2>/dev/null || true
	if [ -n "$1" ]; then
		grep -q "NAPI busy poll $usec us" /tmp/napi-server.txt ||
			fail "the server did not register NAPI busy polling: $(cat /tmp/napi-server.txt)"
	fi
}

# NET_RX softirqs, all CPUs: frames a busy poll handles do not raise one,
# so the count per round says whether the polling really ran.
net_rx() { awk '/NET_RX/ { n = 0; for (i = 2; i <= NF; i++) n += $i; print n }' /proc/softirqs; }

for r in $(seq "$rounds"); do
	for mode in plain napi; do
		flags=""
		[ "$mode" = napi ] && flags="--napi-busy-poll $usec"
		before=$(net_rx)
		printf 'round %d %-5s ' "$r" "$mode"
		pingpong "$flags"
		echo "    NET_RX softirqs in the round: $(($(net_rx) - before))"
	done
done
