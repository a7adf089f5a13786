/// Splits a SQL script into statements at top-level semicolons.
///
/// Needed for `no-transaction` files: a multi-statement simple query runs as one implicit
/// transaction, which `CREATE INDEX CONCURRENTLY` refuses, so each statement is sent alone.
/// Understands quoted strings ('' and E'\'' escapes), quoted identifiers, dollar quoting
/// (`$$`, `$tag$`), line comments and nested block comments. Statements that are only
/// comments and whitespace are dropped.
enum SQLStatementSplitter {
    static func split(_ script: String) -> [String] {
        scan(script).map(\.text)
    }

    /// One statement as the splitter found it, with what the linter needs to read it.
    struct ScannedStatement: Equatable {
        /// The statement as `split` returns it (comments included, no trailing `;`).
        var text: String
        /// The code alone: comments become a space, a quoted string `''`, a dollar-quoted body
        /// `$$`; double-quoted identifiers stay. Whitespace runs are one space.
        var code: String
        /// Offset, in Unicode scalars of the script, of the statement's first code character.
        var codeOffset: Int
        /// The text of each `--` comment in or just above the statement, without the `--`.
        var lineComments: [String]
        /// The bodies of the statement's dollar-quoted strings (function and `DO` bodies).
        var dollarBodies: [String]
    }

    static func scan(_ script: String) -> [ScannedStatement] {
        let characters = Array(script.unicodeScalars)
        var statements: [ScannedStatement] = []
        var current = String.UnicodeScalarView()
        var code = String.UnicodeScalarView()
        var codeOffset: Int?
        var lineComments: [String] = []
        var dollarBodies: [String] = []
        var index = 0

        func append(_ range: Range<Int>, isCode: Bool) {
            current.append(contentsOf: characters[range])
            if isCode, codeOffset == nil,
                let first = characters[range].firstIndex(where: { !$0.properties.isWhitespace })
            {
                codeOffset = first
            }
        }
        func finish() {
            if let codeOffset {
                let collapsed = String(code).split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
                statements.append(
                    ScannedStatement(
                        text: String(current).trimmed,
                        code: collapsed,
                        codeOffset: codeOffset,
                        lineComments: lineComments,
                        dollarBodies: dollarBodies
                    )
                )
            }
            current = String.UnicodeScalarView()
            code = String.UnicodeScalarView()
            codeOffset = nil
            lineComments = []
            dollarBodies = []
        }

        while index < characters.count {
            let character = characters[index]
            let next: Unicode.Scalar? = index + 1 < characters.count ? characters[index + 1] : nil
            switch character {
            case ";":
                finish()
                index += 1
            case "-" where next == "-":
                let end = characters[index...].firstIndex(of: "\n") ?? characters.count
                append(index..<end, isCode: false)
                lineComments.append(String(String.UnicodeScalarView(characters[(index + 2)..<end])))
                code.append(" ")
                index = end
            case "/" where next == "*":
                let end = endOfBlockComment(characters, from: index)
                append(index..<end, isCode: false)
                code.append(" ")
                index = end
            case "'", "\"":
                let escapesWithBackslash =
                    character == "'" && index > 0 && (characters[index - 1] == "E" || characters[index - 1] == "e")
                let end = endOfQuoted(characters, from: index, quote: character, backslash: escapesWithBackslash)
                append(index..<end, isCode: true)
                if character == "'" {
                    code.append(contentsOf: "''".unicodeScalars)
                } else {
                    code.append(contentsOf: characters[index..<end])
                }
                index = end
            case "$":
                if let tagEnd = dollarTagEnd(characters, from: index) {
                    let tag = Array(characters[index...tagEnd])
                    let end = endOfDollarQuoted(characters, bodyStart: tagEnd + 1, tag: tag)
                    append(index..<end, isCode: true)
                    let bodyEnd = max(tagEnd + 1, end - tag.count)
                    dollarBodies.append(String(String.UnicodeScalarView(characters[(tagEnd + 1)..<bodyEnd])))
                    code.append(contentsOf: " $$ ".unicodeScalars)
                    index = end
                } else {
                    append(index..<(index + 1), isCode: true)
                    code.append(character)
                    index += 1
                }
            default:
                append(index..<(index + 1), isCode: true)
                code.append(character)
                index += 1
            }
        }
        finish()
        return statements
    }

    private static func endOfBlockComment(_ characters: [Unicode.Scalar], from start: Int) -> Int {
        var depth = 0
        var index = start
        while index < characters.count {
            let next: Unicode.Scalar? = index + 1 < characters.count ? characters[index + 1] : nil
            if characters[index] == "/", next == "*" {
                depth += 1
                index += 2
            } else if characters[index] == "*", next == "/" {
                depth -= 1
                index += 2
                if depth == 0 { return index }
            } else {
                index += 1
            }
        }
        return characters.count
    }

    private static func endOfQuoted(
        _ characters: [Unicode.Scalar],
        from start: Int,
        quote: Unicode.Scalar,
        backslash: Bool
    ) -> Int {
        var index = start + 1
        while index < characters.count {
            let character = characters[index]
            if backslash, character == "\\" {
                index += 2
            } else if character == quote {
                // A doubled quote is an escaped quote, not the end.
                if index + 1 < characters.count, characters[index + 1] == quote {
                    index += 2
                } else {
                    return index + 1
                }
            } else {
                index += 1
            }
        }
        return characters.count
    }

    /// The index of the closing `$` of a dollar-quote tag starting at `start`, or `nil` when
    /// the `$` starts no tag (e.g. a positional parameter `$1`).
    private static func dollarTagEnd(_ characters: [Unicode.Scalar], from start: Int) -> Int? {
        var index = start + 1
        while index < characters.count {
            let character = characters[index]
            if character == "$" { return index }
            let isTagCharacter =
                character.properties.isAlphabetic || character == "_"
                || (index > start + 1 && ("0"..."9").contains(character))
            guard isTagCharacter else { return nil }
            index += 1
        }
        return nil
    }

    private static func endOfDollarQuoted(_ characters: [Unicode.Scalar], bodyStart: Int, tag: [Unicode.Scalar]) -> Int
    {
        var index = bodyStart
        while index + tag.count <= characters.count {
            if characters[index] == "$", Array(characters[index..<(index + tag.count)]) == tag {
                return index + tag.count
            }
            index += 1
        }
        return characters.count
    }
}

extension String {
    fileprivate var trimmed: String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[first...last])
    }
}
