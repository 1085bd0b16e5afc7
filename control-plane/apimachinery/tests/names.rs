//! Name validation and generated names, checked against Kubernetes' messages.

use berth_apimachinery::names::*;

const LABEL_RE_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const SUBDOMAIN_RE_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const NAME_PART_MSG: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

fn check(f: fn(&str) -> Vec<String>, input: &str, expected: &[&str]) {
    let got = f(input);
    assert_eq!(got, expected, "input {input:?}");
}

#[test]
fn dns1123_label() {
    let long = "a".repeat(64);
    let cases: &[(&str, &[&str])] = &[
        ("a", &[]),
        ("my-name", &[]),
        ("123-abc", &[]),
        ("0", &[]),
        (&"a".repeat(63), &[]),
        ("", &[LABEL_RE_MSG]),
        ("A", &[LABEL_RE_MSG]),
        ("-a", &[LABEL_RE_MSG]),
        ("a-", &[LABEL_RE_MSG]),
        ("a_b", &[LABEL_RE_MSG]),
        ("a.b", &["must not contain dots"]),
        (&long, &["must be no more than 63 characters"]),
    ];
    for (input, expected) in cases {
        check(is_dns1123_label, input, expected);
    }
}

#[test]
fn dns1123_subdomain() {
    let long = format!(
        "{}.{}.{}.{}",
        "a".repeat(63),
        "b".repeat(63),
        "c".repeat(63),
        "d".repeat(62)
    );
    let cases: &[(&str, &[&str])] = &[
        ("example.com", &[]),
        ("a", &[]),
        ("a.b.c", &[]),
        ("1.2.3.4", &[]),
        ("", &[SUBDOMAIN_RE_MSG]),
        ("a..b", &[SUBDOMAIN_RE_MSG]),
        (".a", &[SUBDOMAIN_RE_MSG]),
        ("a.", &[SUBDOMAIN_RE_MSG]),
        ("Example.com", &[SUBDOMAIN_RE_MSG]),
        ("a_b.com", &[SUBDOMAIN_RE_MSG]),
        (&long, &["must be no more than 253 characters"]),
    ];
    for (input, expected) in cases {
        check(is_dns1123_subdomain, input, expected);
    }
}

#[test]
fn qualified_names() {
    let long_name = "a".repeat(64);
    let long_prefix = format!("{}/a", "b".repeat(254));
    let cases: &[(&str, &[&str])] = &[
        ("simple", &[]),
        ("now-with-dashes", &[]),
        ("1-starts-with-num", &[]),
        ("1234", &[]),
        ("simple/simple", &[]),
        ("now-with-dashes/simple", &[]),
        ("example.com/MyName", &[]),
        ("kubernetes.io/hostname", &[]),
        ("a.b.c_d-e", &[]),
        ("", &["name part must be non-empty", NAME_PART_MSG]),
        ("-abc", &[NAME_PART_MSG]),
        ("abc-", &[NAME_PART_MSG]),
        ("a b", &[NAME_PART_MSG]),
        ("/simple", &["prefix part must be non-empty"]),
        ("example.com/", &["name part must be non-empty", NAME_PART_MSG]),
        ("Example.com/x", &[&format!("prefix part {SUBDOMAIN_RE_MSG}")]),
        (&long_name, &["name part must be no more than 63 bytes"]),
        (&long_prefix, &["prefix part must be no more than 253 bytes"]),
        (
            "a/b/c",
            &["a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"],
        ),
    ];
    for (input, expected) in cases {
        check(is_qualified_name, input, expected);
    }
}

#[test]
fn label_values() {
    let long = "a".repeat(64);
    let cases: &[(&str, &[&str])] = &[
        ("", &[]),
        ("simple", &[]),
        ("now-with-dashes", &[]),
        ("1-starts-with-num", &[]),
        ("end-with-num-1", &[]),
        ("1234", &[]),
        ("My_Value.1", &[]),
        (&"a".repeat(63), &[]),
        ("nospecialchars%^=@", &[LABEL_VALUE_MSG]),
        ("Tama-nui-te-rā.is.Māori.sun", &[LABEL_VALUE_MSG]),
        ("\\backslashes\\are\\bad", &[LABEL_VALUE_MSG]),
        ("-starts-with-dash", &[LABEL_VALUE_MSG]),
        ("ends-with-dash-", &[LABEL_VALUE_MSG]),
        (".starts.with.dot", &[LABEL_VALUE_MSG]),
        ("a/b", &[LABEL_VALUE_MSG]),
        (&long, &["must be no more than 63 bytes"]),
    ];
    for (input, expected) in cases {
        check(is_valid_label_value, input, expected);
    }
}

