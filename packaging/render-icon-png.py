#!/usr/bin/env python3
"""Renders packaging/knock-gui.png (256x256) from the design in knock-gui.svg, with the standard library
only (this machine's ImageMagick has no SVG delegate). Edges are anti-aliased by 4x4 supersampling.
Run: python3 packaging/render-icon-png.py  (writes next to this script)."""
import os
import struct
import zlib

SIZE = 256
SCALE = SIZE / 64.0  # the SVG's viewBox is 64x64
BACKGROUND = (0x1F, 0x4E, 0x79)
KNOCKS = [(16, 32, 5, (0xFF, 0xFF, 0xFF)), (32, 32, 6, (0xFF, 0xFF, 0xFF)), (48, 32, 7, (0x6F, 0xCF, 0x97))]
CORNER = 14.0
SAMPLES = 4


def colour_at(x, y):
    """RGBA of one point in SVG coordinates."""
    for cx, cy, r, rgb in KNOCKS:
        if (x - cx) ** 2 + (y - cy) ** 2 <= r * r:
            return rgb + (255,)
    dx = max(CORNER - x, x - (64 - CORNER), 0.0)
    dy = max(CORNER - y, y - (64 - CORNER), 0.0)
    if dx * dx + dy * dy <= CORNER * CORNER:
        return BACKGROUND + (255,)
    return (0, 0, 0, 0)


def pixel(px, py):
    acc = [0, 0, 0, 0]
    for sy in range(SAMPLES):
        for sx in range(SAMPLES):
            c = colour_at((px + (sx + 0.5) / SAMPLES) / SCALE, (py + (sy + 0.5) / SAMPLES) / SCALE)
            acc[3] += c[3]
            for i in range(3):
                acc[i] += c[i] * c[3]
    alpha = acc[3]
    if alpha == 0:
        return bytes(4)
    return bytes([round(acc[0] / alpha), round(acc[1] / alpha), round(acc[2] / alpha), round(alpha / SAMPLES**2)])


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


rows = b"".join(b"\x00" + b"".join(pixel(x, y) for x in range(SIZE)) for y in range(SIZE))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", SIZE, SIZE, 8, 6, 0, 0, 0))
png += chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "knock-gui.png"), "wb") as out:
    out.write(png)
