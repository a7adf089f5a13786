"""The objects and pending photos of Benchmarks/complete/run.sh.

    prepare.py RUN_DIR PROJECT_ID USER_ID BUCKET SET=COUNT [SET=COUNT ...]

Writes, under RUN_DIR:
- objects/: one file per sample image, padded after its end marker (JPEG EOI, PNG IEND) to the
  size of a camera photo (1.5-3.5 MB), so every ranged GET of the first 128 KiB returns 128 KiB,
  as it does for real uploads (image readers stop at the end marker; photo-api and Pillow read
  only the header);
- manifest.tsv: KEY<TAB>FILE<TAB>CONTENT-TYPE for BenchS3Stub, one line per photo;
- photos.csv: the `pending_upload` photo rows, as upload-url writes them, for COPY;
- ids-SET.txt: COUNT photo ids per SET, one a line (each photo is completed once).

The mix (weights): the camera JPEGs with EXIF (Canon, Sony, iPhone 4S with GPS) 2 each, a small
JPEG with GPS EXIF, a JPEG without EXIF, a PNG without and a PNG with an eXIf chunk 1 each: the
samples of Tests/ImageInspectionTests/Fixtures (the generated ones come from its make-fixtures.py).
"""
import csv
import datetime
import os
import sys
import uuid

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../Tests/ImageInspectionTests/Fixtures")
# (file under FIXTURES, weight, padded size in bytes)
MIX = [
    ("canon.jpg", 2, 2_400_000),
    ("sony.jpg", 2, 3_100_000),
    ("iphone4s-gps-orientation6.jpg", 2, 2_800_000),
    ("generated/gps-north-east.jpg", 1, 1_600_000),
    ("no-exif.jpg", 1, 1_900_000),
    ("generated/plain.png", 1, 3_400_000),
    ("generated/with-exif.png", 1, 2_200_000),
]


def main():
    run_dir, project, user, bucket = sys.argv[1:5]
    sets = [(name, int(count)) for name, count in (arg.split("=") for arg in sys.argv[5:])]
    expires = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)).isoformat()
    objects = os.path.join(run_dir, "objects")
    os.makedirs(objects, exist_ok=True)
    files = []
    for name, weight, size in MIX:
        data = open(os.path.join(FIXTURES, name), "rb").read()
        if size > len(data):
            data += bytes(size - len(data))
        path = os.path.join(objects, os.path.basename(name))
        open(path, "wb").write(data)
        png = name.endswith(".png")
        files += [(path, len(data), "image/png" if png else "image/jpeg", "png" if png else "jpg")] * weight
    with open(os.path.join(run_dir, "manifest.tsv"), "w") as manifest, \
            open(os.path.join(run_dir, "photos.csv"), "w", newline="") as rows:
        writer = csv.writer(rows)
        n = 0
        for set_name, count in sets:
            with open(os.path.join(run_dir, f"ids-{set_name}.txt"), "w") as ids:
                for _ in range(count):
                    path, size, mime, ext = files[n % len(files)]
                    n += 1
                    photo = str(uuid.uuid4())
                    key = f"{project}/2026/12/07/{photo}.{ext}"
                    manifest.write(f"{key}\t{path}\t{mime}\n")
                    writer.writerow([photo, project, user, f"bench-{n}.{ext}", mime, size, bucket, key, expires])
                    ids.write(photo + "\n")


if __name__ == "__main__":
    main()
