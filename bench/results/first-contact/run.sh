#!/bin/bash
# First contact: uringx-stream / python senders into zcnet-sink over loopback, 1 GiB.
port_n=0
ex=${EX:-build/release/examples}
run() { # label sink-binary sender...
	local label=$1 sink=$2; shift 2
	port_n=$((port_n + 1)); local port=$((31000 + port_n))
	$sink --listen 127.0.0.1:$port --bytes 1G > /tmp/fc-sink.log 2>&1 &
	local sp=$!
	for _ in $(seq 50); do ss -Hltn "sport = :$port" | grep -q . && break; sleep 0.1; done
	"$@" 127.0.0.1:$port >/dev/null 2>&1
	wait $sp
	printf '%-58s %s\n' "$label" "$(grep -o '[0-9.]* Gbit/s' /tmp/fc-sink.log)"
}
py() { python3 -c "
import socket,sys
h,p=sys.argv[1].rsplit(':',1); s=socket.create_connection((h,int(p)))
b=bytes(range(256))*256; n=1<<30
while n>0:
    k=min(n,len(b)); s.sendall(b[:k]); n-=k
s.close()" "$1"; }
for trial in 1 2 3; do
run "before: uringx-stream (default: SEND_ZC) -> zcnet-sink" ${OLD:-/work/old}/zcnet-sink ${OLD:-/work/old}/uringx-stream --bytes 1G --connect
run "after:  uringx-stream (default: auto, 256K chunks) -> zcnet-sink" $ex/zcnet-sink $ex/uringx-stream --bytes 1G --connect
run "after:  uringx-stream --send zc -> zcnet-sink" $ex/zcnet-sink $ex/uringx-stream --bytes 1G --send zc --connect
run "python3 sendall (64 KiB) -> zcnet-sink" $ex/zcnet-sink py
b0=$(${OLD:-/work/old}/zcnet-sink --self 1G | grep -o '[0-9.]* Gbit/s'); printf '%-58s %s\n' "before: zcnet-sink --self 1G" "$b0"
a0=$($ex/zcnet-sink --self 1G | grep -o '[0-9.]* Gbit/s'); printf '%-58s %s\n' "after:  zcnet-sink --self 1G" "$a0"
done
