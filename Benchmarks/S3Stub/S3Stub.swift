import Digest
import Foundation
import Hummingbird
import Logging

/// An in-memory S3 stand-in for the `complete` benchmark (Benchmarks/complete/run.sh): answers
/// `HEAD` and (ranged) `GET` of objects loaded at start, at memory speed, so the benchmark measures
/// the service that reads them and not a storage server.
///
///     BenchS3Stub --manifest FILE [--port PORT] [--host 127.0.0.1]
///
/// The manifest has one object a line, `KEY<TAB>PATH[<TAB>CONTENT-TYPE]`; each distinct file is
/// read once, however many keys name it. Requests are path-style (`/BUCKET/KEY`, what photo-api
/// uses with an endpoint override and what the reference is configured for); any bucket name
/// serves the same objects.
///
/// Answers as S3 does for an unversioned bucket: `Content-Length`, `Content-Type`, `ETag` (the
/// quoted MD5 of the body, S3's ETag of a single-part upload), `Last-Modified`, `Accept-Ranges`;
/// a `Range: bytes=a-b` (also `a-` and `-n`) gets `206` with `Content-Range`, an unsatisfiable
/// one `416`; `If-Match` with another ETag `412`; a missing key `404` (`NoSuchKey`, XML);
/// `?versionId=` other than `null` `404` (`NoSuchVersion`). `DELETE` answers `204` and keeps
/// the object (a failed upload's cleanup must not change the next run). No `x-amz-version-id`
/// header: the bucket was never versioned.
///
/// **No signature validation**: the `Authorization` header is ignored (tests against LocalStack
/// cover signatures); this server exists only to be fast.
@main
struct S3Stub {
    static func main() async throws {
        var host = "127.0.0.1"
        var port = 9000
        var manifest: String?
        var arguments = CommandLine.arguments.dropFirst().makeIterator()
        while let argument = arguments.next() {
            switch argument {
            case "--host": host = arguments.next() ?? host
            case "--port":
                guard let value = arguments.next().flatMap(Int.init) else { usage("--port needs a number") }
                port = value
            case "--manifest": manifest = arguments.next()
            default: usage("unknown argument \(argument)")
            }
        }
        guard let manifest else { usage("--manifest is required") }
        let store: ObjectStore
        do {
            store = try ObjectStore(manifest: manifest)
        } catch {
            usage("cannot load \(manifest): \(error)")
        }
        var logger = Logger(label: "s3-stub")
        logger.logLevel = .warning
        let banner = "s3-stub listening on \(host):\(port) with \(store.count) keys\n"
        let application = Application(
            responder: StubResponder(store: store),
            configuration: .init(address: .hostname(host, port: port), serverName: "AmazonS3"),
            onServerRunning: { _ in FileHandle.standardError.write(Data(banner.utf8)) },
            logger: logger
        )
        try await application.runService()
    }

    static func usage(_ problem: String) -> Never {
        FileHandle.standardError.write(
            Data("\(problem)\nusage: BenchS3Stub --manifest FILE [--host H] [--port P]\n".utf8)
        )
        exit(2)
    }
}

/// One stored object: its bytes and what `HEAD` says about them.
struct StoredObject: Sendable {
    let body: ByteBuffer
    let contentType: String
    let etag: String
}

/// The objects by key, read once at start and never changed.
struct ObjectStore: Sendable {
    struct ManifestError: Error, CustomStringConvertible {
        let description: String
    }

    private let objects: [String: StoredObject]

    var count: Int { objects.count }

    init(manifest path: String) throws {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var files: [String: (body: ByteBuffer, etag: String)] = [:]
        var objects: [String: StoredObject] = [:]
        for (number, line) in text.split(separator: "\n").enumerated() {
            let fields = line.split(separator: "\t").map(String.init)
            guard fields.count >= 2 else { throw ManifestError(description: "line \(number + 1): KEY<TAB>PATH") }
            let file = fields[1]
            if files[file] == nil {
                let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
                let digest = bytes.withUnsafeBytes { MD5.hash($0) }
                let etag = "\"" + digest.map { String(format: "%02x", $0) }.joined() + "\""
                files[file] = (ByteBuffer(bytes: bytes), etag)
            }
            guard let loaded = files[file] else { continue }
            let type = fields.count > 2 ? fields[2] : (file.hasSuffix(".png") ? "image/png" : "image/jpeg")
            objects[fields[0]] = StoredObject(body: loaded.body, contentType: type, etag: loaded.etag)
        }
        self.objects = objects
    }

