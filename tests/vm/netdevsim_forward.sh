#!/usr/bin/env bash
# Inside the zcnet VM (kernel/run-vm, patched kernel): zero-copy forwarding
# both ways through zcnet-proxy --zcrx on a netdevsim port (issue 11).
#
# zc-b holds a client and an echo upstream; zcnet-proxy in zc-a sits between
# them on the netdevsim port linked to zc-b. Both directions arrive on the
# port's one rx queue into a zcrx area that is a udmabuf also bound for the
# port's TX, and leave with SEND_ZC from the same bytes. The client sends a
# seeded 64 MiB and verifies the 64 MiB echoed back through the proxy twice
# (client -> proxy -> upstream -> proxy -> client). Required: the stream
# verified; every forward zero-copy, none reported copied; zcrx copy fallback
# 0; the port's tx_dma_maps unchanged (no per-packet mapping) while at least
# 128 MiB left it as net_iov frags; and DMA API debugging and kmemleak
# clean once both devices are gone.
#
# Usage: netdevsim_forward.sh BUILD_DIR
set -euo pipefail

build=$1
here=$(dirname "$0")
proxy=$build/examples/zcnet-proxy
bytes=${FORWARD_BYTES:-$((64 << 20))}
fail() { echo "netdevsim_forward: FAIL: $*"; exit 1; }

[ -x "$proxy" ] || fail "no $proxy"
[ -w /sys/kernel/debug/kmemleak ] ||
	fail "kmemleak is not enabled on this boot (kernel/run-vm --append kmemleak=on)"
echo clear >/sys/kernel/debug/kmemleak

. "$here/netdevsim_pair.sh"
nsim_pair 81 82
ip netns exec zc-a ethtool -G "$if_a" tcp-data-split on
tx=/sys/kernel/debug/netdevsim/netdevsim81/ports/0
counters() { echo "$(cat "$tx/tx_dma_maps") $(cat "$tx/tx_netmem_bytes")"; }

# The upstream: an echo server in zc-b (it copies; it is not under test).
ip netns exec zc-b python3 "$here/stream_echo.py" server 192.0.2.2 7702 &
upstream=$!
for _ in $(seq 100); do
	ip netns exec zc-b ss -Hltn 'sport = :7702' | grep -q . && break
	sleep 0.1
done
proxy_log=/tmp/forward-proxy.log
ip netns exec zc-a "$proxy" --listen 192.0.2.1:7701 --upstream 192.0.2.2:7702 \
	--zcrx "$if_a" --connections 1 >"$proxy_log" 2>&1 &
proxy_pid=$!
for _ in $(seq 100); do
	grep -q '^zcnet-proxy listening' "$proxy_log" && break
	kill -0 "$proxy_pid" 2>/dev/null || { cat "$proxy_log"; fail "zcnet-proxy exited"; }
	sleep 0.1
done
grep -q '^pool: zcrx .*forwarded from the same memory' "$proxy_log" ||
	{ cat "$proxy_log"; fail "the proxy's pool does not forward from its receive area"; }
read -r maps0 nbytes0 <<<"$(counters)"
stalled() {	# where the bytes are when the stream does not finish
	cat "$proxy_log"
	for ns in zc-a zc-b; do echo "$ns:"; ip netns exec $ns ss -tmieno; done
	ip -n zc-a -s link show "$if_a"
	fail "the stream through the proxy"
}
ip netns exec zc-b timeout 300 python3 "$here/stream_echo.py" client 192.0.2.1 7701 "$bytes" ||
	stalled
wait "$proxy_pid" || { cat "$proxy_log"; fail "zcnet-proxy --zcrx"; }
kill "$upstream" 2>/dev/null || true
wait "$upstream" 2>/dev/null || true
read -r maps1 nbytes1 <<<"$(counters)"
sed 's/^/zcnet-proxy: /' "$proxy_log"
grep -q "^connection 0: $bytes bytes up, $bytes bytes down" "$proxy_log" ||
	fail "the proxy did not forward $bytes bytes each way"
grep -Eq '^pool: [0-9]+ zero-copy forwards from the receive area, 0 plain; [0-9]+ notifications, 0 reported copied; zcrx copy fallback 0 completions' "$proxy_log" ||
	fail "a forward was not zero-copy, or zcrx copied"
echo "port $if_a: tx_dma_maps +$((maps1 - maps0)), tx_netmem_bytes +$((nbytes1 - nbytes0))"
[ "$maps1" = "$maps0" ] || fail "$((maps1 - maps0)) per-packet DMA mappings while forwarding"
[ $((nbytes1 - nbytes0)) -ge $((2 * bytes)) ] ||
	fail "only $((nbytes1 - nbytes0)) of $((2 * bytes)) forwarded bytes left as net_iov frags"

echo 81 >/sys/bus/netdevsim/del_device
echo 82 >/sys/bus/netdevsim/del_device
errors=$(cat /sys/kernel/debug/dma-api/error_count)
left=$(grep -c netdevsim /sys/kernel/debug/dma-api/dump || true)
echo "DMA API debug: $errors error(s), $left mapping(s) of netdevsim devices left"
[ "$errors" = 0 ] || { dmesg | grep 'DMA-API:'; fail "DMA API debugging reported errors"; }
[ "$left" = 0 ] || fail "netdevsim mappings left after both devices were removed"
echo scan >/sys/kernel/debug/kmemleak
sleep 6
echo scan >/sys/kernel/debug/kmemleak
leaks=$(grep -c '^unreferenced object' /sys/kernel/debug/kmemleak || true)
echo "kmemleak: $leaks unreferenced object(s)"
[ "$leaks" = 0 ] || { head -40 /sys/kernel/debug/kmemleak; fail "kmemleak found leaks"; }
echo "netdevsim_forward: ok"
