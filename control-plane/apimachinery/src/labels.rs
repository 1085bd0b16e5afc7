//! Label selectors: the string syntax of `?labelSelector=` (`a=b`, `a!=b`, `a in (x,y)`,
//! `a notin (x)`, `a`, `!a`, `a>3`, `a<3`), the `metav1.LabelSelector` JSON object, matching
//! against `metadata.labels`, and the canonical string form.
//!
//! Parsing, validation and error messages follow k8s.io/apimachinery `pkg/labels`: keys
//! must be qualified names, values label values; requirements are sorted by key (stably).

use std::fmt;

use serde_json::{Map, Value};

use crate::gofmt;
use crate::names;

/// Why a selector was rejected. `Display` is the message Kubernetes gives.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// The selector string does not follow the grammar, or a key or value is invalid.
    #[error("{0}")]
    Parse(String),
    /// A `metav1.LabelSelector` requirement is invalid (bad key, value, operator or value
    /// count).
    #[error("{0}")]
    InvalidRequirement(String),
    /// A `metav1.LabelSelector` object is not shaped as one (wrong JSON types).
    #[error("{0}")]
    Malformed(String),
}

/// A selection operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `key in (a,b)`; `In` in a `LabelSelector`.
    In,
    /// `key notin (a,b)`; `NotIn` in a `LabelSelector`.
    NotIn,
    /// `key=a`.
    Equals,
    /// `key==a`.
    DoubleEquals,
    /// `key!=a`.
    NotEquals,
    /// `key`; `Exists` in a `LabelSelector`.
    Exists,
    /// `!key`; `DoesNotExist` in a `LabelSelector`.
    DoesNotExist,
    /// `key>3` (integer comparison).
    GreaterThan,
    /// `key<3` (integer comparison).
    LessThan,
}

impl Operator {
    /// The operator as Kubernetes spells it in messages (`selection.Operator`).
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::In => "in",
            Operator::NotIn => "notin",
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::Exists => "exists",
            Operator::DoesNotExist => "!",
            Operator::GreaterThan => "gt",
            Operator::LessThan => "lt",
        }
    }
}

/// One requirement of a selector: a key, an operator and values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    key: String,
    operator: Operator,
    values: Vec<String>,
}

/// An error of `NewRequirement`: a field path, the bad value (already rendered as Go
/// renders it) and the detail.
struct FieldError {
    path: String,
    value: String,
    detail: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: Invalid value: {}: {}",
            self.path, self.value, self.detail
        )
    }
}

/// Kubernetes' error aggregate: one message as is, several de-duplicated in brackets.
fn aggregate(errs: &[FieldError]) -> String {
    let mut seen: Vec<String> = Vec::new();
    for e in errs {
        let msg = e.to_string();
        if !seen.contains(&msg) {
            seen.push(msg);
        }
    }
    if seen.len() == 1 {
        seen.remove(0)
    } else {
        format!("[{}]", seen.join(", "))
    }
}

fn strings_json(values: Option<&[String]>) -> String {
    match values {
        None => "null".to_string(),
        Some(vs) => gofmt::json_marshal(&Value::Array(
            vs.iter().map(|v| Value::String(v.clone())).collect(),
        )),
    }
}

fn validate_label_key(key: &str, path: &str) -> Option<FieldError> {
    let errs = names::is_qualified_name(key);
    if errs.is_empty() {
        return None;
    }
    Some(FieldError {
        path: path.to_string(),
        value: gofmt::quote(key),
        detail: errs.join("; "),
    })
}

impl Requirement {
    /// Builds a requirement, validating it as Kubernetes' `NewRequirement` does. The error
    /// message names the fields `key`, `values` and `values[i][key]`.
    pub fn new(
        key: &str,
        operator: Operator,
        values: Vec<String>,
    ) -> Result<Requirement, SelectorError> {
        Self::build(key, operator, values, true).map_err(SelectorError::InvalidRequirement)
    }

