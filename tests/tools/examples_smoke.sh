#!/usr/bin/env bash
# Runs every example for real over loopback and checks what it reports.
# Usage: examples_smoke.sh BUILD_DIR [PORT_BASE]
set -euo pipefail
build=$1
port=${2:-17400}
ex=$build/examples
fail() { echo "examples_smoke: FAIL: $*"; exit 1; }
. "$(dirname "$0")/wait_listening.sh"

for prog in zcnet-echo zcnet-sink zcnet-proxy existing-loop uringx-stream; do
	"$ex/$prog" --help >/dev/null || fail "$prog --help"
done
# Bad input: exit 2 (usage) or 1 (runtime), and a message on stderr that
# names the option (or the operation and address) and what is accepted.
# refuses CODE PATTERN PROG ARGS...: PROG ARGS must exit CODE, stderr must match PATTERN.
refuses() {
	local code=$1 pattern=$2 err rc=0 bin
	shift 2
	for bin in "$ex/$1" "$build/liburing-ext/$1" "$build/bench/$1"; do [ -x "$bin" ] && break; done
	err=$(timeout 20 "$bin" "${@:2}" 2>&1 >/dev/null) || rc=$?
	[ "$rc" = "$code" ] || fail "$*: exit $rc, wanted $code: $err"
	grep -qE -- "$pattern" <<<"$err" || fail "$*: message does not name the problem: $err"
}
refuses 2 "first argument is server or client, got 'bogus'" zcnet-echo bogus
refuses 2 "--port wants an integer 0..65535, got '70000'" zcnet-echo server --port 70000
refuses 2 "--connections wants an integer 1..100000, got '0'" zcnet-echo client --connections 0
refuses 2 "--size wants an integer 1..16777216, got 'x'" zcnet-echo client --size x
refuses 2 "--depth wants an integer 1..4096, got '-1'" zcnet-echo client --depth -1
refuses 2 "--seconds wants seconds 0..31536000, got 'soon'" zcnet-echo client --seconds soon
refuses 2 "--rx wants auto or pbuf, got 'zcrx'" zcnet-echo server --rx zcrx
refuses 2 "--address: address 'localhost:80': " zcnet-echo client --address localhost:80
refuses 2 "unrecognized option '--bogus'" zcnet-echo server --bogus
refuses 1 "4 of 4 connections failed; the first: .*connect to 127.0.0.1:1: .*Connection refused" \
	zcnet-echo client --port 1 --connections 4 --seconds 1
refuses 1 "Options::buffers = 0: wants a power of two, 1..32768" zcnet-echo server --port 0 --buffers 0
refuses 2 "give exactly one of --listen ADDR and --self BYTES" zcnet-sink
refuses 2 "--self wants a size such as 64M, got '1X'" zcnet-sink --self 1X
refuses 2 "--listen: address '127.0.0.1': " zcnet-sink --listen 127.0.0.1
refuses 2 "--queue wants an integer 0..4095, got '5000'" zcnet-sink --self 1M --queue 5000
refuses 2 "--rx wants auto, pbuf or zcrx, got 'fast'" zcnet-sink --self 1M --rx fast
refuses 2 "--listen ADDR and --upstream ADDR are both required" zcnet-proxy --listen 127.0.0.1:0
refuses 2 "--upstream: address '\[::1:80': " zcnet-proxy --listen 127.0.0.1:0 --upstream '[::1:80'
refuses 2 "--upstream 127.0.0.1:0: port 0 is not a destination" \
	zcnet-proxy --listen 127.0.0.1:0 --upstream 127.0.0.1:0
refuses 2 "--chunks wants an integer 2..65536, got '1'" \
	zcnet-proxy --listen 127.0.0.1:0 --upstream 127.0.0.1:9 --chunks 1
refuses 2 "--chunk-size wants an integer 4096..16777216, got '100'" \
	zcnet-proxy --listen 127.0.0.1:0 --upstream 127.0.0.1:9 --chunk-size 100
