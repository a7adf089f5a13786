import AppConfig
import Foundation

/// Where credentials come from, read once at start from the environment: the sources of the
/// AWS SDKs' default chain, in their order (``CredentialChain``).
///
/// Keys:
/// - environment: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`;
/// - web identity: `AWS_WEB_IDENTITY_TOKEN_FILE`, `AWS_ROLE_ARN`, `AWS_ROLE_SESSION_NAME`,
///   `AWS_ENDPOINT_URL_STS` (else `AWS_ENDPOINT_URL`, else the regional STS endpoint);
/// - shared files: `AWS_PROFILE` (else `AWS_DEFAULT_PROFILE`, else `default`),
///   `AWS_SHARED_CREDENTIALS_FILE` (`~/.aws/credentials`), `AWS_CONFIG_FILE` (`~/.aws/config`);
/// - container: `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`, `AWS_CONTAINER_CREDENTIALS_FULL_URI`,
///   `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`, `AWS_CONTAINER_AUTHORIZATION_TOKEN`;
/// - instance metadata: `AWS_EC2_METADATA_DISABLED`, `AWS_EC2_METADATA_SERVICE_ENDPOINT`;
/// - `AWS_CREDENTIALS_REFRESH_WINDOW_SECONDS`: refresh temporary credentials when less than this
///   is left of them (default: the upload URL lifetime plus 300 s).
public struct CredentialSources: Sendable {
    public struct WebIdentity: Sendable, Equatable {
        public var tokenFile: String
        public var roleARN: String
        public var sessionName: String
        public var stsEndpoint: URL
    }

    public struct Profile: Sendable, Equatable {
        public var name: String
        public var credentials: AWSCredentials
    }

    public struct Container: Sendable, Equatable {
        public var url: URL
        public var authorizationToken: String?
        public var authorizationTokenFile: String?
    }

    public struct InstanceMetadata: Sendable, Equatable {
        public var endpoint: URL
        /// Whether `AWS_EC2_METADATA_SERVICE_ENDPOINT` named it.
        public var isExplicit: Bool
    }

    public var environment: AWSCredentials?
    public var webIdentity: WebIdentity?
    public var profile: Profile?
    public var container: Container?
    /// `nil` when `AWS_EC2_METADATA_DISABLED` is true.
    public var instanceMetadata: InstanceMetadata?
    public var refreshWindowSeconds: Int

    /// The default refresh window: an upload URL signed just before the refresh still gets its
    /// full lifetime, with five minutes to spare.
    public static func defaultRefreshWindowSeconds(uploadURLLifetimeSeconds: Int) -> Int {
        uploadURLLifetimeSeconds + 300
    }

    public init(
        environment: AWSCredentials? = nil,
        webIdentity: WebIdentity? = nil,
        profile: Profile? = nil,
        container: Container? = nil,
        instanceMetadata: InstanceMetadata? = nil,
        refreshWindowSeconds: Int = 1200
    ) {
        self.environment = environment
        self.webIdentity = webIdentity
        self.profile = profile
        self.container = container
        self.instanceMetadata = instanceMetadata
        self.refreshWindowSeconds = refreshWindowSeconds
    }