    /// `values_present`: false renders an empty value list as `null` (a Go nil slice).
    fn build(
        key: &str,
        operator: Operator,
        values: Vec<String>,
        values_present: bool,
    ) -> Result<Requirement, String> {
        let mut errs = Vec::new();
        errs.extend(validate_label_key(key, "key"));
        let shown = if values.is_empty() && !values_present {
            strings_json(None)
        } else {
            strings_json(Some(&values))
        };
        match operator {
            Operator::In | Operator::NotIn => {
                if values.is_empty() {
                    errs.push(FieldError {
                        path: "values".into(),
                        value: shown,
                        detail: "for 'in', 'notin' operators, values set can't be empty".into(),
                    });
                }
            }
            Operator::Equals | Operator::DoubleEquals | Operator::NotEquals => {
                if values.len() != 1 {
                    errs.push(FieldError {
                        path: "values".into(),
                        value: shown,
                        detail: "exact-match compatibility requires one single value".into(),
                    });
                }
            }
            Operator::Exists | Operator::DoesNotExist => {
                if !values.is_empty() {
                    errs.push(FieldError {
                        path: "values".into(),
                        value: shown,
                        detail: "values set must be empty for exists and does not exist".into(),
                    });
                }
            }
            Operator::GreaterThan | Operator::LessThan => {
                if values.len() != 1 {
                    errs.push(FieldError {
                        path: "values".into(),
                        value: shown,
                        detail: "for 'Gt', 'Lt' operators, exactly one value is required".into(),
                    });
                }
                for (i, v) in values.iter().enumerate() {
                    if v.parse::<i64>().is_err() {
                        errs.push(FieldError {
                            path: format!("values[{i}]"),
                            value: gofmt::quote(v),
                            detail: "for 'Gt', 'Lt' operators, the value must be an integer".into(),
                        });
                    }
                }
            }
        }
        for (i, v) in values.iter().enumerate() {
            let msgs = names::is_valid_label_value(v);
            if !msgs.is_empty() {
                errs.push(FieldError {
                    path: format!("values[{i}][{key}]"),
                    value: gofmt::quote(v),
                    detail: msgs.join("; "),
                });
            }
        }
        if !errs.is_empty() {
            return Err(aggregate(&errs));
        }
        Ok(Requirement {
            key: key.to_string(),
            operator,
            values,
        })
    }

    /// The label key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The operator.
    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The values, in the order given (sorted and de-duplicated when parsed from a string).
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// Whether a label set satisfies this requirement.
    pub fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        let value = labels
            .and_then(|l| l.get(&self.key))
            .and_then(Value::as_str);
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => {
                value.is_some_and(|v| self.values.iter().any(|x| x == v))
            }
            Operator::NotIn | Operator::NotEquals => {
                value.is_none_or(|v| !self.values.iter().any(|x| x == v))
            }
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let Some(have) = value.and_then(|v| v.parse::<i64>().ok()) else {
                    return false;
                };
                let [want] = self.values.as_slice() else {
                    return false;
                };
                let Ok(want) = want.parse::<i64>() else {
                    return false;
                };
                if self.operator == Operator::GreaterThan {
                    have > want
                } else {
                    have < want
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.operator == Operator::DoesNotExist {
            f.write_str("!")?;
        }
        f.write_str(&self.key)?;
        let op = match self.operator {
            Operator::Exists | Operator::DoesNotExist => return Ok(()),
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::In => " in ",
            Operator::NotIn => " notin ",
            Operator::GreaterThan => ">",
            Operator::LessThan => "<",
        };
        f.write_str(op)?;
        let set = matches!(self.operator, Operator::In | Operator::NotIn);
        if set {
            f.write_str("(")?;
        }
        if self.values.len() == 1 {
            f.write_str(&self.values[0])?;
        } else {
            let mut sorted = self.values.clone();
            sorted.sort();
            f.write_str(&sorted.join(","))?;
        }
        if set {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// A label selector: the conjunction of its requirements, or the selector that matches
/// nothing (a null `LabelSelector`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selector {
    requirements: Vec<Requirement>,
    nothing: bool,
}

impl Selector {
    /// The selector that matches every object (also what `""` parses to).
    pub fn everything() -> Selector {
        Selector::default()
    }

    /// The selector that matches no object (what a null `LabelSelector` converts to).
    pub fn nothing() -> Selector {
        Selector {
            requirements: Vec::new(),
            nothing: true,
        }
    }

    /// Parses a selector string as `?labelSelector=` carries it.
    pub fn parse(selector: &str) -> Result<Selector, SelectorError> {
        let tokens = lex(selector);
        let mut parser = Parser { tokens, pos: 0 };
        let mut requirements = parser.parse().map_err(SelectorError::Parse)?;
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Selector {
            requirements,
            nothing: false,
        })
    }

    /// Converts a `metav1.LabelSelector` JSON object (`matchLabels`, `matchExpressions`).
    ///
    /// `null` gives [`Selector::nothing`] (a nil `*LabelSelector` selects nothing, as for a
    /// Deployment or a PodDisruptionBudget without a selector); an object without
    /// requirements gives [`Selector::everything`]. `matchLabels` entries come first (in key
    /// order), then `matchExpressions`; the first invalid one is reported.
    pub fn from_label_selector(value: &Value) -> Result<Selector, SelectorError> {
        let obj = match value {
            Value::Null => return Ok(Selector::nothing()),
            Value::Object(obj) => obj,
            other => {
                return Err(SelectorError::Malformed(format!(
                    "json: cannot unmarshal {} into Go value of type v1.LabelSelector",
                    gofmt::json_type_name(other)
                )))
            }
        };
        let mut requirements = Vec::new();
        match obj.get("matchLabels") {
            None | Some(Value::Null) => {}
            Some(Value::Object(labels)) => {
                let mut keys: Vec<&String> = labels.keys().collect();
                keys.sort();
                for k in keys {
                    let v = match &labels[k.as_str()] {
                        Value::String(s) => s.clone(),
                        Value::Null => String::new(),
                        other => return Err(malformed_field("matchLabels", other, "string")),
                    };
                    let r = Requirement::build(k, Operator::Equals, vec![v], true)
                        .map_err(SelectorError::InvalidRequirement)?;
                    requirements.push(r);
                }
            }
            Some(other) => return Err(malformed_field("matchLabels", other, "map[string]string")),
        }
        match obj.get("matchExpressions") {
            None | Some(Value::Null) => {}
            Some(Value::Array(exprs)) => {
                for expr in exprs {
                    requirements.push(requirement_from_expression(expr)?);
                }
            }
            Some(other) => {
                return Err(malformed_field(
                    "matchExpressions",
                    other,
                    "[]v1.LabelSelectorRequirement",
                ))
            }
        }
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Selector {
            requirements,
            nothing: false,
        })
    }