refuses 2 "--round-trips wants an integer 1..100000000, got '0'" existing-loop --round-trips 0
refuses 2 "--listen '::1:80': an IPv6 address without brackets" uringx-stream --listen ::1:80
refuses 2 "--connect '127.0.0.1:0': port 0 is not a destination" uringx-stream --connect 127.0.0.1:0
refuses 2 "--connect 'unix:': an empty Unix socket path" uringx-stream --connect unix:
refuses 2 "--send wants auto, zc, plain or nic, got 'fast'" uringx-stream --send fast
refuses 2 "--queue wants a queue number 0..4095, got 'q'" uringx-stream --queue q
refuses 2 "--bytes wants a positive size, got '0'" uringx-stream --bytes 0
refuses 1 "connect to 127.0.0.1:1: Connection refused" uringx-stream --connect 127.0.0.1:1
refuses 1 "bind 192.0.2.1:9: Cannot assign requested address" uringx-stream --listen 192.0.2.1:9
refuses 1 "bind 192.0.2.1:9: Cannot assign requested address" zcnet-sink --listen 192.0.2.1:9
refuses 2 "--queue wants a queue index, got 'x'" uringx-probe --queue x
refuses 2 "unexpected argument 'extra'" uringx-probe extra
refuses 2 "--trials wants 1..[0-9]+, got '0'" zcnet-bench --trials 0
refuses 2 "--workloads: no workload 'bogus'" zcnet-bench --workloads rpc,bogus
refuses 2 "--strategies: no strategy 'fast'" zcnet-bench --strategies fast
refuses 2 "--tx-dma-counters /nonexistent: /nonexistent/tx_dma_maps: No such file" zcnet-bench --tx-dma-counters /nonexistent
refuses 2 "--zcrx-queue wants a queue number 0..4095, got '-'" zcnet-bench --zcrx-queue -
refuses 2 "--pbuf-bufs wants a power of two 1..32768, got '3'" zcnet-bench --pbuf-bufs 3
refuses 2 "--zcrx-buf-len wants a power of two, 4096..2097152 bytes, got '12288'" zcnet-bench --zcrx-buf-len 12288
refuses 2 "--server-addr wants an IPv4 address, got 'host'" zcnet-bench --server-addr host
refuses 2 "--client-netns /run/netns/zcnet-none: No such file or directory" zcnet-bench --client-netns /run/netns/zcnet-none
refuses 2 "--server-addr and --client-netns go together" zcnet-bench --server-addr 127.0.0.1
refuses 2 "--cells: 'rpc:64x512' is not rpc:CONNSxSIZExDEPTH" zcnet-bench --cells rpc:64x512
refuses 2 "--cells: none of them is in the plan" zcnet-bench --cells rpc:3x3x3
refuses 2 "--verdict wants a percentage 0.5..50, got '0'" zcnet-bench --verdict 0
refuses 2 "--measure-ms wants 10..60000 ms, got '5'" zcnet-bench --measure-ms 5

# zcnet-bench on named cells until a verdict: interleaved trials, a paired
# ratio with its interval, and a verdict line per compared strategy.
out=$("$build/bench/zcnet-bench" --quick --cells pingpong:64 --strategies uring-recv,zcnet \
	--verdict 50 --measure-ms 30 2>/dev/null) || fail "zcnet-bench --cells --verdict: $out"
grep -q 'run interleaved, trial by trial' <<<"$out" || fail "no interleaving note: $out"
grep -qE '^  pingpong +1 conn +64 B d1 +zcnet +[0-9.]+x mean [0-9.]+x \[[0-9.]+-[0-9.]+\] \+-[0-9.]+ % over [0-9]+ trials: (lower latency|higher latency|a tie|undecided)' <<<"$out" ||
	fail "no verdict for zcnet: $out"
grep -qE '^  (rpc|stream)' <<<"$out" && fail "--cells ran more than the named cell: $out"
trials=$(sed -nE 's/^  pingpong .* zcnet .* over ([0-9]+) trials.*/\1/p' <<<"$out" | head -1)
[ "${trials:-0}" -ge 6 ] || fail "a verdict from ${trials:-no} rounds (at least 6): $out"
echo "zcnet-bench verdict: $(grep -E '^  pingpong' <<<"$out")"

# The same echo over IPv6 loopback and an abstract Unix socket.
for addr in "[::1]:$((port + 5))" "unix:@zcnet-smoke-$$"; do
	log=$(mktemp)
	"$ex/zcnet-echo" server --address "$addr" --seconds 60 >"$log" 2>&1 &
	srv=$!
	trap 'kill "$srv" 2>/dev/null || true' EXIT
	for _ in $(seq 100); do grep -q 'zcnet-echo server on' "$log" && break; sleep 0.1; done
	grep -qF "zcnet-echo server on $addr" "$log" || { cat "$log"; fail "echo server on $addr"; }
	out=$("$ex/zcnet-echo" client --address "$addr" --connections 8 --size 256 --depth 4 --seconds 1) ||
		fail "echo client over $addr: $out"
	grep -q 'errors 0' <<<"$out" || fail "echo over $addr saw errors: $out"
	kill -TERM "$srv"
	wait "$srv" || { cat "$log"; fail "echo server on $addr exited non-zero"; }
	trap - EXIT
	rm -f "$log"
