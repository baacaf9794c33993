#!/usr/bin/env bash
# Inside the zcnet VM (kernel/run-vm, patched kernel): io_uring zero-copy
# receive on a netdevsim port.
#   1. uringx-probe names header split as the reason until it is on, then
#      reports zcrx usable;
#   2. the gtest binary (tests/vm/nsim_zcrx_test.cpp): seeded streams with
#      zero copy fallback, register/traffic/restart/unregister loops,
#      teardown with buffers held;
#   3. zcnet-sink receives over zcrx and zcnet-proxy sends with SEND_ZC
#      across the pair, both zero-copy, the stream verified;
#   4. kmemleak (the test is booted with kmemleak=on, and fails without it)
#      finds no object leaked while the test ran, from anywhere.
#
# Usage: netdevsim_zcrx.sh BUILD_DIR
set -euo pipefail

build=$1
probe=$build/liburing-ext/uringx-probe
ex=$build/examples
fail() { echo "netdevsim_zcrx: FAIL: $*"; exit 1; }

# Whatever boot left unreferenced is not this test's: start from a clean slate.
[ -w /sys/kernel/debug/kmemleak ] ||
	fail "kmemleak is not enabled on this boot (kernel/run-vm --append kmemleak=on)"
echo clear >/sys/kernel/debug/kmemleak

. "$(dirname "$0")/netdevsim_pair.sh"
. "$(dirname "$0")/../tools/wait_listening.sh"
nsim_pair 21 22

probe_field() {	# FIELD -> value of zcrx.device.FIELD for zc-b's port
	ip netns exec zc-b "$probe" --ifname "$if_b" --queue 0 --json |
		python3 -c "import json,sys; print(json.load(sys.stdin)['zcrx']['device'].get('$1', 'none'))"
}
expect_probe() {	# USABLE REASON STEP
	local usable reason
	usable=$(probe_field usable)
	reason=$(probe_field reason)
	echo "probe ($3): usable=$usable reason=$reason"
	[ "$usable" = "$1" ] && [ "$reason" = "$2" ] ||
		fail "probe ($3): wanted usable=$1 reason=$2, got usable=$usable reason=$reason"
}

# 1. The probe before and after header split.
expect_probe False hds_unconfigured "fresh port: split reported on, not configured"
ip netns exec zc-b ethtool -G "$if_b" tcp-data-split off
expect_probe False hds_off "tcp-data-split off"
ip netns exec zc-b ethtool -G "$if_b" tcp-data-split on
expect_probe True none "tcp-data-split on"
ip netns exec zc-b ethtool -g "$if_b" | grep -i 'tcp data split'

# 2. The test binary, in zc-b, sending from zc-a. `ip netns exec` mounts a
# fresh /sys, hiding debugfs: the queue_reset file goes in as an open fd.
# 2 MiB pages for the large-buffer case's area (rx buffers of 16 KiB must be
# physically contiguous), released again before the examples run.
exec {qreset_fd}>"$qreset_b"
echo 8 >/proc/sys/vm/nr_hugepages
ZCNET_SKIPS_FAIL=1 NSIM_RX_IF=$if_b NSIM_RX_ADDR=192.0.2.2 NSIM_PEER_NETNS=/run/netns/zc-a NSIM_PEER_IF=$if_a \
	NSIM_QRESET=/proc/self/fd/$qreset_fd timeout 600 ip netns exec zc-b "$build/tests/zcnet-nsim-zcrx-test" ||
	fail "nsim_zcrx_test"
echo 0 >/proc/sys/vm/nr_hugepages

# 3. The examples: uringx-stream (zc-a, loopback) -> zcnet-proxy (zc-a,
# SEND_ZC across the link) -> zcnet-sink (zc-b, zcrx on the port).
sink_log=$(mktemp) proxy_log=$(mktemp)
ip netns exec zc-b "$ex/zcnet-sink" --listen 192.0.2.2:7200 --rx zcrx --ifname "$if_b" \
	--queue 0 --verify --bytes 64M >"$sink_log" 2>&1 &
