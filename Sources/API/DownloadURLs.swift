import AWS
import Domain
import Foundation
import PhotoStore

/// Signs the `download_url` of photos whose object was stored (`uploaded`, `processing`,
/// `completed`): a pre-signed `GET` of the photo's key, pinned to the validated version when the
/// bucket is versioned, so a client shows exactly the bytes the service checked (docs/api.md).
///
/// A client cannot read the private bucket through `s3_url`; this URL is its way to show a
/// photo. It is short-lived (`DOWNLOAD_URL_TTL_SECONDS`) because every read of the photo brings
/// a fresh one, and like upload URLs it never outlives the temporary credentials that signed it.
struct DownloadURLs: Sendable {
    /// Signs with the credentials current at each response.
    let presigners: S3PresignerSource
    /// `DOWNLOAD_URL_TTL_SECONDS`.
    let lifetimeSeconds: Int

    /// One response's signer: the credentials, signing time and expiry are looked up once and
    /// shared by every photo of the response (a listing signs up to 100). `nil` when nothing can
    /// be signed (no credentials configured, or expired and not refreshed): the photos are then
    /// shown without `download_url`, rather than the read failing.
    func signer(now: Date = Date()) async -> Signer? {
        guard presigners.canSign, let current = try? await presigners.current() else { return nil }
        let lifetime = presigners.urlLifetime(lifetimeSeconds, for: current)
        let expiresAt = Date(timeIntervalSince1970: now.timeIntervalSince1970.rounded(.down) + Double(lifetime))
        return Signer(
            presigner: current.presigner,
            lifetime: lifetime,
            now: now,
            expiresAtText: UploadURLResponse.iso8601(expiresAt)
        )
    }

    /// Signs the download URLs of one response.
    struct Signer: Sendable {
        let presigner: S3Presigner
        /// Seconds, already capped by the credentials' expiry.
        let lifetime: Int
        let now: Date
        /// `download_url_expires_at`, the same for every photo signed by this signer.
        let expiresAtText: String

        /// Whether a photo of `status` has an object to show.
        static func hasObject(_ status: PhotoStatus) -> Bool {
            switch status {
            case .uploaded, .processing, .completed: true
            case .pendingUpload, .failed: false
            }
        }

        /// `download_url` and `download_url_expires_at` for `photo`, or `nil` when it has no
        /// stored object to show.
        func link(for photo: StoredPhoto) -> (url: String, expiresAt: String)? {
            guard Self.hasObject(photo.status) else { return nil }
            let signed = presigner.presignGet(
                key: photo.s3Key,
                versionID: photo.s3VersionID,
                expiresIn: lifetime,
                now: now
            )
            return (signed.url, expiresAtText)
        }
    }
}
