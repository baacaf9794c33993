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

[ -d /sys/bus/netdevsim ] || fail "no /sys/bus/netdevsim (kernel without CONFIG_NETDEVSIM?)"

new_port() {	# id -> prints the port's interface name
	echo "$1 1" >/sys/bus/netdevsim/new_device
	for _ in $(seq 50); do
		for n in /sys/bus/netdevsim/devices/netdevsim"$1"/net/*; do
			[ -e "$n" ] && { basename "$n"; return; }
		done
		sleep 0.1
	done
	fail "netdevsim$1 created no net device"
}

if_a=$(new_port 11)
if_b=$(new_port 12)
ip netns add zc-a
ip netns add zc-b
ip link set "$if_a" netns zc-a
ip link set "$if_b" netns zc-b
idx_a=$(ip netns exec zc-a cat /sys/class/net/"$if_a"/ifindex)
idx_b=$(ip netns exec zc-b cat /sys/class/net/"$if_b"/ifindex)
exec {ns_a}</run/netns/zc-a {ns_b}</run/netns/zc-b
echo "$ns_a:$idx_a $ns_b:$idx_b" >/sys/bus/netdevsim/link_device ||
	fail "linking $if_a and $if_b"
# TEST-NET-1 addresses, only inside these two namespaces of this VM.
ip -n zc-a addr add 192.0.2.1/24 dev "$if_a"
ip -n zc-b addr add 192.0.2.2/24 dev "$if_b"
for ns in zc-a zc-b; do ip -n $ns link set lo up; done
ip -n zc-a link set "$if_a" up
ip -n zc-b link set "$if_b" up
echo "netdevsim_stream: $if_a (zc-a, 192.0.2.1) <-> $if_b (zc-b, 192.0.2.2)"

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