    /// A selector requiring every `key: value` of a plain map (a Service's or a
    /// ReplicationController's `spec.selector`). An empty map gives everything. Entries
    /// are not validated (Kubernetes' `SelectorFromSet`).
    pub fn from_map(map: &Map<String, Value>) -> Selector {
        let mut requirements: Vec<Requirement> = map
            .iter()
            .map(|(k, v)| Requirement {
                key: k.clone(),
                operator: Operator::Equals,
                values: vec![v.as_str().unwrap_or_default().to_string()],
            })
            .collect();
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Selector {
            requirements,
            nothing: false,
        }
    }

    /// Whether an object with these labels (`metadata.labels`, absent = no labels) is
    /// selected. Labels whose value is not a string count as absent.
    pub fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        !self.nothing && self.requirements.iter().all(|r| r.matches(labels))
    }

    /// Whether the selector has no requirement and so selects everything.
    pub fn is_everything(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }

    /// Whether this is the selector that selects nothing.
    pub fn is_nothing(&self) -> bool {
        self.nothing
    }

    /// The requirements, sorted by key.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// The value `label` must have if the selector pins it to one (`label=v`, `label==v`
    /// or `label in (v)`), as Kubernetes' `RequiresExactMatch`: only the first requirement
    /// on that key is considered.
    pub fn requires_exact_match(&self, label: &str) -> Option<&str> {
        let r = self.requirements.iter().find(|r| r.key == label)?;
        match (r.operator, r.values.as_slice()) {
            (Operator::Equals | Operator::DoubleEquals | Operator::In, [v]) => Some(v),
            _ => None,
        }
    }
}

impl fmt::Display for Selector {
    /// The canonical form: requirements sorted by key, joined by `,`; `""` for everything
    /// and for nothing.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

fn malformed_field(field: &str, got: &Value, want: &str) -> SelectorError {
    SelectorError::Malformed(format!(
        "json: cannot unmarshal {} into Go struct field LabelSelector.{field} of type {want}",
        gofmt::json_type_name(got)
    ))
}

fn requirement_from_expression(expr: &Value) -> Result<Requirement, SelectorError> {
    let empty = Map::new();
    let obj = match expr {
        Value::Object(o) => o,
        Value::Null => &empty,
        other => {
            return Err(malformed_field(
                "matchExpressions",
                other,
                "v1.LabelSelectorRequirement",
            ))
        }
    };
    let string_field = |name: &str| -> Result<String, SelectorError> {
        match obj.get(name) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(SelectorError::Malformed(format!(
                "json: cannot unmarshal {} into Go struct field LabelSelectorRequirement.matchExpressions.{name} of type string",
                gofmt::json_type_name(other)
            ))),
        }
    };
    let key = string_field("key")?;
    let op_name = string_field("operator")?;
    let mut values = Vec::new();
    match obj.get("values") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for item in items {
                match item {
                    Value::String(s) => values.push(s.clone()),
                    Value::Null => values.push(String::new()),
                    other => {
                        return Err(SelectorError::Malformed(format!(
                            "json: cannot unmarshal {} into Go struct field LabelSelectorRequirement.matchExpressions.values of type string",
                            gofmt::json_type_name(other)
                        )))
                    }
                }
            }
        }
        Some(other) => {
            return Err(SelectorError::Malformed(format!(
                "json: cannot unmarshal {} into Go struct field LabelSelectorRequirement.matchExpressions.values of type []string",
                gofmt::json_type_name(other)
            )))
        }
    }
    let op = match op_name.as_str() {
        "In" => Operator::In,
        "NotIn" => Operator::NotIn,
        "Exists" => Operator::Exists,
        "DoesNotExist" => Operator::DoesNotExist,
        _ => {
            return Err(SelectorError::InvalidRequirement(format!(
                "{} is not a valid label selector operator",
                gofmt::quote(&op_name)
            )))
        }
    };
    // Kubernetes copies the values with append(nil, ...): an empty list shows as null.
    Requirement::build(&key, op, values, false).map_err(SelectorError::InvalidRequirement)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    EndOfString,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

