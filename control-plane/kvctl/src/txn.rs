//! The `txn` spec read from stdin, in etcdctl's non-interactive format: compares, a blank
//! line, the success operations, a blank line, the failure operations. A pure parser into
//! plain data; `online` turns it into an etcd request.

/// What a compare looks at, with its operand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Value(Vec<u8>),
    Version(i64),
    Create(i64),
    Mod(i64),
    Lease(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Equal,
    NotEqual,
    Greater,
    Less,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompareSpec {
    pub key: Vec<u8>,
    pub op: CmpOp,
    pub target: Target,
}

/// Which keys an operation names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRange {
    One,
    Prefix,
    FromKey,
    /// `[key, end)`.
    To(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpSpec {
    Get {
        key: Vec<u8>,
        range: KeyRange,
        limit: i64,
        rev: i64,
        keys_only: bool,
    },
    Put {
        key: Vec<u8>,
        value: Vec<u8>,
        lease: i64,
    },
    Del {
        key: Vec<u8>,
        range: KeyRange,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TxnSpec {
    pub compares: Vec<CompareSpec>,
    pub success: Vec<OpSpec>,
    pub failure: Vec<OpSpec>,
}

/// At most this many lines per section (the server refuses more than 128 ops anyway).
const MAX_LINES_PER_SECTION: usize = 1024;

/// Parses the whole spec. Errors name the line (1-based) and what is wrong.
pub fn parse(input: &str) -> Result<TxnSpec, String> {
    let mut spec = TxnSpec::default();
    let mut section = 0usize;
    let mut in_section = 0usize;
    for (n, raw) in input.lines().enumerate() {
        let line = raw.trim();
        let lineno = n + 1;
        if line.is_empty() {
            section += 1;
            in_section = 0;
            if section > 2 {
                // etcdctl stops at the blank line after the failure ops.
                break;
            }
            continue;
        }
        in_section += 1;
        if in_section > MAX_LINES_PER_SECTION {
            return Err(format!(
                "line {lineno}: more than {MAX_LINES_PER_SECTION} lines in one section"
            ));
        }
        let at = |e: String| format!("line {lineno}: {e}");
        match section {
            0 => spec.compares.push(parse_compare(line).map_err(at)?),
            1 => spec.success.push(parse_op(line).map_err(at)?),
            _ => spec.failure.push(parse_op(line).map_err(at)?),
        }
    }
    Ok(spec)
}

/// `value("key") = "v"`, `mod("key") > "5"` (etcdctl also takes the short names c, m, ver, val).
pub fn parse_compare(line: &str) -> Result<CompareSpec, String> {
    let open = line
        .find('(')
        .ok_or("a compare looks like value(\"key\") = \"v\"")?;
    let target = line[..open].trim();
    let rest = &line[open + 1..];
    let mut toks = Tokens::new(rest);
    let key = toks.next_token()?.ok_or("missing key in compare")?;
    toks.expect_char(')')?;
    let op = match toks.next_token()?.as_deref() {
        Some(b"=") | Some(b"==") => CmpOp::Equal,
        Some(b"!=") => CmpOp::NotEqual,
        Some(b">") => CmpOp::Greater,
        Some(b"<") => CmpOp::Less,
        Some(other) => {
            return Err(format!(
                "unknown compare operator {:?} (use =, !=, > or <)",
                String::from_utf8_lossy(other)
            ))
        }
        None => return Err("missing compare operator".into()),
    };
    let operand = toks.next_token()?.ok_or("missing value to compare with")?;
    if toks.next_token()?.is_some() {
        return Err("unexpected text after the compare".into());
    }
    let number = || -> Result<i64, String> {
        let s = String::from_utf8_lossy(&operand);
        s.trim()
            .parse::<i64>()
            .map_err(|_| format!("{s:?} is not a number"))
    };
    let target = match target {
        "value" | "val" => Target::Value(operand.clone()),
        "version" | "ver" => Target::Version(number()?),
        "create" | "c" => Target::Create(number()?),
        "mod" | "m" => Target::Mod(number()?),
        "lease" => {
            let s = String::from_utf8_lossy(&operand).into_owned();
            Target::Lease(if s.trim() == "0" {
                0
            } else {
                crate::render::parse_lease_id(&s)?
            })
        }
        other => {
            return Err(format!(
                "unknown compare target {other:?} (use value, version, create, mod or lease)"
            ))
        }
    };
    if key.is_empty() {
        return Err("empty key in compare".into());
    }
    Ok(CompareSpec { key, op, target })
}

/// `get KEY [END] [--prefix] [--from-key] [--limit=N] [--rev=N] [--keys-only]`,
/// `put KEY VALUE [--lease=ID]`, `del KEY [END] [--prefix] [--from-key]`.
pub fn parse_op(line: &str) -> Result<OpSpec, String> {
    let mut toks = Tokens::new(line);
    let mut words = Vec::new();
    while let Some(t) = toks.next_token()? {
        words.push(t);
    }
    let (verb, args) = words.split_first().ok_or("empty operation")?;
    let mut positional: Vec<Vec<u8>> = Vec::new();
    let mut flags: Vec<(String, Option<String>)> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a.starts_with(b"--") {
            let s = String::from_utf8_lossy(&a[2..]).into_owned();
            match s.split_once('=') {
                Some((k, v)) => flags.push((k.to_string(), Some(v.to_string()))),
                None if matches!(s.as_str(), "lease" | "limit" | "rev") => {
                    let v = args.get(i + 1).ok_or(format!("--{s} needs a value"))?;
                    flags.push((s, Some(String::from_utf8_lossy(v).into_owned())));
                    i += 1;
                }
                None => flags.push((s, None)),
            }
        } else {
            positional.push(a.clone());
        }
        i += 1;
    }
    let flag = |name: &str| {
        flags
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let num = |name: &str| -> Result<i64, String> {
        match flag(name) {
            None => Ok(0),
            Some(Some(v)) => v
                .parse::<i64>()
                .map_err(|_| format!("--{name}={v} is not a number")),
            Some(None) => Err(format!("--{name} needs a value")),
        }
    };
    let allowed: &[&str] = match verb.as_slice() {
        b"get" => &["prefix", "from-key", "limit", "rev", "keys-only"],
        b"put" => &["lease"],
        b"del" | b"delete" => &["prefix", "from-key"],
        other => {
            return Err(format!(
                "unknown operation {:?} (use get, put or del)",
                String::from_utf8_lossy(other)
            ))
        }
    };
    if let Some((k, _)) = flags.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
        return Err(format!(
            "unknown flag --{k} for {}",
            String::from_utf8_lossy(verb)
        ));
    }
    let range = |positional: &[Vec<u8>]| -> Result<KeyRange, String> {
        let prefix = flag("prefix").is_some();
        let from_key = flag("from-key").is_some();
        match (positional.get(1), prefix, from_key) {
            (None, false, false) => Ok(KeyRange::One),
            (None, true, false) => Ok(KeyRange::Prefix),
            (None, false, true) => Ok(KeyRange::FromKey),
            (Some(end), false, false) => Ok(KeyRange::To(end.clone())),
            _ => Err("give at most one of a range end, --prefix and --from-key".into()),
        }
    };
    let key = positional.first().cloned().ok_or("missing key")?;
    if key.is_empty() {
        return Err("empty key".into());
    }
    match verb.as_slice() {
        b"get" => {
            if positional.len() > 2 {
                return Err("get takes a key and an optional range end".into());
            }
            Ok(OpSpec::Get {
                range: range(&positional)?,
                key,
                limit: num("limit")?,
                rev: num("rev")?,
                keys_only: flag("keys-only").is_some(),
            })
        }
        b"put" => {
            if positional.len() != 2 {
                return Err("put takes a key and a value".into());
            }
            let lease = match flag("lease") {
                None => 0,
                Some(Some(v)) => crate::render::parse_lease_id(&v)?,
                Some(None) => return Err("--lease needs a value".into()),
            };
            Ok(OpSpec::Put {
                key,
                value: positional[1].clone(),
                lease,
            })
        }
        _ => {
            if positional.len() > 2 {
                return Err("del takes a key and an optional range end".into());
            }
            Ok(OpSpec::Del {
                range: range(&positional)?,
                key,
            })
        }
    }
}

/// Splits a line into words: bare words end at whitespace (or `)`), "quoted" words take
/// escapes (\" \\ \n \t \r \0 \xNN).
struct Tokens<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Tokens<'a> {
    fn new(s: &'a str) -> Self {
        Tokens {
            s: s.as_bytes(),
            pos: 0,
        }
    }

    fn skip_ws(&mut self) {
        while self.pos < self.s.len() && self.s[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    fn expect_char(&mut self, c: char) -> Result<(), String> {
        self.skip_ws();
        if self.s.get(self.pos) == Some(&(c as u8)) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected {c:?}"))
        }
    }

    fn next_token(&mut self) -> Result<Option<Vec<u8>>, String> {
        self.skip_ws();
        if self.pos >= self.s.len() {
            return Ok(None);
        }
        let mut out = Vec::new();
        if self.s[self.pos] == b'"' {
            self.pos += 1;
            loop {
                let Some(&b) = self.s.get(self.pos) else {
                    return Err("unterminated quoted string".into());
                };
                self.pos += 1;
                match b {
                    b'"' => return Ok(Some(out)),
                    b'\\' => {
                        let Some(&e) = self.s.get(self.pos) else {
                            return Err("unterminated escape".into());
                        };
                        self.pos += 1;
                        match e {
                            b'"' | b'\\' | b'\'' => out.push(e),
                            b'n' => out.push(b'\n'),
                            b't' => out.push(b'\t'),
                            b'r' => out.push(b'\r'),
                            b'0' => out.push(0),
                            b'x' => {
                                let hex = self
                                    .s
                                    .get(self.pos..self.pos + 2)
                                    .ok_or("\\x needs two hex digits")?;
                                let v = u8::from_str_radix(
                                    std::str::from_utf8(hex).map_err(|_| "bad \\x escape")?,
                                    16,
                                )
                                .map_err(|_| "\\x needs two hex digits")?;
                                out.push(v);
                                self.pos += 2;
                            }
                            other => return Err(format!("unknown escape \\{}", other as char)),
                        }
                    }
                    _ => out.push(b),
                }
            }
        }
        // A bare word; `)` ends it too, so `value(key)` works without quotes.
        while self.pos < self.s.len()
            && !self.s[self.pos].is_ascii_whitespace()
            && self.s[self.pos] != b')'
        {
            out.push(self.s[self.pos]);
            self.pos += 1;
        }
        if out.is_empty() {
            // A lone `)`: hand it back as a token so callers see it.
            out.push(self.s[self.pos]);
            self.pos += 1;
        }
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_compare(line: &str, expected: Result<CompareSpec, &str>) {
        let got = parse_compare(line);
        match expected {
            Ok(c) => assert_eq!(got, Ok(c), "{line}"),
            Err(frag) => assert!(
                got.as_ref().is_err_and(|e| e.contains(frag)),
                "{line}: {got:?} should fail with {frag:?}"
            ),
        }
    }

    fn cmp(key: &str, op: CmpOp, target: Target) -> CompareSpec {
        CompareSpec {
            key: key.into(),
            op,
            target,
        }
    }

    #[test]
    fn compares() {
        check_compare(
            r#"value("k") = "v""#,
            Ok(cmp("k", CmpOp::Equal, Target::Value(b"v".to_vec()))),
        );
        check_compare(
            r#"mod("key1") > "0""#,
            Ok(cmp("key1", CmpOp::Greater, Target::Mod(0))),
        );
        check_compare(
            r#"version("a b") != "3""#,
            Ok(cmp("a b", CmpOp::NotEqual, Target::Version(3))),
        );
        check_compare(
            r#"c("k") < "10""#,
            Ok(cmp("k", CmpOp::Less, Target::Create(10))),
        );
        check_compare(
            r#"lease("k") = "694d77aa9e38260f""#,
            Ok(cmp("k", CmpOp::Equal, Target::Lease(0x694d77aa9e38260f))),
        );
        check_compare(
            r#"lease("k") = "0""#,
            Ok(cmp("k", CmpOp::Equal, Target::Lease(0))),
        );
        check_compare(
            r#"val(k) = v"#,
            Ok(cmp("k", CmpOp::Equal, Target::Value(b"v".to_vec()))),
        );
        check_compare(
            r#"value("k\x00\n") = "a\"b""#,
            Ok(cmp("k\0\n", CmpOp::Equal, Target::Value(b"a\"b".to_vec()))),
        );
        check_compare(r#"value("k") ~ "v""#, Err("unknown compare operator"));
        check_compare(r#"size("k") = "1""#, Err("unknown compare target"));
        check_compare(r#"mod("k") = "x""#, Err("not a number"));
        check_compare(r#"value("k" = "v""#, Err("expected ')'"));
        check_compare(r#"value("k) = v"#, Err("unterminated"));
        check_compare(r#"value("k") = "v" extra"#, Err("unexpected text"));
        check_compare("nothing here", Err("a compare looks like"));
    }

    #[test]
    fn ops() {
        let ok = |line: &str, op: OpSpec| assert_eq!(parse_op(line), Ok(op), "{line}");
        ok(
            "put k v",
            OpSpec::Put {
                key: b"k".to_vec(),
                value: b"v".to_vec(),
                lease: 0,
            },
        );
        ok(
            r#"put k "two words" --lease=7b"#,
            OpSpec::Put {
                key: b"k".to_vec(),
                value: b"two words".to_vec(),
                lease: 0x7b,
            },
        );
        ok(
            "put k v --lease 7b",
            OpSpec::Put {
                key: b"k".to_vec(),
                value: b"v".to_vec(),
                lease: 0x7b,
            },
        );
        ok(
            "get k",
            OpSpec::Get {
                key: b"k".to_vec(),
                range: KeyRange::One,
                limit: 0,
                rev: 0,
                keys_only: false,
            },
        );
        ok(
            "get k --prefix --limit=2 --rev=5 --keys-only",
            OpSpec::Get {
                key: b"k".to_vec(),
                range: KeyRange::Prefix,
                limit: 2,
                rev: 5,
                keys_only: true,
            },
        );
        ok(
            "get a c",
            OpSpec::Get {
                key: b"a".to_vec(),
                range: KeyRange::To(b"c".to_vec()),
                limit: 0,
                rev: 0,
                keys_only: false,
            },
        );
        ok(
            "del k --from-key",
            OpSpec::Del {
                key: b"k".to_vec(),
                range: KeyRange::FromKey,
            },
        );
        ok(
            "delete k",
            OpSpec::Del {
                key: b"k".to_vec(),
                range: KeyRange::One,
            },
        );
        for (line, frag) in [
            ("put k", "put takes a key and a value"),
            ("put k v --prefix", "unknown flag --prefix"),
            ("get k --prefix --from-key", "at most one"),
            ("get a b --prefix", "at most one"),
            ("get k --limit=x", "not a number"),
            ("cas k v", "unknown operation"),
            ("put k v --lease", "--lease needs a value"),
            (r#"put "" v"#, "empty key"),
        ] {
            let got = parse_op(line);
            assert!(
                got.as_ref().is_err_and(|e| e.contains(frag)),
                "{line}: {got:?} should fail with {frag:?}"
            );
        }
    }

    #[test]
    fn whole_spec_with_sections() {
        let spec = parse("mod(\"k\") > \"0\"\n\nput k updated\nget k\n\nput k created\n").unwrap();
        assert_eq!(spec.compares.len(), 1);
        assert_eq!(spec.success.len(), 2);
        assert_eq!(
            spec.failure,
            vec![OpSpec::Put {
                key: b"k".to_vec(),
                value: b"created".to_vec(),
                lease: 0
            }]
        );
        // No compares: the success ops always run.
        let spec = parse("\nput a 1\n").unwrap();
        assert!(spec.compares.is_empty());
        assert_eq!(spec.success.len(), 1);
        // Text after the third blank line is ignored, as etcdctl does.
        let spec = parse("\nput a 1\n\nput b 2\n\nput c 3\n").unwrap();
        assert_eq!((spec.success.len(), spec.failure.len()), (1, 1));
        let err = parse("value(\"k\") = \"v\"\n\nbogus op\n").unwrap_err();
        assert!(err.starts_with("line 3:"), "{err}");
    }
}
