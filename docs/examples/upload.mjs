#!/usr/bin/env node
// Uploads one photo the way a web or mobile client does, with nothing but Node 20's fetch:
//
//   1. POST /api/v1/photos/upload-url   -> a pre-signed S3 PUT URL and the headers to send
//   2. PUT the bytes to S3 with exactly those headers (S3 refuses another type or size)
//   3. POST /api/v1/photos/{id}/complete -> the photo, with dimensions and EXIF
//   4. GET /api/v1/photos/{id} until the status is `processing` (the relay published the
//      detection request) or `--wait-for` says otherwise
//
// Usage:
//   PHOTO_API_TOKEN=<JWT> node docs/examples/upload.mjs --api http://127.0.0.1:8080 \
//       --project <project uuid> --file roof.jpg [--wait-for processing|uploaded] [--idempotency-key K]
//
// Prints one line per step and, last, the photo as JSON; exits 1 at the first failed step.
import { readFile } from "node:fs/promises";
import { basename, extname } from "node:path";
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";

const { values: options } = parseArgs({
  options: {
    api: { type: "string", default: process.env.PHOTO_API_URL ?? "http://127.0.0.1:8080" },
    project: { type: "string" },
    file: { type: "string" },
    "wait-for": { type: "string", default: "processing" },
    "idempotency-key": { type: "string" },
    "timeout-seconds": { type: "string", default: "30" },
  },
});
const token = process.env.PHOTO_API_TOKEN;
if (!token || !options.project || !options.file) {
  console.error("usage: PHOTO_API_TOKEN=<JWT> node upload.mjs --api URL --project UUID --file PATH");
  process.exit(2);
}

const mimeTypes = { ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png" };
const mimeType = mimeTypes[extname(options.file).toLowerCase()];
if (!mimeType) {
  console.error(`only .jpg, .jpeg and .png files: ${options.file}`);
  process.exit(2);
}

/** Calls the API; throws with the problem document's code and detail on any other status. */
async function api(method, path, body, extraHeaders = {}) {
  const response = await fetch(new URL(path, options.api), {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body ? { "content-type": "application/json" } : {}),
      ...extraHeaders,
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  const json = text ? JSON.parse(text) : {};
  if (!response.ok) {
    throw new Error(`${method} ${path} -> ${response.status} ${json.code ?? ""}: ${json.detail ?? text}`);
  }
  return json;
}

try {
  const bytes = await readFile(options.file);

  // 1. The URL. An Idempotency-Key makes a retried request return the same photo.
  const upload = await api(
    "POST",
    "/api/v1/photos/upload-url",
    { project_id: options.project, file_name: basename(options.file), file_size: bytes.length, mime_type: mimeType },
    { "idempotency-key": options["idempotency-key"] ?? randomUUID() },
  );
  console.log(`1. upload URL issued: photo ${upload.photo_id}, expires ${upload.expires_at}`);

  // 2. The PUT, with the signed headers. fetch sets Content-Length from the body itself (it is
  // a forbidden header name), and it equals the signed value because the body is the file.
  const headers = Object.fromEntries(
    Object.entries(upload.headers).filter(([name]) => name.toLowerCase() !== "content-length"),
  );
  const put = await fetch(upload.upload_url, { method: upload.method, headers, body: bytes });
  if (!put.ok) throw new Error(`PUT to S3 -> ${put.status}: ${await put.text()}`);
  console.log(`2. PUT done: ${bytes.length} bytes to ${new URL(upload.s3_url).pathname}`);

  // 3. The confirmation.
  const photo = await api("POST", upload.complete_url);
  const exif = photo.exif_data ?? {};
  console.log(
    `3. confirmed: ${photo.status}, ${photo.width}x${photo.height}, EXIF ${JSON.stringify(exif)}`,
  );

  // 4. Wait for the detection pipeline's queue to have it (the relay moves it to processing).
  const deadline = Date.now() + Number(options["timeout-seconds"]) * 1000;
  let current = photo;
  while (current.status !== options["wait-for"] && current.status !== "failed" && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    current = await api("GET", upload.status_url);
  }
  console.log(`4. status: ${current.status}`);
  console.log(JSON.stringify(current));
  if (current.status !== options["wait-for"]) process.exit(1);
} catch (error) {
  console.error(`upload failed: ${error.message}`);
  process.exit(1);
}
