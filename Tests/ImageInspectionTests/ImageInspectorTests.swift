import ImageInspection
import Testing

@Suite struct ImageInspectorTests {
    @Test func formatFromMimeType() {
        #expect(ImageFormat(mimeType: "image/png") == .png)
        #expect(ImageFormat(mimeType: "text/html") == nil)
    }
}
