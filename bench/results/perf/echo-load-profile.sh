#!/bin/bash
# perf record (cpu-clock: no hardware counters here) of one echo server under
# bench/echo-load (64 connections, 128-byte messages, one write per message,
# depth D), server on CPU 0, load on CPU 1; prints the load's line (with the
# server's CPU per round trip) and the report by symbol, flat, kernel and user.
# usage: echo-load-profile.sh NAME PORT DEPTH SERVER-COMMAND...
set -e
name=$1; port=$2; depth=$3; shift 3
taskset -c 0 "$@" >/dev/null 2>&1 &
pid=$!
sleep 0.5
taskset -c 1 build/release/bench/echo-load --port "$port" --depth "$depth" --seconds 7 \
	--server-pid "$pid" >"/tmp/prof-$name.txt" 2>&1 &
cpid=$!
sleep 1.5
perf record -q -e cpu-clock -F 4000 -p "$pid" -o "/tmp/prof-$name.data" -- sleep 5 2>/dev/null
wait "$cpid"
kill "$pid"; wait "$pid" 2>/dev/null || true
echo "== $name (depth $depth): $(cat "/tmp/prof-$name.txt")"
perf report -i "/tmp/prof-$name.data" --no-children --sort dso,sym --stdio 2>/dev/null |
	grep -v '^#' | grep '%' | head -45
# Samples by kind of work, from the flat report (symbol name prefixes).
perf report -i "/tmp/prof-$name.data" --no-children --sort dso,sym --stdio 2>/dev/null |
	python3 -c '
import re, sys, collections
kinds = [("user space", None),
  ("irq enable (paravirt, syscall exit and unlocks)", r"pvm_"),
  ("io_uring", r"(__)?io_|io_uring"),
  ("epoll and syscall entry", r"(ep_|do_epoll|__x64_sys|__do_sys|do_syscall|entry_SYSCALL|syscall_|ksys_|vfs_|fdget|__fget|fput|sock_read_iter|sock_write_iter|new_sync)"),
  ("copies", r"(_copy_|copy_|memcpy|rep_movs)"),
  ("TCP/IP and skbs", r"(tcp|inet|ip_|__ip|ipv4|skb|__skb|kfree_skb|sock|__sock|sk_|__sk|net|__netif|process_backlog|__dev_|dev_|loopback|__inet|lock_sock|release_sock|__release_sock|validate_xmit|eth_|__napi|napi|rps|raw_v4|__tcp|bpf_skops|security_sock)"),
  ("scheduler and wakeups", r"(schedule|__schedule|finish_task_switch|try_to_wake_up|ttwu|enqueue_|dequeue_|pick_next|update_curr|__wake_up|autoremove_wake|wake_up|hrtimer|select_task|set_next|put_prev|psi_|cpuacct|update_load|reweight|__update)"),
  ("memory (slab, pages)", r"(kmem_cache|__kmalloc|kmalloc|kfree|slab|___slab|__slab|page_|alloc_pages|__alloc|free_unref|rmqueue|get_page|__free_pages|mod_memcg|memcg|__mod_)"),
]
tot = collections.Counter()
for line in sys.stdin:
    m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(\S+)", line)
    if not m: continue
    pct, dso, kind, sym = float(m.group(1)), m.group(2), m.group(3), m.group(4)
    if kind == ".":
        tot["user space"] += pct; continue
    for name, rx in kinds[1:]:
        if re.match(rx, sym):
            tot[name] += pct; break
    else:
        tot["other kernel"] += pct
for name, _ in kinds + [("other kernel", None)]:
    print(f"  {tot[name]:6.2f}%  {name}")
'
