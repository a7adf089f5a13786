import Digest
import Foundation

/// Header-signed S3 requests (the confirmation's HEAD and ranged GET), beside the query-signed
/// URLs of `S3Presigner.swift`: the same credentials, scope and signing-key cache.
extension S3Presigner {
    /// A header-signed request (SigV4 `Authorization` header) of `method` on `key`: the URL and
    /// every header to send with it, `headers` included and signed.
    ///
    /// libcurl 7.88's own `CURLOPT_AWS_SIGV4` cannot sign for S3 (it neither sends nor signs the
    /// `x-amz-content-sha256` header S3 requires), so S3 requests are signed here, exactly as
    /// botocore's `S3SigV4Auth` does (`S3HeaderSigningTests`). Only body-less requests are
    /// signed here: the payload hash is the SHA-256 of the empty body.
    ///
    /// - Parameter versionID: a `versionId` query parameter, to address one version of the
    ///   object in a versioned bucket (the confirmation reads exactly the version it HEADed).
    public func signHeaders(
        method: String,
        key: String,
        versionID: String? = nil,
        headers: [(name: String, value: String)] = [],
        now: Date
    ) -> (url: String, headers: [(name: String, value: String)]) {
        precondition(!key.isEmpty, "an S3 object key must not be empty")
        return signHeaders(
            method: method,
            path: key,
            query: versionID.map { [("versionId", $0)] } ?? [],
            headers: headers,
            now: now
        )
    }

    /// A header-signed request of `method` on `path` (an object key, or empty for the bucket
    /// itself, as `ListObjectVersions` needs) with `query` parameters (names and values
    /// unencoded; an empty value is sent as `name=`, which S3 reads as the bare name).
    func signHeaders(
        method: String,
        path key: String,
        query parameters: [(name: String, value: String)],
        headers: [(name: String, value: String)],
        now: Date
    ) -> (url: String, headers: [(name: String, value: String)]) {
        let timestamp = Self.timestamp(of: now)
        var amzDate: [UInt8] = []
        timestamp.appendAmzDate(to: &amzDate)
        var dateStamp: [UInt8] = []
        timestamp.appendDateStamp(to: &dateStamp)
        let payloadHash = Self.emptyPayloadSHA256
        var fields = headers.map { (name: $0.name.lowercased(), value: $0.value) }
        precondition(!fields.contains { $0.name == "host" }, "the host header is signed by the signer itself")
        fields.append((name: "host", value: host))
        fields.append((name: "x-amz-content-sha256", value: payloadHash))
        fields.append((name: "x-amz-date", value: String(decoding: amzDate, as: UTF8.self)))
        if !querySecurityToken.isEmpty, let token = sessionToken {
            fields.append((name: "x-amz-security-token", value: token))
        }
        fields.sort { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        let signedHeaders = fields.map(\.name).joined(separator: ";")

        var canonical = Array(method.uppercased().utf8)
        canonical.append(UInt8(ascii: "\n"))
        canonical.append(contentsOf: canonicalURIPrefix)
        let keyStart = canonical.count
        SigV4Encoding.appendPercentEncoded(key, keepingSlashes: true, to: &canonical)
        let encodedKey = canonical[keyStart...]
        // The query parameters, encoded once, sorted by encoded name, and alike in the canonical
        // request and the URL (version ids may hold `/`, `+` and `=`).
        let encodedParameters = parameters.map {
            (
                name: SigV4Encoding.percentEncoded($0.name, keepingSlashes: false),
                value: SigV4Encoding.percentEncoded($0.value, keepingSlashes: false)
            )
        }.sorted { $0.name.lexicographicallyPrecedes($1.name) }
        var query: [UInt8] = []
        for parameter in encodedParameters {
            if !query.isEmpty { query.append(UInt8(ascii: "&")) }
            query.append(contentsOf: parameter.name)
            query.append(UInt8(ascii: "="))
            query.append(contentsOf: parameter.value)
        }
        canonical.append(UInt8(ascii: "\n"))
        canonical.append(contentsOf: query)
        canonical.append(UInt8(ascii: "\n"))
        for field in fields {
            canonical.append(contentsOf: field.name.utf8)
            canonical.append(UInt8(ascii: ":"))
            SigV4Encoding.appendTrimmedHeaderValue(field.value, to: &canonical)
            canonical.append(UInt8(ascii: "\n"))
        }
        canonical.append(UInt8(ascii: "\n"))
        canonical.append(contentsOf: signedHeaders.utf8)
        canonical.append(UInt8(ascii: "\n"))
        canonical.append(contentsOf: payloadHash.utf8)

        var stringToSign = Self.algorithmLine
        stringToSign.append(contentsOf: amzDate)
        stringToSign.append(UInt8(ascii: "\n"))
        stringToSign.append(contentsOf: dateStamp)
        stringToSign.append(contentsOf: scopeSuffix)
        Self.appendLowerHex(SHA256.hash(canonical), to: &stringToSign)
        let signature = HMACSHA256.authenticationCode(
            for: stringToSign,
            key: signingKey(dayNumber: timestamp.dayNumber, dateStamp: dateStamp[...])
        )
        var authorization = Array("AWS4-HMAC-SHA256 Credential=\(accessKeyID)/".utf8)
        authorization.append(contentsOf: dateStamp)
        authorization.append(contentsOf: "/\(region)/s3/aws4_request, SignedHeaders=\(signedHeaders), Signature=".utf8)
        Self.appendLowerHex(signature, to: &authorization)

        var sent = headers
        sent.append(("x-amz-content-sha256", payloadHash))
        sent.append(("x-amz-date", String(decoding: amzDate, as: UTF8.self)))
        if !querySecurityToken.isEmpty, let token = sessionToken {
            sent.append(("x-amz-security-token", token))
        }
        sent.append(("Authorization", String(decoding: authorization, as: UTF8.self)))
        var url = urlPrefix + encodedKey
        if !query.isEmpty {
            url.append(UInt8(ascii: "?"))
            url.append(contentsOf: query)
        }
        return (String(decoding: url, as: UTF8.self), sent)
    }

    /// SHA-256 of an empty body, hex.
    static let emptyPayloadSHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
}
