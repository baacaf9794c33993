#!/usr/bin/env bash
# Inside the zcnet VM (kernel/run-vm): zero-copy send from a pool the NIC
# has DMA-mapped once (IORING_REGISTER_NET_TX_BUF, kernel/patches), on a
# netdevsim pair. The same 64 MiB stream is sent twice, from ordinary
# registered buffers (SEND_ZC) and from the NIC-registered pool, into a zcrx
# receiver on the peer's queue 0 that verifies every byte, and the sender
# port's transmit DMA counters say what each cost: page frags DMA-mapped per
# packet against net_iov frags that carry the address mapped at
# registration. Then zcnet's TxPool in NIC-registered mode behind
# zcnet-proxy, and nictx_test: refusals, gathered sends (SENDMSG_ZC and
# vectored SEND_ZC from the slot), a slot cleared with sends in flight, the
# device removed under a live pool. Booted with kmemleak=on: nothing of
# the whole run may leak.
#
# Usage: netdevsim_nictx.sh BUILD_DIR
set -euo pipefail

build=$1
stream=$build/examples/uringx-stream
nictx_test=$build/tests/zcnet-nictx-test
bytes=64M
nbytes_want=$((64 << 20))

fail() { echo "netdevsim_nictx: FAIL: $*"; exit 1; }

[ -w /sys/kernel/debug/kmemleak ] ||
	fail "kmemleak is not enabled on this boot (kernel/run-vm --append kmemleak=on)"
echo clear >/sys/kernel/debug/kmemleak

. "$(dirname "$0")/netdevsim_pair.sh"
nsim_pair 21 22
# The receiver takes the stream through zcrx on the peer's queue 0.
ip netns exec zc-b ethtool -G "$if_b" tcp-data-split on
tx=/sys/kernel/debug/netdevsim/netdevsim21/ports/0
for f in tx_dma_maps tx_netmem_frags tx_netmem_bytes; do
	[ -r "$tx/$f" ] || fail "no $tx/$f (kernel without the netdevsim TX DMA patch?)"
done
counters() { echo "$(cat "$tx/tx_dma_maps") $(cat "$tx/tx_netmem_frags") $(cat "$tx/tx_netmem_bytes")"; }

run_stream() {	# port send-kind -> sender output in $sent, counter deltas in $maps $frags $nbytes
	local port=$1 kind=$2 before after
	ip netns exec zc-b "$stream" --listen 192.0.2.2:"$port" --bytes "$bytes" --verify \
		--rx zcrx --ifname "$if_b" --queue 0 >/tmp/nictx-receiver.log 2>&1 &
	local receiver=$!
	before=$(counters)
	sent=$(ip netns exec zc-a "$stream" --connect 192.0.2.2:"$port" --bytes "$bytes" \
		--chunk 64K --send "$kind" --tx-ifname "$if_a" 2>&1) ||
		{ echo "$sent"; kill "$receiver" 2>/dev/null; fail "--send $kind: sender failed"; }
	wait "$receiver" || { cat /tmp/nictx-receiver.log; fail "--send $kind: receiver failed"; }
	grep -q 'every byte matched' /tmp/nictx-receiver.log ||
		{ cat /tmp/nictx-receiver.log; fail "--send $kind: stream not verified"; }
	grep -q '^receive mechanism: zcrx' /tmp/nictx-receiver.log ||
		{ cat /tmp/nictx-receiver.log; fail "--send $kind: the receiver did not use zcrx"; }
	grep -q '^zcrx: kernel copy fallback 0 completions, 0 bytes' /tmp/nictx-receiver.log ||
		{ cat /tmp/nictx-receiver.log; fail "--send $kind: the zcrx receiver copied"; }
	after=$(counters)
	read -r m0 f0 b0 <<<"$before"
	read -r m1 f1 b1 <<<"$after"
	maps=$((m1 - m0)) frags=$((f1 - f0)) nbytes=$((b1 - b0))
	echo "--send $kind: $sent"
	echo "--send $kind: tx_dma_maps +$maps, tx_netmem_frags +$frags, tx_netmem_bytes +$nbytes"
}

run_stream 7100 zc
zc_maps=$maps
[ "$maps" -gt 0 ] || fail "SEND_ZC from registered buffers mapped no page frag"
[ "$frags" -eq 0 ] || fail "SEND_ZC from registered buffers produced net_iov frags"

run_stream 7200 nic
echo "$sent" | grep -q ', 0 copied' || fail "the NIC-registered pool's sends were reported copied"
# At least every byte sent (a TCP retransmission sends some twice).
[ "$nbytes" -ge "$nbytes_want" ] || fail "only $nbytes bytes left as net_iov frags, of $nbytes_want sent"
[ "$maps" -lt $((zc_maps / 100)) ] ||
	fail "the NIC-registered pool still mapped $maps page frags (registered buffers: $zc_maps)"
echo "DMA maps per MiB sent: registered buffers $((zc_maps / 64)), NIC-registered pool $((maps / 64))"

