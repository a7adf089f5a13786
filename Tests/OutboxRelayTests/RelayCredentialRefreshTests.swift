import Foundation
import Postgres
import TestSupport
import Testing

/// The relay process with temporary credentials from a container credentials endpoint (a stub
/// on loopback), sending to LocalStack's SQS through the stub, which refuses keys it revoked
/// with `ExpiredToken` as SQS does.
@Suite(.requiresDatabase, .requiresLocalStack, .offTheCooperativePool) struct RelayCredentialRefreshTests {
    /// Keys revoked mid-stream, before their stated expiry (a rotated STS session): the relay
    /// fetches new ones and goes on, so every event reaches the real queue, nothing is
    /// dead-lettered, and the endpoint sees one fetch for the rotation, not one per batch.
    @Test func anExpiredTokenMidStreamIsRefreshedAndLosesNothing() async throws {
        let stub = CredentialStubServer(clock: ManualClock(Date()))
        stub.setLifetime(3600)
        try await stub.run { base in
            try await TestDatabase.withFresh { database in
                try await database.migrate()
                try await database.withPool { pool in
                    try await LocalStackSQS.withQueue { sqs, queueURL in
                        stub.forwardSQS(to: sqs.endpoint)
                        let relay = try RelayProcess(
                            databaseURL: database.connectionString,
                            endpoint: base + "/sqs",
                            queueURL: queueURL,
                            settings: [
                                "AWS_ACCESS_KEY_ID": "",
                                "AWS_SECRET_ACCESS_KEY": "",
                                "AWS_CONTAINER_CREDENTIALS_FULL_URI": base + "/container",
                                "AWS_CONTAINER_AUTHORIZATION_TOKEN": "pod-identity-token",
                                "AWS_EC2_METADATA_DISABLED": "true",
                                "RELAY_CLAIM_BATCH": "10",
                            ]
                        )
                        do {
                            try await relay.waitUntilReady()
                            let before = TestEvent.many(100)
                            try await Outbox.insert(before, into: pool)
                            try await waitUntil("the first events left the outbox") {
                                try await Outbox.pending(pool) == 0
                            }
                            let signedBeforeRevocation = stub.signedKeyGenerations.count
                            stub.revokeKeysHandedOut()

                            let after = TestEvent.many(100)
                            try await Outbox.insert(after, into: pool)
                            try await waitUntil("the events after the revocation left the outbox") {
                                try await Outbox.pending(pool) == 0
                            }
                            relay.send(SIGTERM)
                            #expect(try await relay.child.wait(timeout: .seconds(20)) == 0)

                            var received = Received()
                            try await received.drain(sqs, queueURL)
                            let sent = Set((before + after).map(\.id.lowercased))
                            #expect(received.distinctEventIDs == sent)
                            #expect(received.duplicates == 0)
                            #expect(try await Outbox.deadLetters(pool) == 0)

                            // SQS did refuse the old keys, and the relay fetched new ones once.
                            let afterRevocation = stub.signedKeyGenerations.dropFirst(signedBeforeRevocation)
                            #expect(afterRevocation.first == 1, "the first send after the revocation used the old keys")
                            #expect(afterRevocation.last == 2)
                            #expect(stub.generation == 2)
                        } catch {
                            await relay.kill()
                            throw error
                        }
                        await relay.kill()
                    }
                }
            }
        }
    }
}
