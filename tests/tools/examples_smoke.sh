#!/usr/bin/env bash
# Runs every example for real over loopback and checks what it reports.
# Usage: examples_smoke.sh BUILD_DIR [PORT_BASE]
set -euo pipefail
build=$1
port=${2:-17400}
ex=$build/examples
fail() { echo "examples_smoke: FAIL: $*"; exit 1; }

for prog in zcnet-echo zcnet-sink zcnet-proxy existing-loop uringx-stream; do
	"$ex/$prog" --help >/dev/null || fail "$prog --help"
done
"$ex/zcnet-echo" bogus >/dev/null 2>&1 && fail "zcnet-echo accepted a bogus mode"

# Echo: server and load client.
"$ex/zcnet-echo" server --port "$port" --seconds 20 >/dev/null &
server=$!
sleep 0.3
out=$("$ex/zcnet-echo" client --port "$port" --connections 16 --size 512 --depth 4 --seconds 1)
kill "$server"; wait "$server" 2>/dev/null || true
echo "echo: $out"
grep -q 'errors 0' <<<"$out" || fail "echo client saw errors"

# Sink: SendZc to itself, every byte verified.
out=$("$ex/zcnet-sink" --self 64M --verify)
echo "$out"
grep -q 'every byte matched' <<<"$out" || fail "sink did not verify"

# Proxy: uringx-stream -> zcnet-proxy -> uringx-stream, verified at the end.
recv_log=$(mktemp)
trap 'rm -f "$recv_log"' EXIT
"$ex/uringx-stream" --listen "127.0.0.1:$((port + 1))" --bytes 32M --verify >"$recv_log" 2>&1 &
receiver=$!
sleep 0.3
"$ex/zcnet-proxy" --listen "127.0.0.1:$((port + 2))" --upstream "127.0.0.1:$((port + 1))" \
	--connections 1 >/dev/null &
proxy=$!
sleep 0.3
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
