import Foundation

/// Deletes every version of one object key: what is left of an upload that failed validation.
///
/// In a versioned bucket a plain `DELETE` only adds a delete marker and keeps the bytes as a
/// noncurrent version, so the remover lists the key's versions and delete markers
/// (`ListObjectVersions` with the key as prefix, keeping only entries of exactly that key) and
/// deletes each by its `versionId`. Every version goes, not only the one that was validated: a
/// photo's key is its own (``Domain/PhotoKey``), so a client that PUT the same key again with
/// its still-valid URL wrote only more bytes of the same failed photo. In a bucket that was never
/// versioned the listing shows the one object as version `null`, and deleting that version
/// deletes the object.
///
/// Requests go through ``S3ObjectReader``'s transport: header-signed with the current
/// credentials, transient failures retried after its `retryDelays`, a 403 retried once after a
/// credential refresh. Needs `s3:ListBucketVersions` on the bucket and `s3:DeleteObjectVersion`
/// on its objects.
public struct S3ObjectRemover: Sendable {
    let transport: S3ObjectReader

    /// A listing of one key has a handful of entries; this many pages means something is wrong.
    static let maximumPages = 20

    public init(transport: S3ObjectReader) {
        self.transport = transport
    }

    /// Deletes every version and delete marker of `key`; returns how many it deleted (0 when
    /// nothing was there).
    ///
    /// - Throws: ``S3ReadError/unavailable(_:)`` when S3 keeps failing or refuses (the caller
    ///   retries later; versions deleted so far stay deleted, and the next call lists what is left).
    public func removeAllVersions(of key: String) async throws(S3ReadError) -> Int {
        precondition(!key.isEmpty, "an S3 object key must not be empty")
        var deleted = 0
        for version in try await versions(of: key) {
            let response = try await transport.send(
                method: "DELETE",
                key: key,
                query: [("versionId", version)],
                headers: []
            )
            switch response.status {
            case 200, 204:
                deleted += 1
            case 404:
                break  // deleted meanwhile (another replica, a lifecycle rule): the goal is met
            default:
                throw .unavailable("DELETE \(key) version \(version) answered \(response.status)")
            }
        }
        return deleted
    }

    /// The version ids (delete markers included) of exactly `key`, over every page.
    func versions(of key: String) async throws(S3ReadError) -> [String] {
        var found: [String] = []
        var markers: [(name: String, value: String)] = []
        for _ in 0..<Self.maximumPages {
            let response = try await transport.send(
                method: "GET",
                key: "",
                query: [("versions", ""), ("prefix", key)] + markers,
                headers: []
            )
            guard response.status == 200 else {
                throw .unavailable("ListObjectVersions of \(key) answered \(response.status)")
            }
            let page = ListVersionsPage(String(decoding: response.body, as: UTF8.self))
            found += page.entries.filter { $0.key == key }.map(\.versionID)
            guard page.isTruncated else { return found }
            guard let nextKey = page.nextKeyMarker else {
                throw .unavailable("ListObjectVersions of \(key) was truncated without a NextKeyMarker")
            }
            markers = [("key-marker", nextKey)]
            if let nextVersion = page.nextVersionIDMarker {
                markers.append(("version-id-marker", nextVersion))
            }
        }
        throw .unavailable("ListObjectVersions of \(key) had more than \(Self.maximumPages) pages")
    }
}

/// The parts of a `ListVersionsResult` document the remover needs, read from the text: the
/// `Version` and `DeleteMarker` entries' `Key` and `VersionId`, and the paging markers. S3's
/// document is flat and generated, so a scan for the element names is enough (and keeps
/// libxml2 out of the build).
struct ListVersionsPage: Equatable {
    struct Entry: Equatable {
        let key: String
        let versionID: String
    }

    var entries: [Entry] = []
    var isTruncated = false
    var nextKeyMarker: String?
    var nextVersionIDMarker: String?

    init(_ document: String) {
        for element in ["Version", "DeleteMarker"] {
            for block in Self.elements(element, in: document[...]) {
                if let key = Self.elements("Key", in: block).first,
                    let version = Self.elements("VersionId", in: block).first
                {
                    entries.append(Entry(key: Self.unescaped(key), versionID: Self.unescaped(version)))
                }
            }
        }
        isTruncated = Self.elements("IsTruncated", in: document[...]).first == "true"
        nextKeyMarker = Self.elements("NextKeyMarker", in: document[...]).first.map(Self.unescaped)
        nextVersionIDMarker = Self.elements("NextVersionIdMarker", in: document[...]).first.map(Self.unescaped)
    }

    /// The contents of every `<name>...</name>` in `text`, in order (not nested in each other).
    static func elements(_ name: String, in text: Substring) -> [Substring] {
        let open = "<\(name)>"
        let close = "</\(name)>"
        var found: [Substring] = []
        var rest = text
        while let start = rest.range(of: open), let end = rest.range(of: close, range: start.upperBound..<rest.endIndex)
        {
            found.append(rest[start.upperBound..<end.lowerBound])
            rest = rest[end.upperBound...]
        }
        return found
    }

    /// XML's five predefined entities and numeric character references decoded.
    static func unescaped(_ text: Substring) -> String {
        guard text.contains("&") else { return String(text) }
        var result = ""
        var rest = text
        while let ampersand = rest.firstIndex(of: "&"), let semicolon = rest[ampersand...].firstIndex(of: ";") {
            result += rest[..<ampersand]
            let entity = rest[rest.index(after: ampersand)..<semicolon]
            switch entity {
            case "amp": result += "&"
            case "lt": result += "<"
            case "gt": result += ">"
            case "quot": result += "\""
            case "apos": result += "'"
            default:
                let scalar: Unicode.Scalar? =
                    entity.hasPrefix("#x")
                    ? UInt32(entity.dropFirst(2), radix: 16).flatMap(Unicode.Scalar.init)
                    : entity.hasPrefix("#") ? UInt32(entity.dropFirst()).flatMap(Unicode.Scalar.init) : nil
                result += scalar.map { String(Character($0)) } ?? String(rest[ampersand...semicolon])
            }
            rest = rest[rest.index(after: semicolon)...]
        }
        return result + rest
    }
}
