#!/bin/bash
# Round-trip latency of one connection, one 64-byte message in flight
# (zcnet-echo client), against zcnet-echo server with its defaults and with
# the flags given, alternating, server on CPU 0 and client on CPU 1.
# usage: pingpong-latency.sh BUILD_DIR ROUNDS FLAGS...
build=$1; rounds=$2; shift 2
for r in $(seq "$rounds"); do
	for v in "" "$*"; do
		p=$((18600 + RANDOM % 300))
		# shellcheck disable=SC2086 # the flags are words
		taskset -c 0 "$build/examples/zcnet-echo" server --port $p $v >/dev/null 2>&1 &
		pid=$!
		sleep 0.3
		echo "round $r [${v:-defaults}] $(taskset -c 1 "$build/examples/zcnet-echo" client --port $p \
			--connections 1 --depth 1 --size 64 --seconds 2 2>&1)"
		kill $pid
		wait $pid 2>/dev/null
	done
done
