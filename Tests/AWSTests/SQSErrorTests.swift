import Testing

@testable import AWS

@Suite struct SQSErrorClassificationTests {
    private func response(_ status: Int, _ body: String) -> CurlHTTPClient.Response {
        CurlHTTPClient.Response(status: status, headers: [], body: Array(body.utf8))
    }

    @Test func aMissingQueueCountsAgainstTheEvents() {
        let error = SQSClient.batchError(
            for: response(
                400,
                #"{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}"#
            )
        )
        #expect(error.kind == .requestRejected)
        #expect(error.code == "QueueDoesNotExist")
    }

    @Test(arguments: [
        (500, "{}"),
        (503, "Service Unavailable"),
        (400, #"{"__type":"com.amazon.coral.availability#ThrottlingException","message":"Rate exceeded"}"#),
        (403, "<ErrorResponse><Error><Code>InvalidClientTokenId</Code></Error></ErrorResponse>"),
        (400, "<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code></Error></ErrorResponse>"),
    ])
    func outagesThrottlingAndBadCredentialsOpenTheBreaker(status: Int, body: String) {
        #expect(SQSClient.batchError(for: response(status, body)).kind == .serviceUnavailable)
    }

    @Test func errorCodesAreReadFromJSONAndXML() {
        #expect(
            SQSClient.errorCode(in: #"{"__type":"com.amazonaws.sqs#TooManyEntriesInBatchRequest"}"#)
                == "TooManyEntriesInBatchRequest"
        )
        #expect(SQSClient.errorCode(in: "<Error><Code>AccessDenied</Code></Error>") == "AccessDenied")
        #expect(SQSClient.errorCode(in: "plain text") == nil)
    }

    @Test func entrySizeCountsBodyAndAttributes() {
        let entry = SQSClient.Entry(id: "0", body: "12345", attributes: ["event_id": "abc"])
        #expect(entry.size == 5 + "event_id".utf8.count + "String".utf8.count + 3)
    }

    @Test func credentialsNeverPrintTheSecret() {
        let credentials = AWSCredentials(
            accessKeyID: "AKIDEXAMPLE",
            secretAccessKey: "very-secret",
            sessionToken: "token"
        )
        #expect(!"\(credentials)".contains("very-secret"))
        #expect(!"\(credentials)".contains("token"))
    }
}
