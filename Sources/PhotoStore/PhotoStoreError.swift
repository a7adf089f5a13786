/// A failure of the photo store that is not the database's own (those are `PostgresError`s):
/// what the store's statements answered made no sense, or did not settle.
///
/// `description` is safe to log and never holds row data.
public struct PhotoStoreError: Error, Sendable, CustomStringConvertible {
    private enum Code: Sendable {
        case idempotencyRaceUnsettled
        case unexpectedOutcome(String)
    }

    private let code: Code

    /// Two runs of the idempotent upload statement both lost the race for the key, which a
    /// committed winner makes impossible on the second run.
    static let idempotencyRaceUnsettled = PhotoStoreError(code: .idempotencyRaceUnsettled)

    /// A statement answered with an outcome this build does not know.
    static func unexpectedOutcome(_ outcome: String) -> PhotoStoreError {
        PhotoStoreError(code: .unexpectedOutcome(outcome))
    }

    public var description: String {
        switch code {
        case .idempotencyRaceUnsettled: "the idempotency key race did not settle"
        case .unexpectedOutcome(let outcome): "unknown statement outcome \(String(outcome.prefix(40)))"
        }
    }
}
