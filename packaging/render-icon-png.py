#!/usr/bin/env python3
"""Renders packaging/knock-gui.png (256x256) and packaging/knock-gui.ico (16 to 256 px, for the Windows .exe
files and the MSI) from the design in knock-gui.svg, with the standard library only (this machine's
ImageMagick has no SVG delegate). Edges are anti-aliased by 4x4 supersampling; each .ico size is drawn at
that size, not scaled down from 256.
Run: python3 packaging/render-icon-png.py  (writes both next to this script; both are committed)."""
import os
import struct
import zlib

# The sizes Windows picks from (shell views, title bars, taskbar at 100-200 % scaling, Add/Remove Programs).
ICO_SIZES = [16, 20, 24, 32, 40, 48, 64, 96, 128, 256]
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


def pixel(px, py, scale):
    acc = [0, 0, 0, 0]
    for sy in range(SAMPLES):
        for sx in range(SAMPLES):
            c = colour_at((px + (sx + 0.5) / SAMPLES) / scale, (py + (sy + 0.5) / SAMPLES) / scale)
            acc[3] += c[3]
            for i in range(3):
                acc[i] += c[i] * c[3]
    alpha = acc[3]
    if alpha == 0:
        return bytes(4)
    return bytes([round(acc[0] / alpha), round(acc[1] / alpha), round(acc[2] / alpha), round(alpha / SAMPLES**2)])


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(size):
    """The icon drawn at size x size, as PNG bytes (the SVG's viewBox is 64x64)."""
    scale = size / 64.0
    rows = b"".join(b"\x00" + b"".join(pixel(x, y, scale) for x in range(size)) for y in range(size))
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0))
    return data + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


def ico(images):
    """An .ico of PNG-compressed images (Windows Vista and later read PNG entries at every size)."""
    header = struct.pack("<HHH", 0, 1, len(images))
    offset = len(header) + 16 * len(images)
    entries = b""
    for size, data in images:
        # Width and height 0 mean 256.
        entries += struct.pack("<BBBBHHII", size % 256, size % 256, 0, 0, 1, 32, len(data), offset)
        offset += len(data)
    return header + entries + b"".join(data for _, data in images)


here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "knock-gui.png"), "wb") as out:
    out.write(png(256))
with open(os.path.join(here, "knock-gui.ico"), "wb") as out:
    out.write(ico([(size, png(size)) for size in ICO_SIZES]))
