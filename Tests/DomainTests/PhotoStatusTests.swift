import Domain
import Testing

@Suite struct PhotoStatusTests {
    @Test func rawValuesMatchTheContract() {
        #expect(
            PhotoStatus.allCases.map(\.rawValue) == ["pending_upload", "uploaded", "processing", "completed", "failed"]
        )
    }

    @Test(arguments: [
        (PhotoStatus.pendingUpload, PhotoStatus.uploaded),
        (.pendingUpload, .failed),
        (.uploaded, .processing),
        (.uploaded, .failed),
        (.processing, .completed),
        (.processing, .failed),
    ])
    func allowedMovesChange(from: PhotoStatus, to: PhotoStatus) {
        #expect(from.transition(to: to) == .change)
    }

    @Test(arguments: PhotoStatus.allCases)
    func theSameStatusAgainIsANoOp(status: PhotoStatus) {
        #expect(status.transition(to: status) == .unchanged)
    }

    @Test func everythingElseIsRejected() {
        let allowed: Set<[PhotoStatus]> = [
            [.pendingUpload, .uploaded], [.pendingUpload, .failed], [.uploaded, .processing],
            [.uploaded, .failed], [.processing, .completed], [.processing, .failed],
        ]
        for from in PhotoStatus.allCases {
            for to in PhotoStatus.allCases where from != to && !allowed.contains([from, to]) {
                #expect(from.transition(to: to) == .rejected, "\(from) → \(to)")
            }
        }
    }

    @Test func onlyCompletedAndFailedAreTerminal() {
        #expect(PhotoStatus.allCases.filter(\.isTerminal) == [.completed, .failed])
    }
}
