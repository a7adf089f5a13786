import Testing

@testable import AWS

/// How SQS's answers are sorted (contract section 6): a missing queue, denied access and bad
/// credentials are outages with a readiness reason (never dead-lettered), whether refused for
/// the whole call (JSON or XML) or per entry; faults of one message are not; and a call past its
/// start deadline is never sent.
@Suite struct SQSErrorClassificationTests {
    private func response(_ status: Int, _ body: String) -> CurlHTTPClient.Response {
        CurlHTTPClient.Response(status: status, headers: [], body: Array(body.utf8))
    }

    /// The codes issue 13 names, and the reason `/readyz` reports for each.
    static let queueWideCodes: [(code: String, reason: SQSOutageReason)] = [
        ("QueueDoesNotExist", .queueUnavailable),
        ("AWS.SimpleQueueService.NonExistentQueue", .queueUnavailable),
        ("AWS.SimpleQueueService.QueueDeletedRecently", .queueUnavailable),
        ("KmsDisabled", .queueUnavailable),
        ("AccessDenied", .accessDenied),
        ("AccessDeniedException", .accessDenied),
        ("KmsAccessDenied", .accessDenied),
        ("InvalidClientTokenId", .credentialsUnavailable),
        ("ExpiredToken", .credentialsUnavailable),
        ("SignatureDoesNotMatch", .credentialsUnavailable),
        ("UnrecognizedClientException", .credentialsUnavailable),
        ("MissingAuthenticationToken", .credentialsUnavailable),
        ("InvalidSecurityToken", .credentialsUnavailable),
        ("IncompleteSignature", .credentialsUnavailable),
        ("ThrottlingException", .serviceUnavailable),
        ("AWS.SimpleQueueService.RequestThrottled", .serviceUnavailable),
        ("InternalError", .serviceUnavailable),
    ]

    /// A missing queue, denied access and bad credentials are outages whatever the status
    /// and whichever format the body has: JSON (`__type` with its namespace) or XML (auth
    /// errors come back as XML even for JSON requests).
    @Test(arguments: queueWideCodes, [400, 403])
    func queueWideAndCredentialCodesAreOutagesInJSONAndXML(
        expected: (code: String, reason: SQSOutageReason),
        status: Int
    ) {
        let json = #"{"__type":"com.amazonaws.sqs#\#(expected.code)","message":"refused"}"#
        let xml = """
            <?xml version="1.0"?><ErrorResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/">\
            <Error><Type>Sender</Type><Code>\(expected.code)</Code><Message>refused</Message></Error>\
            <RequestId>1</RequestId></ErrorResponse>
            """
        for body in [json, xml] {
            let error = SQSClient.batchError(for: response(status, body))
            #expect(error.kind == .outage(expected.reason), "\(body)")
            #expect(error.outageReason == expected.reason)
            #expect(error.code == expected.code)
        }
    }

    /// The same codes as per-entry `Failed[]` codes: outages too, so the relay releases the
    /// entry instead of dead-lettering it.
    @Test(arguments: queueWideCodes)
    func queueWideCodesPerEntryAreOutages(expected: (code: String, reason: SQSOutageReason)) {
        #expect(SQSOutageReason(code: expected.code) == expected.reason)
        #expect(SQSOutageReason(code: "com.amazonaws.sqs#\(expected.code)") == expected.reason)
        // A transient failure of one entry is retried as that entry's attempt.
        let perEntry: SQSOutageReason? = expected.reason == .serviceUnavailable ? nil : expected.reason
        #expect(SQSOutageReason(failedEntryCode: expected.code) == perEntry)
    }

    /// Faults of one message or of the request are not outages: they count against the events.
    @Test(arguments: [
        "InvalidMessageContents", "MessageTooLong", "InvalidParameterValue", "InvalidAttributeName",
        "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", "TooManyEntriesInBatchRequest", "BatchRequestTooLong",
    ])
    func messageAndRequestFaultsAreNotOutages(code: String) {
        #expect(SQSOutageReason(code: code) == nil)
        #expect(SQSOutageReason(failedEntryCode: code) == nil)
        let error = SQSClient.batchError(for: response(400, #"{"__type":"com.amazonaws.sqs#\#(code)"}"#))
        #expect(error.kind == .requestRejected)
        #expect(error.outageReason == nil)
    }

    /// A body without a readable code falls back on the status; a code in the
    /// `x-amzn-query-error` header counts when the body has none.
    @Test func theStatusAndTheQueryErrorHeaderDecideWhenTheBodyNamesNoCode() {
        #expect(SQSClient.batchError(for: response(403, "Forbidden")).kind == .outage(.accessDenied))
        #expect(SQSClient.batchError(for: response(401, "")).kind == .outage(.credentialsUnavailable))
        #expect(SQSClient.batchError(for: response(400, "Bad Request")).kind == .requestRejected)
        let headed = CurlHTTPClient.Response(
            status: 400,
            headers: [(name: "x-amzn-query-error", value: "AWS.SimpleQueueService.NonExistentQueue;Sender")],
            body: Array("{}".utf8)
        )
        let error = SQSClient.batchError(for: headed)
        #expect(error.kind == .outage(.queueUnavailable))
        #expect(error.code == "AWS.SimpleQueueService.NonExistentQueue")
    }

    @Test func everyReasonHasItsReadinessName() {
        #expect(
            SQSOutageReason.allCases.map(\.reason).sorted() == [
                "aws_access_denied", "aws_credentials_unavailable", "sqs_queue_unavailable", "sqs_unavailable",
            ]
        )
    }

    @Test(arguments: [
        (500, "{}", SQSOutageReason.serviceUnavailable),
        (503, "Service Unavailable", .serviceUnavailable),
        (429, "", .serviceUnavailable),
        (
            400, #"{"__type":"com.amazon.coral.availability#ThrottlingException","message":"Rate exceeded"}"#,
            .serviceUnavailable
        ),
        (
            403, "<ErrorResponse><Error><Code>InvalidClientTokenId</Code></Error></ErrorResponse>",
            .credentialsUnavailable
        ),
        (
            400, "<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code></Error></ErrorResponse>",
            .credentialsUnavailable
        ),
    ])
    func outagesThrottlingAndBadCredentialsOpenTheBreaker(status: Int, body: String, reason: SQSOutageReason) {
        #expect(SQSClient.batchError(for: response(status, body)).kind == .outage(reason))
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

    /// A call whose start deadline has passed is not sent (nothing listens on port 1 here, so
    /// a sent call would fail as an outage) and is neither an outage nor a rejection.
    @Test func aCallPastItsStartDeadlineIsNotSent() async {
        let http = CurlHTTPClient(concurrency: 1, timeoutMilliseconds: 1000)
        let sqs = SQSClient(
            endpoint: "http://127.0.0.1:1",
            queueURL: "q",
            region: "us-east-1",
            credentials: AWSCredentials?.none,
            http: http
        )
        #expect(sqs.timeout == .seconds(1))
        let error = await #expect(throws: SQSClient.BatchError.self) {
            try await sqs.sendMessageBatch(
                [.init(id: "0", body: "{}")],
                startDeadline: ContinuousClock.now - .seconds(1)
            )
        }
        #expect(error?.kind == .notSent)
        #expect(error?.outageReason == nil)
        await http.shutdown()
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
