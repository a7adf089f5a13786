import Foundation
import Testing

@testable import AWS

/// The pieces of ``S3ObjectRemover`` that need no S3: reading a `ListVersionsResult`, and the
/// signatures of its `ListObjectVersions` and versioned `DELETE` requests against botocore's
/// `S3SigV4Auth` (LocalStack does not check header signatures). Deleting from a versioned
/// LocalStack bucket is `FailedUploadCleanupLocalStackTests` in APITests.
@Suite struct S3ObjectRemoverTests {
    static let document = """
        <?xml version="1.0" encoding="UTF-8"?>
        <ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>photos</Name>\
        <Prefix>p/2026/12/06/a.jpg</Prefix><KeyMarker></KeyMarker><VersionIdMarker></VersionIdMarker>\
        <NextKeyMarker>p/2026/12/06/a.jpg</NextKeyMarker><NextVersionIdMarker>v+2/=</NextVersionIdMarker>\
        <MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>\
        <Version><Key>p/2026/12/06/a.jpg</Key><VersionId>v3</VersionId><IsLatest>true</IsLatest>\
        <ETag>&quot;abc&quot;</ETag><Size>10</Size></Version>\
        <Version><Key>p/2026/12/06/a.jpg</Key><VersionId>null</VersionId><IsLatest>false</IsLatest></Version>\
        <Version><Key>p/2026/12/06/a.jpg.bak</Key><VersionId>other</VersionId></Version>\
        <DeleteMarker><Key>p/2026/12/06/a.jpg</Key><VersionId>m&amp;1</VersionId><IsLatest>false</IsLatest>\
        </DeleteMarker></ListVersionsResult>
        """

    @Test func readsVersionsDeleteMarkersAndPagingMarkers() {
        let page = ListVersionsPage(Self.document)
        #expect(
            page.entries == [
                .init(key: "p/2026/12/06/a.jpg", versionID: "v3"),
                .init(key: "p/2026/12/06/a.jpg", versionID: "null"),
                .init(key: "p/2026/12/06/a.jpg.bak", versionID: "other"),
                .init(key: "p/2026/12/06/a.jpg", versionID: "m&1"),
            ]
        )
        #expect(page.isTruncated)
        #expect(page.nextKeyMarker == "p/2026/12/06/a.jpg")
        #expect(page.nextVersionIDMarker == "v+2/=")
    }

    @Test func anEmptyListingHasNoEntries() {
        let page = ListVersionsPage(
            #"<ListVersionsResult><Name>b</Name><IsTruncated>false</IsTruncated></ListVersionsResult>"#
        )
        #expect(page.entries.isEmpty)
        #expect(!page.isTruncated)
        #expect(page.nextKeyMarker == nil)
    }

    @Test func decodesEntitiesAndCharacterReferences() {
        #expect(ListVersionsPage.unescaped("a&amp;b&lt;&gt;&quot;&apos;&#233;&#x1F4F7;") == "a&b<>\"'é\u{1F4F7}")
        #expect(ListVersionsPage.unescaped("no entities") == "no entities")
        #expect(ListVersionsPage.unescaped("broken &unknown; & tail") == "broken &unknown; & tail")
    }

    /// The bucket-level listing (`GET /?prefix=...&versions=`, on the bucket root in either URL
    /// style) and a `DELETE` of one version sign exactly as botocore signs the same URLs.
    @Test func listingAndVersionedDeleteSignaturesEqualBotocores() async throws {
        var cases: [S3HeaderSigningTests.Case] = []
        var ours: [[String: String]] = []
        var timestamp = 1_796_000_000
        for endpoint in [nil, URL(string: "http://127.0.0.1:4566")] as [URL?] {
            for pathStyle in [false, true] {
                for token in [nil, "FwoGZXIvYXdzEJr//token+/="] {
                    let signer = S3HeaderSigningTests.signer(endpoint: endpoint, pathStyle: pathStyle, token: token)
                    let credentials = S3HeaderSigningTests.credentials(token: token)
                    let requests: [(method: String, path: String, query: [(name: String, value: String)])] = [
                        ("GET", "", [("versions", ""), ("prefix", "p/2026/12/06/a b+c.jpg")]),
                        (
                            "GET", "",
                            [
                                ("versions", ""), ("prefix", "p/x.jpg"), ("key-marker", "p/x.jpg"),
                                ("version-id-marker", "v+2/="),
                            ]
                        ),
                        ("DELETE", "p/2026/12/06/a b+c.jpg", [("versionId", "3/L4kq+tJ=")]),
                        ("DELETE", "p/x.jpg", [("versionId", "null")]),
                    ]
                    for request in requests {
                        timestamp += 3_607
                        let signed = signer.signHeaders(
                            method: request.method,
                            path: request.path,
                            query: request.query,
                            headers: [],
                            now: Date(timeIntervalSince1970: Double(timestamp))
                        )
                        cases.append(
                            .init(
                                method: request.method,
                                url: signed.url,
                                headers: [:],
                                region: "eu-west-3",
                                access_key: credentials.accessKeyID,
                                secret_key: credentials.secretAccessKey,
                                session_token: token,
                                timestamp: timestamp
                            )
                        )
                        ours.append(
                            Dictionary(
                                signed.headers.map { ($0.name.lowercased(), $0.value) },
                                uniquingKeysWith: { first, _ in first }
                            )
                        )
                    }
                }
            }
        }
        let theirs = try await S3HeaderSigningTests.botocoreHeaders(for: cases)
        #expect(theirs.count == cases.count)
        for (index, (mine, botocore)) in zip(ours, theirs).enumerated() {
            #expect(mine == botocore, "case \(index): \(cases[index].method) \(cases[index].url)")
        }
    }
}