    public init(environment reader: EnvironmentReader, region: String, uploadURLLifetimeSeconds: Int) throws {
        let accessKeyID = reader.string("AWS_ACCESS_KEY_ID")
        let secretAccessKey = reader.string("AWS_SECRET_ACCESS_KEY")
        if (accessKeyID == nil) != (secretAccessKey == nil) {
            let missing = accessKeyID == nil ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY"
            throw ConfigurationError(
                variable: missing,
                reason: "is required when the other half of the key pair is set"
            )
        }
        if let accessKeyID, let secretAccessKey {
            environment = AWSCredentials(
                accessKeyID: accessKeyID,
                secretAccessKey: secretAccessKey,
                sessionToken: reader.string("AWS_SESSION_TOKEN")
            )
        }
        webIdentity = try Self.webIdentity(reader, region: region)
        profile = try Self.profile(reader)
        container = try Self.container(reader)
        if try reader.boolean("AWS_EC2_METADATA_DISABLED", default: false) {
            instanceMetadata = nil
        } else if let endpoint = try reader.url("AWS_EC2_METADATA_SERVICE_ENDPOINT") {
            instanceMetadata = InstanceMetadata(endpoint: endpoint, isExplicit: true)
        } else {
            instanceMetadata = InstanceMetadata(
                endpoint: InstanceMetadataCredentialProvider.defaultEndpoint,
                isExplicit: false
            )
        }
        refreshWindowSeconds = try reader.integer(
            "AWS_CREDENTIALS_REFRESH_WINDOW_SECONDS",
            default: Self.defaultRefreshWindowSeconds(uploadURLLifetimeSeconds: uploadURLLifetimeSeconds),
            range: 0...43_200
        )
    }

    private static func webIdentity(_ reader: EnvironmentReader, region: String) throws -> WebIdentity? {
        let tokenFile = reader.string("AWS_WEB_IDENTITY_TOKEN_FILE")
        let roleARN = reader.string("AWS_ROLE_ARN")
        guard tokenFile != nil || roleARN != nil else { return nil }
        guard let tokenFile else {
            throw ConfigurationError(
                variable: "AWS_WEB_IDENTITY_TOKEN_FILE",
                reason: "is required when AWS_ROLE_ARN is set"
            )
        }
        guard let roleARN else {
            throw ConfigurationError(
                variable: "AWS_ROLE_ARN",
                reason: "is required when AWS_WEB_IDENTITY_TOKEN_FILE is set"
            )
        }
        guard roleARN.hasPrefix("arn:") else {
            throw ConfigurationError(
                variable: "AWS_ROLE_ARN",
                reason: "must be a role ARN (arn:aws:iam::ACCOUNT:role/NAME)"
            )
        }
        let endpoint =
            try reader.url("AWS_ENDPOINT_URL_STS") ?? reader.url("AWS_ENDPOINT_URL")
            ?? WebIdentityCredentialProvider.regionalEndpoint(region: region)
        let sessionName = reader.string(
            "AWS_ROLE_SESSION_NAME",
            default: "photo-upload-\(Int(Date().timeIntervalSince1970))"
        )
        return WebIdentity(tokenFile: tokenFile, roleARN: roleARN, sessionName: sessionName, stsEndpoint: endpoint)
    }

    /// The selected profile of the shared files and its settings (`nil` when neither file has
    /// it, which only a profile named explicitly makes an error).
    struct SharedProfile {
        let name: String
        /// `AWS_PROFILE` or `AWS_DEFAULT_PROFILE`, for errors.
        let nameVariable: String
        let isExplicit: Bool
        let settings: SharedCredentialsFiles.Profile?
    }

    static func sharedProfile(_ reader: EnvironmentReader) throws -> SharedProfile {
        let explicitName = reader.string("AWS_PROFILE") ?? reader.string("AWS_DEFAULT_PROFILE")
        let nameVariable = reader.string("AWS_PROFILE") != nil ? "AWS_PROFILE" : "AWS_DEFAULT_PROFILE"
        let name = explicitName ?? "default"
        let home = reader.string("HOME")
        let credentialsPath =
            reader.string("AWS_SHARED_CREDENTIALS_FILE").map(expandingTilde(home: home))
            ?? home.map { "\($0)/.aws/credentials" }
        let configPath =
            reader.string("AWS_CONFIG_FILE").map(expandingTilde(home: home)) ?? home.map { "\($0)/.aws/config" }
        let credentialsText = try readIfPresent(
            credentialsPath,
            variable: "AWS_SHARED_CREDENTIALS_FILE",
            mustExist: reader.string("AWS_SHARED_CREDENTIALS_FILE") != nil
        )
        let configText = try readIfPresent(
            configPath,
            variable: "AWS_CONFIG_FILE",
            mustExist: reader.string("AWS_CONFIG_FILE") != nil
        )
        let settings = SharedCredentialsFiles.profile(name, credentialsText: credentialsText, configText: configText)
        if settings == nil, explicitName != nil {
            throw ConfigurationError(
                variable: nameVariable,
                reason: "names profile '\(name)', which neither shared file has"
            )
        }
        return SharedProfile(
            name: name,
            nameVariable: nameVariable,
            isExplicit: explicitName != nil,
            settings: settings
        )
    }

