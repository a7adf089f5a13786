import Domain
import Foundation
import Testing

/// The upload-url body rules (contract section 4) and the S3 key layout.
@Suite struct UploadRequestTests {
    static let projectID = UUID()

    static func fields(_ edit: (inout UploadRequest.Fields) -> Void = { _ in }) -> UploadRequest.Fields {
        var fields = UploadRequest.Fields(
            projectID: projectID.uuidString,
            fileName: "damage.jpg",
            fileSize: 2048,
            mimeType: "image/jpeg"
        )
        edit(&fields)
        return fields
    }

    static func validate(_ fields: UploadRequest.Fields) -> Result<UploadRequest, UploadValidationError> {
        Result { () throws(UploadValidationError) in
            try UploadRequest.validate(fields, minimumBytes: 1024, maximumBytes: 10_000)
        }
    }

    static func kind(_ fields: UploadRequest.Fields) -> String {
        switch validate(fields) {
        case .success: "ok"
        case .failure(.invalidRequest): "invalid_request"
        case .failure(.fileTooSmall): "file_too_small"
        case .failure(.fileTooLarge): "file_too_large"
        case .failure(.invalidFileType): "invalid_file_type"
        }
    }

    @Test func aMinimalBodyGetsTheDefaults() throws {
        let upload = try Self.validate(Self.fields()).get()
        #expect(upload.projectID == Self.projectID)
        #expect(upload.detectionTypes == ["damage", "material"])
        #expect(upload.priority == .normal)
        #expect(upload.checksumSHA256 == nil)
    }

    @Test(arguments: [
        ("missing project_id", fields { $0.projectID = nil }),
        ("bad UUID", fields { $0.projectID = "not-a-uuid" }),
        ("missing file_name", fields { $0.fileName = nil }),
        ("empty file_name", fields { $0.fileName = "" }),
        ("dot", fields { $0.fileName = "." }),
        ("dot dot", fields { $0.fileName = ".." }),
        ("slash", fields { $0.fileName = "a/b.jpg" }),
        ("backslash", fields { $0.fileName = "a\\b.jpg" }),
        ("NUL", fields { $0.fileName = "a\u{0}.jpg" }),
        ("newline", fields { $0.fileName = "a\n.jpg" }),
        ("DEL", fields { $0.fileName = "a\u{7F}.jpg" }),
        // Unicode format characters (Cf): invisible, they make a name show as another.
        ("right-to-left override", fields { $0.fileName = "photo\u{202E}gpj.exe" }),
        ("left-to-right embedding", fields { $0.fileName = "a\u{202A}.jpg" }),
        ("right-to-left isolate", fields { $0.fileName = "a\u{2067}.jpg" }),
        ("zero-width space", fields { $0.fileName = "dam\u{200B}age.jpg" }),
        ("zero-width joiner", fields { $0.fileName = "a\u{200D}.jpg" }),
        ("byte order mark", fields { $0.fileName = "\u{FEFF}damage.jpg" }),
        ("soft hyphen", fields { $0.fileName = "dam\u{AD}age.jpg" }),
        ("256 characters", fields { $0.fileName = String(repeating: "a", count: 256) }),
        // One grapheme of 256 code points: the database counts code points.
        ("256 code points", fields { $0.fileName = "e" + String(repeating: "\u{301}", count: 255) }),
        ("256 code points, decomposed", fields { $0.fileName = String(repeating: "e\u{301}", count: 128) }),
        ("missing file_size", fields { $0.fileSize = nil }),
        ("missing mime_type", fields { $0.mimeType = nil }),
        ("empty detection_types", fields { $0.detectionTypes = [] }),
        ("unknown detection type", fields { $0.detectionTypes = ["damage", "cats"] }),
        ("repeated detection type", fields { $0.detectionTypes = ["damage", "damage"] }),
        ("bad priority", fields { $0.priority = "urgent" }),
        ("short checksum", fields { $0.checksumSHA256 = "abc=" }),
        ("checksum of 31 bytes", fields { $0.checksumSHA256 = Data(count: 31).base64EncodedString() }),
    ])
    func invalidRequests(_ name: String, _ fields: UploadRequest.Fields) {
        #expect(Self.kind(fields) == "invalid_request", Comment(rawValue: name))
    }

