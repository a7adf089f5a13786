import Foundation

/// A source of AWS credentials: the environment, a profile, STS web identity, the container
/// credentials endpoint or the instance metadata service.
///
/// ``CredentialCache`` calls ``credentials()`` when it needs fresh credentials, never per request.
public protocol CredentialProvider: Sendable {
    /// The source's name as the start-up error and the logs show it (`container`, ...).
    var name: String { get }
    /// Fetches credentials now; temporary ones carry their expiration.
    func credentials() async throws(CredentialError) -> AWSCredentials
}

/// Why credentials could not be had. `description` never contains a secret or a token.
public struct CredentialError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Code: Sendable, Equatable {
        /// The source's endpoint was not reached or answered with an error.
        case fetchFailed
        /// The source answered something that holds no credentials.
        case malformedResponse
        /// A file the source reads (token file) could not be read.
        case unreadableFile
        /// No source is configured, or the cache has nothing valid and may not retry yet.
        case unavailable
    }

    public let code: Code
    /// The source's name.
    public let source: String
    public let message: String

    public init(code: Code, source: String, message: String) {
        self.code = code
        self.source = source
        self.message = message
    }

    public var description: String { "\(source) credentials: \(message)" }
}

/// Long-lived keys: from the environment or a profile of the shared files.
public struct StaticCredentialProvider: CredentialProvider {
    public let name: String
    public let staticCredentials: AWSCredentials

    public init(name: String, credentials: AWSCredentials) {
        self.name = name
        self.staticCredentials = credentials
    }

    public func credentials() async throws(CredentialError) -> AWSCredentials { staticCredentials }
}

/// Parsing shared by the HTTP credential sources.
enum CredentialParsing {
    /// An ISO 8601 instant as AWS writes expirations (`2026-12-06T20:00:00Z`, fractional
    /// seconds allowed).
    static func date(_ text: String) -> Date? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: false).parse(trimmed) {
            return date
        }
        return try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(trimmed)
    }

    /// The JSON document of the container endpoint and of the instance metadata service.
    struct MetadataDocument: Decodable {
        let Code: String?
        let Message: String?
        let AccessKeyId: String?
        let SecretAccessKey: String?
        let Token: String?
        let Expiration: String?
    }

    static func credentials(
        fromMetadataJSON body: [UInt8],
        source: String
    ) throws(CredentialError) -> AWSCredentials {
        guard let document = try? JSONDecoder().decode(MetadataDocument.self, from: Data(body)) else {
            throw CredentialError(
                code: .malformedResponse,
                source: source,
                message: "the answer is not a JSON document"
            )
        }
        if let code = document.Code, code != "Success" {
            throw CredentialError(code: .fetchFailed, source: source, message: "the endpoint answered Code \(code)")
        }
        guard let accessKeyID = document.AccessKeyId, !accessKeyID.isEmpty,
            let secret = document.SecretAccessKey, !secret.isEmpty
        else {
            throw CredentialError(
                code: .malformedResponse,
                source: source,
                message: "the answer has no AccessKeyId and SecretAccessKey"
            )
        }
        var expiration: Date?
        if let text = document.Expiration {
            guard let parsed = date(text) else {
                throw CredentialError(
                    code: .malformedResponse,
                    source: source,
                    message: "unreadable Expiration '\(text.prefix(40))'"
                )
            }
            expiration = parsed
        }
        return AWSCredentials(
            accessKeyID: accessKeyID,
            secretAccessKey: secret,
            sessionToken: document.Token.flatMap { $0.isEmpty ? nil : $0 },
            expiration: expiration
        )
    }

    /// Reads a token file afresh (the platform rotates it), without its trailing newline.
    static func readToken(path: String, source: String) throws(CredentialError) -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CredentialError(code: .unreadableFile, source: source, message: "cannot read the token file \(path)")
        }
        let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else {
            throw CredentialError(code: .unreadableFile, source: source, message: "the token file \(path) is empty")
        }
        return token
    }

    /// A transport failure or an unexpected status, as a `CredentialError`.
    static func fetch(
        _ request: CurlHTTPClient.Request,
        http: CurlHTTPClient,
        source: String,
        what: String
    ) async throws(CredentialError) -> CurlHTTPClient.Response {
        do {
            return try await http.execute(request)
        } catch let error as CurlHTTPClientError {
            throw CredentialError(code: .fetchFailed, source: source, message: "\(what): \(error.description)")
        } catch {
            throw CredentialError(code: .fetchFailed, source: source, message: "\(what): \(error)")
        }
    }
}
