#!/usr/bin/env bash
# kernel/run-vm fails a command that exited 0 when the guest kernel logged a
# splat while it ran. The splat is a WARNING line injected through
# /dev/kmsg: it reaches the console exactly as a WARN_ON() report's first
# line does ("[   t] WARNING: CPU: ... at file:line").
#
# Usage: run_vm_kernel_warning.sh RUN_VM
set -uo pipefail

run_vm=$1
fail() { echo "run_vm_kernel_warning: FAIL: $*"; exit 1; }
inject='echo "<4>WARNING: CPU: 0 PID: 1 at tests/vm/run_vm_kernel_warning.sh:1 injected" >/dev/kmsg; sleep 0.5'

"$run_vm" --timeout 120 -- bash -c "$inject" >/dev/null 2>&1
rc=$?
[ "$rc" = 249 ] || fail "a splat under a command that exited 0 gave exit status $rc, not 249"

"$run_vm" --timeout 120 -- bash -c "$inject; exit 3" >/dev/null 2>&1
rc=$?
[ "$rc" = 3 ] || fail "a failing command's own status (3) was not kept: $rc"

"$run_vm" --timeout 120 --allow-kernel-warnings -- bash -c "$inject" >/dev/null 2>&1
rc=$?
[ "$rc" = 0 ] || fail "--allow-kernel-warnings did not keep status 0: $rc"

"$run_vm" --timeout 120 -- true >/dev/null 2>&1
rc=$?
[ "$rc" = 0 ] || fail "a clean command failed: $rc"
echo "run_vm_kernel_warning: ok (249 on a splat, the command's own status otherwise)"
