#!/usr/bin/env python3
"""Generates the synthetic fixtures of ImageInspectionTests (committed; tests never run this).

Needs Python 3 (stdlib only) and exiftool (Debian: libimage-exiftool-perl) for the files whose
tags exiftool writes. Hand-built EXIF blocks cover what exiftool refuses to write: zero
denominators and NULs inside strings. Run from anywhere: `python3 make-fixtures.py`.
"""
import os
import struct
import subprocess
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "generated")


def segment(marker, payload):
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def minimal_jpeg(width, height, app_segments=()):
    """A decodable grey baseline JPEG: one component, every 8x8 block DC 0 and EOB.

    The Huffman tables hold a single 1-bit code each ("0": DC category 0, AC end of block),
    so every block is the two bits 00.
    """
    dqt = segment(0xDB, bytes([0x00]) + bytes([1] * 64))
    sof = segment(0xC0, struct.pack(">BHHB", 8, height, width, 1) + bytes([1, 0x11, 0]))
    dht_dc = segment(0xC4, bytes([0x00, 1] + [0] * 15 + [0x00]))
    dht_ac = segment(0xC4, bytes([0x10, 1] + [0] * 15 + [0x00]))
    sos = segment(0xDA, bytes([1, 1, 0x00, 0, 63, 0]))
    blocks = ((width + 7) // 8) * ((height + 7) // 8)
    bits = "00" * blocks
    bits += "1" * (-len(bits) % 8)
    scan = bytearray()
    for i in range(0, len(bits), 8):
        byte = int(bits[i:i + 8], 2)
        scan.append(byte)
        if byte == 0xFF:
            scan.append(0)
    out = b"\xFF\xD8" + b"".join(app_segments) + dqt + sof + dht_dc + dht_ac + sos + bytes(scan) + b"\xFF\xD9"
    return out


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def minimal_png(width, height, extra_chunks=()):
    ihdr = png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    idat = png_chunk(b"IDAT", zlib.compress(raw))
    return b"\x89PNG\r\n\x1a\n" + ihdr + b"".join(extra_chunks) + idat + png_chunk(b"IEND", b"")


def tiff(ifd0_entries, gps_entries=None, exif_entries=None):
    """A little-endian TIFF with IFD0 and optional GPS and Exif sub-IFDs.

    Entries are (tag, type, count, value_bytes); values over 4 bytes go after the IFDs.
    """
    ifd0 = list(ifd0_entries)
    if gps_entries is not None:
        ifd0.append((0x8825, 4, 1, b"\0\0\0\0"))  # patched below
    if exif_entries is not None:
        ifd0.append((0x8769, 4, 1, b"\0\0\0\0"))
    ifds = [("ifd0", sorted(ifd0))]
    if exif_entries is not None:
        ifds.append(("exif", sorted(exif_entries)))
    if gps_entries is not None:
        ifds.append(("gps", sorted(gps_entries)))
    # Lay out: header (8), then each IFD followed by its out-of-line values.
    offsets = {}
    pos = 8
    for name, entries in ifds:
        offsets[name] = pos
        pos += 2 + 12 * len(entries) + 4
        for _, _, _, value in entries:
            if len(value) > 4:
                pos += len(value) + (len(value) & 1)
    body = bytearray(b"II*\0" + struct.pack("<I", 8))
    for name, entries in ifds:
        assert len(body) == offsets[name]
        data_pos = len(body) + 2 + 12 * len(entries) + 4
        table = bytearray(struct.pack("<H", len(entries)))
        extra = bytearray()
        for tag, kind, count, value in entries:
            if tag == 0x8825:
                value = struct.pack("<I", offsets["gps"])
            if tag == 0x8769:
                value = struct.pack("<I", offsets["exif"])
            if len(value) > 4:
                table += struct.pack("<HHII", tag, kind, count, data_pos + len(extra))
                extra += value + (b"\0" if len(value) & 1 else b"")
            else:
                table += struct.pack("<HHI", tag, kind, count) + value.ljust(4, b"\0")
        table += b"\0\0\0\0"
        body += table + extra
    return bytes(body)


def pointer_chain_with_maker_note(depth):
    """A little-endian TIFF whose MakerNote lies `depth` pointer-only IFDs below IFD0.

    IFD0 holds Make "Canon" (so libexif would pick its Canon maker-note parser) and an Exif
    pointer; each IFD of the chain holds one pointer only, alternately GPS and Exif, so libexif's
    own guards (a pointer into the IFD being loaded; an IFD that already has entries) never stop
    it; the last IFD, loaded as Exif, holds the MakerNote: a one-entry Canon IFD.
    """
    make = b"Canon\0"
    ifd0 = 8
    ifd0_size = 2 + 12 * 2 + 4
    make_at = ifd0 + ifd0_size
    chain_at = make_at + len(make) + (len(make) & 1)
    link_size = 2 + 12 + 4
    # IFD0's Exif pointer loads the first link as Exif, so the links point GPS, Exif, GPS, ...;
    # an even depth makes the last one an Exif pointer, which loads the MakerNote's IFD as Exif.
    assert depth % 2 == 0
    kinds = [0x8825 if step % 2 == 0 else 0x8769 for step in range(depth)]
    note_ifd = chain_at + link_size * depth
    note_at = note_ifd + link_size
    note = struct.pack("<H", 1) + struct.pack("<HHI", 0x0006, 2, 4) + b"IMG\0" + b"\0\0\0\0"
    body = bytearray(b"II*\0" + struct.pack("<I", ifd0))
    body += struct.pack("<H", 2)
    body += struct.pack("<HHII", 0x010F, 2, len(make), make_at)
    body += struct.pack("<HHII", 0x8769, 4, 1, chain_at)
    body += b"\0\0\0\0"
    body += make + (b"\0" if len(make) & 1 else b"")
    for step in range(depth):
        target = chain_at + link_size * (step + 1)
        body += struct.pack("<H", 1) + struct.pack("<HHII", kinds[step], 4, 1, target) + b"\0\0\0\0"
    assert len(body) == note_ifd
    body += struct.pack("<H", 1) + struct.pack("<HHII", 0x927C, 7, len(note), note_at) + b"\0\0\0\0"
    body += note
    return bytes(body)


def ascii_entry(tag, text):
    return (tag, 2, len(text), text)


def rationals(tag, pairs):
    return (tag, 5, len(pairs), b"".join(struct.pack("<II", n, d) for n, d in pairs))


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def exiftool(name, *args):
    subprocess.run(["exiftool", "-q", "-overwrite_original", *args, os.path.join(OUT, name)], check=True)


def main():
    os.makedirs(OUT, exist_ok=True)

    # GPS in the four hemispheres, written by exiftool into a minimal JPEG.
    places = {
        "gps-north-east.jpg": ("40.7128", "N", "74.006", "E", "10.5", "0"),
        "gps-north-west.jpg": ("40.7128", "N", "74.006", "W", "10.5", "0"),
        "gps-south-east.jpg": ("33.8688", "S", "151.2093", "E", "58", "0"),
        "gps-south-west.jpg": ("22.9068", "S", "43.1729", "W", "0", "0"),
        "gps-below-sea-level.jpg": ("31.5590", "N", "35.4732", "E", "430.5", "1"),
    }
    for name, (lat, lat_ref, lon, lon_ref, alt, alt_ref) in places.items():
        write(name, minimal_jpeg(16, 8))
        exiftool(
            name,
            f"-GPSLatitude={lat}", f"-GPSLatitudeRef={lat_ref}",
            f"-GPSLongitude={lon}", f"-GPSLongitudeRef={lon_ref}",
            f"-GPSAltitude={alt}", f"-GPSAltitudeRef#={alt_ref}",
            "-Make=Canon", "-Model=Canon EOS 80D",
        )

    # DateTimeOriginal with OffsetTimeOriginal.
    write("offset-time.jpg", minimal_jpeg(24, 16))
    exiftool("offset-time.jpg", "-DateTimeOriginal=2025:11:17 10:30:00", "-OffsetTimeOriginal=+05:45",
             "-Orientation#=3")
    write("offset-time-negative.jpg", minimal_jpeg(24, 16))
    exiftool("offset-time-negative.jpg", "-DateTimeOriginal=2025:11:17 10:30:00", "-OffsetTimeOriginal=-05:00")

    # PNG with and without eXIf.
    write("with-exif.png", minimal_png(3, 2))
    exiftool("with-exif.png", "-Make=Google", "-Model=Pixel 8", "-Orientation#=6",
             "-DateTimeOriginal=2024:02:29 23:59:59", "-GPSLatitude=51.5007", "-GPSLatitudeRef=N",
             "-GPSLongitude=0.1246", "-GPSLongitudeRef=W")
    write("plain.png", minimal_png(5, 7))

    # Hand-built: zero denominators in GPS (latitude seconds, longitude degrees): only
    # the altitude (a proper 10/1) must come out.
    zero_den = tiff(
        [ascii_entry(0x010F, b"Nikon\0")],
        gps_entries=[
            ascii_entry(0x0001, b"N\0"),
            rationals(0x0002, [(40, 1), (42, 1), (46, 0)]),
            ascii_entry(0x0003, b"W\0"),
            rationals(0x0004, [(74, 0), (0, 1), (0, 1)]),
            (0x0005, 1, 1, b"\0"),
            rationals(0x0006, [(10, 1)]),
        ],
    )
    write("gps-zero-denominator.jpg", minimal_jpeg(8, 8, [segment(0xE1, b"Exif\0\0" + zero_den)]))

    # Hand-built: GPS exactly 0/0 (valid: the equator and the prime meridian) and a zero altitude.
    null_island = tiff(
        [],
        gps_entries=[
            ascii_entry(0x0001, b"N\0"),
            rationals(0x0002, [(0, 1), (0, 1), (0, 1)]),
            ascii_entry(0x0003, b"E\0"),
            rationals(0x0004, [(0, 1), (0, 1), (0, 1)]),
            rationals(0x0006, [(0, 1)]),
        ],
    )
    write("gps-null-island.jpg", minimal_jpeg(8, 8, [segment(0xE1, b"Exif\0\0" + null_island)]))

    # Hand-built: NULs and padding in Make/Model, an invalid date, an orientation of 9,
    # a latitude of 95 degrees (out of range) and a longitude whose ref is missing.
    nuls = tiff(
        [
            ascii_entry(0x010F, b"Canon\0\0\0\0    \0"),
            ascii_entry(0x0110, b"  EOS R5   \0garbage\0"),
            (0x0112, 3, 1, struct.pack("<H", 9)),
        ],
        exif_entries=[
            ascii_entry(0x9003, b"2025:13:17 10:30:00\0"),
            ascii_entry(0x9011, b"+05:45\0"),
        ],
        gps_entries=[
            ascii_entry(0x0001, b"S\0"),
            rationals(0x0002, [(95, 1), (0, 1), (0, 1)]),
            rationals(0x0004, [(10, 1), (0, 1), (0, 1)]),
        ],
    )
    write("nul-strings.jpg", minimal_jpeg(8, 8, [segment(0xE1, b"Exif\0\0" + nuls)]))

    # Hand-built: Make entirely NULs, Model only spaces: both omitted.
    empty = tiff([ascii_entry(0x010F, b"\0\0\0\0\0\0\0\0"), ascii_entry(0x0110, b"        \0")])
    write("empty-strings.jpg", minimal_jpeg(8, 8, [segment(0xE1, b"Exif\0\0" + empty)]))

    # APP segments that push the frame header past ImageInspector.initialHeadLength (128 KiB):
    # three 60 KiB APP2 segments after a real EXIF APP1.
    big = [segment(0xE1, b"Exif\0\0" + tiff([ascii_entry(0x010F, b"Sony\0")]))]
    big += [segment(0xE2, bytes([0x41]) * 60000) for _ in range(3)]
    write("sof-beyond-head.jpg", minimal_jpeg(640, 480, big))

    # A camera whose clock was wrong: a valid DateTimeOriginal far in the future is kept as read.
    write("date-time-original-future.jpg", minimal_jpeg(24, 16))
    exiftool("date-time-original-future.jpg", "-DateTimeOriginal=2099:09:29 10:10:10")

    # Hand-built (exiftool writes Make and Model to IFD0 only): IFD0's Make and Model empty, the
    # values in the Exif IFD, as an HTC One M8 writes them.
    htc = tiff(
        [ascii_entry(0x010F, b"\0"), ascii_entry(0x0110, b"\0")],
        exif_entries=[
            ascii_entry(0x010F, b"HTC\0"),
            ascii_entry(0x0110, b"HTC One_M8\0"),
            ascii_entry(0x9003, b"2014:06:14 18:01:02\0"),
        ],
    )
    write("make-model-in-exif-ifd.jpg", minimal_jpeg(8, 8, [segment(0xE1, b"Exif\0\0" + htc)]))

    # Hand-built: both IFDs name a camera; IFD0's values win.
    both = tiff(
        [ascii_entry(0x010F, b"Canon\0"), ascii_entry(0x0110, b"Canon EOS 80D\0")],
        exif_entries=[ascii_entry(0x010F, b"HTC\0"), ascii_entry(0x0110, b"HTC One_M8\0")],
    )
    write("make-model-in-both-ifds.jpg", minimal_jpeg(8, 8, [segment(0xE1, b"Exif\0\0" + both)]))

    # Hand-built: a MakerNote 40 pointer-only IFDs deep, past MakerNoteRemover.maximumIFDs (32),
    # and one 28 deep, which the walk still reaches (30 IFDs with IFD0 and the MakerNote's).
    deep = pointer_chain_with_maker_note(40)
    write("makernote-deep-ifd-chain.jpg", minimal_jpeg(8, 8, [segment(0xE1, b"Exif\0\0" + deep)]))
    within = pointer_chain_with_maker_note(28)
    write("makernote-ifd-chain-within-budget.jpg", minimal_jpeg(8, 8, [segment(0xE1, b"Exif\0\0" + within)]))


if __name__ == "__main__":
    main()
