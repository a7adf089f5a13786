/// Hides MakerNote entries from libexif.
///
/// libexif 0.6.24 parses any MakerNote it finds (Canon, Olympus, Fuji, Pentax, ...) right after
/// loading, whatever the options say, and those vendor parsers are where its 2026 memory-safety
/// bugs were (fixed upstream in 0.6.26; Debian 12's 0.6.24-1+deb12u1 carries backported fixes, an
/// older build of the library does not, and the next bug will likely be there too). The service
/// reads nothing from maker notes, so before libexif sees the block every MakerNote entry (tag
/// 0x927C) in the IFDs libexif would load gets an unknown tag id, which
/// `EXIF_DATA_OPTION_IGNORE_UNKNOWN_TAGS` then drops: defence in depth, at no cost to the result.
enum MakerNoteRemover {
    static let makerNoteTag = 0x927C
    /// Not a tag in any IFD, so libexif skips the entry when ignoring unknown tags.
    static let unknownTag: UInt8 = 0xFF
    /// The IFD pointers libexif follows from any IFD: Exif, GPS, Interoperability.
    static let pointerTags: Set<Int> = [0x8769, 0x8825, 0xA005]
    /// A bound on the IFDs visited. A camera writes at most five, but libexif follows a chain of
    /// pointer-only IFDs (Exif and GPS pointers alternating) about 170 deep, so a walk that stops
    /// early must not hand the block over: see ``removingMakerNotes(from:)``.
    static let maximumIFDs = 32

    /// `block` (`Exif\0\0` + TIFF) with every reachable MakerNote entry renamed, other bytes
    /// untouched; `nil` when more than ``maximumIFDs`` IFDs are reachable. Then libexif would
    /// follow pointers the walk never looked behind, to maker notes it never renamed, so the block
    /// must not reach libexif at all (its EXIF is given up, the upload is not).
    static func removingMakerNotes(from block: [UInt8]) -> [UInt8]? {
        guard let tiff = TIFFStructure(block: block), let firstIFD = tiff.firstIFD else { return block }
        var bytes = block
        var pending = [firstIFD]
        var visited: Set<Int> = []
        while let offset = pending.popLast() {
            guard visited.insert(offset).inserted else { continue }
            guard visited.count <= maximumIFDs else { return nil }
            guard let ifd = tiff.ifd(at: offset) else { continue }
            for index in 0..<ifd.present {
                let entry = ifd.entry(index)
                guard let tag = tiff.tag(ofEntryAt: entry) else { break }
                if tag == makerNoteTag {
                    bytes[entry] = unknownTag
                    bytes[entry + 1] = unknownTag
                } else if pointerTags.contains(tag), let target = tiff.valueField(ofEntryAt: entry) {
                    pending.append(target)
                }
            }
            // IFD0 links to IFD1 (the thumbnail's IFD), which libexif loads too.
            if offset == firstIFD, let next = tiff.integer(at: ifd.nextLink, width: 4), next != 0 {
                pending.append(next)
            }
        }
        return bytes
    }
}
