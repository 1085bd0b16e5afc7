//! Label selectors: parsing and canonical form, Kubernetes' error messages, `LabelSelector`
//! objects, and matching checked against a reference evaluation over random label sets.

use berth_apimachinery::labels::{Operator, Selector};
use serde_json::{json, Map, Value};

const NAME_PART_MSG: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

/// Parses `input`; `Ok` holds the canonical string, `Err` the message.
fn check(input: &str, expected: Result<&str, &str>) {
    let got = Selector::parse(input)
        .map(|s| s.to_string())
        .map_err(|e| e.to_string());
    assert_eq!(
        got,
        expected.map(str::to_string).map_err(str::to_string),
        "input {input:?}"
    );
    if let Ok(canonical) = got {
        let again = Selector::parse(&canonical).map(|s| s.to_string());
        assert_eq!(
            again,
            Ok(canonical.clone()),
            "canonical form must reparse to itself"
        );
    }
}

#[test]
fn parses_the_documented_syntax() {
    let cases = [
        // From the "Labels and Selectors" concept page.
        ("environment = production", "environment=production"),
        ("tier != frontend", "tier!=frontend"),
        (
            "environment=production,tier!=frontend",
            "environment=production,tier!=frontend",
        ),
        (
            "environment in (production, qa)",
            "environment in (production,qa)",
        ),
        (
            "tier notin (frontend, backend)",
            "tier notin (backend,frontend)",
        ),
        ("partition", "partition"),
        ("!partition", "!partition"),
        (
            "partition,environment notin (qa)",
            "environment notin (qa),partition",
        ),
        (
            "environment,environment notin (frontend)",
            "environment,environment notin (frontend)",
        ),
        // Further forms of the grammar.
        ("", ""),
        ("   ", ""),
        ("x==a", "x==a"),
        ("x=", "x="),
        ("x= ,y=b", "x=,y=b"),
        ("x==", "x=="),
        ("x in ()", "x in ()"),
        ("x in (,a)", "x in (,a)"),
        ("x in (a,)", "x in (,a)"),
        ("x in (b,a,b)", "x in (a,b)"),
        ("x in (in,notin)", "x in (in,notin)"),
        ("x=in", "x=in"),
        ("a>1", "a>1"),
        ("a < 10", "a<10"),
        ("z=1,a=2,m", "a=2,m,z=1"),
        ("example.com/key=v", "example.com/key=v"),
        ("\tx\n=\ry ", "x=y"),
        ("k1=v1,k1!=v2", "k1=v1,k1!=v2"),
    ];
    for (input, canonical) in cases {
        check(input, Ok(canonical));
    }
}

#[test]
fn rejects_with_kubernetes_messages() {
    let key_abc = String::from(
        "unable to parse requirement: <nil>: Invalid value: \"a/b/c\": a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
    );
    let bad_value = format!(
        "unable to parse requirement: values[0][x]: Invalid value: \"_a\": {LABEL_VALUE_MSG}"
    );
    let long_value = format!(
        "unable to parse requirement: values[0][x]: Invalid value: \"{}\": must be no more than 63 bytes",
        "a".repeat(64)
    );
    let two_bad_values = format!(
        "unable to parse requirement: [values[0][x]: Invalid value: \"-a\": {LABEL_VALUE_MSG}, values[1][x]: Invalid value: \"b-\": {LABEL_VALUE_MSG}]"
    );
    let bad_key =
        format!("unable to parse requirement: <nil>: Invalid value: \"-x\": {NAME_PART_MSG}");
    let long_x = format!("x={}", "a".repeat(64));
    let cases: Vec<(&str, &str)> = vec![
        ("x=a b", "found 'b', expected: ',' or 'end of string'"),
        ("x in a", "unable to parse requirement: found 'a' expected: '('"),
        ("x in (a,b", "unable to parse requirement: found '', expected: ',' or ')'"),
        ("x in (a b)", "unable to parse requirement: found 'b', expected: ',' or ')'"),
        ("x in (=)", "unable to parse requirement: found '=', expected: ',', ')' or identifier"),
        ("x in (a,=)", "unable to parse requirement: found '=', expected: ',', or identifier"),
        ("x=,", "found '', expected: identifier after ','"),
        (",", "found ',', expected: !, identifier, or 'end of string'"),
        ("=a", "found '=', expected: !, identifier, or 'end of string'"),
        ("x===", "unable to parse requirement: found '=', expected: identifier"),
        ("x=(", "unable to parse requirement: found '(', expected: identifier"),
        ("x (a)", "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt"),
        ("x y", "unable to parse requirement: found 'y', expected: in, notin, =, ==, !=, gt, lt"),
        ("!x=a", "found '=', expected: ',' or 'end of string'"),
        ("!", "unable to parse requirement: found '', expected: identifier"),
        ("!!x", "unable to parse requirement: found '!', expected: identifier"),
        ("x>a", "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value must be an integer"),
        ("a/b/c", &key_abc),
        ("-x=a", &bad_key),
        ("x=_a", &bad_value),
        (&long_x, &long_value),
        ("x in (-a,b-)", &two_bad_values),
    ];
    for (input, message) in cases {
        check(input, Err(message));
    }
}