# zcnet's TxPool in NIC-registered mode: uringx-stream (zc-a, loopback) ->
# zcnet-proxy --tx-nic (zc-a, SendZc from the NIC-registered pool) ->
# uringx-stream (zc-b), verified.
proxy_log=$(mktemp)
ip netns exec zc-b "$stream" --listen 192.0.2.2:7400 --bytes "$bytes" --verify \
	>/tmp/nictx-receiver.log 2>&1 &
receiver=$!
before=$(counters)
ip netns exec zc-a "$build/examples/zcnet-proxy" --listen 127.0.0.1:7401 \
	--upstream 192.0.2.2:7400 --connections 1 --tx-nic "$if_a" >"$proxy_log" 2>&1 &
proxy=$!
for _ in $(seq 100); do
	ip netns exec zc-a ss -Hltn 'sport = :7401' | grep -q . && break
	sleep 0.1
done
ip netns exec zc-a "$stream" --connect 127.0.0.1:7401 --bytes "$bytes" --send plain ||
	fail "sender into the proxy"
wait "$proxy" || { cat "$proxy_log"; fail "zcnet-proxy --tx-nic"; }
wait "$receiver" || { cat /tmp/nictx-receiver.log; fail "receiver behind the proxy"; }
sed 's/^/zcnet-proxy: /' "$proxy_log"
grep -q 'every byte matched' /tmp/nictx-receiver.log || fail "stream through the proxy not verified"
grep -q '^pool: NIC-registered pool on' "$proxy_log" || fail "TxPool did not take the NIC-registered pool"
# Not one send reported copied, including sends TCP merged into another's
# skb (their notifications are linked: kernel patch 9).
grep -q 'bytes zero-copy and 0 copied; copy fallback not engaged' "$proxy_log" ||
	fail "zcnet-proxy --tx-nic: a send from the NIC-registered pool was reported copied"
read -r m0 f0 b0 <<<"$before"
read -r m1 f1 b1 <<<"$(counters)"
echo "zcnet-proxy --tx-nic: tx_netmem_bytes +$((b1 - b0)), tx_dma_maps +$((m1 - m0))"
[ $(((b1 - b0) * 10)) -ge $((nbytes_want * 9)) ] ||
	fail "only $((b1 - b0)) bytes of the proxied $nbytes_want left as net_iov frags"

# A second, ordinary link between the namespaces (veth, 198.51.100.0/24,
# inside this VM only): a socket routed over it may not send from the pool.
ip link add zc-veth-a netns zc-a type veth peer name zc-veth-b netns zc-b
ip -n zc-a addr add 198.51.100.1/24 dev zc-veth-a
ip -n zc-b addr add 198.51.100.2/24 dev zc-veth-b
ip -n zc-a link set zc-veth-a up
ip -n zc-b link set zc-veth-b up
# `ip netns exec` hides /sys/kernel/debug: debugfs once more where
# nictx_test can read the sender port's counters (its vectored sends).
mkdir -p /tmp/zc-debugfs
mountpoint -q /tmp/zc-debugfs || mount -t debugfs none /tmp/zc-debugfs
NICTX_TX_COUNTERS=/tmp/zc-debugfs/netdevsim/netdevsim21/ports/0 \
	ip netns exec zc-a "$nictx_test" "$if_a" 21 zc-b 192.0.2.2 198.51.100.2 || fail "nictx_test"
umount /tmp/zc-debugfs

# DMA API debugging (CONFIG_DMA_API_DEBUG): every mapping netdevsim made,
# page pools, dma-buf attachments and per-packet TX maps, was unmapped by
# the time its device went away. netdevsim21 was removed by nictx_test;
# removing netdevsim22 makes the DMA debug code check it too.
dma=/sys/kernel/debug/dma-api
[ -r "$dma/error_count" ] || fail "no $dma (kernel without CONFIG_DMA_API_DEBUG?)"
# It turns itself off when it runs out of tracking entries: then it saw nothing.
[ "$(cat "$dma/disabled")" = N ] || fail "DMA API debugging disabled itself (out of entries?)"
echo 22 >/sys/bus/netdevsim/del_device
# error_count counts every error; num_errors is how many more it will print.
dma_errors=$(cat "$dma/error_count")
dma_left=$(grep -c netdevsim "$dma/dump" || true)
echo "DMA API debug: $dma_errors error(s), $dma_left mapping(s) of netdevsim devices left"
[ "$dma_errors" = 0 ] || fail "DMA API debug found $dma_errors error(s) (see the kernel log above)"
[ "$dma_left" = 0 ] || { grep netdevsim "$dma/dump"; fail "$dma_left netdevsim DMA mapping(s) leaked"; }

# Leaks: pools, bindings and the removed device's are all gone by now;
# scan twice (objects are reported once unreferenced for a few seconds).
echo scan >/sys/kernel/debug/kmemleak; sleep 6
echo scan >/sys/kernel/debug/kmemleak
leaks=$(cat /sys/kernel/debug/kmemleak)
n=$(grep -c '^unreferenced object' <<<"$leaks" || true)
echo "kmemleak: $n object(s) leaked while the test ran"
[ "$n" = 0 ] || { echo "$leaks"; fail "kmemleak: $n leaked object(s)"; }
echo "netdevsim_nictx: ok"
