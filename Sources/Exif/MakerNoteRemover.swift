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
    /// A bound on the IFDs visited: libexif loads at most five, a hostile block may chain many.
    static let maximumIFDs = 32

    /// `block` (`Exif\0\0` + TIFF) with every reachable MakerNote entry renamed; other bytes untouched.
    static func removingMakerNotes(from block: [UInt8]) -> [UInt8] {
        let tiff = 6
        guard block.count >= tiff + 8 else { return block }
        var bytes = block
        let littleEndian = bytes[tiff] == 0x49

        func read(_ offset: Int, width: Int) -> Int? {
            guard offset >= 0, offset <= bytes.count - width else { return nil }
            var value = 0
            for index in 0..<width {
                let byte = Int(bytes[offset + (littleEndian ? width - 1 - index : index)])
                value = value << 8 | byte
            }
            return value
        }

        guard let firstIFD = read(tiff + 4, width: 4) else { return block }
        var pending = [firstIFD]
        var visited: Set<Int> = []
        var isFirst = true
        while let ifd = pending.popLast(), visited.count < maximumIFDs {
            defer { isFirst = false }
            guard visited.insert(ifd).inserted, let declared = read(tiff + ifd, width: 2) else { continue }
            let entries = tiff + ifd + 2
            let present = min(declared, max(0, (bytes.count - entries) / 12))
            for index in 0..<present {
                let entry = entries + 12 * index
                guard let tag = read(entry, width: 2) else { break }
                if tag == makerNoteTag {
                    bytes[entry] = unknownTag
                    bytes[entry + 1] = unknownTag
                } else if pointerTags.contains(tag), let target = read(entry + 8, width: 4) {
                    pending.append(target)
                }
            }
            // IFD0 links to IFD1 (the thumbnail's IFD), which libexif loads too.
            if isFirst, let next = read(entries + 12 * declared, width: 4), next != 0 {
                pending.append(next)
            }
        }
        return bytes
    }
}