fn labels(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

#[test]
fn matches_documented_examples() {
    let prod_front = labels(json!({"environment": "production", "tier": "frontend"}));
    let qa_back = labels(json!({"environment": "qa", "tier": "backend", "partition": "customerA"}));
    let bare = labels(json!({}));
    let cases: &[(&str, [bool; 4])] = &[
        // selector: matches (prod_front, qa_back, bare, no labels at all)
        ("", [true, true, true, true]),
        ("environment=production", [true, false, false, false]),
        ("environment==production", [true, false, false, false]),
        ("tier!=frontend", [false, true, true, true]),
        (
            "environment in (production, qa)",
            [true, true, false, false],
        ),
        ("tier notin (frontend, backend)", [false, false, true, true]),
        ("partition", [false, true, false, false]),
        ("!partition", [true, false, true, true]),
        (
            "environment=production,tier!=frontend",
            [false, false, false, false],
        ),
        (
            "environment,environment notin (frontend)",
            [true, true, false, false],
        ),
        ("environment=", [false, false, false, false]),
        ("environment!=", [true, true, true, true]),
    ];
    for (selector, want) in cases {
        let s = Selector::parse(selector).expect(selector);
        let got = [
            s.matches(Some(&prod_front)),
            s.matches(Some(&qa_back)),
            s.matches(Some(&bare)),
            s.matches(None),
        ];
        assert_eq!(&got, want, "selector {selector:?}");
    }
}

#[test]
fn integer_comparisons() {
    let cases = [
        ("n>5", json!({"n": "6"}), true),
        ("n>5", json!({"n": "5"}), false),
        ("n>5", json!({"n": "x"}), false),
        ("n>5", json!({}), false),
        ("n<5", json!({"n": "-1"}), true),
        ("n<5", json!({"n": "+4"}), true),
        ("n<5", json!({"n": "05"}), false),
    ];
    for (selector, l, want) in cases {
        let s = Selector::parse(selector).unwrap();
        assert_eq!(
            s.matches(Some(&labels(l.clone()))),
            want,
            "{selector} on {l}"
        );
    }
}

#[test]
fn non_string_label_values_count_as_absent() {
    let l = labels(json!({"a": 1}));
    assert!(!Selector::parse("a").unwrap().matches(Some(&l)));
    assert!(Selector::parse("!a").unwrap().matches(Some(&l)));
}

/// `LabelSelector` objects: `Ok` holds the canonical string ("<nothing>" for the selector
/// matching nothing), `Err` the message.
fn check_object(input: Value, expected: Result<&str, &str>) {
    let got = Selector::from_label_selector(&input)
        .map(|s| {
            if s.is_nothing() {
                "<nothing>".to_string()
            } else {
                s.to_string()
            }
        })
        .map_err(|e| e.to_string());
    assert_eq!(
        got,
        expected.map(str::to_string).map_err(str::to_string),
        "input {input}"
    );
}

#[test]
fn label_selector_objects() {
    check_object(json!(null), Ok("<nothing>"));
    check_object(json!({}), Ok(""));
    check_object(json!({"matchLabels": {}, "matchExpressions": []}), Ok(""));
    check_object(json!({"matchLabels": null}), Ok(""));
    check_object(json!({"matchLabels": {"app": "nginx"}}), Ok("app=nginx"));
    check_object(
        json!({
            "matchLabels": {"component": "redis"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["cache"]},
                {"key": "environment", "operator": "NotIn", "values": ["dev", "ci"]},
                {"key": "gpu", "operator": "Exists"},
                {"key": "legacy", "operator": "DoesNotExist"}
            ]
        }),
        Ok("component=redis,environment notin (ci,dev),gpu,!legacy,tier in (cache)"),
    );
    check_object(
        json!({"matchExpressions": [{"key": "a", "operator": "Foo", "values": ["x"]}]}),
        Err("\"Foo\" is not a valid label selector operator"),
    );
    check_object(
        json!({"matchExpressions": [{"key": "a", "operator": "in", "values": ["x"]}]}),
        Err("\"in\" is not a valid label selector operator"),
    );
    check_object(
        json!({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}),
        Err("values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty"),
    );
    check_object(
        json!({"matchExpressions": [{"key": "a", "operator": "NotIn"}]}),
        Err("values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty"),
    );
    check_object(
        json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}),
        Err("values: Invalid value: [\"x\"]: values set must be empty for exists and does not exist"),
    );
    check_object(
        json!({"matchLabels": {"-a": "x"}}),
        Err(&format!("key: Invalid value: \"-a\": {NAME_PART_MSG}")),
    );
    check_object(
        json!({"matchLabels": {"a": "x y"}}),
        Err(&format!(
            "values[0][a]: Invalid value: \"x y\": {LABEL_VALUE_MSG}"
        )),
    );
    check_object(
        json!({"matchExpressions": [{"key": "", "operator": "In", "values": ["-"]}]}),
        Err(&format!(
            "[key: Invalid value: \"\": name part must be non-empty; {NAME_PART_MSG}, values[0][]: Invalid value: \"-\": {LABEL_VALUE_MSG}]"
        )),
    );
    check_object(
        json!({"matchLabels": ["a"]}),
        Err("json: cannot unmarshal array into Go struct field LabelSelector.matchLabels of type map[string]string"),
    );
    check_object(
        json!("app=web"),
        Err("json: cannot unmarshal string into Go value of type v1.LabelSelector"),
    );
}