    /// Letters of any script, accents and emoji are names; only invisible format characters
    /// are refused, and the refusal names the code point.
    @Test func visibleUnicodeIsAcceptedAndFormatCharactersAreNamed() {
        for name in ["résumé.jpg", "שלום.png", "صورة.jpg", "写真.jpg", "📷.jpg", "e\u{301}.jpg"] {
            #expect(Self.kind(Self.fields { $0.fileName = name }) == "ok", Comment(rawValue: name))
        }
        #expect(UploadRequest.fileNameProblem("photo\u{202E}gpj.exe")?.contains("U+202E") == true)
        #expect(UploadRequest.fileNameProblem("\u{FEFF}a.jpg")?.contains("U+FEFF") == true)
    }

    @Test func sizeAndTypeHaveTheirOwnCodes() {
        #expect(Self.kind(Self.fields { $0.fileSize = 1023 }) == "file_too_small")
        #expect(Self.kind(Self.fields { $0.fileSize = -1 }) == "file_too_small")
        #expect(Self.kind(Self.fields { $0.fileSize = 1024 }) == "ok")
        #expect(Self.kind(Self.fields { $0.fileSize = 10_000 }) == "ok")
        #expect(Self.kind(Self.fields { $0.fileSize = 10_001 }) == "file_too_large")
        #expect(Self.kind(Self.fields { $0.mimeType = "image/gif" }) == "invalid_file_type")
        #expect(Self.kind(Self.fields { $0.mimeType = "IMAGE/JPEG" }) == "invalid_file_type")
        #expect(Self.kind(Self.fields { $0.mimeType = "image/png" }) == "ok")
    }

    @Test func acceptedOptionalsAreKept() throws {
        let checksum = Data(count: 32).base64EncodedString()
        let upload = try Self.validate(
            Self.fields {
                $0.detectionTypes = ["material"]
                $0.priority = "high"
                $0.checksumSHA256 = checksum
                $0.fileName = String(repeating: "é", count: 255)
            }
        ).get()
        #expect(upload.detectionTypes == ["material"])
        #expect(upload.priority == .high)
        #expect(upload.checksumSHA256 == checksum)
    }

    @Test func canonicalTextIgnoresDefaultsButNotValues() throws {
        let plain = try Self.validate(Self.fields()).get()
        let explicit = try Self.validate(
            Self.fields {
                $0.detectionTypes = ["damage", "material"]
                $0.priority = "normal"
                $0.projectID = Self.projectID.uuidString.lowercased()
            }
        ).get()
        let other = try Self.validate(Self.fields { $0.fileSize = 2049 }).get()
        #expect(plain.canonicalText == explicit.canonicalText)
        #expect(plain.canonicalText != other.canonicalText)
    }

    @Test func photoKeyLayout() throws {
        let project = try #require(UUID(uuidString: "A1B2C3D4-0000-4000-8000-000000000001"))
        let photo = try #require(UUID(uuidString: "F1E2D3C4-0000-4000-8000-000000000002"))
        // 2026-01-05T23:59:59Z: the UTC day, whatever the process's time zone.
        let date = Date(timeIntervalSince1970: 1_767_657_599)
        #expect(
            PhotoKey.make(projectID: project, photoID: photo, mediaType: .jpeg, date: date)
                == "a1b2c3d4-0000-4000-8000-000000000001/2026/01/05/f1e2d3c4-0000-4000-8000-000000000002.jpg"
        )
        #expect(PhotoKey.make(projectID: project, photoID: photo, mediaType: .png, date: date).hasSuffix(".png"))
        #expect(MediaType(rawValue: "image/gif") == nil)
    }

    /// The one checksum rule: what S3 accepts as `x-amz-checksum-sha256`.
    @Test func validatesChecksums() {
        #expect(UploadRequest.isValidChecksumSHA256("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="))
        #expect(!UploadRequest.isValidChecksumSHA256(""))
        #expect(!UploadRequest.isValidChecksumSHA256("47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU="))  // base64url
        #expect(!UploadRequest.isValidChecksumSHA256("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuF"))
        #expect(!UploadRequest.isValidChecksumSHA256("AAAA"))
        #expect(!UploadRequest.isValidChecksumSHA256(Data(repeating: 1, count: 31).base64EncodedString()))
        #expect(UploadRequest.isValidChecksumSHA256(Data(repeating: 7, count: 32).base64EncodedString()))
    }
}
