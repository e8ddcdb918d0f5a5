#!/usr/bin/env python3
"""An echo server that is wrong on purpose, for test_bench_echo.sh's negative checks.

usage: bad_echo.py IP PORT

One thread per connection; connections are numbered in accept order (from 0):
  index % 4 == 0, 2: a correct echo;
  index % 4 == 1: the byte at offset 5,000 comes back with its bits flipped (echo_mismatch);
  index % 4 == 3: the echo ends with a FIN after 8,000 bytes (echo_short); the rest is read and
                  dropped until the client closes.
Prints "listening" once it listens.
"""
import socket
import sys
import threading

FLIP_AT = 5000
SHORT_AT = 8000


def serve(conn, index):
    mode = index % 4
    offset = 0
    try:
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                out = bytearray(data)
                if mode == 1 and offset <= FLIP_AT < offset + len(out):
                    out[FLIP_AT - offset] ^= 0xFF
                if mode == 3:
                    if offset >= SHORT_AT:
                        offset += len(data)
                        continue
                    out = out[:SHORT_AT - offset]
                conn.sendall(out)
                offset += len(data)
                if mode == 3 and offset >= SHORT_AT:
                    conn.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def main():
    ip, port = sys.argv[1], int(sys.argv[2])
    s = socket.socket(socket.AF_INET6 if ':' in ip else socket.AF_INET)  # IP: IPv4 or IPv6
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ip, port))
    s.listen(1024)
    print("listening", flush=True)
    index = 0
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c, index), daemon=True).start()
        index += 1


if __name__ == "__main__":
    main()
