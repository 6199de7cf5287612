/// A table as HTML, for front ends that render it (the Jupyter kernel shows `dynamics` and `show
/// settings` this way); scripts and the journal keep the text columns.
public enum HTMLTable {
    /// `<table>` with a header row, one row per entry, and `notes` as paragraphs after it.
    public static func render(header: [String], rows: [[String]], notes: [String] = []) -> String {
        var html = "<table>\n<thead><tr>" + header.map { "<th>\(escape($0))</th>" }.joined() + "</tr></thead>\n<tbody>\n"
        for row in rows { html += "<tr>" + row.map { "<td>\(escape($0))</td>" }.joined() + "</tr>\n" }
        html += "</tbody>\n</table>\n"
        for note in notes { html += "<p>\(escape(note))</p>\n" }
        return html
    }

    /// Text safe inside HTML elements and attribute values.
    public static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }
}
