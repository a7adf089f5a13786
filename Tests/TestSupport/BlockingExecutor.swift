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
    /// Four threads: the suites that use it run their tests concurrently, and most of a test's
    /// time is the server's.
    public static let shared = BlockingTestExecutor(numberOfThreads: 4)

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