#[test]
fn port_names() {
    const CHARSET: &str = "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)";
    const LETTER: &str = "must contain at least one letter (a-z)";
    const HYPHENS: &str = "must not contain consecutive hyphens";
    const ENDS: &str = "must not begin or end with a hyphen";
    let cases: &[(&str, &[&str])] = &[
        ("http", &[]),
        ("a", &[]),
        ("web-8080", &[]),
        ("123-abc", &[]),
        ("", &[CHARSET, LETTER]),
        ("1234", &[LETTER]),
        ("HTTP", &[CHARSET, LETTER]),
        ("a--b", &[HYPHENS]),
        ("-a", &[ENDS]),
        ("a-", &[ENDS]),
        ("a_b", &[CHARSET]),
        ("abcdefghijklmnop", &["must be no more than 15 characters"]),
    ];
    for (input, expected) in cases {
        check(is_valid_port_name, input, expected);
    }
}

#[test]
fn c_identifiers_and_env_names() {
    const C_ID: &str = "a valid C identifier must start with alphabetic character or '_', followed by a string of alphanumeric characters or '_' (e.g. 'my_name',  or 'MY_NAME',  or 'MyName', regex used for validation is '[A-Za-z_][A-Za-z0-9_]*')";
    for (input, expected) in [
        ("A", &[][..]),
        ("_a1", &[]),
        ("MY_NAME", &[]),
        ("", &[C_ID]),
        ("1a", &[C_ID]),
        ("a-b", &[C_ID]),
        ("a.b", &[C_ID]),
    ] {
        check(is_c_identifier, input, expected);
    }
    const ENV: &str = "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')";
    for (input, expected) in [
        ("A", &[][..]),
        ("my.env-name", &[]),
        ("...a", &["must not start with '..'"]),
        (".", &["must not be '.'"]),
        ("..", &["must not be '..'"]),
        ("1a", &[ENV]),
        ("a=b", &[ENV]),
    ] {
        check(is_env_var_name, input, expected);
    }
    const RELAXED: &str =
        "a valid environment variable name must consist only of printable ASCII characters other than '='";
    for (input, expected) in [
        ("1a b$", &[][..]),
        ("", &["environment variable name must be non-empty"]),
        ("a=b", &[RELAXED]),
        ("é", &[RELAXED]),
        ("a\tb", &[RELAXED]),
    ] {
        check(is_relaxed_env_var_name, input, expected);
    }
}

#[test]
fn generated_suffixes_use_the_alphabet() {
    let mut seen = std::collections::BTreeSet::new();
    let mut x: u64 = 0x1234_5678_9abc_def0;
    for _ in 0..2000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let s = generate_name_suffix(x);
        assert_eq!(s.len(), 5, "{s}");
        assert!(
            s.bytes().all(|c| GENERATED_NAME_ALPHABET.contains(&c)),
            "{s}"
        );
        assert!(is_dns1123_label(&s).is_empty(), "{s}");
        seen.insert(s);
    }
    assert!(
        seen.len() > 1990,
        "suffixes repeat too often: {}",
        seen.len()
    );
    // Deterministic in its input, and all chunks out of the alphabet are skipped.
    assert_eq!(generate_name_suffix(0), "bbbbb");
    assert_eq!(generate_name_suffix(u64::MAX).len(), 5);
}

#[test]
fn generated_names_fit_in_a_label() {
    for (base, want_prefix_len) in [("web-", 4), ("", 0), (&*"x".repeat(100), 58)] {
        let name = generate_name(base, 42);
        assert_eq!(name.len(), want_prefix_len + 5, "{name}");
        assert!(name.starts_with(&base[..want_prefix_len]));
    }
}
