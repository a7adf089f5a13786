/// Bounds-checked reads of the TIFF structure inside an EXIF block (`Exif\0\0` + TIFF), for the
/// walks done before and beside libexif. The block is hostile input: a read that would leave it
/// answers `nil`. "Block offsets" count from the block's first byte; "TIFF offsets" from the TIFF
/// header, as IFD pointers and value offsets do.
struct TIFFStructure {
    /// Where the TIFF header starts in the block, after `Exif\0\0`.
    static let start = 6
    static let entrySize = 12
    /// TIFF field type 2: ASCII, one byte per component.
    static let asciiType = 2
    static let exifPointerTag = 0x8769

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

    /// The block offset of the first entry tagged `tag` in the IFD at TIFF offset `offset`.
    func entry(_ tag: Int, inIFDAt offset: Int) -> Int? {
        guard let ifd = ifd(at: offset) else { return nil }
        return (0..<ifd.present).lazy.map(ifd.entry).first { self.tag(ofEntryAt: $0) == tag }
    }

    /// The bytes of an ASCII entry: inside the entry when four or fewer, else at its offset;
    /// `nil` when the entry is not ASCII or its bytes leave the block.
    func asciiValue(ofEntryAt entry: Int) -> ArraySlice<UInt8>? {
        guard integer(at: entry + 2, width: 2) == Self.asciiType, let count = integer(at: entry + 4, width: 4) else {
            return nil
        }
        let start: Int
        if count <= 4 {
            start = entry + 8
        } else {
            guard let offset = valueField(ofEntryAt: entry) else { return nil }
            start = Self.start + offset
        }
        guard count <= bytes.count - start else { return nil }
        return bytes[start..<start + count]
    }

    /// The Exif IFD's TIFF offset: where IFD0's first Exif pointer leads, the IFD libexif loads
    /// as `EXIF_IFD_EXIF`.
    var exifIFD: Int? {
        guard let first = firstIFD, let pointer = entry(Self.exifPointerTag, inIFDAt: first) else { return nil }
        return valueField(ofEntryAt: pointer)
    }
}
