import Foundation

/// AWS credentials: static keys (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
/// or a profile's keys) or temporary ones from a role (web identity, container, instance
/// metadata), which carry their `expiration`.
///
/// `description` never shows the secret or the token, so a credentials value can be logged
/// by mistake without leaking them.
public struct AWSCredentials: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?
    /// When temporary credentials stop working; `nil` for long-lived keys.
    public var expiration: Date?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil, expiration: Date? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.expiration = expiration
    }

    public var description: String {
        var text = "AWSCredentials(accessKeyID: \(accessKeyID), secret: <redacted>"
        if sessionToken != nil {
            text += ", sessionToken: <redacted>"
        }
        if let expiration {
            text += ", expiration: \(expiration.formatted(Date.ISO8601FormatStyle(timeZone: .gmt)))"
        }
        return text + ")"
    }

    public var debugDescription: String { description }
}
