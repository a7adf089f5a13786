#!/usr/bin/env python3
"""Rebuilds the committed seed corpus Fuzz/corpus/ from the test fixtures (files under 64 KiB).

Each seed starts with the selector byte that FuzzImageHeader.swift reads: 0/1 whole JPEG/PNG,
2 a bare TIFF structure for ExifReader, 3/4 JPEG/PNG through needMoreBytes from a short head.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "Tests", "ImageInspectionTests", "Fixtures")
OUT = os.path.join(HERE, "corpus")
LIMIT = 64 * 1024


def exif_block(jpeg):
    """The TIFF part of the first Exif APP1 segment, or None (a tolerant walk: seeds only)."""
    pos = 2
    while pos + 4 <= len(jpeg) and jpeg[pos] == 0xFF:
        marker = jpeg[pos + 1]
        length = struct.unpack(">H", jpeg[pos + 2:pos + 4])[0]
        payload = jpeg[pos + 4:pos + 2 + length]
        if marker == 0xE1 and payload.startswith(b"Exif\0\0"):
            return payload[6:]
        if marker == 0xDA:
            return None
        pos += 2 + length
    return None


def main():
    os.makedirs(OUT, exist_ok=True)
    for root, _, files in os.walk(FIXTURES):
        for name in sorted(files):
            path = os.path.join(root, name)
            data = open(path, "rb").read()
            if len(data) > LIMIT:
                continue
            stem = os.path.splitext(name)[0]
            if name.endswith(".jpg"):
                seeds = {"jpeg": b"\0" + data, "jpeg-split": b"\3\x10" + data}
                tiff = exif_block(data)
                if tiff:
                    seeds["exif"] = b"\2" + tiff
            elif name.endswith(".png"):
                seeds = {"png": b"\1" + data, "png-split": b"\4\x08" + data}
            else:
                continue
            for kind, seed in seeds.items():
                with open(os.path.join(OUT, f"{stem}.{kind}"), "wb") as f:
                    f.write(seed)


if __name__ == "__main__":
    main()
