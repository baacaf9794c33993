#!/usr/bin/env python3
"""Runs uringx-probe --json and checks it against facts about this kernel.

Usage: check_probe_json.py UringxProbe [--expect-nodev]
The output must be valid JSON with every field, RECV_ZC present (kernels
>= 6.15), zcrx on lo refused with a device reason, and NODEV as expected.
"""
import json
import os
import platform
import subprocess
import sys


def fail(msg):
    print(f"check_probe_json: FAIL: {msg}")
    sys.exit(1)


def main():
    probe = sys.argv[1]
    expect_nodev = "--expect-nodev" in sys.argv
    expect_nic_tx = "--expect-nic-tx" in sys.argv
    out = subprocess.run([probe, "--ifname", "lo", "--json"], check=True,
                         capture_output=True, text=True).stdout
    doc = json.loads(out)
    for key in ("kernel", "liburing", "io_uring", "opcodes", "setup_flags",
                "buffer_rings", "registered_buffers", "zcrx", "steering", "nic_tx_pool"):
        if key not in doc:
            fail(f"missing key {key}")
    if doc["kernel"] != platform.release():
        fail(f"kernel {doc['kernel']} != uname {platform.release()}")
    major, minor = (int(x) for x in platform.release().split(".")[:2])
    if (major, minor) >= (6, 15) and not doc["opcodes"]["recv_zc"]:
        fail("RECV_ZC reported absent on a kernel that has it")
    if doc["setup_flags"]["cqe_mixed"] != ((major, minor) >= (6, 18)):
        fail(f"cqe_mixed {doc['setup_flags']['cqe_mixed']} on {platform.release()}")
    # Plain SEND/RECV on a registered buffer: not in 6.18, in 7.3 (tried live).
    fixed_plain = doc["registered_buffers"]["plain_send_recv"]
    if (major, minor) <= (6, 18) and fixed_plain:
        fail(f"plain send/recv on registered buffers reported on {platform.release()}")
    if (major, minor) >= (7, 3) and not fixed_plain:
        fail(f"plain send/recv on registered buffers reported absent on {platform.release()}")
    dev = doc["zcrx"]["device"]
    if dev["usable"]:
        fail("zcrx reported usable on lo")
    want = "virtual_device" if os.geteuid() == 0 else "not_permitted"
    if dev["reason"] != want:
        fail(f"lo reason {dev['reason']}, want {want}")
    if doc["zcrx"]["nodev"] != expect_nodev:
        fail(f"nodev {doc['zcrx']['nodev']}, expected {expect_nodev}")
    # Sharing an ifq between rings came with the same query interface.
    if doc["zcrx"]["share"] != expect_nodev:
        fail(f"zcrx share {doc['zcrx']['share']}, expected {expect_nodev}")
    if not expect_nodev and doc["zcrx"]["nodev_reason"] == "none":
        fail("nodev absent without a reason")
    tx = doc["nic_tx_pool"]
    if tx["kernel"] != expect_nic_tx:
        fail(f"nic_tx_pool kernel {tx['kernel']}, expected {expect_nic_tx}")
    if tx["usable"]:
        fail("a NIC-registered TX pool reported usable on lo")
    want_tx = "no_netmem_tx" if expect_nic_tx else "kernel_no_net_tx_buf"
    if tx["reason"] != want_tx:
        fail(f"nic_tx_pool reason {tx['reason']}, want {want_tx}")
    steer = doc["steering"]
    if steer["rss"] or steer["reason"] != "no_rss":
        fail(f"lo reported with RSS or the wrong reason: {steer}")
    print(f"check_probe_json: ok ({doc['kernel']}, nodev={doc['zcrx']['nodev']}, "
          f"lo: {dev['reason']}, nic tx pool on lo: {tx['reason']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