done

# Streams over IPv6 loopback and Unix sockets through every stream example:
# uringx-stream -> zcnet-proxy (on an abstract Unix name) -> zcnet-sink (on
# [::1]), and uringx-stream -> zcnet-proxy (on [::1]) -> uringx-stream (on a
# Unix path: the proxy's SendZc finds no zero copy there and sends plainly).
wait_log() { for _ in $(seq 100); do grep -q "$2" "$1" && return 0; sleep 0.1; done; cat "$1"; return 1; }
sink_log=$(mktemp) proxy_log=$(mktemp) recv_log=$(mktemp)
"$ex/zcnet-sink" --listen "[::1]:$((port + 6))" --bytes 16M --verify >"$sink_log" 2>&1 &
sink=$!
wait_log "$sink_log" "listening on \[::1\]:$((port + 6))" || fail "zcnet-sink on [::1]"
"$ex/zcnet-proxy" --listen "unix:@zcnet-smoke-proxy-$$" --upstream "[::1]:$((port + 6))" \
	--connections 1 >"$proxy_log" 2>&1 &
proxy=$!
wait_log "$proxy_log" "listening on unix:@zcnet-smoke-proxy-$$" || fail "zcnet-proxy on a Unix name"
"$ex/uringx-stream" --connect "unix:@zcnet-smoke-proxy-$$" --bytes 16M >/dev/null || fail "sender over unix:@"
wait "$proxy" || { cat "$proxy_log"; fail "proxy unix -> [::1]"; }
wait "$sink" || { cat "$sink_log"; fail "sink behind the proxy"; }
grep -q 'every byte matched (16777216 of 16777216 bytes)' "$sink_log" || { cat "$sink_log"; fail "unix -> [::1] not verified"; }
sock=$(mktemp -u /tmp/zcnet-smoke-XXXXXX.sock)
"$ex/uringx-stream" --listen "unix:$sock" --bytes 16M --verify >"$recv_log" 2>&1 &
receiver=$!
wait_log "$recv_log" "listening on unix:$sock" || fail "uringx-stream on a Unix path"
"$ex/zcnet-proxy" --listen "[::1]:$((port + 7))" --upstream "unix:$sock" --connections 1 >"$proxy_log" 2>&1 &
proxy=$!
wait_log "$proxy_log" "listening on \[::1\]:$((port + 7))" || fail "zcnet-proxy on [::1]"
"$ex/uringx-stream" --connect "[::1]:$((port + 7))" --bytes 16M >/dev/null || fail "sender over [::1]"
wait "$proxy" || { cat "$proxy_log"; fail "proxy [::1] -> unix path"; }
wait "$receiver" || { cat "$recv_log"; fail "receiver on a Unix path"; }
grep -q 'every byte matched' "$recv_log" || { cat "$recv_log"; fail "[::1] -> unix path not verified"; }
grep -q 'copy fallback engaged' "$proxy_log" || { cat "$proxy_log"; fail "proxy did not fall back on the Unix socket"; }
rm -f "$sink_log" "$proxy_log" "$recv_log" "$sock"
echo "addresses: 16 MiB verified unix:@ -> proxy -> [::1] sink, and [::1] -> proxy -> unix path"

# Echo: server and load client; SIGTERM stops the server cleanly (exit 0,
# and in the sanitizer build no leak or error report at exit).
server_log=$(mktemp)
"$ex/zcnet-echo" server --port "$port" --seconds 120 >"$server_log" 2>&1 &
server=$!
wait_listening "$port" || fail "echo server never listened"
out=$("$ex/zcnet-echo" client --port "$port" --connections 16 --size 512 --depth 4 --seconds 1)
kill -TERM "$server"
rc=0; wait "$server" || rc=$?
echo "echo: $out"
[ "$rc" = 0 ] || { cat "$server_log"; fail "echo server exited $rc on SIGTERM"; }
grep -q 'Terminated: stopping' "$server_log" || { cat "$server_log"; fail "echo server did not report the stop"; }
rm -f "$server_log"
grep -q 'errors 0' <<<"$out" || fail "echo client saw errors"

