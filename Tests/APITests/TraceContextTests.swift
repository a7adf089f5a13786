import API
import AuthTestSupport
import Domain
import Foundation
import HTTPSupport
import HTTPTypes
import HummingbirdTesting
import Postgres
import TestSupport
import Testing

/// One trace from the client's request to the outbox event its transaction writes: the event
/// stores the request's span (the caller's trace id, a span id of its own), which the relay
/// sends on as the message's `traceparent`.
@Suite(.requiresDatabase, .offTheCooperativePool) struct TraceContextTests {
    static let callerTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
    static let callerParent = "00-\(callerTraceID)-00f067aa0ba902b7-01"

    /// The stored `traceparent` and `tracestate` of the photo's event.
    static func storedTrace(_ world: PhotoWorld, _ photoID: String) throws -> (parent: String?, state: String?) {
        let row = try #require(
            try world.sql("SELECT traceparent, tracestate FROM outbox_events WHERE aggregate_id = $1", [photoID]).first
        )
        return (
            try row.decodeIfPresent("traceparent", as: String.self),
            try row.decodeIfPresent("tracestate", as: String.self)
        )
    }

    /// Issues and completes a photo against a stub S3, with `headers` on the `complete` call.
    static func complete(
        headers: HTTPFields,
        _ check: @escaping @Sendable (PhotoWorld, String, TestResponse) async throws -> Void
    ) async throws {
        let token = try await PhotoWorld.token()
        let bytes = try ImageFixtures.bytes("canon.jpg")
        try await StubStorage(object: bytes, failures: 0).withWorld { world in
            let photoID = try await world.issueUpload(project: try world.makeProject(), size: bytes.count, token: token)
            let response = try await world.request(
                .post,
                "/api/v1/photos/\(photoID)/complete",
                token: token,
                headers: headers
            )
            #expect(response.status == .ok)
            try await check(world, photoID, response)
        }
    }

    @Test func theEventJoinsTheCallersTrace() async throws {
        let headers: HTTPFields = [
            TraceContextMiddleware.traceParentName: Self.callerParent,
            TraceContextMiddleware.traceStateName: "vendor=opaque",
        ]
        try await Self.complete(headers: headers) { world, photoID, response in
            let stored = try Self.storedTrace(world, photoID)
            let context = try #require(TraceContext(traceParent: stored.parent))
            #expect(context.traceID == Self.callerTraceID)
            #expect(context.spanID != "00f067aa0ba902b7", "the request's own span, a child of the caller's")
            #expect(context.sampled)
            #expect(stored.state == "vendor=opaque")
            #expect(response.headers[TraceContextMiddleware.traceParentName] == stored.parent)
        }
    }

    /// No trace, or one that breaks the format (upper-case hex here): a new trace, named in the
    /// response so the client can still find it.
    @Test(arguments: [nil, "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01"])
    func withoutAUsableTraceTheRequestStartsOne(traceParent: String?) async throws {
        var headers: HTTPFields = [:]
        if let traceParent { headers[TraceContextMiddleware.traceParentName] = traceParent }
        try await Self.complete(headers: headers) { world, photoID, response in
            let stored = try Self.storedTrace(world, photoID)
            let context = try #require(TraceContext(traceParent: stored.parent))
            #expect(context.traceID != Self.callerTraceID)
            #expect(stored.state == nil)
            #expect(response.headers[TraceContextMiddleware.traceParentName] == stored.parent)
        }
    }

    /// Every response carries the request's `traceparent`, errors included.
    @Test func problemResponsesNameTheirTraceToo() async throws {
        try await PhotoWorld.run { world in
            let response = try await world.request(
                .get,
                "/api/v1/photos/not-a-uuid",
                token: try await PhotoWorld.token(),
                headers: [TraceContextMiddleware.traceParentName: Self.callerParent]
            )
            #expect(response.status == .badRequest)
            let context = try #require(
                TraceContext(traceParent: response.headers[TraceContextMiddleware.traceParentName])
            )
            #expect(context.traceID == Self.callerTraceID)
        }
    }
}
