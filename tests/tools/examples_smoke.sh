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
"$ex/zcnet-echo" bogus >/dev/null 2>&1 && fail "zcnet-echo accepted a bogus mode"
# Bad input names what was wrong: a refused connection, a bad pool size.
if err=$("$ex/zcnet-echo" client --port 1 --connections 4 --seconds 1 2>&1 >/dev/null); then
	fail "zcnet-echo client to a closed port exited 0"
fi
grep -q '4 of 4 connections failed; the first: .*connect to 127.0.0.1:1: .*Connection refused' <<<"$err" ||
	fail "refused connections not named: $err"
if err=$("$ex/zcnet-echo" server --port 0 --buffers 0 2>&1 >/dev/null); then
	fail "zcnet-echo server --buffers 0 exited 0"
fi
grep -q 'Options::buffers = 0: wants a power of two, 1..32768' <<<"$err" ||
	fail "--buffers 0 not named: $err"
"$ex/zcnet-echo" client --address localhost:80 >/dev/null 2>&1 && fail "a host name was taken as an address"
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
"$ex/uringx-stream" --connect "127.0.0.1:$((port + 2))" --bytes 32M >/dev/null || fail "proxy sender"
wait "$receiver" || { cat "$recv_log"; fail "receiver behind the proxy"; }
wait "$proxy" || fail "proxy exit status"
grep -q 'every byte matched' "$recv_log" || fail "stream through the proxy not verified"
echo "proxy: 32 MiB verified end to end"

# An application's own loop hosting zcnet.
out=$("$ex/existing-loop" --round-trips 2000)
echo "$out"
grep -q '2000 of 2000' <<<"$out" || fail "existing-loop round trips"
echo "examples_smoke: ok"
