/// Bounds-checked reads of the TIFF structure inside an EXIF block (`Exif\0\0` + TIFF), for the
/// walks done before and beside libexif. The block is hostile input: a read that would leave it
/// answers `nil`. "Block offsets" count from the block's first byte; "TIFF offsets" from the TIFF
/// header, as IFD pointers and value offsets do.
struct TIFFStructure {
    /// Where the TIFF header starts in the block, after `Exif\0\0`.
    static let start = 6
    static let entrySize = 12

    let bytes: [UInt8]
    let littleEndian: Bool

    /// `nil` when the block is too short for a TIFF header.
    init?(block: [UInt8]) {
        guard block.count >= Self.start + 8 else { return nil }
        bytes = block
        littleEndian = block[Self.start] == 0x49
    }

    /// One IFD's entry table as far as the block holds it.
    struct IFD {
        /// The block offset of the first entry.
        let entries: Int
        /// The entry count the IFD declares.
        let declared: Int
        /// How many of the declared entries lie wholly within the block.
        let present: Int

        /// The block offset of entry `index`.
        func entry(_ index: Int) -> Int {
            entries + TIFFStructure.entrySize * index
        }

        /// The block offset of the link to the next IFD, after the declared entries.
        var nextLink: Int { entry(declared) }
    }

    /// The unsigned `width`-byte integer at block offset `offset`, in the TIFF's byte order.
    func integer(at offset: Int, width: Int) -> Int? {
        guard offset >= 0, offset <= bytes.count - width else { return nil }
        var value = 0
        for index in 0..<width {
            value = value << 8 | Int(bytes[offset + (littleEndian ? width - 1 - index : index)])
        }
        return value
    }

    /// IFD0's TIFF offset.
    var firstIFD: Int? { integer(at: Self.start + 4, width: 4) }

    /// The IFD at TIFF offset `offset`, or `nil` when its entry count lies outside the block.
    func ifd(at offset: Int) -> IFD? {
        guard let declared = integer(at: Self.start + offset, width: 2) else { return nil }
        let entries = Self.start + offset + 2
        let present = min(declared, max(0, (bytes.count - entries) / Self.entrySize))
        return IFD(entries: entries, declared: declared, present: present)
    }

    /// The tag of the entry at block offset `entry`.
    func tag(ofEntryAt entry: Int) -> Int? {
        integer(at: entry, width: 2)
    }

    /// The entry's last four bytes read as a number: an IFD pointer's TIFF offset, or where a
    /// value longer than four bytes lies.
    func valueField(ofEntryAt entry: Int) -> Int? {
        integer(at: entry + 8, width: 4)
    }
}
