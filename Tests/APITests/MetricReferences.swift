import Foundation

/// The metric names a Prometheus exposition holds, and the ones the alert rules and the
/// dashboard use, so that ``ObservabilityContractTests`` can hold the second to the first.
enum MetricReferences {
    /// Every sample name in `exposition` (a histogram's `_bucket`, `_sum` and `_count` each).
    static func exportedNames(_ exposition: String) -> Set<String> {
        var names: Set<String> = []
        for line in exposition.split(separator: "\n") where !line.hasPrefix("#") {
            let name = line.prefix { $0 != "{" && $0 != " " }
            if !name.isEmpty { names.insert(String(name)) }
        }
        return names
    }

    /// The `expr` values of a Prometheus rules file: one-line values and `|`/`|-`/`>-` blocks.
    static func ruleExpressions(_ yaml: String) -> [String] {
        var expressions: [String] = []
        let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var index = 0
        while index < lines.count {
            let line = lines[index]
            index += 1
            guard let match = line.firstMatch(of: /^(\s*)expr:\s*(.*)$/) else { continue }
            let indent = match.output.1.count
            let value = String(match.output.2)
            guard ["|", "|-", ">", ">-"].contains(value) else {
                expressions.append(value)
                continue
            }
            var block: [String] = []
            while index < lines.count {
                let next = lines[index]
                let nextIndent = next.prefix { $0 == " " }.count
                if !next.trimmingCharacters(in: .whitespaces).isEmpty, nextIndent <= indent { break }
                block.append(next)
                index += 1
            }
            expressions.append(block.joined(separator: "\n"))
        }
        return expressions
    }

    /// Every `expr` string anywhere in a Grafana dashboard's JSON.
    static func dashboardExpressions(_ json: Data) throws -> [String] {
        var expressions: [String] = []
        func walk(_ value: Any) {
            if let object = value as? [String: Any] {
                for (key, child) in object {
                    if key == "expr", let text = child as? String { expressions.append(text) } else { walk(child) }
                }
            } else if let array = value as? [Any] {
                array.forEach(walk)
            }
        }
        walk(try JSONSerialization.jsonObject(with: json))
        return expressions
    }

    /// PromQL's words that are not metric names.
    static let keywords: Set<String> = [
        "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
        "offset", "inf", "nan", "Inf", "NaN",
    ]

    /// The metric names `expression` selects: what is left once strings, Grafana variables,
    /// label matchers, ranges, grouping clauses, function calls and keywords are taken out.
    static func metricNames(in expression: String) -> Set<String> {
        var text = expression
        text.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/, with: "\"\"")
        text.replace(/\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*/, with: "1m")
        text.replace(/\{[^}]*\}/, with: " ")
        text.replace(/\[[^\]]*\]/, with: " ")
        text.replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/, with: " ")
        var names: Set<String> = []
        // Numbers and durations (`0.05`, `1e3`, `5m`) are words too, starting with a digit.
        for match in text.matches(of: /([A-Za-z0-9_:.]+)(\s*\()?/) {
            let word = String(match.output.1)
            guard let first = word.first, !first.isNumber, first != ".", !word.contains(".") else { continue }
            if match.output.2 != nil || keywords.contains(word) { continue }
            names.insert(word)
        }
        return names
    }
}