sink=$!
ip netns exec zc-a "$ex/zcnet-proxy" --listen 127.0.0.1:7201 --upstream 192.0.2.2:7200 \
	--connections 1 >"$proxy_log" 2>&1 &
proxy=$!
wait_listening zc-b 7200
wait_listening zc-a 7201
ip netns exec zc-a "$ex/uringx-stream" --connect 127.0.0.1:7201 --bytes 64M ||
	fail "sender into the proxy"
wait "$proxy" || { cat "$proxy_log"; fail "zcnet-proxy"; }
wait "$sink" || { cat "$sink_log"; fail "zcnet-sink"; }
sed 's/^/zcnet-proxy: /' "$proxy_log"
sed 's/^/zcnet-sink: /' "$sink_log"
grep -q '^receive mechanism: zcrx (4096-byte buffers)$' "$sink_log" ||
	fail "zcnet-sink did not receive through zcrx"
grep -q 'every byte matched (67108864 of 67108864 bytes)' "$sink_log" ||
	fail "stream through proxy and sink not verified whole"
grep -q 'zcrx copy fallback (kernel counters): 0 completions, 0 bytes' "$sink_log" ||
	fail "zcnet-sink saw copy fallback"
# SEND_ZC across the link: the copy fallback never engages, every full
# chunk goes out as SEND_ZC (only reads shorter than zc_min_bytes, like the
# tail of the stream, go plain), and the kernel's reports say at least 90 %
# of the bytes left without a copy (TCP may copy the odd send; loopback
# would report 100 % copied and trip the fallback).
read -r zc_sends plain_sends short_sends zc_bytes copied_bytes fallback < <(sed -nE \
	's/.*pool: ([0-9]+) zero-copy sends, ([0-9]+) plain sends \(([0-9]+) shorter than [0-9]+ bytes\), kernel reported ([0-9]+) bytes zero-copy and ([0-9]+) copied; copy fallback (engaged|not engaged).*/\1 \2 \3 \4 \5 \6/p' \
	"$proxy_log")
[ -n "${zc_sends:-}" ] || fail "zcnet-proxy printed no pool statistics"
[ "$fallback" = "not engaged" ] ||
	fail "zcnet-proxy's copy fallback engaged ($copied_bytes bytes copied, $zc_bytes zero-copy)"
[ "$zc_sends" -gt 0 ] && [ "$plain_sends" -eq "$short_sends" ] ||
	fail "zcnet-proxy sent full chunks plainly ($zc_sends zero-copy, $plain_sends plain, $short_sends short)"
[ $((zc_bytes * 10)) -ge $((64 * 1024 * 1024 * 9)) ] ||
	fail "zcnet-proxy: only $zc_bytes of 67108864 bytes sent zero-copy ($copied_bytes copied)"
echo "zcnet-proxy: $zc_bytes bytes zero-copy, $copied_bytes copied by the kernel"
# Every receive into a chunk (and every plain send) named the registered
# slot: 7.3 takes IORING_RECVSEND_FIXED_BUF on plain RECV/SEND.
fixed_ops=$(sed -nE 's/.*; ([0-9]+) plain sends and receives on the registered slot.*/\1/p' "$proxy_log")
[ -n "$fixed_ops" ] && [ "$fixed_ops" -ge $((zc_sends + plain_sends * 2)) ] ||
	fail "zcnet-proxy's receives did not name the registered slot (${fixed_ops:-none} for $zc_sends + $plain_sends sends)"

# 4. Leaks: objects are reported once unreferenced for a few seconds, so
# scan twice; any object left from the test's time fails it.
echo scan >/sys/kernel/debug/kmemleak; sleep 6
echo scan >/sys/kernel/debug/kmemleak
leaks=$(cat /sys/kernel/debug/kmemleak)
n=$(grep -c '^unreferenced object' <<<"$leaks" || true)
echo "kmemleak: $n object(s) leaked while the test ran"
if [ "$n" != 0 ]; then
	echo "$leaks"
	fail "kmemleak: $n leaked object(s)"
fi
echo "netdevsim_zcrx: ok"
