import Hummingbird
import NIOCore

/// `GET /openapi.yaml`: the OpenAPI 3.1 document of every route of `photo-api`, served without
/// authentication as `application/yaml`.
///
/// Operations the contract defines but the API does not serve yet carry `x-status: planned`.
/// `OpenAPIDocumentTests` keeps the document and the router's route table in step, and
/// `scripts/schemathesis.sh` checks the live API against it.
///
/// The document is `openapi.yaml` beside this file, so that it reads, diffs and lints as YAML.
/// SwiftPM embeds it in the binary at build time (`.embedInCode` in `Package.swift`), so a
/// deployed `photo-api` serves it without any file next to the executable.
public enum OpenAPIDocument {
    /// The media type of the served document.
    public static let mediaType = "application/yaml"

    /// The value of `x-status` on operations the API does not serve yet.
    public static let plannedStatus = "planned"

    /// The document's bytes, exactly as in `openapi.yaml` (no final newline).
    public static let bytes: [UInt8] = PackageResources.openapi_yaml

    /// The response body, built once: every response shares its storage instead of copying the
    /// document per request.
    private static let body = ByteBuffer(bytes: bytes)

    /// Adds `GET /openapi.yaml` to `router` (outside `/api/v1`, so no token is needed).
    public static func add<Context: RequestContext>(to router: Router<Context>) {
        router.get("openapi.yaml") { _, _ -> Response in
            Response(
                status: .ok,
                headers: [.contentType: mediaType],
                body: .init(byteBuffer: body)
            )
        }
    }

    /// A Hummingbird route pattern (`/api/v1/photos/:photo_id`) as an OpenAPI path
    /// (`/api/v1/photos/{photo_id}`).
    public static func openAPIPath(_ routePattern: String) -> String {
        let components = routePattern.split(separator: "/", omittingEmptySubsequences: true).map { component in
            component.hasPrefix(":") ? "{\(component.dropFirst())}" : String(component)
        }
        return "/" + components.joined(separator: "/")
    }
}
