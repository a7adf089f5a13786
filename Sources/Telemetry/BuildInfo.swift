import CBuildStamp

/// What this binary is: the release it belongs to and the commit it was built from, for
/// `--version` and the `build_info` metric (so a dashboard shows which build each process runs).
public enum BuildInfo {
    /// The release number, changed by hand when a release is cut.
    public static let version = "1.0.0"

    /// The git commit of the build (12 hex digits, "-dirty" when tracked files differed from it),
    /// stamped by `scripts/stamp-build.sh` before building; "unknown" when the build was not
    /// stamped.
    public static let commit = String(cString: cbuildstamp_commit())

    /// The answer to `--version` of every executable: `1.0.0 (commit 0123456789ab)`.
    public static var versionLine: String { "\(version) (commit \(commit))" }
}
