//! Field selectors: parsing, canonical form, escapes, messages and matching.

use berth_apimachinery::fields::{escape_value, unescape_value, FieldOperator, FieldSelector};

/// Parses `input`; `Ok` holds the canonical string, `Err` the message.
fn check(input: &str, expected: Result<&str, &str>) {
    let got = FieldSelector::parse(input)
        .map(|s| s.to_string())
        .map_err(|e| e.to_string());
    assert_eq!(
        got,
        expected.map(str::to_string).map_err(str::to_string),
        "input {input:?}"
    );
    if let Ok(canonical) = got {
        let again = FieldSelector::parse(&canonical).map(|s| s.to_string());
        assert_eq!(
            again,
            Ok(canonical.clone()),
            "canonical form must reparse to itself"
        );
    }
}

#[test]
fn parses() {
    let cases = [
        // From the "Field Selectors" concept page.
        ("status.phase=Running", "status.phase=Running"),
        ("metadata.name=my-service", "metadata.name=my-service"),
        ("metadata.namespace!=default", "metadata.namespace!=default"),
        (
            "status.phase!=Running,spec.restartPolicy=Always",
            "spec.restartPolicy=Always,status.phase!=Running",
        ),
        (
            "metadata.namespace!=default,status.phase==Running",
            "metadata.namespace!=default,status.phase=Running",
        ),
        // Further forms.
        ("", ""),
        ("spec.nodeName=", "spec.nodeName="),
        ("a=1,,b=2", "a=1,b=2"),
        (",", ""),
        ("a==b", "a=b"),
        ("a=b\\,c", "a=b\\,c"),
        ("a=b\\=c\\\\", "a=b\\=c\\\\"),
        (" a = b ", " a = b "),
        ("x.y=z,a=b,x.y!=w", "a=b,x.y!=w,x.y=z"),
    ];
    for (input, canonical) in cases {
        check(input, Ok(canonical));
    }
}

#[test]
fn rejects_with_kubernetes_messages() {
    let cases = [
        ("a", "invalid selector: 'a'; can't understand 'a'"),
        ("a=b,c", "invalid selector: 'a=b,c'; can't understand 'c'"),
        (
            "a=b=c",
            "invalid field selector: unescaped character in value: 61",
        ),
        (
            "a=b\\x",
            "invalid field selector: invalid escape sequence: \\x",
        ),
        (
            "a=b\\",
            "invalid field selector: invalid escape sequence: \\",
        ),
        (
            "a!==b",
            "invalid field selector: unescaped character in value: 61",
        ),
        (
            "a!=b=",
            "invalid field selector: unescaped character in value: 61",
        ),
    ];
    for (input, message) in cases {
        check(input, Err(message));
    }
}

#[test]
fn escaping_round_trips() {
    for raw in ["", "plain", "a,b", "a=b", "a\\b", "\\,=\\", "ünï,cödé"] {
        let escaped = escape_value(raw);
        assert_eq!(unescape_value(&escaped).as_deref(), Ok(raw), "{escaped}");
        let s = FieldSelector::one_term_equal("f", raw);
        let parsed = FieldSelector::parse(&s.to_string()).unwrap();
        assert_eq!(parsed.exact("f"), Some(raw));
    }
}

#[test]
fn matches_with_absent_fields_as_empty() {
    let pod = |field: &str| match field {
        "metadata.name" => Some("web-1".to_string()),
        "status.phase" => Some("Running".to_string()),
        _ => None,
    };
    let cases = [
        ("", true),
        ("metadata.name=web-1", true),
        ("metadata.name==web-1", true),
        ("metadata.name=web-2", false),
        ("metadata.name!=web-2", true),
        ("status.phase!=Running", false),
        ("spec.nodeName=", true),
        ("spec.nodeName!=", false),
        ("spec.nodeName=n1", false),
        ("metadata.name=web-1,status.phase=Running", true),
        ("metadata.name=web-1,status.phase=Pending", false),
    ];
    for (selector, want) in cases {
        let s = FieldSelector::parse(selector).unwrap();
        assert_eq!(s.matches(pod), want, "{selector}");
    }
}

#[test]
fn fields_and_exact_values() {
    let s = FieldSelector::parse("spec.nodeName=n1,status.phase!=Failed,spec.nodeName=n2").unwrap();
    assert_eq!(
        s.fields().collect::<Vec<_>>(),
        ["spec.nodeName", "spec.nodeName", "status.phase"]
    );
    assert_eq!(s.exact("spec.nodeName"), Some("n1"));
    assert_eq!(s.exact("status.phase"), None);
    assert_eq!(s.exact("metadata.name"), None);
    assert!(!s.is_everything());
    assert_eq!(s.requirements()[2].operator, FieldOperator::NotEquals);

    let renamed = s
        .transform(|f, v| -> Result<_, String> {
            match f {
                "status.phase" => Ok(None),
                _ => Ok(Some((format!("x.{f}"), v.to_string()))),
            }
        })
        .unwrap();
    assert_eq!(renamed.to_string(), "x.spec.nodeName=n1,x.spec.nodeName=n2");
    let refused = s.transform(|f, _| {
        if f == "status.phase" {
            Err(format!("{f} unsupported"))
        } else {
            Ok(None)
        }
    });
    assert_eq!(refused, Err("status.phase unsupported".to_string()));
}
