# shellcheck shell=bash
# wait_listening [NETNS] PORT: waits (up to 60 s) until a TCP socket listens
# on PORT, in network namespace NETNS when given ("" or "-": this one).
# Sourced by the test scripts instead of a fixed sleep before connecting.
wait_listening() {
	local ns=${2:+$1} port=${2:-$1} i
	for ((i = 0; i < 600; i++)); do
		if [ -n "$ns" ] && [ "$ns" != - ]; then
			ip netns exec "$ns" ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && return 0
		else
			ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && return 0
		fi
		sleep 0.1
	done
	echo "wait_listening: nothing listens on port $port${ns:+ in $ns} after 60 s" >&2
	return 1
}