#[test]
fn nothing_matches_nothing_and_everything_everything() {
    let l = labels(json!({"a": "b"}));
    assert!(!Selector::nothing().matches(Some(&l)));
    assert!(!Selector::nothing().matches(None));
    assert!(Selector::everything().matches(Some(&l)));
    assert!(Selector::parse("").unwrap().is_everything());
    assert!(!Selector::parse("a").unwrap().is_everything());
    let s = Selector::from_map(&labels(json!({"app": "web", "tier": "fe"})));
    assert_eq!(s.to_string(), "app=web,tier=fe");
    assert!(s.matches(Some(&labels(json!({"app": "web", "tier": "fe", "x": "y"})))));
    assert!(Selector::from_map(&Map::new()).is_everything());
}

#[test]
fn exact_matches_for_index_lookups() {
    let s = Selector::parse("app=web,tier in (fe),env in (a,b),x!=y").unwrap();
    assert_eq!(s.requires_exact_match("app"), Some("web"));
    assert_eq!(s.requires_exact_match("tier"), Some("fe"));
    assert_eq!(s.requires_exact_match("env"), None);
    assert_eq!(s.requires_exact_match("x"), None);
    assert_eq!(s.requires_exact_match("nope"), None);
    let r = &s.requirements()[0];
    assert_eq!(
        (r.key(), r.operator(), r.values()),
        ("app", Operator::Equals, &["web".to_string()][..])
    );
}

/// A tiny deterministic generator (xorshift64*), so failures replay.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const KEYS: &[&str] = &["a", "b", "example.com/c"];
const VALUES: &[&str] = &["", "x", "y", "1", "7"];

/// A reference evaluation written from the documentation, one requirement at a time.
fn reference(op: &str, key: &str, values: &[&str], labels: &Map<String, Value>) -> bool {
    let have = labels.get(key).and_then(Value::as_str);
    match op {
        "=" | "==" | "in" => have.is_some_and(|h| values.contains(&h)),
        "!=" | "notin" => !have.is_some_and(|h| values.contains(&h)),
        "exists" => have.is_some(),
        "!" => have.is_none(),
        ">" => have
            .and_then(|h| h.parse::<i64>().ok())
            .is_some_and(|h| h > values[0].parse().unwrap()),
        "<" => have
            .and_then(|h| h.parse::<i64>().ok())
            .is_some_and(|h| h < values[0].parse().unwrap()),
        _ => unreachable!(),
    }
}

#[test]
fn matching_agrees_with_a_reference_evaluation() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..3000 {
        let n_reqs = 1 + rng.next() % 3;
        let mut terms = Vec::new();
        let mut reqs: Vec<(&str, &str, Vec<&str>)> = Vec::new();
        for _ in 0..n_reqs {
            let key = rng.pick(KEYS);
            let op = rng.pick(&["=", "==", "!=", "in", "notin", "exists", "!", ">", "<"]);
            let (term, values) = match op {
                "exists" => (key.to_string(), vec![]),
                "!" => (format!("!{key}"), vec![]),
                "in" | "notin" => {
                    let vs: Vec<&str> = (0..1 + rng.next() % 3).map(|_| rng.pick(VALUES)).collect();
                    (format!("{key} {op} ({})", vs.join(", ")), vs)
                }
                ">" | "<" => {
                    let v = rng.pick(&["1", "7", "3"]);
                    (format!("{key}{op}{v}"), vec![v])
                }
                _ => {
                    let v = rng.pick(VALUES);
                    (format!("{key} {op} {v}"), vec![v])
                }
            };
            terms.push(term);
            reqs.push((op, key, values));
        }
        let text = terms.join(",");
        let selector = Selector::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let reparsed = Selector::parse(&selector.to_string()).unwrap();
        for _ in 0..8 {
            let mut l = Map::new();
            for key in KEYS {
                if rng.next() % 3 != 0 {
                    l.insert(key.to_string(), Value::String(rng.pick(VALUES).to_string()));
                }
            }
            let want = reqs
                .iter()
                .all(|(op, key, values)| reference(op, key, values, &l));
            assert_eq!(
                selector.matches(Some(&l)),
                want,
                "selector {text:?} labels {l:?}"
            );
            assert_eq!(
                reparsed.matches(Some(&l)),
                want,
                "canonical {selector} labels {l:?}"
            );
        }
    }
}
