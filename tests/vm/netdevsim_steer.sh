#!/usr/bin/env bash
# Inside the zcnet VM (kernel/run-vm, patched kernel): receive steering on a
# 4-queue netdevsim pair (kernel/patches: "netdevsim: steer received frames
# with RSS and ntuple rules").
#   1. ntuple: four rules steer four flows (dst ports 7300-7303) to queues
#      0-3, each queue bound by its own zcrx ifq (one zcnet-sink per queue);
#      every stream verified with the kernel's zcrx copy counters at 0 (a
#      payload frame on any other queue would have been copied) and frames
#      counted on each queue;
#   2. RSS: 64 flows spread over all four queues by the default indirection
#      table; after `ethtool -X equal 2` none reaches queues 2 and 3; an RSS
#      context over queues 2-3 takes the flow a rule points at it;
#   3. a 64 MiB zcrx stream on queue 3 survives its queue restarted and
#      then its rule deleted mid-stream (its frames then go where RSS puts
#      them, queues 0-2, and zcrx copies them), every byte verified;
#   4. rules the device cannot apply are refused.
#
# Usage: netdevsim_steer.sh BUILD_DIR
set -euo pipefail

build=$1
ex=$build/examples
fail() { echo "netdevsim_steer: FAIL: $*"; exit 1; }

. "$(dirname "$0")/netdevsim_pair.sh"
. "$(dirname "$0")/../tools/wait_listening.sh"
NSIM_QUEUES=4 nsim_pair 31 32

# Only the test's flows reach zc-b's port: no IPv6 neighbour discovery.
ip netns exec zc-a sysctl -qw net.ipv6.conf."$if_a".disable_ipv6=1
ip netns exec zc-b sysctl -qw net.ipv6.conf."$if_b".disable_ipv6=1
ip netns exec zc-b ethtool -G "$if_b" tcp-data-split on
ip netns exec zc-b ethtool -K "$if_b" ntuple on
ip netns exec zc-b ethtool -l "$if_b" | grep -i combined
ip netns exec zc-b ethtool -x "$if_b" | sed -n '1,4p'

counts() { awk '{print $2}' "$rxq_frames_b" | paste -sd' '; }
# delta BEFORE AFTER -> per-queue frame counts between two counts() readings
delta() {
	local -a b=($1) a=($2) d=()
	local i
	for i in "${!a[@]}"; do d+=($((a[i] - b[i]))); done
	echo "${d[*]}"
}
ethn() { ip netns exec zc-b ethtool -N "$if_b" "$@"; }

# 1. Four flows, four queues, four zcrx ifqs.
for q in 0 1 2 3; do
	ethn flow-type tcp4 dst-ip 192.0.2.2 dst-port $((7300 + q)) action $q loc $q
done
rules=$(ip netns exec zc-b ethtool -n "$if_b" | grep -c '^Filter:' || true)
[ "$rules" = 4 ] || fail "ethtool -n lists $rules rules, not 4"
before=$(counts)
logs=()
for q in 0 1 2 3; do
	logs[q]=$(mktemp)
	ip netns exec zc-b "$ex/zcnet-sink" --listen 192.0.2.2:$((7300 + q)) --rx zcrx \
		--ifname "$if_b" --queue $q --verify --bytes 16M >"${logs[q]}" 2>&1 &
	sinks[q]=$!
done
for q in 0 1 2 3; do wait_listening zc-b $((7300 + q)); done
for q in 0 1 2 3; do
	ip netns exec zc-a "$ex/uringx-stream" --connect 192.0.2.2:$((7300 + q)) --bytes 16M &
	senders[q]=$!
done
for q in 0 1 2 3; do wait "${senders[q]}" || fail "sender to queue $q"; done
for q in 0 1 2 3; do
	wait "${sinks[q]}" || { cat "${logs[q]}"; fail "zcnet-sink on queue $q"; }
	sed "s/^/queue $q: /" "${logs[q]}"
	grep -q '^receive mechanism: zcrx (4096-byte buffers)$' "${logs[q]}" || fail "queue $q: not zcrx"
	grep -q 'every byte matched (16777216 of 16777216 bytes)' "${logs[q]}" ||
		fail "queue $q: stream not verified whole"
	grep -q 'zcrx copy fallback (kernel counters): 0 completions, 0 bytes' "${logs[q]}" ||
		fail "queue $q: frames of its flow arrived on another queue (copied)"
done
d=($(delta "$before" "$(counts)"))
echo "frames per queue, four steered flows: ${d[*]}"
for q in 0 1 2 3; do [ "${d[q]}" -gt 0 ] || fail "no frame steered to queue $q"; done
for q in 0 1 2 3; do ethn delete $q; done

# 2. RSS. A flow is 4 KiB, each from its own source port.
flows() {	# N PORT: N short flows from zc-a to 192.0.2.2:PORT
	ip netns exec zc-b python3 -c '
import socket, sys, threading
n, port = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("192.0.2.2", port)); s.listen(n)
print("ready", flush=True)
for _ in range(n):
    c, _ = s.accept()
    while c.recv(65536): pass
    c.close()
' "$1" "$2" &
	local server=$!
	wait_listening zc-b "$2"
	ip netns exec zc-a python3 -c '
