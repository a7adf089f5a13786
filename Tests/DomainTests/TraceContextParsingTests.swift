import Domain
import Testing

/// `traceparent` and `tracestate` as the W3C Trace Context specification reads them.
@Suite struct TraceContextParsingTests {
    @Test func aVersionZeroHeaderIsReadAndWrittenBackUnchanged() throws {
        let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        let context = try #require(
            TraceContext(traceParent: header, traceState: " rojo=00f067aa0ba902b7,congo=t61rcWkgMzE ")
        )
        #expect(context.traceID == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(context.spanID == "00f067aa0ba902b7")
        #expect(context.sampled)
        #expect(context.traceState == "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
        #expect(context.traceParent == header)
        #expect(TraceContext(traceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")?.sampled == false)
    }

    @Test(arguments: [
        "",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",  // three fields
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",  // version 00 has four
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // version ff is invalid
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  // upper case
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  // all-zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  // all-zero span id
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",  // short trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bz-01",  // not hex
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",  // short flags
    ])
    func malformedHeadersAreIgnored(header: String) {
        #expect(TraceContext(traceParent: header) == nil)
    }

    /// A later version is read by its first four fields, so a newer caller still joins.
    @Test func aLaterVersionIsReadByItsKnownFields() throws {
        let context = try #require(
            TraceContext(traceParent: "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds")
        )
        #expect(context.traceID == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(context.traceParent == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    }

    /// A `tracestate` that could forge log lines or is too long is dropped, not the trace.
    @Test(arguments: ["a=1\nb=2", String(repeating: "k=v,", count: 200), "", "   "])
    func unusableTraceStatesAreDropped(state: String) throws {
        let context = try #require(
            TraceContext(traceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", traceState: state)
        )
        #expect(context.traceState == nil)
    }

    @Test func newTracesAndChildrenHaveValidDistinctIDs() throws {
        let root = TraceContext.newTrace()
        let reread = try #require(TraceContext(traceParent: root.traceParent))
        #expect(reread == root)
        let child = root.child()
        #expect(child.traceID == root.traceID)
        #expect(child.spanID != root.spanID)
        #expect(TraceContext(traceParent: child.traceParent) != nil)
        #expect(TraceContext.newTrace().traceID != root.traceID)
    }
}
