import Foundation
import Hummingbird
import Logging

/// A fast SQS stand-in for the relay benchmark (Benchmarks/run.sh): answers the JSON
/// protocol's SendMessageBatch (and SendMessage, GetQueueUrl) at once, ignores signatures,
/// keeps nothing but each message's first arrival time by its `event_id` attribute.
///
///     BenchSQSSink --port PORT [--host 127.0.0.1] [--record-photos]
///
/// Endpoints: `POST /` (SQS), `GET /stats`, `GET /arrivals` (event_id -> Unix seconds),
/// `GET /photos` (with `--record-photos`: photo_id -> the `event_id` of every message about it,
/// duplicates included, so the soak run can check each confirmed photo's delivery), `POST /reset`.
@main
struct SQSSink {
    static func main() async throws {
        var host = "127.0.0.1"
        var port = 9324
        var recordPhotos = false
        var arguments = CommandLine.arguments.dropFirst().makeIterator()
        while let argument = arguments.next() {
            switch argument {
            case "--host": host = arguments.next() ?? host
            case "--port":
                guard let value = arguments.next().flatMap(Int.init) else {
                    fatalError("--port needs a number")
                }
                port = value
            case "--record-photos": recordPhotos = true
            default:
                FileHandle.standardError.write(
                    Data("usage: BenchSQSSink [--host H] [--port P] [--record-photos]\n".utf8)
                )
                exit(2)
            }
        }
        var logger = Logger(label: "sqs-sink")
        logger.logLevel = .warning
        let recorder = Recorder(recordPhotos: recordPhotos)
        let router = Router()
        addRoutes(to: router, recorder: recorder)
        let banner = "sqs-sink listening on \(host):\(port)\n"
        let application = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "sqs-sink"),
            onServerRunning: { _ in FileHandle.standardError.write(Data(banner.utf8)) },
            logger: logger
        )
        try await application.runService()
    }

    static func addRoutes(to router: Router<BasicRequestContext>, recorder: Recorder) {
        router.post("/") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 4 << 20)
            let receivedAt = Date().timeIntervalSince1970
            let expectContinue = request.headers[.expect]?.lowercased() == "100-continue"
            let target = request.headers[.init("X-Amz-Target")!] ?? ""
            let document: JSONValue
            do {
                document = try body.withUnsafeReadableBytes { try parseJSON($0) }
            } catch {
                return sqsError("InvalidParameterValue", "the request body is not valid JSON")
            }
            do {
                switch target {
                case "AmazonSQS.SendMessageBatch":
                    let (messages, response) = try SQSOperations.sendMessageBatch(document)
                    recorder.record(messages, at: receivedAt, expectContinue: expectContinue)
                    return jsonResponse(response)
                case "AmazonSQS.SendMessage":
                    let (message, response) = try SQSOperations.sendMessage(document)
                    recorder.record([message], at: receivedAt, expectContinue: expectContinue)
                    return jsonResponse(response)
                case "AmazonSQS.GetQueueUrl":
                    guard let name = document["QueueName"]?.stringValue else {
                        return sqsError("MissingParameter", "QueueName is required")
                    }
                    let host = request.head.authority ?? "127.0.0.1"
                    return json(["QueueUrl": "http://\(host)/000000000000/\(name)"])
                default:
                    return sqsError("UnsupportedOperation", "\(target) is not implemented by this sink")
                }
            } catch let error as SQSRequestError {
                return sqsError(error.code, error.message)
            }
        }
        router.get("/stats") { _, _ -> Response in
            json(recorder.stats())
        }
        router.get("/arrivals") { _, _ -> Response in
            json(recorder.arrivals())
        }
        router.get("/photos") { _, _ -> Response in
            json(recorder.photos())
        }
        router.post("/reset") { _, _ -> Response in
            recorder.reset()
            return json(recorder.stats())
        }
    }

    private static func jsonResponse(_ bytes: [UInt8]) -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "application/x-amz-json-1.0"],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes))
        )
    }

    private static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? JSONEncoder().encode(value)) ?? Data("{}".utf8)
        return Response(
            status: status,
            headers: [.contentType: "application/x-amz-json-1.0"],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }

    /// A JSON-protocol error as SQS sends it (`__type` plus the query-compatible header).
    private static func sqsError(_ code: String, _ message: String) -> Response {
        let data =
            (try? JSONEncoder().encode(["__type": "com.amazonaws.sqs#\(code)", "message": message]))
            ?? Data()
        return Response(
            status: .badRequest,
            headers: [
                .contentType: "application/x-amz-json-1.0",
                .init("x-amzn-query-error")!: "AWS.SimpleQueueService.\(code);Sender",
            ],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }
}
