extension ImageInspector {
    /// The most ranged reads ``inspect(objectSize:declared:readPrefix:)`` makes: the first of
    /// ``initialHeadLength`` bytes, then one per doubling up to ``maximumHeadLength`` (8). Each
    /// ``ImageInspectionError/needMoreBytes(atLeast:)`` asks for at least twice the head, or the
    /// rest of the object, or the limit, so a header within the limit is always found in this
    /// many; the bound only stops a reader that keeps answering short.
    public static let maximumHeadReads: Int = {
        var reads = 1
        var length = initialHeadLength
        while length < maximumHeadLength {
            length *= 2
            reads += 1
        }
        return reads
    }()

    /// Reads the object's first bytes through `readPrefix`, and more only when the image's header
    /// needs them (``ImageInspectionError/needMoreBytes(atLeast:)``), then inspects them.
    ///
    /// The upload path's loop, here rather than in the API so that it is tested without S3. It
    /// fetches whatever the inspector asks for, up to ``maximumHeadLength``: phones that write
    /// large XMP or APP13 blocks put the frame header megabytes into the file.
    /// - Parameters:
    ///   - objectSize: the object's size as `HEAD` reported it.
    ///   - readPrefix: the object's first `length` bytes (fewer when the object is shorter); its
    ///     errors are rethrown as they are.
    /// - Throws: an ``ImageInspectionError`` when the object is not an acceptable image, or what
    ///   `readPrefix` throws.
    public static func inspect(
        objectSize: Int,
        declared: ImageFormat,
        readPrefix: (_ length: Int) async throws -> [UInt8]
    ) async throws -> ImageHeader {
        var length = min(initialHeadLength, objectSize)
        var longestHead = 0
        for _ in 0..<maximumHeadReads {
            let head = try await readPrefix(max(length, 1))
            longestHead = max(longestHead, head.count)
            let result = Result { () throws(ImageInspectionError) in
                try inspect(head: head, objectSize: objectSize, declared: declared)
            }
            switch result {
            case .success(let header):
                return header
            case .failure(.needMoreBytes(let atLeast)) where atLeast > head.count && head.count < objectSize:
                length = min(atLeast, objectSize)
            case .failure(let error):
                throw error
            }
        }
        // Only a reader answering fewer bytes than asked gets here; say how many it gave.
        throw ImageInspectionError.malformed("the image header did not end within the \(longestHead) bytes read")
    }
}
