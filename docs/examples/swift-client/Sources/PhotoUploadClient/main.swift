// Uploads one photo with the client that swift-openapi-generator generates from photo-api's own
// OpenAPI document (`openapi.yaml` beside this file is the service's document):
//
//   1. createUploadURL          -> a pre-signed S3 PUT URL and the headers to send with it
//   2. PUT the bytes to S3 with exactly those headers (S3 is not this API: plain URLSession)
//   3. completeUpload           -> the photo, with dimensions and EXIF
//   4. getPhoto until the status is `--wait-for` (default `uploaded`; `processing` once the
//      relay has handed the photo to the detection pipeline)
//
// Usage:
//   PHOTO_API_TOKEN=<JWT> swift run PhotoUploadClient --api http://127.0.0.1:8080 \
//       --project <project uuid> --file roof.jpg [--wait-for processing] [--timeout-seconds 30]
//
// Prints one line per step and, last, a JSON summary of the photo; exits 1 at the first failure.
import Foundation
import HTTPTypes
import OpenAPIRuntime
import OpenAPIURLSession

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Sends the caller's token on every request (the document's `bearerAuth` scheme).
struct BearerToken: ClientMiddleware {
    let token: String

    func intercept(
        _ request: HTTPRequest,
        body: HTTPBody?,
        baseURL: URL,
        operationID: String,
        next: (HTTPRequest, HTTPBody?, URL) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        var request = request
        request.headerFields[.authorization] = "Bearer \(token)"
        return try await next(request, body, baseURL)
    }
}

/// An answer the flow cannot go on from: which step, and what the API said (for a problem
/// document, its `code` and `detail`).
struct StepFailed: Error, CustomStringConvertible {
    let description: String

    init(_ step: String, _ answer: Any) {
        description = "\(step) answered \(answer)"
    }
}

/// The command line: `--name value` pairs.
struct Options {
    let api: URL
    let project: String
    let file: URL
    let waitFor: Components.Schemas.PhotoStatus
    let timeout: Duration
    let token: String

    static func parse(_ arguments: [String], environment: [String: String]) -> Options? {
        var values: [String: String] = [:]
        var remaining = arguments[...]
        while let name = remaining.popFirst(), name.hasPrefix("--"), let value = remaining.popFirst() {
            values[String(name.dropFirst(2))] = value
        }
        guard remaining.isEmpty, let token = environment["PHOTO_API_TOKEN"], !token.isEmpty,
            let api = URL(string: values["api"] ?? "http://127.0.0.1:8080"),
            let project = values["project"], let file = values["file"],
            let waitFor = Components.Schemas.PhotoStatus(rawValue: values["wait-for"] ?? "uploaded"),
            let seconds = Int(values["timeout-seconds"] ?? "30")
        else { return nil }
        return Options(
            api: api,
            project: project,
            file: URL(fileURLWithPath: file),
            waitFor: waitFor,
            timeout: .seconds(seconds),
            token: token
        )
    }
}

/// What the last line prints: the photo as the API finally showed it.
struct Summary: Encodable {
    let photoID: String
    let status: Components.Schemas.PhotoStatus
    let width: Int?
    let height: Int?
    let exifData: Components.Schemas.EXIFData
    let statusHistory: [Components.Schemas.PhotoStatus]

    enum CodingKeys: String, CodingKey {
        case photoID = "photo_id"
        case status, width, height
        case exifData = "exif_data"
        case statusHistory = "status_history"
    }
}

func upload(_ options: Options) async throws -> Summary {
    let client = Client(
        serverURL: options.api,
        transport: URLSessionTransport(),
        middlewares: [BearerToken(token: options.token)]
    )
    let bytes = try Data(contentsOf: options.file)
    let isPNG = options.file.pathExtension.lowercased() == "png"

    // 1. The URL. An Idempotency-Key makes a retried request answer the same photo.
    let issued = try await client.createUploadURL(
        headers: .init(idempotencyKey: UUID().uuidString),
        body: .json(
            .init(
                projectId: options.project,
                fileName: options.file.lastPathComponent,
                fileSize: bytes.count,
                mimeType: isPNG ? .imagePng : .imageJpeg
            )
        )
    )
    guard case .ok(let ok) = issued else { throw StepFailed("createUploadURL", issued) }
    let upload = try ok.body.json
    print("1. upload URL issued: photo \(upload.photoId), expires \(upload.expiresAt)")

    // 2. The PUT goes to S3, not to the API: every issued header, with exactly its value (the
    // signature covers them), and no Authorization header.
    guard let uploadURL = URL(string: upload.uploadUrl) else { throw StepFailed("createUploadURL", upload.uploadUrl) }
    var put = URLRequest(url: uploadURL)
    put.httpMethod = "PUT"  // the response's `method`, which the document fixes to PUT
    for (name, value) in upload.headers.additionalProperties {
        put.setValue(value, forHTTPHeaderField: name)
    }
    let (answer, response) = try await URLSession.shared.upload(for: put, from: bytes)
    guard let status = (response as? HTTPURLResponse)?.statusCode, (200..<300).contains(status) else {
        throw StepFailed("PUT to S3", String(decoding: answer, as: UTF8.self))
    }
    print("2. PUT done: \(bytes.count) bytes, S3 answered \(status)")

    // 3. The confirmation: the service checks the object and reads its dimensions and EXIF.
    let completed = try await client.completeUpload(path: .init(photoId: upload.photoId))
    guard case .ok(let confirmed) = completed else { throw StepFailed("completeUpload", completed) }
    var photo = try confirmed.body.json
    print("3. confirmed: \(photo.status.rawValue), \(photo.width ?? 0)x\(photo.height ?? 0)")

    // 4. Follow the status until it is the one asked for (or failed, or time is up).
    let deadline = ContinuousClock.now + options.timeout
    var history: [Components.Schemas.PhotoStatus] = []
    repeat {
        let read = try await client.getPhoto(path: .init(photoId: upload.photoId))
        guard case .ok(let found) = read else { throw StepFailed("getPhoto", read) }
        photo = try found.body.json
        history = photo.statusHistory?.map(\.status) ?? []
        if photo.status == options.waitFor || photo.status == .failed { break }
        try await Task.sleep(for: .milliseconds(200))
    } while ContinuousClock.now < deadline
    print("4. status: \(photo.status.rawValue)")
    guard photo.status == options.waitFor else { throw StepFailed("getPhoto", "status \(photo.status.rawValue)") }
    return Summary(
        photoID: photo.id,
        status: photo.status,
        width: photo.width,
        height: photo.height,
        exifData: photo.exifData,
        statusHistory: history
    )
}

guard
    let options = Options.parse(
        Array(CommandLine.arguments.dropFirst()),
        environment: ProcessInfo.processInfo.environment
    )
else {
    FileHandle.standardError.write(
        Data("usage: PHOTO_API_TOKEN=<JWT> PhotoUploadClient --api URL --project UUID --file PATH\n".utf8)
    )
    exit(2)
}
do {
    let summary = try await upload(options)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    print(String(decoding: try encoder.encode(summary), as: UTF8.self))
} catch {
    FileHandle.standardError.write(Data("upload failed: \(error)\n".utf8))
    exit(1)
}
