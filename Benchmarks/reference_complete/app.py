"""The reference `POST /api/v1/photos/{id}/complete` for Benchmarks/complete/run.sh: the same work
as photo-api's, written the way most teams would write it first.

FastAPI on uvicorn (one worker process per core), a plain `def` endpoint (FastAPI runs it on its
thread pool), boto3 for S3 (HEAD, then a ranged GET of the same first 128 KiB photo-api reads,
conditional on the HEAD's ETag), Pillow for the dimensions and EXIF, psycopg 3 with a connection
pool and one transaction for the update, the history row and the outbox row (same schema, same
`photo.uploaded` payload as photo-api). The bearer token is an HS256 JWT checked with `hmac`.

    uvicorn --app-dir Benchmarks/reference_complete app:app --workers 2 ...

Environment: DATABASE_URL, JWT_HS256_SECRET, AWS_ENDPOINT_URL_S3, AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_REGION. Only the benchmark's paths are covered: a missing object is a
404, a size or type mismatch marks the photo failed (422), no retries beyond boto3's own.
"""
import base64
import hashlib
import hmac
import io
import json
import os
import time
import uuid

import boto3
import botocore.config
import psycopg
from fastapi import FastAPI, Header, HTTPException
from fastapi.responses import JSONResponse
from PIL import Image
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

PREFIX_BYTES = 128 * 1024  # ImageInspector.initialHeadLength
SECRET = os.environ["JWT_HS256_SECRET"].encode()

app = FastAPI()
pool = ConnectionPool(os.environ["DATABASE_URL"], min_size=4, max_size=8, open=True)
s3 = boto3.client(
    "s3",
    endpoint_url=os.environ.get("AWS_ENDPOINT_URL_S3"),
    region_name=os.environ.get("AWS_REGION", "us-east-1"),
    config=botocore.config.Config(
        s3={"addressing_style": "path"}, max_pool_connections=50, retries={"mode": "standard", "max_attempts": 4}
    ),
)


