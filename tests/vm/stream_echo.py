#!/usr/bin/env python3
"""A seeded byte stream echoed back and verified, for the VM tests.

Usage: stream_echo.py client ADDR PORT BYTES [SEED]
       stream_echo.py server ADDR PORT

client: a writer thread sends BYTES bytes of a pseudo-random stream (seeded,
so any run can be repeated) and shuts down its side; the main thread reads
the echo until the peer closes and compares it byte for byte. Exits 0 only
when exactly BYTES bytes came back, all equal to what was sent; otherwise
prints where the first difference is.

server: accepts connections one at a time and sends back what each one
sends, blocking on the send (backpressure reaches the sender through TCP,
never a local buffer that can wedge), until the peer shuts down its side.
"""
import random
import socket
import sys
import threading


def serve(addr, port):
    listener = socket.create_server((addr, port), reuse_port=False)
    while True:
        conn, _ = listener.accept()
        with conn:
            while True:
                chunk = conn.recv(1 << 16)
                if not chunk:
                    break
                conn.sendall(chunk)
            conn.shutdown(socket.SHUT_WR)


def client(addr, port, total, seed):
    data = random.Random(seed).randbytes(total)
    sock = socket.create_connection((addr, port), timeout=60)
    sent_error = []

    def write():
        try:
            view = memoryview(data)
            for off in range(0, total, 1 << 16):
                sock.sendall(view[off:off + (1 << 16)])
            sock.shutdown(socket.SHUT_WR)
        except OSError as e:
            sent_error.append(e)

    writer = threading.Thread(target=write)
    writer.start()
    got = 0
    first_bad = None
    while True:
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        if first_bad is None and chunk != data[got:got + len(chunk)]:
            for i, b in enumerate(chunk):
                if got + i >= total or b != data[got + i]:
                    first_bad = got + i
                    break
        got += len(chunk)
    writer.join()
    sock.close()
    if sent_error:
        print(f"stream_echo client: writing: {sent_error[0]}")
        return 1
    if got != total or first_bad is not None:
        print(f"stream_echo client: {got} of {total} bytes back, first difference at "
              f"{first_bad}")
        return 1
    print(f"stream_echo client: {total} bytes echoed and verified (seed {seed})")
    return 0


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "server":
        return serve(sys.argv[2], int(sys.argv[3]))
    if len(sys.argv) in (5, 6) and sys.argv[1] == "client":
        seed = int(sys.argv[5]) if len(sys.argv) == 6 else 11
        return client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), seed)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
