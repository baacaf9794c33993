#!/usr/bin/env bash
# Inside the zcnet VM (kernel/run-vm): two netdevsim ports in two network
# namespaces, linked back to back, carry a verified TCP stream from
# uringx-stream. Also records what uringx-probe says about zcrx on the port.
#
# Usage: netdevsim_stream.sh UringxStream UringxProbe [BYTES]
set -euo pipefail

stream=$1
probe=$2
bytes=${3:-16M}

fail() { echo "netdevsim_stream: FAIL: $*"; exit 1; }

. "$(dirname "$0")/netdevsim_pair.sh"
nsim_pair 11 12

ip netns exec zc-b "$probe" --ifname "$if_b" --queue 0 | sed 's/^/probe: /'

ip netns exec zc-b "$stream" --listen 192.0.2.2:7000 --bytes "$bytes" --verify \
	>/tmp/receiver.log 2>&1 &
receiver=$!
ip netns exec zc-a "$stream" --connect 192.0.2.2:7000 --bytes "$bytes" ||
	fail "sender failed"
wait "$receiver" || { cat /tmp/receiver.log; fail "receiver failed"; }
cat /tmp/receiver.log
grep -q 'every byte matched' /tmp/receiver.log || fail "stream not verified"
echo "netdevsim_stream: ok"
