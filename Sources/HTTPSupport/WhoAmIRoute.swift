import Auth
import Foundation
import Hummingbird
import UUIDCoding

/// `GET /api/v1/whoami`: the caller as the API sees it, `{"user_id", "org_id", "scopes"}`.
///
/// A debugging aid, not part of the contract: it lets a client (or a test) check that its token
/// is accepted and which organization and scopes it carries, without touching any data.
enum WhoAmIRoute {
    struct Body: ResponseEncodable {
        /// Lower-case, like every UUID the API writes (JSONEncoder would write upper case).
        let userID: String
        let organizationID: String
        /// Sorted, so the same token always gives the same body.
        let scopes: [String]

        enum CodingKeys: String, CodingKey {
            case userID = "user_id"
            case organizationID = "org_id"
            case scopes
        }
    }

    static func add(to group: RouterGroup<APIRequestContext>) {
        group.get("whoami") { _, context -> Body in
            let identity = try context.requireIdentity()
            return Body(
                userID: identity.userID.lowercasedString,
                organizationID: identity.organizationID.lowercasedString,
                scopes: identity.scopes.sorted()
            )
        }
    }
}
