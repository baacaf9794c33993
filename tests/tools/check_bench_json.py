#!/usr/bin/env python3
"""Runs zcnet-bench --quick --json and checks the report is complete.

Usage: check_bench_json.py ZcnetBench [--pbuf-bufs N] [--trials N] [--expect-ran STRATEGY ...]
Every strategy of the quick plan (not the A/B variants that run only when
named) must appear in every workload and either have
run and moved verified data, or say why it was skipped; the baseline
(uring-recv) must have run everywhere; the SVG chart and CSV must be written.
--expect-ran names strategies that must have run here (e.g. zcrx in the VM).
--pbuf-bufs N runs the buffer-ring strategies on a ring of N buffers (a ring
much smaller than the data in flight makes them recover from running out).
--trials N (default 2): every row must report N trials whose spread is
ordered, so the median/min/max bookkeeping is checked on more than one value.
zcrx in NODEV (copy) mode copies every byte: its stream rows must say so.
"""
import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile

WORKLOADS = ("stream", "stream-tx", "rpc", "pingpong")
RING_STRATEGIES = ("pbuf", "pbuf-bundle", "pbuf-inc", "zcnet")
HEADER = ("kernel", "cpu_model", "cpus", "pinning", "liburing", "build", "date", "quick",
          "trials", "pbuf_bufs", "baseline")
ROW = ("workload", "strategy", "sender", "conns", "msg_size", "depth", "status",
       "verified", "reason", "mechanism", "metric", "median", "min", "max",
       "ratio_vs_baseline", "server_cpu", "process_cpu", "syscalls", "cqes_per_mb",
       "rx_copied_bytes", "rx_out_of_buffers", "verified_bytes", "paired", "ratio_min",
       "ratio_max", "ratio_mean", "ratio_ci95", "cpu_ratio_vs_baseline")


