import Foundation
import Postgres
import UUIDCoding
import WireFormats

/// The opaque `cursor` of the photo list: base64url of `created_at|id` of the last row served.
///
/// The timestamp is the server's own text (microsecond precision) so the keyset comparison is
/// exact. Clients must treat it as opaque; anything that does not decode is refused.
public struct PhotoListCursor: Sendable, Equatable {
    /// Longer texts are refused undecoded; a real cursor is about 70 characters.
    static let maximumEncodedLength = 200

    public let createdAtText: String
    public let photoID: UUID

    /// The position after `photo`, the last row of a page.
    public init(after photo: StoredPhoto) {
        self.init(createdAtText: photo.createdAtText, photoID: photo.photoID)
    }

    init(createdAtText: String, photoID: UUID) {
        self.createdAtText = createdAtText
        self.photoID = photoID
    }

    /// The cursor a client sent back, or `nil` when it is not one this API wrote.
    public init?(encoded: String) {
        guard !encoded.isEmpty, encoded.utf8.count <= Self.maximumEncodedLength,
            let bytes = Base64URL.decode(encoded)
        else { return nil }
        let text = String(decoding: bytes, as: UTF8.self)
        let parts = text.split(separator: "|", omittingEmptySubsequences: false)
        guard parts.count == 2, Date(postgresText: String(parts[0])) != nil,
            let photoID = UUID(canonicalText: String(parts[1]))
        else { return nil }
        self.createdAtText = String(parts[0])
        self.photoID = photoID
    }

    public var encoded: String {
        Base64URL.encode(Array("\(createdAtText)|\(photoID.lowercasedString)".utf8))
    }
}
