//! Container logs in the CRI log format (`<RFC3339Nano> <stream> <P|F> <content>`, written
//! by containerd under the agent's root dir): decoding, `tailLines`, and following.

/// One decoded log line (partial lines joined).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub timestamp: String,
    pub stream: String,
    pub content: String,
}

/// Decodes CRI log text. Malformed lines are kept as they are (content only), never dropped.
/// Returns the lines and how many bytes they used: with `flush` false (following a file
/// that is still written), a line without its newline and a partial (`P`) line whose end is
/// not written yet are left for the next read; with `flush` true they are given out too.
pub fn decode(text: &str, flush: bool) -> (Vec<LogLine>, usize) {
    let mut out: Vec<LogLine> = Vec::new();
    let mut partial: Option<LogLine> = None;
    let mut consumed = 0;
    let mut pos = 0;
    let owned;
    let text = if flush && !text.is_empty() && !text.ends_with('\n') {
        owned = format!("{text}\n");
        owned.as_str()
    } else {
        text
    };
    while let Some(nl) = text[pos..].find('\n') {
        let line = &text[pos..pos + nl];
        pos += nl + 1;
        let mut parts = line.splitn(4, ' ');
        let (ts, stream, tag, content) = (parts.next(), parts.next(), parts.next(), parts.next());
        match (ts, stream, tag) {
            (Some(ts), Some(stream @ ("stdout" | "stderr")), Some(tag @ ("P" | "F"))) => {
                let cur = partial.get_or_insert_with(|| LogLine {
                    timestamp: ts.to_string(),
                    stream: stream.to_string(),
                    content: String::new(),
                });
                cur.content.push_str(content.unwrap_or(""));
                if tag == "F" {
                    out.extend(partial.take());
                    consumed = pos;
                }
            }
            _ => {
                out.extend(partial.take());
                out.push(LogLine {
                    timestamp: String::new(),
                    stream: String::new(),
                    content: line.to_string(),
                });
                consumed = pos;
            }
        }
    }
    if flush {
        out.extend(partial);
        consumed = text.len().min(pos.max(consumed));
    }
    (out, consumed)
}

/// The last `n` lines (all of them for `None`).
pub fn tail(lines: Vec<LogLine>, n: Option<usize>) -> Vec<LogLine> {
    match n {
        Some(n) if n < lines.len() => lines[lines.len() - n..].to_vec(),
        _ => lines,
    }
}

/// Renders lines as `kubectl logs` prints them (content only, one per line).
pub fn render(lines: &[LogLine], timestamps: bool) -> String {
    let mut s = String::new();
    for l in lines {
        if timestamps && !l.timestamp.is_empty() {
            s.push_str(&l.timestamp);
            s.push(' ');
        }
        s.push_str(&l.content);
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding() {
        let text = "2026-11-28T10:00:00.000000001Z stdout F hello world\n2026-11-28T10:00:01Z stderr P par\n2026-11-28T10:00:01Z stderr F tial\ngarbage line\n2026-11-28T10:00:02Z stdout F \n2026-11-28T10:00:03Z stdout F unfinish";
        let (lines, consumed) = decode(text, false);
        let contents: Vec<&str> = lines.iter().map(|l| l.content.as_str()).collect();
        assert_eq!(contents, vec!["hello world", "partial", "garbage line", ""]);
        assert_eq!(lines[1].stream, "stderr");
        assert_eq!(&text[consumed..], "2026-11-28T10:00:03Z stdout F unfinish");
        assert_eq!(render(&tail(lines, Some(2)), false), "garbage line\n\n");
        // A partial line is held back while following, given out when flushing.
        let (lines, consumed) = decode("t stdout F a\nt stdout P b\n", false);
        assert_eq!((lines.len(), consumed), (1, 13));
        let (lines, _) = decode("t stdout F a\nt stdout P b\nt stdout F c", true);
        assert_eq!(render(&lines, true), "t a\nt bc\n");
    }
}
