import COpenSSL

/// SHA-256 and HMAC-SHA256 over libcrypto, the only module that touches its C API.
///
/// SigV4 signing and migration checksums both need these; keeping them here means the rest of
/// the code base works with `[UInt8]` and hex strings and never sees an OpenSSL pointer.
public enum SHA256 {
    /// Length of a SHA-256 digest in bytes.
    public static let byteCount = 32

    /// The SHA-256 digest of `bytes`.
    public static func hash<Bytes: Collection>(_ bytes: Bytes) -> [UInt8] where Bytes.Element == UInt8 {
        var digest = [UInt8](repeating: 0, count: byteCount)
        let succeeded = withContiguousBytes(bytes) { input in
            digest.withUnsafeMutableBufferPointer { output in
                EVP_Digest(input.baseAddress, input.count, output.baseAddress, nil, EVP_sha256(), nil) == 1
            }
        }
        // EVP_Digest with a built-in algorithm only fails on allocation failure.
        precondition(succeeded, "EVP_Digest(SHA-256) failed")
        return digest
    }

    /// The SHA-256 digest of the UTF-8 bytes of `string`.
    public static func hash(_ string: String) -> [UInt8] {
        hash(Array(string.utf8))
    }
}

/// HMAC with SHA-256, as SigV4 key derivation and request signing require.
public enum HMACSHA256 {
    /// The HMAC-SHA256 of `message` under `key`.
    public static func authenticationCode<Key: Collection, Message: Collection>(
        for message: Message,
        key: Key
    ) -> [UInt8] where Key.Element == UInt8, Message.Element == UInt8 {
        var code = [UInt8](repeating: 0, count: SHA256.byteCount)
        var codeLength: UInt32 = 0
        let result = withContiguousBytes(key) { keyBytes in
            withContiguousBytes(message) { messageBytes in
                code.withUnsafeMutableBufferPointer { output in
                    HMAC(
                        EVP_sha256(),
                        keyBytes.baseAddress,
                        Int32(keyBytes.count),
                        messageBytes.baseAddress,
                        messageBytes.count,
                        output.baseAddress,
                        &codeLength
                    )
                }
            }
        }
        precondition(result != nil && codeLength == UInt32(SHA256.byteCount), "HMAC(SHA-256) failed")
        return code
    }

    /// The HMAC-SHA256 of the UTF-8 bytes of `message` under `key`.
    public static func authenticationCode<Key: Collection>(for message: String, key: Key) -> [UInt8]
    where Key.Element == UInt8 {
        authenticationCode(for: Array(message.utf8), key: key)
    }
}

extension Array where Element == UInt8 {
    /// Lower-case hexadecimal, the form SigV4 and `schema_migrations.checksum` use.
    public var hexString: String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var characters = [UInt8]()
        characters.reserveCapacity(count * 2)
        for byte in self {
            characters.append(digits[Int(byte >> 4)])
            characters.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: characters, as: UTF8.self)
    }
}

/// Calls `body` with a contiguous view of `bytes`, copying only when the collection has no
/// contiguous storage of its own.
private func withContiguousBytes<Bytes: Collection, Result>(
    _ bytes: Bytes,
    _ body: (UnsafeRawBufferPointer) -> Result
) -> Result where Bytes.Element == UInt8 {
    if let result = bytes.withContiguousStorageIfAvailable({ body(UnsafeRawBufferPointer($0)) }) {
        return result
    }
    return Array(bytes).withUnsafeBytes(body)
}

/// MD5, only because SQS reports `MD5OfMessageBody`: the benchmark's SQS sink answers with it.
/// Not for anything that needs collision resistance.
public enum MD5 {
    public static func hash(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 16)
        var length: UInt32 = 0
        let succeeded = EVP_Digest(bytes.baseAddress, bytes.count, &digest, &length, EVP_md5(), nil) == 1
        precondition(succeeded, "EVP_Digest(MD5) failed")
        return digest
    }
}
