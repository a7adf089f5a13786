import NIOPosix
import Testing

/// Threads of their own for tests whose bodies call libpq (or wait on a child process)
/// synchronously, interleaved with their expectations.
///
/// Such a call on the cooperative pool holds one of its threads, two on this machine, for as
/// long as the server takes; the async waits of every suite running beside it then stall. A
/// test body that runs with this executor as its task's preference keeps its task, so task
/// locals hold and `#expect` is attributed to the test, while its synchronous calls block one
/// of these threads instead.
public final class BlockingTestExecutor: TaskExecutor {
    /// Sixteen threads: every database suite's bodies run here, concurrently, and any of them
    /// may block one for seconds (a lock wait, a server restart); with only a few, the bodies
    /// still waiting to resume (and tasks they started) would queue behind those. Blocked
    /// threads cost no CPU, and most of a test's time is the server's.
    public static let shared = BlockingTestExecutor(numberOfThreads: 16)

    private let threads: NIOThreadPool

    private init(numberOfThreads: Int) {
        threads = NIOThreadPool(numberOfThreads: numberOfThreads)
        threads.start()
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        threads.submit { _ in job.runSynchronously(on: executor) }
    }
}

/// The scope that runs a test's body on `BlockingTestExecutor` (`.offTheCooperativePool`).
public struct OffTheCooperativePoolTrait: SuiteTrait, TestTrait, TestScoping {
    public var isRecursive: Bool { true }

    public func provideScope(
        for test: Test,
        testCase: Test.Case?,
        performing function: @Sendable () async throws -> Void
    ) async throws {
        // A suite's own scope call has no test case; only the test cases' bodies need moving.
        guard testCase != nil else { return try await function() }
        try await withTaskExecutorPreference(BlockingTestExecutor.shared) {
            try await function()
        }
    }
}

extension Trait where Self == OffTheCooperativePoolTrait {
    /// For a suite or test whose body makes blocking libpq calls among its expectations: the
    /// body runs on threads of its own (`BlockingTestExecutor`), not on the cooperative pool.
    public static var offTheCooperativePool: Self { OffTheCooperativePoolTrait() }
}

extension Task where Failure == any Error {
    /// An unstructured task whose body runs on `BlockingTestExecutor`.
    ///
    /// `Task {}` does not inherit a task executor preference: inside an
    /// `.offTheCooperativePool` test it runs on the cooperative pool, where any suite that
    /// blocks the pool's threads delays it by seconds while the test body goes on (seen: a
    /// statement task that had not started 15 s later).
    @discardableResult
    public static func offTheCooperativePool(
        _ operation: sending @escaping @isolated(any) () async throws -> Success
    ) -> Task<Success, any Error> {
        Task(executorPreference: BlockingTestExecutor.shared, operation: operation)
    }
}

extension Task where Failure == Never {
    /// The non-throwing form of `offTheCooperativePool(_:)`.
    @discardableResult
    public static func offTheCooperativePool(
        _ operation: sending @escaping @isolated(any) () async -> Success
    ) -> Task<Success, Never> {
        Task(executorPreference: BlockingTestExecutor.shared, operation: operation)
    }
}
