import API
import AppConfig
import HTTPSupport
import Testing

/// `CORS_ALLOWED_ORIGINS`: empty means off, each entry must be an origin exactly as browsers send
/// it, and `*` is for development only; anything else stops the start naming the variable.
@Suite struct CORSConfigurationTests {
    static func make(_ origins: String?, appEnvironment: String = "production") throws -> CORSConfiguration {
        try CORSConfiguration(text: origins, appEnvironment: appEnvironment)
    }

    @Test func unsetOrBlankIsOff() throws {
        for text in [nil, "", " ", " , ,"] {
            let configuration = try Self.make(text)
            #expect(configuration == .disabled)
            #expect(!configuration.isEnabled)
        }
        let fromEnvironment = try APIConfiguration(environment: EnvironmentReader(["JWT_HS256_SECRET": validSecret]))
        #expect(fromEnvironment.cors == .disabled)
    }

    @Test func aListIsReadAsBrowsersSendOrigins() throws {
        let configuration = try Self.make(
            " https://app.example.com, http://localhost:3000,HTTPS://Admin.Example.COM:8443,http://[::1]:8080 "
        )
        #expect(
            configuration.allowedOrigins
                == .list([
                    "https://app.example.com", "http://localhost:3000", "https://admin.example.com:8443",
                    "http://[::1]:8080",
                ])
        )
        #expect(configuration.isEnabled)
    }

    @Test func theWildcardIsForDevelopmentOnly() throws {
        #expect(try Self.make("*", appEnvironment: "development").allowedOrigins == .any)
        for environment in ["production", "staging", "test"] {
            let error = configurationError { _ = try Self.make("*", appEnvironment: environment) }
            #expect(error?.variable == "CORS_ALLOWED_ORIGINS")
            #expect(error?.reason.contains("APP_ENV=development") == true)
        }
        let mixed = configurationError { _ = try Self.make("*,https://app.example.com", appEnvironment: "development") }
        #expect(mixed?.variable == "CORS_ALLOWED_ORIGINS")
    }

    @Test(arguments: [
        "https://app.example.com/",
        "https://app.example.com/path",
        "https://app.example.com?x=1",
        "https://app.example.com#top",
        "https://user@app.example.com",
        "app.example.com",
        "ftp://app.example.com",
        "null",
        "https://",
        "https://app..example.com",
        "https://-app.example.com",
        "https://app_example.com",
        "https://app.example.com:443",
        "http://app.example.com:80",
        "https://app.example.com:0",
        "https://app.example.com:65536",
        "https://app.example.com:08080",
        "https://app.example.com:",
        "https://[::1",
        "https://[zz]:8080",
        "https://app.example.com, https://other.example.com/",
        "https://exämple.com",
    ])
    func malformedOriginsStopTheStart(_ text: String) {
        let error = configurationError { _ = try Self.make(text) }
        #expect(error?.variable == "CORS_ALLOWED_ORIGINS")
        let description = error.map { String(describing: $0) } ?? ""
        #expect(description.hasPrefix("invalid configuration: CORS_ALLOWED_ORIGINS "), "\(description)")
        #expect(!description.contains("\n"))
    }

    @Test func theWholeConfigurationFailsFastOnIt() {
        let error = configurationError {
            _ = try APIConfiguration(
                environment: EnvironmentReader([
                    "JWT_HS256_SECRET": validSecret, "APP_ENV": "production", "CORS_ALLOWED_ORIGINS": "*",
                    "PHOTOS_BUCKET": "photos-production",
                ])
            )
        }
        #expect(error?.variable == "CORS_ALLOWED_ORIGINS")
    }
}
