#!/bin/bash
# one server under the echo load, sampled with perf (cpu-clock: no hardware counters here)
set -e
name=$1; port=$2; shift 2
"$@" >/dev/null 2>&1 &
pid=$!
sleep 0.5
taskset -pc 0 $pid >/dev/null
taskset -c 1 build/release/examples/zcnet-echo client --port $port --connections 64 --size 128 --depth 16 --seconds 8 > /tmp/perf-$name-client.txt 2>&1 &
cpid=$!
sleep 1.5
perf record -q -e cpu-clock -F 4000 -p $pid -o /tmp/perf-$name.data -- sleep 5 2>/dev/null
wait $cpid
kill $pid; wait $pid 2>/dev/null || true
cat /tmp/perf-$name-client.txt
