#!/bin/bash
# (saved with bench/results/echo-compare/2026-12-06-deadline-counts.txt; run from the source root)
# usage: echo-count.sh PORT DEPTH ARGS... : zcnet-echo server under echo-load, the ring's counters
port=$1; depth=$2; shift 2
taskset -c 0 build/release/examples/zcnet-echo server --port $port "$@" >/dev/null 2>/tmp/echo-count-srv.txt &
pid=$!
sleep 0.5
load=$(taskset -c 1 build/release/bench/echo-load --port $port --depth $depth --seconds 3 --server-pid $pid 2>&1)
sleep 0.2
kill -TERM $pid; wait $pid
echo "args: $* depth $depth"
echo "  load: $load"
echo "  $(cat /tmp/echo-count-srv.txt | grep 'zcnet-echo server:')"
