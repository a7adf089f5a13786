import Foundation

/// Aligned plain-text tables for the operator CLIs (`migrator status`,
/// `outbox-relay dead-letters list`, `outbox-relay stats`): columns padded to their widest
/// cell, two spaces apart, no trailing spaces.
public struct TextTable: Sendable {
    public let header: [String]
    public private(set) var rows: [[String]] = []

    public init(header: [String]) {
        self.header = header
    }

    /// Adds a row; missing cells are blank, extra cells are dropped.
    public mutating func append(_ row: [String]) {
        rows.append(header.indices.map { $0 < row.count ? row[$0] : "" })
    }

    /// The table with a trailing newline.
    public func render() -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n") + "\n"
    }
}
