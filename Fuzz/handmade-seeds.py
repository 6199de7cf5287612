#!/usr/bin/env python3
"""Writes the hand-made seeds of the png and safetensors harnesses into Fuzz/corpus (scripts/fuzz --seeds).

They come from Python's zlib and struct, not from mstar's own encoders, so the decoders are seeded with
what other writers produce: every PNG colour type the reader accepts, each of the five row filters, a
decompression bomb, and safetensors files in F16, BF16 and F64 with metadata.
"""
import json
import os
import struct
import sys
import zlib

corpus = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def write(target, name, data):
    folder = os.path.join(corpus, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)
    print(f"{target}/{name}: {len(data)} bytes")


def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(width, height, colour, rows, level=9, extra=b""):
    """A PNG of 8-bit `colour` type whose filtered scanlines (filter byte first) are `rows`."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra
            + chunk(b"IDAT", zlib.compress(b"".join(rows), level)) + chunk(b"IEND", b""))


channels = {0: 1, 2: 3, 4: 2, 6: 4}
names = {0: "grey", 2: "rgb", 4: "grey-alpha", 6: "rgba"}
for colour, n in channels.items():
    w, h = 6, 5
    # Row y uses filter y % 5, so every filter type (None, Sub, Up, Average, Paeth) is decoded.
    rows = [bytes([y % 5]) + bytes((17 * x + 29 * y + c) % 256 for x in range(w) for c in range(n)) for y in range(h)]
    write("png", f"{names[colour]}-filters.png", png(w, h, colour, rows))
# Stored (uncompressed) deflate blocks: a mutation of a pixel byte leaves the stream parseable.
write("png", "grey-stored.png", png(4, 3, 0, [b"\x00" + bytes(range(4 * y, 4 * y + 4)) for y in range(3)], level=0))
# Ancillary chunks the reader skips, before and between the image data.
write("png", "grey-ancillary.png", png(2, 2, 0, [b"\x00\x10\x20", b"\x00\x30\x40"],
                                         extra=chunk(b"tEXt", b"Comment\x00fuzz") + chunk(b"gAMA", struct.pack(">I", 45455))))
# A decompression bomb: a 1x1 image whose 1.4 KB of image data inflates to 1.5 MB.
write("png", "bomb.png", png(1, 1, 0, [bytes(1_500_000)]))


def safetensors(entries, metadata=None):
    header, data = {}, b""
    if metadata:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in entries:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


write("safetensors", "f16-bf16-f64.safetensors", safetensors([
    ("half", "F16", [2, 3], struct.pack("<6e", 0.0, -1.5, 65504.0, 6e-8, float("inf"), 0.25)),
    ("brain", "BF16", [2], struct.pack("<2H", 0x3F80, 0xC0A0)),
    ("double", "F64", [1, 1, 2], struct.pack("<2d", 3.141592653589793, -2.5e-300)),
], metadata={"format": "pt", "note": "hand-made"}))
write("safetensors", "scalar-and-empty.safetensors", safetensors([
    ("scalar", "F32", [], struct.pack("<f", 1.0)),
    ("empty", "F32", [0, 4], b""),
]))
write("safetensors", "header-only.safetensors", safetensors([]))
