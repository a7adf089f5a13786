import Auth
import AuthTestSupport
import HTTPSupport
import HTTPTypes
import Hummingbird

/// The `/api/v1` group the HTTPSupport tests put behind authentication: `whoami`, and
/// `POST echo`, which decodes a small JSON body (so a large one is a 413).
enum TestVersion1 {
    /// Adds the group to `router`, verifying HS256 tokens signed with `AuthFixtures.secret`.
    static func add(to router: Router<APIRequestContext>) async throws -> RouterGroup<APIRequestContext> {
        let version1 = APIRoutes.addVersion1(
            to: router,
            verifier: try await TokenVerifier(hs256Secret: AuthFixtures.secret, jwks: nil)
        )
        version1.post("echo") { request, context -> HTTPResponse.Status in
            _ = try await request.decode(as: [String: String].self, context: context)
            return .ok
        }
        return version1
    }
}
