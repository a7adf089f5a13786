import Foundation
import Synchronization

/// What the sink has received since the last reset: every message's first arrival time by
/// its `event_id` attribute, for the drain-rate and commit-to-send measurements.
final class Recorder: Sendable {
    struct Stats: Encodable {
        /// Messages accepted, duplicates included.
        var count = 0
        /// Distinct `event_id` attributes seen.
        var unique = 0
        /// Messages whose `event_id` had been seen before.
        var duplicates = 0
        /// Messages without an `event_id` attribute (counted, not timed).
        var missing_event_id = 0
        /// SendMessageBatch / SendMessage requests.
        var requests = 0
        /// Requests that carried `Expect: 100-continue` (the sink never answers 100, so such a
        /// client waits for its own timeout before sending the body: a benchmark artefact).
        var expect_continue = 0
        /// Unix time (seconds) of the first and the latest accepted message.
        var first_at: Double?
        var last_at: Double?
    }

    private struct State {
        var stats = Stats()
        var firstSeen: [String: Double] = [:]
        /// photo_id (from the body) -> the event_id of each message about it, in arrival order.
        var photos: [String: [String]] = [:]
    }

    private let state = Mutex(State())
    /// Whether bodies are parsed for their `photo_id` (off for the relay benchmark, where the
    /// sink must cost as little as possible).
    private let recordPhotos: Bool

    init(recordPhotos: Bool = false) {
        self.recordPhotos = recordPhotos
    }

    /// Records one request's messages, received at `time` (Unix seconds).
    func record(_ messages: [OutgoingMessage], at time: Double, expectContinue: Bool) {
        let eventIDs = messages.map(\.eventID)
        let photoIDs = recordPhotos ? messages.map(\.photoID) : []
        state.withLock { state in
            for (photoID, eventID) in zip(photoIDs, eventIDs) {
                state.photos[photoID ?? "", default: []].append(eventID ?? "")
            }
            state.stats.requests += 1
            if expectContinue { state.stats.expect_continue += 1 }
            if state.stats.first_at == nil { state.stats.first_at = time }
            state.stats.last_at = time
            state.stats.count += eventIDs.count
            for eventID in eventIDs {
                guard let eventID else {
                    state.stats.missing_event_id += 1
                    continue
                }
                if let earlier = state.firstSeen.updateValue(time, forKey: eventID) {
                    // Keep the first arrival: that is when the event was published.
                    state.firstSeen[eventID] = min(earlier, time)
                    state.stats.duplicates += 1
                }
            }
            state.stats.unique = state.firstSeen.count
        }
    }

    func stats() -> Stats {
        state.withLock { $0.stats }
    }

    func arrivals() -> [String: Double] {
        state.withLock { $0.firstSeen }
    }

    func photos() -> [String: [String]] {
        state.withLock { $0.photos }
    }

    func reset() {
        state.withLock { state in
            state = State()
        }
    }
}
