#!/usr/bin/env bash
# Inside the zcnet VM (kernel/run-vm, patched kernel): upstream Linux's own
# zero-copy receive and devmem selftests judge the patched netdevsim.
#
# tools/testing/selftests/drivers/net/hw/iou-zcrx.py and devmem.py, from the
# patched 7.3 tree as kernel/build laid them out (SELFTESTS_DIR, with
# iou-zcrx and ncdevmem built against the tree's uapi headers), run unchanged
# through their own NetDrvEpEnv, configured as for a real NIC
# (tools/testing/selftests/drivers/net/README.rst): NETIF is a 4-queue
# netdevsim port in this namespace, the remote end its linked peer in the
# network namespace zc-remote (REMOTE_TYPE=netns), with IPv4 and IPv6
# documentation addresses that exist only inside this VM.
#
# Every case must pass: a failure fails, and so does a skip, except the
# ones listed in ALLOWED_SKIPS below with the reason they can never run here.
#
# Usage: upstream_selftests.sh SELFTESTS_DIR|KERNEL_BUILD [TEST.py ...]
#        (KERNEL_BUILD: kernel/build, whose image's selftests/ is used;
#        default tests: iou-zcrx.py devmem.py)
set -euo pipefail

ksrc=${1:?usage: upstream_selftests.sh SELFTESTS_DIR|KERNEL_BUILD [TEST.py ...]}
shift
if [ -f "$ksrc" ] && [ -x "$ksrc" ]; then
	ksrc=$(dirname "$("$ksrc" --print-path)")/selftests
fi
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(iou-zcrx.py devmem.py)
hw=$ksrc/tools/testing/selftests/drivers/net/hw
fail() { echo "upstream_selftests: FAIL: $*"; exit 1; }

# Cases that skip by design on this setup, with the reason (none so far;
# the format is "file.py:case reason").
ALLOWED_SKIPS=()

for prog in iou-zcrx ncdevmem; do
	[ -x "$hw/$prog" ] || fail "$hw/$prog is missing: kernel/build builds it with the image"
done
# Debian's interpreter, which has python3-yaml for YNL (scripts/setup --kernel).
python=/usr/bin/python3
"$python" -c 'import yaml' 2>/dev/null || fail "$python cannot import yaml (python3-yaml; scripts/setup --kernel)"
command -v socat >/dev/null || fail "socat is missing (scripts/setup --kernel)"

# The pair: 4 combined channels each (the tests want at least 2, an RSS
# table and ntuple rules), linked back to back.
[ -d /sys/bus/netdevsim ] || fail "no /sys/bus/netdevsim (kernel without CONFIG_NETDEVSIM?)"
. "$(dirname "$0")/netdevsim_pair.sh"
if_local=$(NSIM_QUEUES=4 nsim_new_port 41)
if_remote=$(NSIM_QUEUES=4 nsim_new_port 42)
ip netns add zc-remote
ip link set "$if_remote" netns zc-remote
idx_local=$(cat /sys/class/net/"$if_local"/ifindex)
idx_remote=$(ip netns exec zc-remote cat /sys/class/net/"$if_remote"/ifindex)
exec {ns_local}</proc/self/ns/net {ns_remote}</run/netns/zc-remote
echo "$ns_local:$idx_local $ns_remote:$idx_remote" >/sys/bus/netdevsim/link_device ||
	fail "linking $if_local and $if_remote"
exec {ns_local}<&- {ns_remote}<&-
ip addr add 192.0.2.1/24 dev "$if_local"
ip -6 addr add 2001:db8::1/64 dev "$if_local" nodad
ip link set "$if_local" up
ip -n zc-remote link set lo up
ip -n zc-remote addr add 192.0.2.2/24 dev "$if_remote"
ip -n zc-remote -6 addr add 2001:db8::2/64 dev "$if_remote" nodad
ip -n zc-remote link set "$if_remote" up
echo "netdevsim pair: $if_local (192.0.2.1, 2001:db8::1) <-> $if_remote (zc-remote, 192.0.2.2, 2001:db8::2), 4 queues each"

export NETIF=$if_local LOCAL_V4=192.0.2.1 REMOTE_V4=192.0.2.2 \
	LOCAL_V6=2001:db8::1 REMOTE_V6=2001:db8::2 REMOTE_TYPE=netns REMOTE_ARGS=zc-remote
export PYTHONDONTWRITEBYTECODE=1

status=0
for t in "${tests[@]}"; do
	echo "==> $t"
	out=$(mktemp)
	set +e
	(cd "$hw" && timeout 900 "$python" "./$t") 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	set -e
	passed=$(grep -cE '^ok [0-9]+ ' "$out" | tr -d ' ' || true)
	passed_real=$(grep -E '^ok [0-9]+ ' "$out" | grep -vc '# SKIP' || true)
	failed=$(grep -cE '^not ok [0-9]+ ' "$out" || true)
	while IFS= read -r line; do
		case_name=$(sed -E 's/^ok [0-9]+ ([^ ]+).*/\1/' <<<"$line")
		allowed=0
		for a in "${ALLOWED_SKIPS[@]+"${ALLOWED_SKIPS[@]}"}"; do
			[ "${a%% *}" = "$t:$case_name" ] && allowed=1
		done
		if [ "$allowed" = 1 ]; then
			echo "upstream_selftests: $t: $case_name skipped (allowed: see ALLOWED_SKIPS)"
		else
			echo "upstream_selftests: $t: $case_name SKIPPED, which is a failure here: $line"
			status=1
		fi
	done < <(grep -E '^ok [0-9]+ .*# SKIP' "$out" || true)
	echo "upstream_selftests: $t: exit $rc, $passed_real passed, $failed failed, $((passed - passed_real)) skipped"
	if [ "$rc" != 0 ] || [ "$failed" != 0 ] || [ "$passed_real" = 0 ]; then
		status=1
	fi
	rm -f "$out"
done
[ "$status" = 0 ] || fail "see the cases above"
echo "upstream_selftests: every case of ${tests[*]} passed"