import socket, sys
n, port = int(sys.argv[1]), int(sys.argv[2])
for _ in range(n):
    c = socket.create_connection(("192.0.2.2", port)); c.sendall(b"x" * 4096); c.close()
' "$1" "$2"
	wait "$server" >/dev/null
}
# Frames of earlier flows (their last ACKs, FINs) may still be on the way:
# start a count once the queues have been quiet for half a second.
settle() {
	local prev now
	prev=$(counts)
	for _ in $(seq 20); do
		sleep 0.5
		now=$(counts)
		[ "$now" = "$prev" ] && return 0
		prev=$now
	done
}
settle
before=$(counts)
flows 64 7400
d=($(delta "$before" "$(counts)"))
echo "frames per queue, 64 flows, default table: ${d[*]}"
for q in 0 1 2 3; do [ "${d[q]}" -gt 0 ] || fail "RSS put none of 64 flows on queue $q"; done

ip netns exec zc-b ethtool -X "$if_b" equal 2
settle
before=$(counts)
flows 64 7401
d=($(delta "$before" "$(counts)"))
echo "frames per queue, 64 flows, table over queues 0-1: ${d[*]}"
[ "${d[0]}" -gt 0 ] && [ "${d[1]}" -gt 0 ] || fail "equal 2: queue 0 or 1 got nothing"
[ "${d[2]}" = 0 ] && [ "${d[3]}" = 0 ] || fail "equal 2: frames on queue 2 or 3"

ctx_out=$(ip netns exec zc-b ethtool -X "$if_b" context new start 2 equal 2)
echo "$ctx_out"
ctx=$(sed -nE 's/.*New RSS context is ([0-9]+).*/\1/p' <<<"$ctx_out")
[ -n "$ctx" ] || fail "no RSS context created"
ethn flow-type tcp4 dst-port 7402 context "$ctx" loc 20
settle
before=$(counts)
flows 16 7402
d=($(delta "$before" "$(counts)"))
echo "frames per queue, 16 flows to RSS context $ctx (queues 2-3): ${d[*]}"
[ "${d[0]}" = 0 ] && [ "${d[1]}" = 0 ] || fail "context $ctx: frames on queue 0 or 1"
[ $((d[2] + d[3])) -gt 0 ] || fail "context $ctx: nothing on queues 2-3"
ethn delete 20
ip netns exec zc-b ethtool -X "$if_b" context "$ctx" delete
ip netns exec zc-b ethtool -X "$if_b" default

# 3. Queue restart, then rule delete, while a zcrx stream runs on queue 3.
# RSS covers queues 0-2 only: once the rule is gone the flow's frames land
# on queues without its ifq, and zcrx copies them (nothing lost).
ip netns exec zc-b ethtool -X "$if_b" equal 3
ethn flow-type tcp4 dst-port 7310 action 3 loc 10
log=$(mktemp)
ip netns exec zc-b "$ex/zcnet-sink" --listen 192.0.2.2:7310 --rx zcrx --ifname "$if_b" \
	--queue 3 --verify --bytes 64M >"$log" 2>&1 &
sink=$!
wait_listening zc-b 7310
q3() { awk '$1 == 3 {print $2}' "$rxq_frames_b"; }
wait_q3() {	# FRAMES: until queue 3 got FRAMES more frames (15 s at most)
	local from now
	from=$(q3)
	for _ in $(seq 300); do
		now=$(q3)
		[ $((now - from)) -ge "$1" ] && return 0
		sleep 0.05
	done
	fail "queue 3 got $((now - from)) of $1 frames in 15 s"
}
ip netns exec zc-a "$ex/uringx-stream" --connect 192.0.2.2:7310 --bytes 64M &
sender=$!
wait_q3 150
echo "3 0" >"$qreset_b" || fail "restarting queue 3"
echo "queue 3 restarted mid-stream"
wait_q3 50
echo "the flow is on queue 3 after the restart"
ethn delete 10
echo "rule deleted mid-stream"
wait "$sender" || fail "sender (queue restart, rule delete)"
wait "$sink" || { cat "$log"; fail "zcnet-sink (queue restart, rule delete)"; }
sed 's/^/restart: /' "$log"
grep -q 'every byte matched (67108864 of 67108864 bytes)' "$log" ||
	fail "stream across queue restart and rule delete not verified whole"
copied=$(sed -nE 's/.*zcrx copy fallback \(kernel counters\): ([0-9]+) completions.*/\1/p' "$log")
[ "${copied:-0}" -gt 0 ] ||
	fail "after the rule was deleted the flow still reached queue 3 only (no copied frames)"
ip netns exec zc-b ethtool -X "$if_b" default

# 4. What the device cannot do is refused.
refuse() { if ethn "$@" 2>/dev/null; then fail "accepted: ethtool -N $*"; fi; echo "refused: ethtool -N $*"; }
refuse flow-type tcp4 dst-port 7500 action 9
refuse flow-type ether dst 00:11:22:33:44:55 action 1
refuse flow-type tcp4 dst-port 7500 tos 4 action 1
refuse delete 63
echo "netdevsim_steer: ok"
