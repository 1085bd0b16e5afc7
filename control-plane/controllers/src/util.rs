//! Helpers every controller shares, all pure: label selectors, controller references, pod
//! activity, readiness and availability, and the ordering of pods for scale-down
//! (Kubernetes' `ActivePodsWithRanks`).

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, ObjectMeta, OwnerReference, Time,
};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use std::cmp::Ordering;
use std::collections::BTreeMap;

pub type Labels = BTreeMap<String, String>;

/// Whether `labels` match a `LabelSelector` (matchLabels and matchExpressions). An empty
/// selector matches everything, a `None` selector nothing (apimachinery's rules).
pub fn selector_matches(sel: Option<&LabelSelector>, labels: Option<&Labels>) -> bool {
    let Some(sel) = sel else { return false };
    let empty = Labels::new();
    let labels = labels.unwrap_or(&empty);
    for (k, v) in sel.match_labels.iter().flatten() {
        if labels.get(k) != Some(v) {
            return false;
        }
    }
    for e in sel.match_expressions.iter().flatten() {
        let have = labels.get(&e.key);
        let values = e.values.as_deref().unwrap_or(&[]);
        let ok = match e.operator.as_str() {
            "In" => have.is_some_and(|v| values.contains(v)),
            "NotIn" => have.is_none_or(|v| !values.contains(v)),
            "Exists" => have.is_some(),
            "DoesNotExist" => have.is_none(),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

/// A Service's selector (a plain map): matches when every pair is present. Callers treat
/// an empty map as "no selector".
pub fn map_selector_matches(sel: &Labels, labels: Option<&Labels>) -> bool {
    let empty = Labels::new();
    let labels = labels.unwrap_or(&empty);
    sel.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// Whether a selector selects nothing useful (no labels, no expressions): Kubernetes
/// refuses to act on such a controller.
pub fn selector_is_empty(sel: &LabelSelector) -> bool {
    sel.match_labels.as_ref().is_none_or(|m| m.is_empty())
        && sel.match_expressions.as_ref().is_none_or(|m| m.is_empty())
}

/// The ownerReference with `controller: true`, if any.
pub fn controller_ref(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true))
}

/// An ownerReference naming `owner` as controller, with blockOwnerDeletion.
pub fn controller_ref_to(api_version: &str, kind: &str, owner: &ObjectMeta) -> OwnerReference {
    OwnerReference {
        api_version: api_version.into(),
        kind: kind.into(),
        name: owner.name.clone().unwrap_or_default(),
        uid: owner.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

pub fn name(meta: &ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or("")
}
pub fn namespace(meta: &ObjectMeta) -> &str {
    meta.namespace.as_deref().unwrap_or("")
}
pub fn uid(meta: &ObjectMeta) -> &str {
    meta.uid.as_deref().unwrap_or("")
}
pub fn key(meta: &ObjectMeta) -> String {
    berth_client::informer::key_of(meta)
}
/// Splits `namespace/name` (or `name`).
pub fn split_key(key: &str) -> (&str, &str) {
    key.split_once('/').unwrap_or(("", key))
}

pub fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending")
}

/// Kubernetes' `IsPodActive`: not Succeeded, not Failed, not being deleted.
pub fn is_pod_active(pod: &Pod) -> bool {
    !matches!(phase(pod), "Succeeded" | "Failed") && pod.metadata.deletion_timestamp.is_none()
}

/// The Ready condition's status and last transition time.
fn ready_condition(pod: &Pod) -> Option<(bool, Option<&Time>)> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| (c.status == "True", c.last_transition_time.as_ref()))
}

pub fn is_pod_ready(pod: &Pod) -> bool {
    ready_condition(pod).is_some_and(|(r, _)| r)
}

/// When the pod last became ready, if it is ready.
pub fn ready_since(pod: &Pod) -> Option<Timestamp> {
    match ready_condition(pod) {
        Some((true, t)) => Some(t.map(|t| t.0).unwrap_or(Timestamp::UNIX_EPOCH)),
        _ => None,
    }
}

/// Kubernetes' `IsPodAvailable`: ready for at least `min_ready_seconds`.
pub fn is_pod_available(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> bool {
    match ready_since(pod) {
        None => false,
        Some(_) if min_ready_seconds <= 0 => true,
        Some(t) => t + SignedDuration::from_secs(min_ready_seconds as i64) <= now,
    }
}

pub fn restarts(pod: &Pod) -> i32 {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map(|cs| cs.iter().map(|c| c.restart_count).max().unwrap_or(0))
        .unwrap_or(0)
}

fn node_name(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .unwrap_or("")
}

/// `controller.kubernetes.io/pod-deletion-cost` (0 when absent or unparsable).
fn deletion_cost(pod: &Pod) -> i32 {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("controller.kubernetes.io/pod-deletion-cost"))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn phase_rank(pod: &Pod) -> u8 {
    match phase(pod) {
        "Pending" => 0,
        "Unknown" => 1,
        "Running" => 2,
        _ => 3,
    }
}

/// Kubernetes' `ActivePodsWithRanks.Less`: the pod to delete first sorts first. `rank` is
/// the number of the controller's pods on the same node (more co-located first).
pub fn scale_down_order(a: (&Pod, usize), b: (&Pod, usize), now: Timestamp) -> Ordering {
    let (pa, ra) = a;
    let (pb, rb) = b;
    // 1. Unassigned < assigned.
    let assigned = |p: &Pod| !node_name(p).is_empty();
    if assigned(pa) != assigned(pb) {
        return assigned(pa).cmp(&assigned(pb));
    }
    // 2. Pending < Unknown < Running.
    if phase_rank(pa) != phase_rank(pb) {
        return phase_rank(pa).cmp(&phase_rank(pb));
    }
    // 3. Not ready < ready.
    if is_pod_ready(pa) != is_pod_ready(pb) {
        return is_pod_ready(pa).cmp(&is_pod_ready(pb));
    }
    // 4. Lower pod-deletion-cost < higher.
    if deletion_cost(pa) != deletion_cost(pb) {
        return deletion_cost(pa).cmp(&deletion_cost(pb));
    }
    // 5. Doubled up (more pods on the node) < not.
    if ra != rb {
        return rb.cmp(&ra);
    }
    // 6. Been ready for less time < more time (log2 buckets of seconds, as
    // LogarithmicScaleDown does, so near-equal ages tie and fall to the next rule).
    if let (Some(ta), Some(tb)) = (ready_since(pa), ready_since(pb)) {
        let (la, lb) = (log_bucket(now, ta), log_bucket(now, tb));
        if la != lb {
            return la.cmp(&lb);
        }
    }
    // 7. More restarts < fewer.
    if restarts(pa) != restarts(pb) {
        return restarts(pb).cmp(&restarts(pa));
    }
    // 8. Newer < older (log2 buckets as well), then by name for a total order.
    let created = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
    match (created(pa), created(pb)) {
        (Some(ta), Some(tb)) => {
            let (la, lb) = (log_bucket(now, ta), log_bucket(now, tb));
            if la != lb {
                return la.cmp(&lb);
            }
        }
        (None, Some(_)) => return Ordering::Less,
        (Some(_), None) => return Ordering::Greater,
        (None, None) => {}
    }
    name(&pa.metadata).cmp(name(&pb.metadata))
}

/// floor(log2(seconds since t)) + 1, 0 for t in the future or now.
fn log_bucket(now: Timestamp, t: Timestamp) -> u32 {
    let secs = now.duration_since(t).as_secs();
    if secs <= 0 {
        0
    } else {
        64 - (secs as u64).leading_zeros()
    }
}

pub fn now() -> Timestamp {
    Timestamp::now()
}

/// A `Time` as the API writes it.
pub fn time(t: Timestamp) -> Time {
    // The API stores seconds for `Time` fields.
    Time(Timestamp::from_second(t.as_second()).unwrap_or(t))
}

/// kube's `rand.String(5)` alphabet: no vowels, no ambiguous characters.
pub const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// apimachinery's `SafeEncodeString`: each byte mapped into [`ALPHANUMS`].
pub fn safe_encode(s: &str) -> String {
    s.bytes()
        .map(|b| ALPHANUMS[b as usize % ALPHANUMS.len()] as char)
        .collect()
}

/// 32-bit FNV-1a.
pub fn fnv32a(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in bytes {
        h ^= *b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// JSON with object keys sorted at every level, whatever serde_json's map type: hashes
/// over it are stable across builds.
pub fn canonical_json(v: &serde_json::Value) -> String {
    fn go(v: &serde_json::Value, out: &mut String) {
        match v {
            serde_json::Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::Value::String((*k).clone()).to_string());
                    out.push(':');
                    go(&m[*k], out);
                }
                out.push('}');
            }
            serde_json::Value::Array(a) => {
                out.push('[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    go(x, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut s = String::new();
    go(v, &mut s);
    s
}

/// Resolves an int-or-percent against `total` (apimachinery's
/// `GetScaledValueFromIntOrPercent`); `None` for a malformed percent.
pub fn scaled_value(
    v: &k8s_openapi::apimachinery::pkg::util::intstr::IntOrString,
    total: i32,
    round_up: bool,
) -> Option<i32> {
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    match v {
        IntOrString::Int(i) => Some(*i),
        IntOrString::String(s) => {
            let p: i64 = s.strip_suffix('%')?.parse().ok()?;
            let num = p * total as i64;
            Some(if round_up {
                (num + 99).div_euclid(100) as i32
            } else {
                num.div_euclid(100) as i32
            })
        }
    }
}

#[cfg(test)]
pub mod testutil {
    //! Builders for test objects.
    use super::*;
    use k8s_openapi::api::core::v1::{ContainerStatus, PodCondition, PodSpec, PodStatus};

    pub fn ts(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    pub fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// A pod: name, phase, node ("" unassigned), ready since (None = not ready), restarts,
    /// created at (seconds after the test epoch).
    pub fn pod(
        name: &str,
        phase: &str,
        node: &str,
        ready_at: Option<i64>,
        restarts: i32,
        created: i64,
    ) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("default".into()),
                uid: Some(format!("uid-{name}")),
                creation_timestamp: Some(Time(ts(created))),
                labels: Some(labels(&[("app", "web")])),
                ..Default::default()
            },
            spec: Some(PodSpec {
                node_name: (!node.is_empty()).then(|| node.to_string()),
                ..Default::default()
            }),
            status: Some(PodStatus {
                phase: Some(phase.into()),
                conditions: Some(vec![PodCondition {
                    type_: "Ready".into(),
                    status: if ready_at.is_some() { "True" } else { "False" }.into(),
                    last_transition_time: ready_at.map(|t| Time(ts(t))),
                    ..Default::default()
                }]),
                container_statuses: Some(vec![ContainerStatus {
                    restart_count: restarts,
                    ..Default::default()
                }]),
                ..Default::default()
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

    #[test]
    fn selectors() {
        let req = |k: &str, op: &str, vals: &[&str]| LabelSelectorRequirement {
            key: k.into(),
            operator: op.into(),
            values: Some(vals.iter().map(|s| s.to_string()).collect()),
        };
        let check = |sel: Option<LabelSelector>, l: &[(&str, &str)], want: bool| {
            assert_eq!(
                selector_matches(sel.as_ref(), Some(&labels(l))),
                want,
                "{sel:?} {l:?}"
            );
        };
        let ml = |l: &[(&str, &str)]| LabelSelector {
            match_labels: Some(labels(l)),
            match_expressions: None,
        };
        let me = |r: Vec<LabelSelectorRequirement>| LabelSelector {
            match_labels: None,
            match_expressions: Some(r),
        };
        check(None, &[("a", "1")], false);
        check(Some(LabelSelector::default()), &[("a", "1")], true);
        check(Some(ml(&[("a", "1")])), &[("a", "1"), ("b", "2")], true);
        check(Some(ml(&[("a", "1")])), &[("a", "2")], false);
        check(Some(ml(&[("a", "1")])), &[], false);
        check(
            Some(me(vec![req("a", "In", &["1", "2"])])),
            &[("a", "2")],
            true,
        );
        check(Some(me(vec![req("a", "In", &["1", "2"])])), &[], false);
        check(Some(me(vec![req("a", "NotIn", &["1"])])), &[], true);
        check(
            Some(me(vec![req("a", "NotIn", &["1"])])),
            &[("a", "1")],
            false,
        );
        check(Some(me(vec![req("a", "Exists", &[])])), &[("a", "x")], true);
        check(
            Some(me(vec![req("a", "DoesNotExist", &[])])),
            &[("a", "x")],
            false,
        );
        check(Some(me(vec![req("a", "Bogus", &[])])), &[("a", "x")], false);
    }

    #[test]
    fn scale_down_ordering() {
        let now = ts(10_000);
        // (a, b): a is deleted before b.
        type Case = (&'static str, (Pod, usize), (Pod, usize));
        let cases: Vec<Case> = vec![
            (
                "unassigned first",
                (pod("a", "Pending", "", None, 0, 0), 1),
                (pod("b", "Running", "n1", Some(10), 0, 0), 1),
            ),
            (
                "pending before running",
                (pod("a", "Pending", "n1", None, 0, 0), 1),
                (pod("b", "Running", "n1", None, 0, 0), 1),
            ),
            (
                "unknown before running",
                (pod("a", "Unknown", "n1", None, 0, 0), 1),
                (pod("b", "Running", "n1", None, 0, 0), 1),
            ),
            (
                "not ready first",
                (pod("a", "Running", "n1", None, 0, 0), 1),
                (pod("b", "Running", "n1", Some(10), 0, 0), 1),
            ),
            (
                "doubled up first",
                (pod("a", "Running", "n1", Some(10), 0, 0), 2),
                (pod("b", "Running", "n2", Some(10), 0, 0), 1),
            ),
            (
                "ready more recently first",
                (pod("a", "Running", "n1", Some(9_990), 0, 0), 1),
                (pod("b", "Running", "n1", Some(10), 0, 0), 1),
            ),
            (
                "more restarts first",
                (pod("a", "Running", "n1", Some(10), 5, 0), 1),
                (pod("b", "Running", "n1", Some(10), 1, 0), 1),
            ),
            (
                "newer first",
                (pod("a", "Running", "n1", Some(10), 0, 9_000), 1),
                (pod("b", "Running", "n1", Some(10), 0, 0), 1),
            ),
        ];
        for (what, a, b) in cases {
            assert_eq!(
                scale_down_order((&a.0, a.1), (&b.0, b.1), now),
                Ordering::Less,
                "{what}"
            );
            assert_eq!(
                scale_down_order((&b.0, b.1), (&a.0, a.1), now),
                Ordering::Greater,
                "{what} (reversed)"
            );
        }
    }

    #[test]
    fn availability() {
        let now = ts(100);
        let check = |ready_at: Option<i64>, min_ready: i32, want: bool| {
            let p = pod("a", "Running", "n1", ready_at, 0, 0);
            assert_eq!(
                is_pod_available(&p, min_ready, now),
                want,
                "{ready_at:?} {min_ready}"
            );
        };
        check(None, 0, false);
        check(Some(99), 0, true);
        check(Some(95), 5, true);
        check(Some(96), 5, false);
    }

    #[test]
    fn scaled_values() {
        let check = |v: IntOrString, total: i32, up: bool, want: Option<i32>| {
            assert_eq!(scaled_value(&v, total, up), want, "{v:?} {total} {up}");
        };
        check(IntOrString::Int(3), 10, true, Some(3));
        check(IntOrString::String("25%".into()), 10, true, Some(3));
        check(IntOrString::String("25%".into()), 10, false, Some(2));
        check(IntOrString::String("100%".into()), 7, false, Some(7));
        check(IntOrString::String("0%".into()), 7, true, Some(0));
        check(IntOrString::String("x".into()), 7, true, None);
    }

    #[test]
    fn hashing_is_stable() {
        assert_eq!(fnv32a(b""), 0x811c9dc5);
        assert_eq!(fnv32a(b"a"), 0xe40c292c);
        assert_eq!(safe_encode("0123"), "4567");
        let a: serde_json::Value =
            serde_json::from_str(r#"{"b":1,"a":{"d":[1,{"y":2,"x":1}],"c":null}}"#).unwrap();
        assert_eq!(
            canonical_json(&a),
            r#"{"a":{"c":null,"d":[1,{"x":1,"y":2}]},"b":1}"#
        );
    }
}