def fail(msg):
    print(f"check_bench_json: FAIL: {msg}")
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bench")
    ap.add_argument("--pbuf-bufs", type=int)
    ap.add_argument("--trials", type=int, default=2)
    ap.add_argument("--expect-ran", nargs="*", default=[])
    args = ap.parse_args()
    bench, expect_ran = args.bench, args.expect_ran
    extra = ["--pbuf-bufs", str(args.pbuf_bufs)] if args.pbuf_bufs else []
    extra += ["--trials", str(args.trials)]
    with tempfile.TemporaryDirectory() as tmp:
        paths = {k: os.path.join(tmp, "bench." + k) for k in ("json", "csv", "svg")}
        proc = subprocess.run([bench, "--quick", "--json", paths["json"], "--csv", paths["csv"],
                               "--chart", paths["svg"]] + extra, capture_output=True, text=True,
                              timeout=900)
        print(proc.stdout)
        if proc.returncode != 0:
            print(proc.stderr[-4000:])
            fail(f"zcnet-bench --quick exited {proc.returncode}")
        with open(paths["json"]) as f:
            doc = json.load(f)
        with open(paths["csv"]) as f:
            csv_rows = list(csv.DictReader(f))
        with open(paths["svg"]) as f:
            svg = f.read()

    h = doc.get("header", {})
    for key in HEADER:
        if key not in h:
            fail(f"header lacks {key}")
    if h["kernel"] != platform.release():
        fail(f"header kernel {h['kernel']} is not this kernel {platform.release()}")
    if not h["quick"] or h["baseline"] != "uring-recv":
        fail("header: quick run against uring-recv expected")
    if h["trials"] != args.trials:
        fail(f"header: {h['trials']} trials, asked for {args.trials}")
    if args.pbuf_bufs and h["pbuf_bufs"] != args.pbuf_bufs:
        fail(f"header: ring of {h['pbuf_bufs']} buffers, asked for {args.pbuf_bufs}")

    strategies = {s["name"]: s for s in doc["strategies"]}
    if "uring-recv" not in strategies or "zcnet" not in strategies:
        fail("strategy list lacks uring-recv or zcnet")
    for name, s in strategies.items():
        if not s["available"] and not s["reason"]:
            fail(f"strategy {name} unavailable without a reason")

    rows = doc["rows"]
    if len(csv_rows) != len(rows):
        fail(f"CSV has {len(csv_rows)} rows, JSON {len(rows)}")
    seen = {}
    for r in rows:
        for key in ROW:
            if key not in r:
                fail(f"row {r.get('workload')}/{r.get('strategy')} lacks {key}")
        where = f"{r['workload']}/{r['strategy']}/{r['sender']}"
        if r["status"] == "ran":
            if not r["verified"] or r["verified_bytes"] <= 0:
                fail(f"{where}: ran without verified data")
            if r["median"] <= 0 or not 0 < r["min"] <= r["median"] <= r["max"]:
                fail(f"{where}: bad spread {r['min']} {r['median']} {r['max']}")
            # Every strategy counts its syscalls but Boost.Asio (private ring: -1).
            if (r["syscalls"] < 0) != (r["strategy"] == "asio" and r["workload"] != "stream-tx"):
                fail(f"{where}: syscalls {r['syscalls']}")
            if r["trials"] != args.trials:
                fail(f"{where}: {r['trials']} trials, not {args.trials}")
            if r["ratio_vs_baseline"] <= 0:
                fail(f"{where}: no ratio against the baseline")
            # Rows of a configuration run interleaved with the baseline: their
            # ratio is the median of per-trial ratios, inside their spread,
            # with an interval once there are two trials.
            paired = r["workload"] != "stream-tx" and r["strategy"] != "uring-recv"
            if r["paired"] != paired:
                fail(f"{where}: paired is {r['paired']}, want {paired}")
            if paired:
                if not 0 < r["ratio_min"] <= r["ratio_vs_baseline"] <= r["ratio_max"]:
                    fail(f"{where}: ratio {r['ratio_vs_baseline']} outside its trials' "
                         f"[{r['ratio_min']}, {r['ratio_max']}]")
                if (r["ratio_ci95"] >= 0) != (args.trials >= 2):
                    fail(f"{where}: ratio_ci95 {r['ratio_ci95']} with {args.trials} trials")
                if r["cpu_ratio_vs_baseline"] <= 0:
                    fail(f"{where}: no server CPU ratio")
        elif r["status"] == "skipped":
            if not r["reason"]:
                fail(f"{where}: skipped without a reason")
        else:
            fail(f"{where}: status {r['status']}: {r['reason']}")
        seen.setdefault(r["workload"], set()).add(r["strategy"])
        if r["workload"] == "stream-tx":
            seen.setdefault("senders", set()).add(r["sender"])

    for w in WORKLOADS:
        if w not in seen:
            fail(f"workload {w} missing")
    # A/B variants run only when named (--strategies): the quick plan has none.
    planned = {n for n, s in strategies.items() if not s["when_named"]}
    for w in ("stream", "rpc", "pingpong"):
        missing = planned - seen[w]
        if missing:
            fail(f"workload {w} lacks strategies {sorted(missing)}")
    if seen["senders"] != {"send(2)", "IORING_OP_SEND", "SEND_ZC", "SEND_ZC fixed", "SEND_ZC NIC"}:
        fail(f"stream-tx senders: {sorted(seen['senders'])}")
    for r in rows:
        nic_sender = r["workload"] == "stream-tx" and r.get("sender") == "SEND_ZC NIC"
        if r["strategy"] == "uring-recv" and r["status"] != "ran" and \
                not (nic_sender and r["status"] == "skipped"):
            fail(f"baseline did not run in {r['workload']}")
        if r["strategy"] in expect_ran and r["status"] != "ran":
            fail(f"{r['strategy']} expected to run in {r['workload']}: {r['reason']}")
        if r["workload"] == "stream-tx" and r["sender"].startswith("SEND_ZC") and \
                r["status"] == "ran" and (r["tx_zc_bytes"] * r["trials"] != r["verified_bytes"] or
                                          not 0 <= r["tx_zc_copied_bytes"] <= r["tx_zc_bytes"]):
            fail(f"{r['sender']}: notifications cover {r['tx_zc_bytes']} bytes a trial "
                 f"({r['tx_zc_copied_bytes']} copied), {r['verified_bytes']} were sent "
                 f"in {r['trials']} trial(s)")
        # The NIC-registered sender runs only with --tx-nic (in the VM); it
        # must say so when it does not, and never need a per-packet mapping.
        if r["workload"] == "stream-tx" and r["sender"] == "SEND_ZC NIC":
            if r["status"] == "skipped" and "--tx-nic" not in r["reason"] and \
                    "kernel" not in r["reason"]:
                fail(f"SEND_ZC NIC skipped without saying why: {r['reason']!r}")
            if r["status"] == "ran" and r["tx_dma_maps_per_mb"] > 0:
                fail(f"SEND_ZC NIC needed {r['tx_dma_maps_per_mb']} DMA maps per MB")
            if r["status"] == "ran" and r["tx_zc_copied_bytes"] != 0:
                fail(f"SEND_ZC NIC reported {r['tx_zc_copied_bytes']} bytes copied")
        if r["strategy"] == "zcrx" and r["status"] == "ran" and r["rx_copied_bytes"] < 0:
            fail("zcrx row without the kernel's copy counter")
        # NODEV mode has no NIC: the kernel copies every byte it delivers.
        # A stream trial moves a fixed number of bytes, so the median
        # trial's copy count is the bytes of one trial.
        if r["strategy"] == "zcrx" and r["status"] == "ran" and r["workload"] == "stream" and \
                "nodev" in r["mechanism"] and \
                r["rx_copied_bytes"] * r["trials"] != r["verified_bytes"]:
            fail(f"zcrx NODEV stream: kernel copied {r['rx_copied_bytes']} bytes a trial, "
                 f"{r['verified_bytes']} received in {r['trials']} trial(s)")
        if r["strategy"] in RING_STRATEGIES and r["status"] == "ran" and \
                r["rx_out_of_buffers"] < 0:
            fail(f"{r['strategy']} row without an out-of-buffers count")
    # A ring far smaller than the RPC data in flight must run dry, and the
    # rows above show every byte still arrived.
    if args.pbuf_bufs and args.pbuf_bufs <= 8:
        for r in rows:
            if r["workload"] == "rpc" and r["strategy"] in RING_STRATEGIES and \
                    r["status"] == "ran" and r["rx_out_of_buffers"] <= 0:
                fail(f"rpc/{r['strategy']}: a {args.pbuf_bufs}-buffer ring never ran out")
    if "<svg" not in svg or "1.0 = baseline" not in svg:
        fail("SVG chart incomplete")
    ran = sum(r["status"] == "ran" for r in rows)
    print(f"check_bench_json: ok: {len(rows)} rows, {ran} ran verified, "
          f"{len(rows) - ran} skipped with reasons")


if __name__ == "__main__":
    main()