    subscript(key: String) -> StoredObject? { objects[key] }
}

/// Answers every request from ``ObjectStore`` without a router (one dictionary look-up).
struct StubResponder: HTTPResponder {
    typealias Context = BasicRequestContext
    let store: ObjectStore
    static let lastModified = "Mon, 07 Dec 2026 00:00:00 GMT"

    func respond(to request: Request, context: BasicRequestContext) async throws -> Response {
        // `/bucket/key...`: the key is everything after the bucket, percent-decoded.
        let path = request.uri.path
        let afterSlash = path.dropFirst()
        let head = request.method == .head
        guard let slash = afterSlash.firstIndex(of: "/") else {
            return Self.error(.notFound, "NoSuchKey", "no key in \(path)", head: head)
        }
        let rawKey = afterSlash[afterSlash.index(after: slash)...]
        let key = rawKey.removingPercentEncoding ?? String(rawKey)
        guard let object = store[key] else {
            return Self.error(.notFound, "NoSuchKey", "The specified key does not exist.", head: head)
        }
        if let version = request.uri.queryParameters.get("versionId"), version != "null" {
            return Self.error(.notFound, "NoSuchVersion", "The specified version does not exist.", head: head)
        }
        switch request.method {
        case .head:
            return Response(status: .ok, headers: headers(object, length: object.body.readableBytes))
        case .get:
            if let expected = request.headers[.ifMatch], expected != object.etag, expected != "*" {
                return Self.error(
                    .preconditionFailed,
                    "PreconditionFailed",
                    "At least one of the pre-conditions you specified did not hold"
                )
            }
            guard let rangeHeader = request.headers[.range] else {
                return Response(
                    status: .ok,
                    headers: headers(object, length: object.body.readableBytes),
                    body: .init(byteBuffer: object.body)
                )
            }
            let size = object.body.readableBytes
            guard let range = Self.range(rangeHeader, size: size) else {
                var fields = HTTPFields()
                fields[.contentRange] = "bytes */\(size)"
                return Self.error(
                    .rangeNotSatisfiable,
                    "InvalidRange",
                    "The requested range is not satisfiable",
                    fields
                )
            }
            var fields = headers(object, length: range.count)
            fields[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound - 1)/\(size)"
            let slice = object.body.getSlice(at: range.lowerBound, length: range.count) ?? ByteBuffer()
            return Response(status: .partialContent, headers: fields, body: .init(byteBuffer: slice))
        case .delete:
            return Response(status: .noContent)
        default:
            return Self.error(.methodNotAllowed, "MethodNotAllowed", "\(request.method) is not served by this stub")
        }
    }

    private func headers(_ object: StoredObject, length: Int) -> HTTPFields {
        var fields = HTTPFields()
        fields[.contentLength] = String(length)
        fields[.contentType] = object.contentType
        fields[.eTag] = object.etag
        fields[.lastModified] = Self.lastModified
        fields[.acceptRanges] = "bytes"
        return fields
    }

    /// The byte range (half-open) a `Range` header asks for, clipped to `size`; `nil` when it
    /// is not a single satisfiable `bytes=` range.
    static func range(_ header: String, size: Int) -> Range<Int>? {
        guard header.hasPrefix("bytes="), !header.contains(",") else { return nil }
        let spec = header.dropFirst("bytes=".count)
        guard let dash = spec.firstIndex(of: "-") else { return nil }
        let first = spec[..<dash]
        let last = spec[spec.index(after: dash)...]
        if first.isEmpty {
            guard let suffix = Int(last), suffix > 0, size > 0 else { return nil }
            return max(0, size - suffix)..<size
        }
        guard let start = Int(first), start < size else { return nil }
        let end = last.isEmpty ? size - 1 : min(Int(last) ?? -1, size - 1)
        guard end >= start else { return nil }
        return start..<(end + 1)
    }

    private static func error(
        _ status: HTTPResponse.Status,
        _ code: String,
        _ message: String,
        _ extra: HTTPFields = [:],
        head: Bool = false
    ) -> Response {
        let xml = """
            <?xml version="1.0" encoding="UTF-8"?>
            <Error><Code>\(code)</Code><Message>\(message)</Message></Error>
            """
        var fields = extra
        fields[.contentType] = "application/xml"
        // A HEAD answer has no body (S3 sends only the status).
        if head { return Response(status: status, headers: fields) }
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: xml)))
    }
}