fn is_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special(b: u8) -> bool {
    matches!(b, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

/// Splits a selector into tokens as Kubernetes' lexer does (a NUL byte ends a token, and
/// the input where it stands alone).
fn lex(s: &str) -> Vec<(Tok, String)> {
    let b = s.as_bytes();
    let mut pos = 0;
    let mut out = Vec::new();
    loop {
        while pos < b.len() && is_whitespace(b[pos]) {
            pos += 1;
        }
        if pos >= b.len() || b[pos] == 0 {
            out.push((Tok::EndOfString, String::new()));
            return out;
        }
        if is_special(b[pos]) {
            let two = b.get(pos..pos + 2);
            let (tok, len) = match (b[pos], two) {
                (_, Some(b"==")) => (Tok::DoubleEquals, 2),
                (_, Some(b"!=")) => (Tok::NotEquals, 2),
                (b'=', _) => (Tok::Equals, 1),
                (b'!', _) => (Tok::DoesNotExist, 1),
                (b'(', _) => (Tok::OpenPar, 1),
                (b')', _) => (Tok::ClosedPar, 1),
                (b',', _) => (Tok::Comma, 1),
                (b'>', _) => (Tok::GreaterThan, 1),
                _ => (Tok::LessThan, 1),
            };
            out.push((tok, s[pos..pos + len].to_string()));
            pos += len;
            continue;
        }
        let start = pos;
        while pos < b.len() && b[pos] != 0 && !is_special(b[pos]) && !is_whitespace(b[pos]) {
            pos += 1;
        }
        let word = String::from_utf8_lossy(&b[start..pos]).into_owned();
        if pos < b.len() && b[pos] == 0 {
            pos += 1; // the NUL is consumed with the identifier
        }
        let tok = match word.as_str() {
            "in" => Tok::In,
            "notin" => Tok::NotIn,
            _ => Tok::Identifier,
        };
        out.push((tok, word));
    }
}

/// Where `in`/`notin` are keywords (after a key) or plain identifiers (anywhere else).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    KeyAndOperator,
    Values,
}

struct Parser {
    tokens: Vec<(Tok, String)>,
    pos: usize,
}

impl Parser {
    fn at(&self, i: usize, ctx: Ctx) -> (Tok, String) {
        let (tok, lit) = self
            .tokens
            .get(i)
            .cloned()
            .unwrap_or((Tok::EndOfString, String::new()));
        match tok {
            Tok::In | Tok::NotIn if ctx == Ctx::Values => (Tok::Identifier, lit),
            _ => (tok, lit),
        }
    }

    fn lookahead(&self, ctx: Ctx) -> (Tok, String) {
        self.at(self.pos, ctx)
    }

    fn consume(&mut self, ctx: Ctx) -> (Tok, String) {
        let t = self.at(self.pos, ctx);
        self.pos += 1;
        t
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, String> {
        let mut reqs = Vec::new();
        loop {
            let (tok, lit) = self.lookahead(Ctx::Values);
            match tok {
                Tok::Identifier | Tok::DoesNotExist => {
                    let r = self
                        .parse_requirement()
                        .map_err(|e| format!("unable to parse requirement: {e}"))?;
                    reqs.push(r);
                    let (t, l) = self.consume(Ctx::Values);
                    match t {
                        Tok::EndOfString => return Ok(reqs),
                        Tok::Comma => {
                            let (t2, l2) = self.lookahead(Ctx::Values);
                            if t2 != Tok::Identifier && t2 != Tok::DoesNotExist {
                                return Err(format!(
                                    "found '{l2}', expected: identifier after ','"
                                ));
                            }
                        }
                        _ => return Err(format!("found '{l}', expected: ',' or 'end of string'")),
                    }
                }
                Tok::EndOfString => return Ok(reqs),
                _ => {
                    return Err(format!(
                        "found '{lit}', expected: !, identifier, or 'end of string'"
                    ))
                }
            }
        }
    }

    fn parse_requirement(&mut self) -> Result<Requirement, String> {
        let (key, inferred) = self.parse_key_and_infer_operator()?;
        if let Some(op) = inferred {
            return Requirement::build(&key, op, Vec::new(), true);
        }
        let op = self.parse_operator()?;
        let values = match op {
            Operator::In | Operator::NotIn => self.parse_values()?,
            _ => self.parse_exact_value()?,
        };
        Requirement::build(&key, op, values, true)
    }

    fn parse_key_and_infer_operator(&mut self) -> Result<(String, Option<Operator>), String> {
        let mut op = None;
        let (mut tok, mut lit) = self.consume(Ctx::Values);
        if tok == Tok::DoesNotExist {
            op = Some(Operator::DoesNotExist);
            (tok, lit) = self.consume(Ctx::Values);
        }
        if tok != Tok::Identifier {
            return Err(format!("found '{lit}', expected: identifier"));
        }
        if let Some(e) = validate_label_key(&lit, "<nil>") {
            return Err(e.to_string());
        }
        let (next, _) = self.lookahead(Ctx::Values);
        if (next == Tok::EndOfString || next == Tok::Comma) && op.is_none() {
            op = Some(Operator::Exists);
        }
        Ok((lit, op))
    }

    fn parse_operator(&mut self) -> Result<Operator, String> {
        let (tok, lit) = self.consume(Ctx::KeyAndOperator);
        Ok(match tok {
            Tok::In => Operator::In,
            Tok::Equals => Operator::Equals,
            Tok::DoubleEquals => Operator::DoubleEquals,
            Tok::GreaterThan => Operator::GreaterThan,
            Tok::LessThan => Operator::LessThan,
            Tok::NotIn => Operator::NotIn,
            Tok::NotEquals => Operator::NotEquals,
            _ => {
                return Err(format!(
                    "found '{lit}', expected: in, notin, =, ==, !=, gt, lt"
                ))
            }
        })
    }

    /// `( v1, v2 )`: a sorted set; empty slots count as the empty value.
    fn parse_values(&mut self) -> Result<Vec<String>, String> {
        let (tok, lit) = self.consume(Ctx::Values);
        if tok != Tok::OpenPar {
            return Err(format!("found '{lit}' expected: '('"));
        }
        let (tok, lit) = self.lookahead(Ctx::Values);
        match tok {
            Tok::Identifier | Tok::Comma => {
                let set = self.parse_identifiers_list()?;
                let (t, _) = self.consume(Ctx::Values);
                if t != Tok::ClosedPar {
                    return Err(format!("found '{lit}', expected: ')'"));
                }
                Ok(set)
            }
            Tok::ClosedPar => {
                self.consume(Ctx::Values);
                Ok(vec![String::new()])
            }
            _ => Err(format!("found '{lit}', expected: ',', ')' or identifier")),
        }
    }

    fn parse_identifiers_list(&mut self) -> Result<Vec<String>, String> {
        let mut set = std::collections::BTreeSet::new();
        loop {
            let (tok, lit) = self.consume(Ctx::Values);
            match tok {
                Tok::Identifier => {
                    set.insert(lit);
                    let (t2, l2) = self.lookahead(Ctx::Values);
                    match t2 {
                        Tok::Comma => continue,
                        Tok::ClosedPar => return Ok(set.into_iter().collect()),
                        _ => return Err(format!("found '{l2}', expected: ',' or ')'")),
                    }
                }
                Tok::Comma => {
                    if set.is_empty() {
                        set.insert(String::new());
                    }
                    let (t2, _) = self.lookahead(Ctx::Values);
                    if t2 == Tok::ClosedPar {
                        set.insert(String::new());
                        return Ok(set.into_iter().collect());
                    }
                    if t2 == Tok::Comma {
                        set.insert(String::new());
                    }
                }
                _ => return Err(format!("found '{lit}', expected: ',', or identifier")),
            }
        }
    }

    fn parse_exact_value(&mut self) -> Result<Vec<String>, String> {
        let (tok, _) = self.lookahead(Ctx::Values);
        if tok == Tok::EndOfString || tok == Tok::Comma {
            return Ok(vec![String::new()]);
        }
        let (tok, lit) = self.consume(Ctx::Values);
        if tok == Tok::Identifier {
            return Ok(vec![lit]);
        }
        Err(format!("found '{lit}', expected: identifier"))
    }
}
