import Digest
import Foundation
import Synchronization

/// SigV4 query-string pre-signing for S3 (AWS4-HMAC-SHA256, `UNSIGNED-PAYLOAD`), our own
/// implementation over libcrypto's SHA-256/HMAC (`Digest`).
///
/// What it produces is byte-for-byte what botocore's `generate_presigned_url` produces for the
/// same request and timestamp (the tests compare them), including the query parameter order.
/// An upload URL signs `host`, `content-type`, `content-length` and, when a checksum is
/// given, `x-amz-checksum-sha256`, so S3 refuses any other type, size or body.
///
/// Addressing: virtual-hosted (`https://BUCKET.s3.REGION.amazonaws.com/KEY`) unless
/// `forcePathStyle` (`https://s3.REGION.amazonaws.com/BUCKET/KEY`). With an endpoint override
/// (`AWS_ENDPOINT_URL[_S3]`): `scheme://host:port[/prefix]/BUCKET/KEY` path style, or
/// `scheme://BUCKET.host:port[/prefix]/KEY`. Path style is also used when the endpoint's host
/// is an IP address (as botocore does, even with `addressing_style='virtual'`) and when the
/// bucket name has a dot (a virtual host would not match S3's TLS certificate; botocore's
/// `auto` style does the same).
///
/// Fast by construction: everything that does not depend on the request is encoded once in
/// `init`; the derived signing key is cached per date stamp (the region and service are fixed
/// per presigner); timestamps are formatted by hand; the canonical request, string to sign and
/// URL are each assembled in one byte buffer.
public final class S3Presigner: Sendable {
    /// SigV4 query signatures live at most 7 days.
    public static let maximumExpirySeconds = 604_800

    public let region: String
    public let bucket: String
    public let endpoint: URL?
    public let forcePathStyle: Bool
    /// Whether URLs are path style (`forcePathStyle`, or forced by an IP endpoint or dotted bucket).
    public let usesPathStyle: Bool
    /// The `Host` header value the URLs are signed for (lower case, default port omitted).
    public let host: String

    /// `scheme://authority[/prefix][/bucket]/`: the URL up to the encoded key.
    let urlPrefix: [UInt8]
    /// `[/prefix][/bucket]/`: the canonical URI up to the encoded key.
    let canonicalURIPrefix: [UInt8]
    /// `host:HOST\n`
    private let hostHeaderLine: [UInt8]
    /// `X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ACCESSKEY%2F`
    private let queryPrefix: [UInt8]
    /// `%2FREGION%2Fs3%2Faws4_request&X-Amz-Date=`
    private let queryCredentialSuffix: [UInt8]
    /// `&X-Amz-Security-Token=TOKEN`, or empty.
    let querySecurityToken: [UInt8]
    /// `/REGION/s3/aws4_request\n`
    let scopeSuffix: [UInt8]
    /// `AWS4SECRET`
    private let keySeed: [UInt8]
    private let regionBytes: [UInt8]
    /// For header signing's `Credential=` and `x-amz-security-token`.
    let accessKeyID: String
    let sessionToken: String?
    private let signingKeyCache = Mutex(SigningKeyCache())

    private struct SigningKeyCache {
        var dayNumber: Int?
        var key: [UInt8] = []
        /// How many keys were derived (the tests check that a day's key is derived once).
        var derivations = 0
    }