    /// The `region` of the selected profile, if any: the region after `AWS_REGION` and
    /// `AWS_DEFAULT_REGION`, as the SDKs resolve it.
    public static func profileRegion(_ reader: EnvironmentReader) throws -> String? {
        try sharedProfile(reader).settings?["region"].flatMap { $0.isEmpty ? nil : $0 }
    }

    private static func profile(_ reader: EnvironmentReader) throws -> Profile? {
        let shared = try sharedProfile(reader)
        let (name, nameVariable) = (shared.name, shared.nameVariable)
        guard let settings = shared.settings else { return nil }
        let accessKeyID = settings["aws_access_key_id"].flatMap { $0.isEmpty ? nil : $0 }
        let secret = settings["aws_secret_access_key"].flatMap { $0.isEmpty ? nil : $0 }
        guard let accessKeyID, let secret else {
            if accessKeyID != nil || secret != nil {
                throw ConfigurationError(
                    variable: nameVariable,
                    reason: "profile '\(name)' has only one of aws_access_key_id and aws_secret_access_key"
                )
            }
            // A profile may hold only a region; one with a role would silently give other
            // credentials than it names.
            if shared.isExplicit, settings["role_arn"] != nil {
                throw ConfigurationError(
                    variable: nameVariable,
                    reason: "profile '\(name)' has a role (role_arn), which is not supported yet"
                )
            }
            return nil
        }
        return Profile(
            name: name,
            credentials: AWSCredentials(
                accessKeyID: accessKeyID,
                secretAccessKey: secret,
                sessionToken: settings["aws_session_token"].flatMap { $0.isEmpty ? nil : $0 }
            )
        )
    }

    private static func expandingTilde(home: String?) -> (String) -> String {
        { path in
            guard path.hasPrefix("~/"), let home else { return path }
            return home + path.dropFirst()
        }
    }

    private static func readIfPresent(_ path: String?, variable: String, mustExist: Bool) throws -> String? {
        guard let path else { return nil }
        guard FileManager.default.fileExists(atPath: path) else {
            if mustExist {
                throw ConfigurationError(variable: variable, reason: "names \(path), which does not exist")
            }
            return nil
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError(variable: variable, reason: "names \(path), which cannot be read")
        }
        return String(decoding: data, as: UTF8.self)
    }

    private static func container(_ reader: EnvironmentReader) throws -> Container? {
        let url: URL
        if let relative = reader.string("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
            guard relative.hasPrefix("/"),
                let relativeURL = URL(string: "http://\(ContainerCredentialProvider.relativeURIHost)\(relative)")
            else {
                throw ConfigurationError(
                    variable: "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                    reason: "must be a path starting with '/', got '\(relative)'"
                )
            }
            url = relativeURL
        } else if let fullURL = try reader.url("AWS_CONTAINER_CREDENTIALS_FULL_URI") {
            guard ContainerCredentialProvider.isAllowed(fullURL) else {
                throw ConfigurationError(
                    variable: "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                    reason:
                        "must be https, or http on a loopback address, 169.254.170.2, 169.254.170.23 or fd00:ec2::23, got '\(fullURL.absoluteString)'"
                )
            }
            url = fullURL
        } else {
            return nil
        }
        return Container(
            url: url,
            authorizationToken: reader.string("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
            authorizationTokenFile: reader.string("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
        )
    }
}
