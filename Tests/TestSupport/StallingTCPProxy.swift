import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A TCP proxy on loopback that can stop forwarding without closing anything: the network of a
/// failover gone wrong, where packets are still acknowledged (by the proxy's kernel) but nothing
/// gets through. Neither side sees an error; only a deadline of the client's own can end its
/// wait. `resume()` forwards again, bytes held meanwhile included.
///
/// Each accepted connection gets a thread that copies both ways while not stalled; new
/// connections are accepted while stalled, and then hang as well.
public final class StallingTCPProxy: Sendable {
    /// The port to connect to instead of the target's.
    public let port: Int
    /// The connection string given at creation, through the proxy.
    public let connectionString: String
    private let targetPort: Int
    private let listener: Int32
    private let state = Mutex(State())

    private struct State {
        var isStalled = false
        var isClosed = false
    }

    /// Listens on a free loopback port and forwards to the server `connectionString` names (a
    /// `postgresql://127.0.0.1:PORT/...` URL); ``connectionString`` reaches it through the proxy.
    public init(inFrontOf connectionString: String) throws {
        guard var components = URLComponents(string: connectionString), let targetPort = components.port else {
            throw TestEnvironmentError("the proxy needs a postgresql:// URL with a port, got \(connectionString)")
        }
        self.targetPort = targetPort
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw TestEnvironmentError("socket() failed") }
        var address = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, Glibc.listen(listener, 64) == 0 else {
            Glibc.close(listener)
            throw TestEnvironmentError("the proxy cannot listen")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        self.listener = listener
        self.port = Int(UInt16(bigEndian: address.sin_port))
        components.port = port
        guard let routed = components.string else { throw TestEnvironmentError("cannot rebuild the URL") }
        self.connectionString = routed
        let thread = Thread { [self] in acceptConnections() }
        thread.name = "stalling-proxy"
        thread.start()
    }

    /// Stops forwarding; connections stay open.
    public func stall() { state.withLock { $0.isStalled = true } }

    /// Forwards again.
    public func resume() { state.withLock { $0.isStalled = false } }

    /// Stops accepting; the connection threads end at their next check.
    public func close() {
        state.withLock { $0.isClosed = true }
        shutdown(listener, Int32(SHUT_RDWR))
    }

    deinit {
        close()
        Glibc.close(listener)
    }

    private var isStalled: Bool { state.withLock { $0.isStalled } }
    private var isClosed: Bool { state.withLock { $0.isClosed } }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    private func acceptConnections() {
        while !isClosed {
            let client = accept(listener, nil, nil)
            guard client >= 0 else {
                if errno == EINTR { continue }
                return
            }
            let target = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = Self.loopback(port: targetPort)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(target, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard target >= 0, connected == 0 else {
                Glibc.close(client)
                if target >= 0 { Glibc.close(target) }
                continue
            }
            let thread = Thread { [self] in forward(client, target) }
            thread.name = "stalling-proxy-connection"
            thread.start()
        }
    }

    /// Copies bytes both ways until either side closes, holding them while stalled.
    private func forward(_ client: Int32, _ target: Int32) {
        defer {
            Glibc.close(client)
            Glibc.close(target)
        }
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while !isClosed {
            if isStalled {
                usleep(20_000)
                continue
            }
            var descriptors = [
                pollfd(fd: client, events: Int16(POLLIN), revents: 0),
                pollfd(fd: target, events: Int16(POLLIN), revents: 0),
            ]
            guard poll(&descriptors, 2, 50) >= 0 || errno == EINTR else { return }
            for (index, descriptor) in descriptors.enumerated() where descriptor.revents != 0 {
                let destination = index == 0 ? target : client
                let count = read(descriptor.fd, &buffer, buffer.count)
                guard count > 0, Self.writeAll(destination, buffer, count) else { return }
            }
        }
    }

    private static func writeAll(_ socket: Int32, _ buffer: [UInt8], _ count: Int) -> Bool {
        var written = 0
        while written < count {
            let result = buffer.withUnsafeBytes { write(socket, $0.baseAddress! + written, count - written) }
            if result < 0, errno == EINTR { continue }
            guard result > 0 else { return false }
            written += result
        }
        return true
    }
}
