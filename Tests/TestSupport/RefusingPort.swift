import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A loopback port that refuses every connection for as long as the value lives: a TCP socket
/// bound to it that never listens. The kernel answers a connection attempt with a reset
/// (`ECONNREFUSED`), and since the socket keeps the port, no test running beside this one can
/// be given it: unlike a port that was free a moment ago, it cannot turn into someone's server.
public final class RefusingPort: Sendable {
    public let port: Int
    private let descriptor: Int32

    public init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw TestEnvironmentError("socket() failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(descriptor, socketAddress, length) == 0 && getsockname(descriptor, socketAddress, &length) == 0
            }
        }
        guard bound else {
            close(descriptor)
            throw TestEnvironmentError("could not bind a loopback port")
        }
        self.descriptor = descriptor
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    /// `http://127.0.0.1:<port>`.
    public var endpoint: String { "http://127.0.0.1:\(port)" }

    deinit { close(descriptor) }
}
