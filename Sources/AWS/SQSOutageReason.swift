/// Why SQS cannot take any message right now, as the relay's `/readyz` names it.
///
/// A missing queue, a denied action or bad credentials refuse every message alike: sending the
/// same events again cannot succeed until someone fixes the configuration, and counting those
/// refusals against the events would dead-letter the whole backlog. So these are outages (the
/// relay's circuit breaker holds the events back), exactly like a connection refused or a 5xx.
/// Only faults of one message (`SenderFault` entries with a message-level code, oversized
/// bodies) are the events' own problem. This is the one place that tells the two apart.
public enum SQSOutageReason: String, Sendable, Equatable, CaseIterable {
    /// The queue does not exist (deleted, or a wrong `DETECTION_QUEUE_URL`), or its KMS key
    /// makes it unusable.
    case queueUnavailable = "sqs_queue_unavailable"
    /// The credentials are valid but not allowed to send to the queue.
    case accessDenied = "aws_access_denied"
    /// The credentials are missing, unknown, expired or signed wrongly.
    case credentialsUnavailable = "aws_credentials_unavailable"
    /// SQS is unreachable or refusing service: connection failures, 5xx, throttling.
    case serviceUnavailable = "sqs_unavailable"

    /// The value `/readyz` answers with.
    public var reason: String { rawValue }

    /// When a claim's batches fail for different reasons, the one an operator must act on
    /// wins: configuration (credentials, permissions, the queue) before a passing outage.
    public var precedence: Int {
        switch self {
        case .credentialsUnavailable: 3
        case .accessDenied: 2
        case .queueUnavailable: 1
        case .serviceUnavailable: 0
        }
    }

    /// The outage an error code stands for, or `nil` when the code is about the request or
    /// its messages. Codes are matched with or without the `AWS.SimpleQueueService.` prefix
    /// (the query protocol's spelling) and a `namespace#` prefix (the JSON protocol's `__type`).
    public init?(code: String) {
        var name = Substring(code)
        if let hash = name.lastIndex(of: "#") { name = name[name.index(after: hash)...] }
        let prefix = "AWS.SimpleQueueService."
        if name.hasPrefix(prefix) { name = name.dropFirst(prefix.count) }
        guard let reason = Self.byCode[String(name)] else { return nil }
        self = reason
    }

    /// The outage behind a `Failed[]` entry's `code`, whatever its `SenderFault`: only the
    /// reasons that refuse every message (queue, access, credentials). A transient failure of
    /// one entry (`InternalError`, throttling) stays that entry's retry, as SQS means it.
    public init?(failedEntryCode code: String) {
        guard let reason = Self(code: code), reason != .serviceUnavailable else { return nil }
        self = reason
    }

    /// The outage behind a whole call that SQS refused with HTTP `status` and error `code`
    /// (`nil` when the body named none), or `nil` when the request itself was refused (an
    /// invalid batch): that one counts against the events.
    public init?(status: Int, code: String?) {
        if let code, let reason = Self(code: code) {
            self = reason
            return
        }
        switch status {
        case 401: self = .credentialsUnavailable
        case 403: self = .accessDenied
        case 429, 500...: self = .serviceUnavailable
        default: return nil
        }
    }

    private static let byCode: [String: SQSOutageReason] = {
        var table: [String: SQSOutageReason] = [:]
        for code in [
            "QueueDoesNotExist", "NonExistentQueue", "QueueDeletedRecently", "InvalidAddress",
            "KmsDisabled", "KmsInvalidState", "KmsNotFound", "KmsInvalidKeyUsage", "KmsOptInRequired",
            "KMS.DisabledException", "KMS.InvalidStateException", "KMS.NotFoundException",
            "KMS.KeyUnavailableException",
        ] {
            table[code] = .queueUnavailable
        }
        for code in [
            "AccessDenied", "AccessDeniedException", "KmsAccessDenied", "KMS.AccessDeniedException", "OptInRequired",
            "UnauthorizedOperation",
        ] {
            table[code] = .accessDenied
        }
        for code in [
            "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException", "SignatureDoesNotMatch",
            "UnrecognizedClientException", "MissingAuthenticationToken", "MissingAuthenticationTokenException",
            "InvalidSecurityToken", "InvalidSecurity", "IncompleteSignature", "InvalidSignatureException",
            "InvalidAccessKeyId", "AuthFailure", "RequestExpired",
        ] {
            table[code] = .credentialsUnavailable
        }
        for code in [
            "ThrottlingException", "Throttling", "RequestThrottled", "KmsThrottled", "KMS.ThrottlingException",
            "RequestLimitExceeded",
            "ServiceUnavailable", "InternalFailure", "InternalError",
        ] {
            table[code] = .serviceUnavailable
        }
        return table
    }()
}
