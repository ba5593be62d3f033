#!/usr/bin/env python3
"""Draw Easel's app icon (a painter's palette on a gradient tile) as RGBA PNGs.

Standard library only. Renders once at 1024 px and box-downsamples to each size.
Usage: python3 scripts/make-icons.py [out_dir]   (default: icons/ beside this repo)
"""
import math
import os
import struct
import sys
import zlib

BIG = 1024  # master size: 2x2 supersampling for the 512 px icon
SIZES = {"32x32.png": 32, "128x128.png": 128, "128x128@2x.png": 256, "icon.png": 512}


def lerp(a, b, t):
    return tuple(a[i] + (b[i] - a[i]) * t for i in range(len(a)))


def inside_rounded_square(x, y, margin, radius):
    lo, hi = margin, 1.0 - margin
    cx = min(max(x, lo + radius), hi - radius)
    cy = min(max(y, lo + radius), hi - radius)
    return (x - cx) ** 2 + (y - cy) ** 2 <= radius * radius and lo <= x <= hi and lo <= y <= hi


TOP = (76, 61, 201)      # indigo
BOTTOM = (232, 99, 122)  # coral
PALETTE = (250, 244, 232)
SHADOW = (40, 28, 90)
DOTS = [  # (x, y, r, colour)
    (0.40, 0.37, 0.062, (245, 190, 60)),
    (0.56, 0.33, 0.062, (232, 84, 96)),
    (0.69, 0.43, 0.062, (64, 170, 190)),
    (0.66, 0.60, 0.062, (92, 110, 230)),
]


def in_palette(x, y, dx=0.0, dy=0.0):
    x, y = x - dx, y - dy
    ex, ey, rx, ry = 0.52, 0.50, 0.33, 0.27
    # slight tilt
    a = math.radians(-14)
    u = (x - ex) * math.cos(a) - (y - ey) * math.sin(a)
    v = (x - ex) * math.sin(a) + (y - ey) * math.cos(a)
    if (u / rx) ** 2 + (v / ry) ** 2 > 1.0:
        return False
    if (x - 0.37) ** 2 + (y - 0.58) ** 2 < 0.052 ** 2:  # thumb hole
        return False
    if (x - 0.25) ** 2 + (y - 0.69) ** 2 < 0.10 ** 2:  # notch in the rim
        return False
    return True


def pixel(x, y):
    if not inside_rounded_square(x, y, 0.04, 0.2):
        return (0, 0, 0, 0)
    t = (x + y) / 2.0
    bg = lerp(TOP, BOTTOM, t)
    for dx, dy, r, col in DOTS:
        if (x - dx) ** 2 + (y - dy) ** 2 < r * r:
            return (*col, 255)
    if in_palette(x, y):
        return (*PALETTE, 255)
    if in_palette(x, y, 0.015, 0.02):
        c = lerp(bg, SHADOW, 0.45)
        return (*c, 255)
    return (*bg, 255)


def render(n):
    rows = []
    for j in range(n):
        y = (j + 0.5) / n
        rows.append([pixel((i + 0.5) / n, y) for i in range(n)])
    return rows


def downsample(rows, size):
    f = len(rows) // size
    out = []
    area = f * f
    for j in range(size):
        line = bytearray()
        for i in range(size):
            acc = [0.0, 0.0, 0.0, 0.0]
            for yy in range(j * f, (j + 1) * f):
                row = rows[yy]
                for xx in range(i * f, (i + 1) * f):
                    r, g, b, a = row[xx]
                    acc[0] += r * a
                    acc[1] += g * a
                    acc[2] += b * a
                    acc[3] += a
            a = acc[3]
            if a == 0:
                line += bytes(4)
            else:
                line += bytes((round(acc[0] / a), round(acc[1] / a), round(acc[2] / a), round(a / area)))
        out.append(bytes(line))
    return out


def write_png(path, rows):
    h, w = len(rows), len(rows[0]) // 4

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + r for r in rows)
    png = b"\x89PNG\r\n\x1a\n"
    png += chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0))  # 8-bit RGBA
    png += chunk(b"IDAT", zlib.compress(raw, 9))
    png += chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "icons")
    os.makedirs(out_dir, exist_ok=True)
    big = render(BIG)
    for name, size in SIZES.items():
        write_png(os.path.join(out_dir, name), downsample(big, size))
        print("wrote", os.path.join(out_dir, name))


if __name__ == "__main__":
    main()
