#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A raw TCP client that connects and then says nothing, to see whether a server closes idle
/// connections (an HTTP client would send a request, which is exactly what must not happen).
enum IdleConnection {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Connects to `127.0.0.1:port`, sends nothing, and waits up to `limitSeconds` for the
    /// server to close: `true` when it did, `false` when the connection was still open.
    /// Blocking on purpose: the server under test runs on its own event loops.
    static func waitsForTheServerToClose(port: Int, limitSeconds: Int) throws -> Bool {
        #if canImport(Glibc)
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let descriptor = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard descriptor >= 0 else { throw Failure(description: "socket() failed: errno \(errno)") }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(clamping: port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw Failure(description: "connect() failed: errno \(errno)") }
        var timeout = timeval(tv_sec: limitSeconds, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var byte: UInt8 = 0
        // 0: the server closed (end of file); -1 with EAGAIN: still open when the time ran out.
        let received = recv(descriptor, &byte, 1, 0)
        let failure = errno
        if received < 0, failure != EAGAIN, failure != EWOULDBLOCK, failure != ECONNRESET {
            throw Failure(description: "recv() failed: errno \(failure)")
        }
        return received == 0 || (received < 0 && failure == ECONNRESET)
    }
}
