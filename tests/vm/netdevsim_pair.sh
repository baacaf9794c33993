# Sourced by the netdevsim VM tests (inside kernel/run-vm): two netdevsim
# ports in two network namespaces, linked back to back.
#
#   nsim_pair ID_A ID_B   creates netdevsim devices ID_A and ID_B (one port,
#                         NSIM_QUEUES queues each, default 1), moves their ports into namespaces
#                         zc-a and zc-b, links them and brings them up with
#                         TEST-NET-1 addresses 192.0.2.1 (zc-a) and
#                         192.0.2.2 (zc-b), used only inside this VM.
#   Sets if_a, if_b (port names), qreset_b (zc-b port's debugfs
#   queue_reset file) and rxq_frames_b (its rx_queue_frames file: frames
#   steered to each rx queue).
# The caller defines fail().

nsim_new_port() {	# id -> prints the port's interface name
	echo "$1 1 ${NSIM_QUEUES:-1}" >/sys/bus/netdevsim/new_device || fail "creating netdevsim$1"
	for _ in $(seq 50); do
		for n in /sys/bus/netdevsim/devices/netdevsim"$1"/net/*; do
			[ -e "$n" ] && { basename "$n"; return; }
		done
		sleep 0.1
	done
	fail "netdevsim$1 created no net device"
}

nsim_pair() {
	[ -d /sys/bus/netdevsim ] || fail "no /sys/bus/netdevsim (kernel without CONFIG_NETDEVSIM?)"
	if_a=$(nsim_new_port "$1")
	if_b=$(nsim_new_port "$2")
	qreset_b=/sys/kernel/debug/netdevsim/netdevsim$2/ports/0/queue_reset
	rxq_frames_b=/sys/kernel/debug/netdevsim/netdevsim$2/ports/0/rx_queue_frames
	ip netns add zc-a
	ip netns add zc-b
	ip link set "$if_a" netns zc-a
	ip link set "$if_b" netns zc-b
	local idx_a idx_b ns_a ns_b
	idx_a=$(ip netns exec zc-a cat /sys/class/net/"$if_a"/ifindex)
	idx_b=$(ip netns exec zc-b cat /sys/class/net/"$if_b"/ifindex)
	exec {ns_a}</run/netns/zc-a {ns_b}</run/netns/zc-b
	echo "$ns_a:$idx_a $ns_b:$idx_b" >/sys/bus/netdevsim/link_device ||
		fail "linking $if_a and $if_b"
	exec {ns_a}<&- {ns_b}<&-
	ip -n zc-a addr add 192.0.2.1/24 dev "$if_a"
	ip -n zc-b addr add 192.0.2.2/24 dev "$if_b"
	for ns in zc-a zc-b; do ip -n $ns link set lo up; done
	ip -n zc-a link set "$if_a" up
	ip -n zc-b link set "$if_b" up
	# Permanent neighbours: no ARP frame lands on a queue mid-measurement.
	local mac_a mac_b
	mac_a=$(ip netns exec zc-a cat /sys/class/net/"$if_a"/address)
	mac_b=$(ip netns exec zc-b cat /sys/class/net/"$if_b"/address)
	ip -n zc-a neigh replace 192.0.2.2 lladdr "$mac_b" dev "$if_a" nud permanent
	ip -n zc-b neigh replace 192.0.2.1 lladdr "$mac_a" dev "$if_b" nud permanent
	echo "netdevsim pair: $if_a (zc-a, 192.0.2.1) <-> $if_b (zc-b, 192.0.2.2)"
}