def b64decode(part):
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def claims(authorization):
    """The verified claims of an HS256 bearer token, or 401."""
    try:
        scheme, token = authorization.split(" ", 1)
        header, payload, signature = token.split(".")
        expected = hmac.new(SECRET, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        if scheme.lower() != "bearer" or not hmac.compare_digest(expected, b64decode(signature)):
            raise ValueError("bad signature")
        body = json.loads(b64decode(payload))
        if body["exp"] < time.time():
            raise ValueError("expired")
        return body
    except (ValueError, KeyError):
        raise HTTPException(status_code=401, detail="invalid token")


EXIF_IFD, GPS_IFD = 0x8769, 0x8825


def gps_degrees(gps, value_tag, ref_tag, negative):
    value = gps.get(value_tag)
    if not value or len(value) != 3 or any(getattr(v, "denominator", 1) == 0 for v in value):
        return None
    degrees = float(value[0]) + float(value[1]) / 60 + float(value[2]) / 3600
    return -degrees if gps.get(ref_tag) == negative else degrees


def exif_json(image):
    """camera_make, camera_model, captured_at, orientation and gps_coordinates, as photo-api stores
    them; {} when the image has no EXIF or it cannot be read."""
    try:
        exif = image.getexif()
    except Exception:
        return {}
    out = {}
    for tag, key in ((271, "camera_make"), (272, "camera_model")):
        if isinstance(exif.get(tag), str) and exif[tag].strip("\x00 "):
            out[key] = exif[tag].strip("\x00 ")
    if isinstance(exif.get(274), int):
        out["orientation"] = exif[274]
    taken = exif.get_ifd(EXIF_IFD).get(36867)
    if isinstance(taken, str) and len(taken) >= 19:
        out["captured_at"] = taken[:10].replace(":", "-") + "T" + taken[11:19]
    gps = exif.get_ifd(GPS_IFD)
    if gps:
        coordinates = {"latitude": gps_degrees(gps, 2, 1, "S"), "longitude": gps_degrees(gps, 4, 3, "W")}
        coordinates = {k: v for k, v in coordinates.items() if v is not None}
        if coordinates:
            out["gps_coordinates"] = coordinates
    return out


PHOTO_COLUMNS = """p.id, p.project_id, p.file_name, p.mime_type, p.file_size, p.status, p.width, p.height,
    p.s3_bucket, p.s3_key, p.detection_types, p.priority, p.exif_data, p.error, p.created_at, p.updated_at"""


def photo_json(conn, row):
    history = conn.execute(
        "SELECT status, at FROM photo_status_history WHERE photo_id = %s ORDER BY at, id", (row["id"],)
    ).fetchall()
    return {
        "id": str(row["id"]), "project_id": str(row["project_id"]), "file_name": row["file_name"],
        "mime_type": row["mime_type"], "file_size": row["file_size"], "status": row["status"],
        "width": row["width"], "height": row["height"], "exif_data": row["exif_data"],
        "error": row["error"], "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
        "status_history": [{"status": h["status"], "at": h["at"].isoformat()} for h in history],
    }


@app.post("/api/v1/photos/{photo_id}/complete")
def complete(photo_id: uuid.UUID, authorization: str = Header()):
    org = claims(authorization)["org_id"]
    with pool.connection() as conn:
        conn.row_factory = psycopg.rows.dict_row
        photo = conn.execute(
            f"SELECT {PHOTO_COLUMNS} FROM photos p JOIN projects pr ON pr.id = p.project_id "
            "WHERE p.id = %s AND pr.organization_id = %s",
            (photo_id, org),
        ).fetchone()
        if photo is None:
            raise HTTPException(status_code=404, detail="photo not found")
        if photo["status"] != "pending_upload":
            return photo_json(conn, photo)

    try:
        head = s3.head_object(Bucket=photo["s3_bucket"], Key=photo["s3_key"])
    except s3.exceptions.ClientError as error:
        if error.response["Error"]["Code"] in ("404", "NoSuchKey"):
            raise HTTPException(status_code=404, detail="upload not found")
        raise
    problem = None
    if head["ContentLength"] != photo["file_size"]:
        problem = f"the object has {head['ContentLength']} bytes but {photo['file_size']} were declared"
    elif head.get("ContentType") != photo["mime_type"]:
        problem = f"the object is stored as {head.get('ContentType')} but {photo['mime_type']} was declared"
    width = height = None
    exif = {}
    if problem is None:
        body = s3.get_object(
            Bucket=photo["s3_bucket"], Key=photo["s3_key"], IfMatch=head["ETag"], Range=f"bytes=0-{PREFIX_BYTES - 1}"
        )["Body"].read()
        try:
            image = Image.open(io.BytesIO(body))
            if image.format != ("PNG" if photo["mime_type"] == "image/png" else "JPEG"):
                raise ValueError(f"not a {photo['mime_type']}")
            width, height = image.size
            exif = exif_json(image)
        except Exception as error:
            problem = f"the image is malformed: {error}"

    with pool.connection() as conn:
        conn.row_factory = psycopg.rows.dict_row
        with conn.transaction():
            if problem is not None:
                conn.execute(
                    "UPDATE photos SET status = 'failed', failed_at = now(), updated_at = now(), error = %s "
                    "WHERE id = %s AND status = 'pending_upload'",
                    (f"invalid_upload: {problem}", photo_id),
                )
                conn.execute(
                    "INSERT INTO photo_status_history (photo_id, status, previous_status, changed_by) "
                    "VALUES (%s, 'failed', 'pending_upload', 'api')",
                    (photo_id,),
                )
                updated = None
            else:
                updated = confirm(conn, photo, width, height, exif, head["ETag"])
        if problem is not None:
            raise HTTPException(status_code=422, detail=problem)
        return JSONResponse(photo_json(conn, updated or photo))


def confirm(conn, photo, width, height, exif, etag):
    """The update, history row and outbox row (inside the caller's transaction); the updated row,
    or None when the photo was confirmed concurrently."""
    photo_id = photo["id"]
    updated = conn.execute(
        "UPDATE photos SET status = 'uploaded', uploaded_at = now(), updated_at = now(), width = %s, "
        "height = %s, exif_data = %s, s3_etag = %s, reconcile_claimed_until = NULL "
        f"WHERE id = %s AND status = 'pending_upload' RETURNING {PHOTO_COLUMNS.replace('p.', '')}",
        (width, height, Jsonb(exif), etag, photo_id),
    ).fetchone()
    if updated is None:  # confirmed concurrently
        return None
    conn.execute(
        "INSERT INTO photo_status_history (photo_id, status, previous_status, changed_by) "
        "VALUES (%s, 'uploaded', 'pending_upload', 'api')",
        (photo_id,),
    )
    event = {
        "photo_id": str(photo_id), "project_id": str(photo["project_id"]),
        "s3_url": f"s3://{photo['s3_bucket']}/{photo['s3_key']}",
        "detection_types": photo["detection_types"], "priority": photo["priority"],
        "mime_type": photo["mime_type"], "width": width, "height": height, "s3_etag": etag,
    }
    conn.execute(
        "INSERT INTO outbox_events (id, event_type, aggregate_id, payload) VALUES (%s, 'photo.uploaded', %s, %s)",
        (uuid.uuid4(), photo_id, Jsonb(event)),
    )
    return updated


@app.get("/healthz")
def healthz():
    return {"status": "ok"}
