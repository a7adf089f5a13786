// Benchmarks/api/run.sh: pre-signing throughput of S3Presigner.presignPut on one thread.
// Usage: BenchPresign [SECONDS]  — prints {"urls_per_second": ..., "count": ..., "seconds": ...}
import AWS
import Foundation

let seconds = CommandLine.arguments.count > 1 ? Double(CommandLine.arguments[1]) ?? 5 : 5
let presigner = S3Presigner(
    region: "us-east-1",
    credentials: AWSCredentials(
        accessKeyID: "AKIDEXAMPLE",
        secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    ),
    endpoint: nil,
    forcePathStyle: false,
    bucket: "photos-bench"
)
let keys = (0..<1024).map { "uploads/org-\($0 % 7)/\(UUID().uuidString.lowercased())/photo-\($0).jpg" }
var count = 0
var sink = 0
let start = DispatchTime.now().uptimeNanoseconds
let deadline = start + UInt64(seconds * 1e9)
var now = DispatchTime.now().uptimeNanoseconds
while now < deadline {
    for _ in 0..<1000 {
        let request = presigner.presignPut(
            key: keys[count & 1023],
            contentType: "image/jpeg",
            contentLength: 1_000_000 + (count & 4095),
            checksumSHA256: nil,
            expiresIn: 900,
            now: Date()
        )
        sink &+= request.url.utf8.count
        count += 1
    }
    now = DispatchTime.now().uptimeNanoseconds
}
let elapsed = Double(now - start) / 1e9
print(
    "{\"urls_per_second\": \(Int(Double(count) / elapsed)), \"count\": \(count), \"seconds\": \(String(format: "%.3f", elapsed)), \"url_bytes\": \(sink)}"
)