    /// - Parameters:
    ///   - endpoint: `nil` for AWS itself; else the override (`http://127.0.0.1:4566`), which
    ///     must have an `http`/`https` scheme and a host.
    ///   - forcePathStyle: `S3_FORCE_PATH_STYLE`.
    public init(region: String, credentials: AWSCredentials, endpoint: URL?, forcePathStyle: Bool, bucket: String) {
        precondition(!bucket.isEmpty, "S3Presigner needs a bucket name")
        precondition(!region.isEmpty, "S3Presigner needs a region")
        self.region = region
        self.bucket = bucket
        self.endpoint = endpoint
        self.forcePathStyle = forcePathStyle

        let scheme: String
        let urlHost: String  // as written in the URL (botocore keeps the endpoint's spelling)
        var portSuffix = ""  // ":PORT" when the endpoint names a port, even the default one
        var headerPortSuffix = ""  // only a non-default port belongs to the Host header
        var basePath = ""  // the endpoint's path without its trailing slash
        let hostIsIPAddress: Bool
        if let endpoint {
            guard let endpointScheme = endpoint.scheme?.lowercased(), ["http", "https"].contains(endpointScheme),
                let endpointHost = endpoint.host(percentEncoded: true), !endpointHost.isEmpty
            else {
                preconditionFailure("S3 endpoint override must be an http(s) URL with a host, got \(endpoint)")
            }
            scheme = endpointScheme
            hostIsIPAddress = Self.isIPAddress(endpointHost)
            urlHost = endpointHost.contains(":") && !endpointHost.hasPrefix("[") ? "[\(endpointHost)]" : endpointHost
            if let port = endpoint.port {
                portSuffix = ":\(port)"
                if port != (scheme == "https" ? 443 : 80) {
                    headerPortSuffix = portSuffix
                }
            }
            basePath = endpoint.path(percentEncoded: true)
            while basePath.hasSuffix("/") {
                basePath.removeLast()
            }
        } else {
            scheme = "https"
            hostIsIPAddress = false
            let domain = region.hasPrefix("cn-") ? "amazonaws.com.cn" : "amazonaws.com"
            urlHost = "s3.\(region).\(domain)"
        }
        let pathStyle = forcePathStyle || hostIsIPAddress || bucket.contains(".")
        usesPathStyle = pathStyle
        let authorityHost = pathStyle ? urlHost : "\(bucket).\(urlHost)"
        host = authorityHost.lowercased() + headerPortSuffix

        var uriPrefix = Array(basePath.utf8)
        if pathStyle {
            uriPrefix.append(UInt8(ascii: "/"))
            SigV4Encoding.appendPercentEncoded(bucket, keepingSlashes: false, to: &uriPrefix)
        }
        uriPrefix.append(UInt8(ascii: "/"))
        canonicalURIPrefix = uriPrefix
        urlPrefix = Array("\(scheme)://\(authorityHost)\(portSuffix)".utf8) + uriPrefix
        hostHeaderLine = Array("host:\(host)\n".utf8)

        var prefix = Array("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=".utf8)
        SigV4Encoding.appendPercentEncoded(credentials.accessKeyID, keepingSlashes: false, to: &prefix)
        prefix.append(contentsOf: "%2F".utf8)
        queryPrefix = prefix
        var credentialSuffix = Array("%2F".utf8)
        SigV4Encoding.appendPercentEncoded(region, keepingSlashes: false, to: &credentialSuffix)
        credentialSuffix.append(contentsOf: "%2Fs3%2Faws4_request&X-Amz-Date=".utf8)
        queryCredentialSuffix = credentialSuffix
        if let token = credentials.sessionToken, !token.isEmpty {
            var tokenParameter = Array("&X-Amz-Security-Token=".utf8)
            SigV4Encoding.appendPercentEncoded(token, keepingSlashes: false, to: &tokenParameter)
            querySecurityToken = tokenParameter
        } else {
            querySecurityToken = []
        }
        scopeSuffix = Array("/\(region)/s3/aws4_request\n".utf8)
        keySeed = Array("AWS4\(credentials.secretAccessKey)".utf8)
        regionBytes = Array(region.utf8)
        accessKeyID = credentials.accessKeyID
        sessionToken = credentials.sessionToken.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// A pre-signed `PUT` of `key` that S3 accepts only with exactly this `Content-Type`,
    /// `Content-Length` and, when `checksumSHA256` (base64 SHA-256 of the body) is given,
    /// a body with that digest (`x-amz-checksum-sha256`, which S3 verifies).
    ///
    /// - Parameters:
    ///   - key: the object key, unencoded (`/` separates segments; each is encoded once).
    ///   - checksumSHA256: validated first (`UploadRequest.isValidChecksumSHA256` in Domain).
    ///   - expiresIn: seconds, `1...604800`.
    ///   - now: the signing time; sub-second parts are dropped.
    public func presignPut(
        key: String,
        contentType: String,
        contentLength: Int,
        checksumSHA256: String?,
        expiresIn: Int,
        now: Date
    ) -> PresignedRequest {
        precondition(contentLength >= 0, "Content-Length must not be negative, got \(contentLength)")
        let timestamp = Self.timestamp(of: now)
        let url: [UInt8]
        var lengthText: [UInt8] = []
        SigV4Encoding.appendDecimal(contentLength, to: &lengthText)
        if let checksumSHA256 {
            url = sign(
                method: Self.putMethod,
                key: key,
                signedHeaders: Self.putSignedHeadersWithChecksum,
                expiresIn: expiresIn,
                timestamp: timestamp
            ) { buffer in
                Self.appendPutHeaders(contentType: contentType, length: lengthText, host: hostHeaderLine, to: &buffer)
                buffer.append(contentsOf: Self.checksumHeaderPrefix)
                SigV4Encoding.appendTrimmedHeaderValue(checksumSHA256, to: &buffer)
                buffer.append(UInt8(ascii: "\n"))
            }
        } else {
            url = sign(
                method: Self.putMethod,
                key: key,
                signedHeaders: Self.putSignedHeaders,
                expiresIn: expiresIn,
                timestamp: timestamp
            ) { buffer in
                Self.appendPutHeaders(contentType: contentType, length: lengthText, host: hostHeaderLine, to: &buffer)
            }
        }
        var headers: [(name: String, value: String)] = [
            ("Content-Type", contentType),
            ("Content-Length", String(decoding: lengthText, as: UTF8.self)),
        ]
        if let checksumSHA256 {
            headers.append(("x-amz-checksum-sha256", checksumSHA256))
        }
        return PresignedRequest(
            method: "PUT",
            url: String(decoding: url, as: UTF8.self),
            headers: headers,
            expiresAt: Date(timeIntervalSince1970: Double(timestamp.secondsSince1970 + expiresIn)),
        )
    }

    /// A pre-signed request of any method (`GET`, `HEAD`, ...) on `key`, signing `host` and
    /// `headers` (names in any case; the client must send them with these values).
    public func presign(
        method: String,
        key: String,
        headers: [(name: String, value: String)] = [],
        expiresIn: Int,
        now: Date
    ) -> PresignedRequest {
        let timestamp = Self.timestamp(of: now)
        var fields = headers.map { (name: $0.name.lowercased(), value: $0.value) }
        precondition(!fields.contains { $0.name == "host" }, "the host header is signed by the presigner itself")
        fields.append((name: "host", value: host))
        fields.sort { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        precondition(
            zip(fields, fields.dropFirst()).allSatisfy { $0.name != $1.name },
            "each header may be signed once"
        )
        let names = fields.map(\.name).joined(separator: ";")
        let signedHeaders = SignedHeaders(
            plain: Array(names.utf8),
            queryEncoded: SigV4Encoding.percentEncoded(names, keepingSlashes: false)
        )
        let url = sign(
            method: Array(method.uppercased().utf8),
            key: key,
            signedHeaders: signedHeaders,
            expiresIn: expiresIn,
            timestamp: timestamp
        ) { buffer in
            for field in fields {
                buffer.append(contentsOf: field.name.utf8)
                buffer.append(UInt8(ascii: ":"))
                SigV4Encoding.appendTrimmedHeaderValue(field.value, to: &buffer)
                buffer.append(UInt8(ascii: "\n"))
            }
        }
        return PresignedRequest(
            method: method.uppercased(),
            url: String(decoding: url, as: UTF8.self),
            headers: headers,
            expiresAt: Date(timeIntervalSince1970: Double(timestamp.secondsSince1970 + expiresIn))
        )
    }

    /// A pre-signed `GET` of `key`, signing only `host`: the `download_url` of a photo.
    ///
    /// With `versionID` the URL names that version (`versionId`, signed), so it serves the
    /// bytes that were validated even after the key was written again; without it, whatever
    /// is current at the key. The query is botocore's `generate_presigned_url('get_object')`
    /// byte for byte: `versionId` first in the URL, last (by code point) in the canonical query.
    ///
    /// - Parameters:
    ///   - expiresIn: seconds, `1...604800`.
    ///   - now: the signing time; sub-second parts are dropped.
    public func presignGet(key: String, versionID: String?, expiresIn: Int, now: Date) -> PresignedRequest {
        let timestamp = Self.timestamp(of: now)
        var versionParameter: [UInt8] = []
        if let versionID {
            versionParameter.append(contentsOf: Self.versionIDParameter)
            SigV4Encoding.appendPercentEncoded(versionID, keepingSlashes: false, to: &versionParameter)
        }
        let url = sign(
            method: Self.getMethod,
            key: key,
            signedHeaders: Self.hostSignedHeader,
            expiresIn: expiresIn,
            timestamp: timestamp,
            trailingQuery: versionParameter
        ) { buffer in
            buffer.append(contentsOf: hostHeaderLine)
        }
        return PresignedRequest(
            method: "GET",
            url: String(decoding: url, as: UTF8.self),
            headers: [],
            expiresAt: Date(timeIntervalSince1970: Double(timestamp.secondsSince1970 + expiresIn))
        )
    }

    /// The object's plain URL, the contract's `s3_url`: `https://BUCKET.s3.REGION.amazonaws.com/KEY`
    /// on AWS; with an endpoint override, the URL of the object there (in this presigner's
    /// addressing style). The key is encoded as in the signed URL.
    public func s3URL(key: String) -> String {
        var buffer: [UInt8]
        if endpoint == nil {
            let domain = region.hasPrefix("cn-") ? "amazonaws.com.cn" : "amazonaws.com"
            buffer = Array("https://\(bucket).s3.\(region).\(domain)/".utf8)
        } else {
            buffer = urlPrefix
        }
        SigV4Encoding.appendPercentEncoded(key, keepingSlashes: true, to: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }

    // MARK: Signing

    private struct SignedHeaders: Sendable {
        /// `content-length;content-type;host`, as the canonical request lists them.
        let plain: [UInt8]
        /// The same, percent-encoded for `X-Amz-SignedHeaders`.
        let queryEncoded: [UInt8]

        init(_ names: String) {
            self.init(
                plain: Array(names.utf8),
                queryEncoded: SigV4Encoding.percentEncoded(names, keepingSlashes: false)
            )
        }

        init(plain: [UInt8], queryEncoded: [UInt8]) {
            self.plain = plain
            self.queryEncoded = queryEncoded
        }
    }

    private static let putMethod = Array("PUT".utf8)
    private static let getMethod = Array("GET".utf8)
    private static let hostSignedHeader = SignedHeaders("host")
    /// `versionId=`: sorts after every `X-Amz-*` parameter (lower case after upper case).
    private static let versionIDParameter = Array("versionId=".utf8)
    private static let putSignedHeaders = SignedHeaders("content-length;content-type;host")
    private static let putSignedHeadersWithChecksum = SignedHeaders(
        "content-length;content-type;host;x-amz-checksum-sha256"
    )
    private static let contentLengthHeaderPrefix = Array("content-length:".utf8)
    private static let contentTypeHeaderPrefix = Array("\ncontent-type:".utf8)
    private static let checksumHeaderPrefix = Array("x-amz-checksum-sha256:".utf8)
    private static let expiresParameter = Array("&X-Amz-Expires=".utf8)
    private static let signedHeadersParameter = Array("&X-Amz-SignedHeaders=".utf8)
    private static let signatureParameter = Array("&X-Amz-Signature=".utf8)
    private static let unsignedPayload = Array("UNSIGNED-PAYLOAD".utf8)
    static let algorithmLine = Array("AWS4-HMAC-SHA256\n".utf8)
    private static let lowerHexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    @inline(__always)
    private static func appendPutHeaders(
        contentType: String,
        length: [UInt8],
        host: [UInt8],
        to buffer: inout [UInt8]
    ) {
        buffer.append(contentsOf: contentLengthHeaderPrefix)
        buffer.append(contentsOf: length)
        buffer.append(contentsOf: contentTypeHeaderPrefix)
        SigV4Encoding.appendTrimmedHeaderValue(contentType, to: &buffer)
        buffer.append(UInt8(ascii: "\n"))
        buffer.append(contentsOf: host)
    }

    static func timestamp(of date: Date) -> SigV4Encoding.Timestamp {
        SigV4Encoding.Timestamp(secondsSince1970: Int(date.timeIntervalSince1970.rounded(.down)))
    }

    static func appendLowerHex(_ bytes: [UInt8], to buffer: inout [UInt8]) {
        for byte in bytes {
            buffer.append(lowerHexDigits[Int(byte >> 4)])
            buffer.append(lowerHexDigits[Int(byte & 0x0F)])
        }
    }

    /// Builds the canonical request and string to sign, signs, and returns the URL's bytes.
    /// `appendCanonicalHeaders` writes every signed header line (`name:value\n`, sorted, host included);
    /// `trailingQuery` (`name=encoded-value`, a name sorting after `X-Amz-SignedHeaders`) is
    /// signed last and put first in the URL, as botocore does with request parameters.
    private func sign(
        method: [UInt8],
        key: String,
        signedHeaders: SignedHeaders,
        expiresIn: Int,
        timestamp: SigV4Encoding.Timestamp,
        trailingQuery: [UInt8] = [],
        appendCanonicalHeaders: (inout [UInt8]) -> Void
    ) -> [UInt8] {
        precondition(
            (1...Self.maximumExpirySeconds).contains(expiresIn),
            "X-Amz-Expires must be 1...\(Self.maximumExpirySeconds) seconds, got \(expiresIn)"
        )
        precondition(!key.isEmpty, "an S3 object key must not be empty")

        // Canonical request:
        // METHOD \n URI \n QUERY \n HEADERS \n \n SIGNED-HEADERS \n UNSIGNED-PAYLOAD
        var canonical: [UInt8] = []
        canonical.reserveCapacity(
            512 + key.utf8.count * 3 + querySecurityToken.count + canonicalURIPrefix.count + hostHeaderLine.count
        )
        canonical.append(contentsOf: method)
        canonical.append(UInt8(ascii: "\n"))
        canonical.append(contentsOf: canonicalURIPrefix)
        let keyStart = canonical.count
        SigV4Encoding.appendPercentEncoded(key, keepingSlashes: true, to: &canonical)
        let keyEnd = canonical.count
        canonical.append(UInt8(ascii: "\n"))

        // The query, sorted by name: Algorithm, Credential, Date, Expires, Security-Token,
        // SignedHeaders. Everything up to Expires is shared with the URL's query.
        let queryStart = canonical.count
        canonical.append(contentsOf: queryPrefix)
        let dateStampStart = canonical.count
        timestamp.appendDateStamp(to: &canonical)
        let dateStampEnd = canonical.count
        canonical.append(contentsOf: queryCredentialSuffix)
        let amzDateStart = canonical.count
        timestamp.appendAmzDate(to: &canonical)
        let amzDateEnd = canonical.count
        canonical.append(contentsOf: Self.expiresParameter)
        SigV4Encoding.appendDecimal(expiresIn, to: &canonical)
        let sharedQueryEnd = canonical.count
        canonical.append(contentsOf: querySecurityToken)
        canonical.append(contentsOf: Self.signedHeadersParameter)
        canonical.append(contentsOf: signedHeaders.queryEncoded)
        if !trailingQuery.isEmpty {
            canonical.append(UInt8(ascii: "&"))
            canonical.append(contentsOf: trailingQuery)
        }
        canonical.append(UInt8(ascii: "\n"))

        appendCanonicalHeaders(&canonical)
        canonical.append(UInt8(ascii: "\n"))
        canonical.append(contentsOf: signedHeaders.plain)
        canonical.append(UInt8(ascii: "\n"))
        canonical.append(contentsOf: Self.unsignedPayload)

        // String to sign: algorithm \n X-Amz-Date \n scope \n hex(SHA-256(canonical request)).
        var stringToSign: [UInt8] = []
        stringToSign.reserveCapacity(160 + regionBytes.count)
        stringToSign.append(contentsOf: Self.algorithmLine)
        stringToSign.append(contentsOf: canonical[amzDateStart..<amzDateEnd])
        stringToSign.append(UInt8(ascii: "\n"))
        stringToSign.append(contentsOf: canonical[dateStampStart..<dateStampEnd])
        stringToSign.append(contentsOf: scopeSuffix)
        Self.appendLowerHex(SHA256.hash(canonical), to: &stringToSign)

        let signature = HMACSHA256.authenticationCode(
            for: stringToSign,
            key: signingKey(dayNumber: timestamp.dayNumber, dateStamp: canonical[dateStampStart..<dateStampEnd])
        )

        // The URL, with botocore's parameter order: ... Expires, SignedHeaders, Security-Token, Signature.
        var url: [UInt8] = []
        url.reserveCapacity(urlPrefix.count + (keyEnd - keyStart) + (canonical.count - queryStart) + 100)
        url.append(contentsOf: urlPrefix)
        url.append(contentsOf: canonical[keyStart..<keyEnd])
        url.append(UInt8(ascii: "?"))
        if !trailingQuery.isEmpty {
            url.append(contentsOf: trailingQuery)
            url.append(UInt8(ascii: "&"))
        }
        url.append(contentsOf: canonical[queryStart..<sharedQueryEnd])
        url.append(contentsOf: Self.signedHeadersParameter)
        url.append(contentsOf: signedHeaders.queryEncoded)
        url.append(contentsOf: querySecurityToken)
        url.append(contentsOf: Self.signatureParameter)
        Self.appendLowerHex(signature, to: &url)
        return url
    }

    /// The SigV4 signing key of a date stamp: HMAC chain over date, region, `s3`, `aws4_request`.
    /// Derived once per day and cached (the region is fixed per presigner).
    func signingKey(dayNumber: Int, dateStamp: ArraySlice<UInt8>) -> [UInt8] {
        signingKeyCache.withLock { cache in
            if cache.dayNumber == dayNumber {
                return cache.key
            }
            let dateKey = HMACSHA256.authenticationCode(for: dateStamp, key: keySeed)
            let regionKey = HMACSHA256.authenticationCode(for: regionBytes, key: dateKey)
            let serviceKey = HMACSHA256.authenticationCode(for: Self.serviceName, key: regionKey)
            let key = HMACSHA256.authenticationCode(for: Self.terminator, key: serviceKey)
            cache.dayNumber = dayNumber
            cache.key = key
            cache.derivations += 1
            return key
        }
    }

    private static let serviceName = Array("s3".utf8)
    private static let terminator = Array("aws4_request".utf8)

    // MARK: Test hooks

    /// The signing key for `date`'s day (through the cache).
    func signingKey(for date: Date) -> [UInt8] {
        let timestamp = Self.timestamp(of: date)
        return signingKey(dayNumber: timestamp.dayNumber, dateStamp: timestamp.dateStamp[...])
    }

    /// How many signing keys this presigner has derived so far.
    var signingKeyDerivations: Int {
        signingKeyCache.withLock { $0.derivations }
    }

    private static func isIPAddress(_ host: String) -> Bool {
        if host.contains(":") { return true }  // IPv6 (with or without brackets)
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4
            && parts.allSatisfy { part in !part.isEmpty && part.allSatisfy(\.isASCII) && UInt8(part) != nil }
    }
}
