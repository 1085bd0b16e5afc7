//! Output: every command builds a report (plain data), shown as a readable table or as JSON
//! (`-o json`). Keys and values are bytes: tables show them as text with control and
//! non-UTF-8 bytes escaped; JSON gives a string when the bytes are UTF-8, otherwise an
//! object `{"base64": "..."}`. Ids (leases, members) are hex in both, as etcdctl shows them
//! and as kvctl's arguments take them.

use base64::Engine as _;
use serde::{Serialize, Serializer};
use std::fmt::Write as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// What a command prints: JSON from its `Serialize` form, a table from `table()`.
pub trait Report: Serialize {
    fn table(&self) -> String;
}

/// Renders a report in the chosen format (always ending with a newline).
pub fn render(report: &dyn ReportDyn, format: Format) -> String {
    match format {
        Format::Table => {
            let mut s = report.table_dyn();
            if !s.ends_with('\n') {
                s.push('\n');
            }
            s
        }
        Format::Json => {
            let mut s = report.json_dyn();
            s.push('\n');
            s
        }
    }
}

/// Object-safe form of [`Report`].
pub trait ReportDyn {
    fn table_dyn(&self) -> String;
    fn json_dyn(&self) -> String;
}

impl<T: Report> ReportDyn for T {
    fn table_dyn(&self) -> String {
        self.table()
    }
    fn json_dyn(&self) -> String {
        // Serializing plain data to a string cannot fail (no maps with non-string keys).
        serde_json::to_string_pretty(self)
            .unwrap_or_else(|e| format!("{{\"error\": \"failed to encode JSON: {e}\"}}"))
    }
}

/// Prints a report on stdout.
pub fn emit(report: &dyn ReportDyn, format: Format) {
    write_stdout(&render(report, format));
}

/// Writes to stdout and flushes. A closed pipe (`kvctl ... | head`) ends the process
/// quietly; any other write error ends it with exit code 1.
pub fn write_stdout(s: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(s.as_bytes()).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("Error: failed to write to stdout: {e}");
        std::process::exit(1);
    }
}

/// Bytes from the store (a key, a value): a string in JSON when UTF-8, else `{"base64"}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bytes(pub Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(&self.0) {
            Ok(text) => s.serialize_str(text),
            Err(_) => {
                use serde::ser::SerializeMap;
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry(
                    "base64",
                    &base64::engine::general_purpose::STANDARD.encode(&self.0),
                )?;
                m.end()
            }
        }
    }
}

impl Bytes {
    pub fn show(&self) -> String {
        show_bytes(&self.0)
    }
}

/// Bytes as one line of text: UTF-8 shown as is except control characters, which are
/// escaped (`\n`, `\u{1}`), and non-UTF-8 input escaped byte by byte (`\xff`).
pub fn show_bytes(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(text) => {
            let mut out = String::with_capacity(text.len());
            for c in text.chars() {
                if c.is_control() {
                    out.extend(c.escape_default());
                } else {
                    out.push(c);
                }
            }
            out
        }
        Err(_) => b.escape_ascii().to_string(),
    }
}

/// An id in hex, as etcdctl prints lease and member ids.
pub fn hex(id: impl Into<u64>) -> String {
    format!("{:x}", id.into())
}

/// A lease id for output: hex, empty for 0 (no lease).
pub fn lease_hex(id: i64) -> String {
    if id == 0 {
        String::new()
    } else {
        format!("{:x}", id as u64)
    }
}

/// Serializes an i64 lease id as a hex string (`""` for no lease).
pub fn ser_lease<S: Serializer>(id: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&lease_hex(*id))
}

/// Serializes a u64 id as a hex string.
pub fn ser_hex<S: Serializer>(id: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex(*id))
}

/// Parses an id given in hex (as kvctl and etcdctl print them), with or without `0x`.
pub fn parse_hex_id(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    if digits.is_empty() {
        return Err("an id is required".into());
    }
    u64::from_str_radix(digits, 16).map_err(|_| format!("{s:?} is not a hex id"))
}

/// A lease id argument (hex, must fit an i64 and not be 0).
pub fn parse_lease_id(s: &str) -> Result<i64, String> {
    let id = parse_hex_id(s)?;
    i64::try_from(id)
        .ok()
        .filter(|i| *i > 0)
        .ok_or_else(|| format!("{s:?} is not a valid lease id"))
}

/// A plain text table: a header row and aligned columns, two spaces apart.
#[derive(Debug, Clone, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(header: I) -> Table {
        Table {
            header: header.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row<I: IntoIterator<Item = S>, S: Into<String>>(&mut self, cells: I) {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    pub fn render(&self) -> String {
        let n = self
            .header
            .len()
            .max(self.rows.iter().map(Vec::len).max().unwrap_or(0));
        let mut widths = vec![0usize; n];
        for row in std::iter::once(&self.header).chain(&self.rows) {
            for (i, cell) in row.iter().enumerate() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for row in std::iter::once(&self.header).chain(&self.rows) {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                if i + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    let _ = write!(line, "{cell:<w$}  ", w = widths[i]);
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// A two-column table of named fields, for single-object reports.
pub fn fields(items: &[(&str, String)]) -> String {
    let mut t = Table::new(["FIELD", "VALUE"]);
    for (k, v) in items {
        t.row([k.to_string(), v.clone()]);
    }
    t.render()
}

/// A byte count for people: `1.5 MiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_show_escapes_controls_and_invalid_utf8() {
        for (input, shown) in [
            (&b"plain"[..], "plain"),
            (b"line\nbreak", "line\\nbreak"),
            (b"caf\xc3\xa9", "café"),
            (b"\xff\x00k", "\\xff\\x00k"),
            (b"", ""),
        ] {
            assert_eq!(show_bytes(input), shown, "{input:?}");
        }
    }

    #[test]
    fn bytes_json_is_a_string_or_base64() {
        assert_eq!(
            serde_json::to_string(&Bytes(b"a\"b".to_vec())).unwrap(),
            r#""a\"b""#
        );
        assert_eq!(
            serde_json::to_string(&Bytes(vec![0xff, 0xfe])).unwrap(),
            r#"{"base64":"//4="}"#
        );
    }

    #[test]
    fn hex_ids_parse() {
        assert_eq!(parse_hex_id("694d77aa9e38260f"), Ok(0x694d77aa9e38260f));
        assert_eq!(parse_hex_id("0x10"), Ok(16));
        assert!(parse_hex_id("xyz").is_err());
        assert!(parse_hex_id("").is_err());
        assert!(parse_lease_id("0").is_err());
        assert!(parse_lease_id("ffffffffffffffff").is_err());
        assert_eq!(parse_lease_id("7b"), Ok(123));
    }

    #[test]
    fn table_aligns_columns() {
        let mut t = Table::new(["KEY", "VALUE"]);
        t.row(["a", "1"]);
        t.row(["long-key", "2"]);
        assert_eq!(t.render(), "KEY       VALUE\na         1\nlong-key  2\n");
    }

    #[test]
    fn human_bytes_units() {
        assert_eq!(human_bytes(10), "10 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 << 20), "3.0 MiB");
    }
}
