import Synchronization

/// At most one piece of work per key in flight in this process; whoever asks for a key while
/// its work runs waits for that work's result instead of starting another.
///
/// `complete` uses it per photo, so N concurrent calls for one photo cost one S3 read sequence,
/// not N. The work runs in an unstructured task that the registry owns, not
/// in the first caller's task: a cancelled first caller neither cancels the work nor leaves
/// the callers that joined it without an answer. The entry is removed by the work itself when
/// it ends, so the next request for the key starts afresh.
///
/// In-process only. Replicas each have their own registry; between them the database's
/// conditional updates stay the arbiter of who writes.
final class SingleFlight<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private let flights = Mutex<[Key: Task<Value, any Error>]>([:])

    init() {}

    /// The work in flight for `key`, or `work` started now for it; `joined` says which.
    func flight(
        for key: Key,
        _ work: @escaping @Sendable () async throws -> Value
    ) -> (task: Task<Value, any Error>, joined: Bool) {
        flights.withLock { flights in
            if let running = flights[key] {
                return (running, true)
            }
            // Created under the lock, so the task's own removal below cannot run before the
            // entry is stored; only this task removes it, so it removes its own entry.
            let task = Task {
                defer { self.flights.withLock { _ = $0.removeValue(forKey: key) } }
                return try await work()
            }
            flights[key] = task
            return (task, false)
        }
    }

    /// Keys with work in flight.
    var count: Int {
        flights.withLock { $0.count }
    }
}