# The echo server's sends, gathered (the default) and one buffer each,
# under bench/echo-load: one write per message, pipelined, and every echoed
# byte checked against the stream sent (a gathered send that reordered,
# dropped or repeated a buffer fails it). With --fixed-files 8 the listener
# and 7 of the 16 connections send through registered file slots, the rest
# by descriptor. And echo-compare's bad input.
for flags in "--send gather" "--send one" "--send gather --fixed-files 8"; do
	# shellcheck disable=SC2086 # the flags are words
	"$ex/zcnet-echo" server --port "$((port + 9))" $flags --seconds 60 >/dev/null 2>&1 &
	server=$!
	wait_listening "$((port + 9))" || fail "echo server $flags never listened"
	out=$("$build/bench/echo-load" --port "$((port + 9))" --connections 16 --depth 16 \
		--size 100 --seconds 1 --warmup-ms 100 --server-pid "$server") ||
		{ kill "$server"; fail "echo-load against $flags: $out"; }
	kill -TERM "$server"; wait "$server" || true
	echo "echo $flags: $out"
	grep -q 'errors 0' <<<"$out" || fail "echo $flags: echo-load saw wrong bytes"
	grep -q 'server CPU [0-9.]* us/request' <<<"$out" || fail "echo-load did not read the server's CPU"
done
refuses 2 "--send wants gather or one, got 'all'" zcnet-echo server --send all
refuses 2 "--napi-busy-poll wants an integer 1..1000000, got '0'" zcnet-echo server --napi-busy-poll 0
refuses 2 "--cqe wants mixed or 32, got '64'" zcnet-echo server --cqe 64
refuses 2 "--ring-fd wants registered or plain, got 'shared'" zcnet-echo server --ring-fd shared
refuses 1 "wait_batch = 8, wait_min_usec = 0: a batched wait needs both" zcnet-echo server --port 0 --wait-batch 8
refuses 2 "--depth wants an integer 1..256, got '0'" echo-load --port 1 --depth 0
refuses 1 "connect 127.0.0.1:1: Connection refused" echo-load --port 1 --seconds 1

# Sink: SendZc to itself, every byte verified.
out=$("$ex/zcnet-sink" --self 64M --verify)
echo "$out"
grep -q 'every byte matched (67108864 of 67108864 bytes)' <<<"$out" || fail "sink did not verify"

# Proxy: uringx-stream -> zcnet-proxy -> uringx-stream, verified at the end.
recv_log=$(mktemp)
trap 'rm -f "$recv_log"' EXIT
"$ex/uringx-stream" --listen "127.0.0.1:$((port + 1))" --bytes 32M --verify >"$recv_log" 2>&1 &
receiver=$!
wait_listening $((port + 1)) || fail "receiver never listened"
"$ex/zcnet-proxy" --listen "127.0.0.1:$((port + 2))" --upstream "127.0.0.1:$((port + 1))" \
	--connections 1 >/dev/null &
proxy=$!
wait_listening $((port + 2)) || fail "proxy never listened"
# A stall says where it is: the three processes and their sockets.
proxy_stalled() {
	ps -o pid,stat,wchan:24,args -p "$proxy,$receiver" 2>/dev/null || true
	ss -tnpi "( sport = :$((port + 1)) or dport = :$((port + 1)) or sport = :$((port + 2)) or dport = :$((port + 2)) )" || true
	kill "$proxy" "$receiver" 2>/dev/null
	cat "$recv_log"
	fail "$1"
}
# wait_for PID SECONDS: the process's exit status, or 124 when it runs on.
wait_for() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		kill -0 "$1" 2>/dev/null || { wait "$1"; return; }
		sleep 0.1
	done
	return 124
}
timeout 60 "$ex/uringx-stream" --connect "127.0.0.1:$((port + 2))" --bytes 32M >/dev/null ||
	proxy_stalled "proxy sender failed or stalled for 60 s"
rc=0; wait_for "$receiver" 60 || rc=$?
[ "$rc" = 0 ] || proxy_stalled "receiver behind the proxy: exit $rc (124: still running after 60 s)"
rc=0; wait_for "$proxy" 60 || rc=$?
[ "$rc" = 0 ] || proxy_stalled "proxy exit status $rc (124: still running after 60 s)"
grep -q 'every byte matched' "$recv_log" || fail "stream through the proxy not verified"
echo "proxy: 32 MiB verified end to end"

# An application's own loop hosting zcnet.
out=$(timeout 60 "$ex/existing-loop" --round-trips 2000) || fail "existing-loop: exit $? (124: stalled 60 s): $out"
echo "$out"
grep -q '2000 of 2000' <<<"$out" || fail "existing-loop round trips"
echo "examples_smoke: ok"
