import Foundation

/// The shared credentials and config files (`~/.aws/credentials`, `~/.aws/config`), as far as
/// this service reads them: a profile's static keys.
///
/// INI as the SDKs write it: `[name]` sections (`[profile name]` in the config file, except
/// `[default]`), `key = value` lines, `#` and `;` comments. The credentials file wins over the
/// config file for the same profile.
enum SharedCredentialsFiles {
    /// A profile's settings, keys lower-cased.
    typealias Profile = [String: String]

    /// The sections of an INI text; `isConfigFile` strips the `profile ` prefix.
    static func profiles(in text: String, isConfigFile: Bool) -> [String: Profile] {
        var profiles: [String: Profile] = [:]
        var current: String?
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                var name = line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
                if isConfigFile, name != "default" {
                    guard name.hasPrefix("profile ") else {
                        current = nil  // [sso-session x], [services x]: not profiles
                        continue
                    }
                    name = String(name.dropFirst("profile ".count)).trimmingCharacters(in: .whitespaces)
                }
                current = name
                profiles[name, default: [:]] = profiles[name] ?? [:]
                continue
            }
            guard let current, let equals = line.firstIndex(of: "=") else { continue }
            // Indented lines continue a nested setting (`s3 =` sub-sections): not keys we read.
            if rawLine.first == " " || rawLine.first == "\t" { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            profiles[current, default: [:]][key] = value
        }
        return profiles
    }

    /// The merged settings of `profile` in both files, or `nil` when neither has it.
    static func profile(_ name: String, credentialsText: String?, configText: String?) -> Profile? {
        let fromConfig = configText.map { profiles(in: $0, isConfigFile: true)[name] } ?? nil
        let fromCredentials = credentialsText.map { profiles(in: $0, isConfigFile: false)[name] } ?? nil
        guard fromConfig != nil || fromCredentials != nil else { return nil }
        return (fromConfig ?? [:]).merging(fromCredentials ?? [:]) { _, credentials in credentials }
    }
}
