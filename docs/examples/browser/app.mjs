// The upload flow in a browser, with nothing but the platform: fetch for the API, and
// XMLHttpRequest for the PUT to S3, because only it reports upload progress.
//
//   1. POST /api/v1/photos/upload-url   -> a pre-signed S3 PUT URL and the headers to send
//   2. PUT the file to S3 with exactly those headers, showing progress
//   3. POST complete_url                -> the photo, with dimensions and EXIF
//   4. GET status_url until the status is `processing` (the detection pipeline has it), then
//      show the EXIF and the photo itself through its short-lived `download_url`
//
// The API must list this page's origin in CORS_ALLOWED_ORIGINS, and the bucket's CORS rules must
// allow PUT from it (the deployment template's AllowedOrigins parameter sets both).
// `?api=...&token=...&project=...` fill the form, and `&waitFor=uploaded` stops after step 3.

const $ = (id) => document.getElementById(id);
const query = new URLSearchParams(location.search);
for (const name of ["api", "token", "project"]) {
  if (query.has(name)) $(name).value = query.get(name);
}
const waitFor = query.get("waitFor") ?? "processing";

function show(state, text) {
  $("status").dataset.state = state;
  $("status").textContent = text;
}

/** Calls the API; throws with the problem document's code (switch on it) and detail. */
async function api(method, path, body, extraHeaders = {}) {
  const response = await fetch(new URL(path, $("api").value), {
    method,
    headers: {
      Authorization: `Bearer ${$("token").value}`,
      ...(body ? { "Content-Type": "application/json" } : {}),
      ...extraHeaders,
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await response.json();
  if (!response.ok) {
    throw new Error(`${method} ${path}: ${response.status} ${json.code}: ${json.detail}`);
  }
  return json;
}

/** PUT `file` to the signed URL with the signed headers; `onProgress` gets 0...1. */
function put(url, headers, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url);
    for (const [name, value] of Object.entries(headers)) {
      // The browser sets Content-Length from the body itself (a forbidden header name); it
      // equals the signed value because the body is the file whose size was declared.
      if (name.toLowerCase() !== "content-length") xhr.setRequestHeader(name, value);
    }
    xhr.upload.onprogress = (event) => event.lengthComputable && onProgress(event.loaded / event.total);
    xhr.onload = () => (xhr.status < 300 ? resolve() : reject(new Error(`S3 refused the PUT: ${xhr.status}`)));
    xhr.onerror = () => reject(new Error("the PUT to S3 failed (network or CORS)"));
    xhr.send(file);
  });
}

function showExif(exif) {
  const rows = Object.entries(exif).map(([name, value]) => {
    const row = document.createElement("tr");
    for (const text of [name, typeof value === "object" ? JSON.stringify(value) : String(value)]) {
      const cell = document.createElement("td");
      cell.textContent = text;
      row.append(cell);
    }
    return row;
  });
  $("exif").tBodies[0].replaceChildren(...rows);
  $("exif").hidden = rows.length === 0;
}

async function upload(file) {
  show("busy", "1/4 asking for an upload URL…");
  const upload = await api(
    "POST",
    "/api/v1/photos/upload-url",
    { project_id: $("project").value, file_name: file.name, file_size: file.size, mime_type: file.type },
    // A retry with the same key (after a network error, say) returns the same photo.
    { "Idempotency-Key": crypto.randomUUID() },
  );

  show("busy", "2/4 uploading…");
  await put(upload.upload_url, upload.headers, file, (fraction) => ($("progress").value = fraction));

  show("busy", "3/4 confirming…");
  let photo = await api("POST", upload.complete_url);

  show("busy", `4/4 waiting for ${waitFor}…`);
  const order = ["uploaded", "processing", "completed"];
  for (let i = 0; i < 60 && order.indexOf(photo.status) < order.indexOf(waitFor); i++) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    photo = await api("GET", upload.status_url);
  }
  showExif(photo.exif_data ?? {});
  if (photo.download_url) {
    $("photo").src = photo.download_url;
    $("photo").hidden = false;
    await $("photo").decode();
  }
  show("done", `${photo.status}: ${photo.width}×${photo.height}, photo ${photo.id}`);
}

$("file").addEventListener("change", () => {
  const file = $("file").files[0];
  if (file) upload(file).catch((error) => show("error", error.message));
});
