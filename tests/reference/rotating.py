#!/usr/bin/env python3
"""An independent implementation of docs/rotating-sequences.md, with nothing but Python's standard library.

Usage: rotating.py KEY_BASE32 DOOR UNIX_TIME STEP LENGTH LO-HI PROTOCOLS EXCLUDE
(PROTOCOLS comma-separated or "-" for all tcp; EXCLUDE comma-separated ports or "-").
Prints "WINDOW SEQUENCE", the sequence as PORT:PROTO,... (the form knock-cli prints).
"""
import base64
import hashlib
import hmac
import struct
import sys

LABEL = b"knock-rotating-v1"


def derive(key, door, window, length, lo, hi, exclude):
    n = hi - lo + 1
    limit = 65536 - 65536 % n
    chosen = []
    block = 0
    while len(chosen) < length:
        message = LABEL + b"\x00" + door.encode("utf-8") + b"\x00" + struct.pack(">QI", window, block)
        digest = hmac.new(key, message, hashlib.sha256).digest()
        for i in range(0, 32, 2):
            candidate = struct.unpack(">H", digest[i:i + 2])[0]
            if candidate >= limit:
                continue
            port = lo + candidate % n
            if port in exclude or port in chosen:
                continue
            chosen.append(port)
            if len(chosen) == length:
                break
        block += 1
    return chosen


def main(argv):
    key_text, door, unix_time, step, length, port_range, protocols, exclude = argv
    cleaned = key_text.replace(" ", "").replace("=", "").upper()
    key = base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
    lo, hi = (int(p) for p in port_range.split("-"))
    length = int(length)
    window = int(unix_time) // int(step)
    protos = ["tcp"] * length if protocols == "-" else protocols.split(",")
    excluded = set() if exclude == "-" else {int(p) for p in exclude.split(",")}
    ports = derive(key, door, window, length, lo, hi, excluded)
    print(window, ",".join(f"{port}:{proto}" for port, proto in zip(ports, protos)))


if __name__ == "__main__":
    main(sys.argv[1:])
