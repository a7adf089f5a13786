import Digest
import Foundation
import Synchronization

// The slice of the SQS JSON protocol (`X-Amz-Target: AmazonSQS.*`, `application/x-amz-json-1.0`)
// that a relay uses: SendMessageBatch, SendMessage and GetQueueUrl. Requests are read with
// MiniJSON and answers written by hand: the sink must cost the machine as little as possible.

struct SQSRequestError: Error {
    var code: String
    var message: String
}

struct MessageAttribute {
    var name: String
    var dataType: String
    var stringValue: String?
    var binaryValue: String?
}

struct OutgoingMessage {
    var id: String
    var body: String
    var attributes: [MessageAttribute]

    var eventID: String? {
        attributes.first { $0.name == "event_id" }?.stringValue
    }

    /// The body's `photo_id` (the `photo.uploaded` payload), nil when the body has none.
    var photoID: String? {
        var copy = body
        return copy.withUTF8 { bytes in
            (try? parseJSON(UnsafeRawBufferPointer(bytes)))?["photo_id"]?.stringValue
        }
    }

    init(id: String, json: JSONValue) throws(SQSRequestError) {
        guard let body = json["MessageBody"]?.stringValue else {
            throw SQSRequestError(code: "MissingParameter", message: "MessageBody is required")
        }
        self.id = id
        self.body = body
        self.attributes = []
        for (name, value) in json["MessageAttributes"]?.objectValue ?? [] {
            guard let dataType = value["DataType"]?.stringValue else {
                throw SQSRequestError(code: "InvalidParameterValue", message: "attribute \(name) has no DataType")
            }
            attributes.append(
                MessageAttribute(
                    name: name,
                    dataType: dataType,
                    stringValue: value["StringValue"]?.stringValue,
                    binaryValue: value["BinaryValue"]?.stringValue
                )
            )
        }
    }

    /// `"MessageId":..,"MD5OfMessageBody":..[,"MD5OfMessageAttributes":..]` (no braces).
    func appendResultFields(to out: inout [UInt8]) {
        out.append(contentsOf: #""MessageId":"#.utf8)
        appendJSONString(MessageIDs.next(), to: &out)
        out.append(contentsOf: #","MD5OfMessageBody":"#.utf8)
        appendJSONString(SQSChecksum.md5Hex(of: body), to: &out)
        if let digest = SQSChecksum.md5OfAttributes(attributes) {
            out.append(contentsOf: #","MD5OfMessageAttributes":"#.utf8)
            appendJSONString(digest, to: &out)
        }
    }
}

enum SQSOperations {
    /// SendMessageBatch: the messages, and the response body listing each as successful.
    static func sendMessageBatch(_ request: JSONValue) throws(SQSRequestError) -> ([OutgoingMessage], [UInt8]) {
        let entries = request["Entries"]?.arrayValue ?? []
        // The same checks as SQS, which fails the whole request for these.
        if entries.isEmpty {
            throw SQSRequestError(
                code: "EmptyBatchRequest",
                message: "There should be at least one SendMessageBatchRequestEntry in the request."
            )
        }
        if entries.count > 10 {
            throw SQSRequestError(
                code: "TooManyEntriesInBatchRequest",
                message: "Maximum number of entries per request are 10. You have sent \(entries.count)."
            )
        }
        var messages: [OutgoingMessage] = []
        messages.reserveCapacity(entries.count)
        for entry in entries {
            guard let id = entry["Id"]?.stringValue else {
                throw SQSRequestError(code: "MissingParameter", message: "every entry needs an Id")
            }
            if messages.contains(where: { $0.id == id }) {
                throw SQSRequestError(code: "BatchEntryIdsNotDistinct", message: "Id \(id) repeated.")
            }
            messages.append(try OutgoingMessage(id: id, json: entry))
        }
        var out: [UInt8] = []
        out.reserveCapacity(160 * messages.count + 32)
        out.append(contentsOf: #"{"Successful":["#.utf8)
        for (index, message) in messages.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: #"{"Id":"#.utf8)
            appendJSONString(message.id, to: &out)
            out.append(UInt8(ascii: ","))
            message.appendResultFields(to: &out)
            out.append(UInt8(ascii: "}"))
        }
        out.append(contentsOf: #"],"Failed":[]}"#.utf8)
        return (messages, out)
    }

    static func sendMessage(_ request: JSONValue) throws(SQSRequestError) -> (OutgoingMessage, [UInt8]) {
        let message = try OutgoingMessage(id: "", json: request)
        var out: [UInt8] = [UInt8(ascii: "{")]
        message.appendResultFields(to: &out)
        out.append(UInt8(ascii: "}"))
        return (message, out)
    }
}

/// Message ids shaped like SQS's (UUIDs): a random prefix per process and a counter, so
/// that no random numbers are drawn per message.
enum MessageIDs {
    private static let prefix: String = {
        let uuid = UUID().uuidString.lowercased()
        return String(uuid.prefix(24))  // "xxxxxxxx-xxxx-xxxx-xxxx-"
    }()
    private static let counter = Atomic<UInt64>(0)

    static func next() -> String {
        let value = counter.add(1, ordering: .relaxed).newValue
        let digits = String(value, radix: 16)
        return prefix + String(repeating: "0", count: max(0, 12 - digits.count)) + digits
    }
}

/// MD5 digests as SQS reports them (lower-case hex). SDKs that verify them (the Java and
/// Ruby SDKs do, botocore does not) then accept this sink's answers.
enum SQSChecksum {
    static func md5Hex(_ bytes: UnsafeRawBufferPointer) -> String {
        hex(MD5.hash(bytes))
    }

    static func md5Hex(of string: String) -> String {
        var copy = string
        return copy.withUTF8 { md5Hex(UnsafeRawBufferPointer($0)) }
    }

    /// SQS's `MD5OfMessageAttributes`: attributes sorted by name, each encoded as
    /// length-prefixed name, length-prefixed data type, a transport byte (1 string, 2 binary)
    /// and the length-prefixed value (lengths are 4-byte big-endian). Checked against moto.
    static func md5OfAttributes(_ attributes: [MessageAttribute]) -> String? {
        if attributes.isEmpty { return nil }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(128)
        for attribute in attributes.sorted(by: { $0.name < $1.name }) {
            appendPrefixed(attribute.name.utf8, to: &buffer)
            appendPrefixed(attribute.dataType.utf8, to: &buffer)
            if let string = attribute.stringValue {
                buffer.append(1)
                appendPrefixed(string.utf8, to: &buffer)
            } else if let binary = attribute.binaryValue {
                buffer.append(2)
                appendPrefixed(Array(Data(base64Encoded: binary) ?? Data()), to: &buffer)
            }
        }
        return buffer.withUnsafeBytes { md5Hex($0) }
    }

    private static func appendPrefixed<Bytes: Collection<UInt8>>(_ bytes: Bytes, to buffer: inout [UInt8]) {
        let count = UInt32(bytes.count)
        buffer.append(UInt8(truncatingIfNeeded: count >> 24))
        buffer.append(UInt8(truncatingIfNeeded: count >> 16))
        buffer.append(UInt8(truncatingIfNeeded: count >> 8))
        buffer.append(UInt8(truncatingIfNeeded: count))
        buffer.append(contentsOf: bytes)
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    private static func hex(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
