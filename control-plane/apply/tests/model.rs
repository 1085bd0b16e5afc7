//! Model-based properties over seeded random Deployments: a config is generated together with
//! its model (the value of every leaf, by path), and apply and track_update are checked
//! against what the model says they must do.

use std::collections::BTreeMap;

use berth_apply::{
    apply, decode_managed_fields, track_update, ApplyError, BuiltinSchema, FieldSet, OrdValue,
    PathElement,
};
use serde_json::{json, Map, Value};

/// splitmix64: one seed reproduces a case.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn coin(&mut self) -> bool {
        self.below(2) == 0
    }
    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())].clone()
    }
    /// A random subset, in random order.
    fn subset<T: Clone>(&mut self, items: &[T]) -> Vec<T> {
        let mut out: Vec<T> = items.iter().filter(|_| self.coin()).cloned().collect();
        for i in (1..out.len()).rev() {
            let j = self.below(i + 1);
            out.swap(i, j);
        }
        out
    }
}

/// One step of a model path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Field(&'static str),
    /// A map-list item by its key fields (sorted by name, defaults filled in), values as JSON.
    Key(Vec<(&'static str, String)>),
}

type ModelPath = Vec<Step>;

/// A generated config and its model: every leaf (scalar or atomic list) with its value, and
/// the set items (finalizers).
struct Case {
    config: Value,
    leaves: BTreeMap<ModelPath, Value>,
    finalizers: Vec<String>,
}

fn f(name: &'static str) -> Step {
    Step::Field(name)
}

/// The path as Kubernetes prints it, written independently of the crate.
fn render(path: &ModelPath) -> String {
    path.iter()
        .map(|s| match s {
            Step::Field(n) => format!(".{n}"),
            Step::Key(fields) => {
                let parts: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("[{}]", parts.join(","))
            }
        })
        .collect()
}

fn to_elements(path: &ModelPath) -> Vec<PathElement> {
    path.iter()
        .map(|s| match s {
            Step::Field(n) => PathElement::Field(n.to_string()),
            Step::Key(fields) => PathElement::Key(
                fields
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.to_string(),
                            OrdValue(serde_json::from_str(v).unwrap_or(Value::Null)),
                        )
                    })
                    .collect(),
            ),
        })
        .collect()
}

/// The value at a model path in an object.
fn lookup<'a>(obj: &'a Value, path: &ModelPath) -> Option<&'a Value> {
    let mut cur = obj;
    for step in path {
        cur = match step {
            Step::Field(n) => cur.get(*n)?,
            Step::Key(fields) => cur.as_array()?.iter().find(|item| {
                fields.iter().all(|(k, v)| {
                    let have = item
                        .get(*k)
                        .cloned()
                        .or((*k == "protocol").then(|| json!("TCP")));
                    have.map(|h| h.to_string()).as_ref() == Some(v)
                })
            })?,
        };
    }
    Some(cur)
}

fn gen(rng: &mut Rng) -> Case {
    let mut leaves = BTreeMap::new();
    let mut metadata = Map::new();
    metadata.insert("name".into(), json!("web"));
    let mut labels = Map::new();
    for key in rng.subset(&["a", "b", "c"]) {
        let v = json!(rng.pick(&["x", "y"]));
        leaves.insert(vec![f("metadata"), f("labels"), f(key)], v.clone());
        labels.insert(key.into(), v);
    }
    if !labels.is_empty() {
        metadata.insert("labels".into(), Value::Object(labels));
    }
    let finalizers: Vec<String> = rng
        .subset(&["f.io/1", "f.io/2", "f.io/3"])
        .into_iter()
        .map(String::from)
        .collect();
    if !finalizers.is_empty() {
        metadata.insert("finalizers".into(), json!(finalizers));
    }

    let mut spec = Map::new();
    if rng.coin() {
        let v = json!(1 + rng.below(3));
        leaves.insert(vec![f("spec"), f("replicas")], v.clone());
        spec.insert("replicas".into(), v);
    }
    let pod = [f("spec"), f("template"), f("spec"), f("containers")];
    let mut containers = Vec::new();
    for name in rng.subset(&["c1", "c2", "c3"]) {
        let item_path = |rest: &[Step]| {
            let mut p = pod.to_vec();
            p.push(Step::Key(vec![("name", json!(name).to_string())]));
            p.extend_from_slice(rest);
            p
        };
        let mut c = Map::new();
        c.insert("name".into(), json!(name));
        leaves.insert(item_path(&[f("name")]), json!(name));
        if rng.coin() {
            let v = json!(rng.pick(&["img:1", "img:2"]));
            leaves.insert(item_path(&[f("image")]), v.clone());
            c.insert("image".into(), v);
        }
        if rng.coin() {
            let v = rng.pick(&[json!(["-a"]), json!(["-b", "-a"])]);
            leaves.insert(item_path(&[f("args")]), v.clone());
            c.insert("args".into(), v);
        }
        let mut ports = Vec::new();
        for port in rng.subset(&[80, 443]) {
            let key = Step::Key(vec![
                ("containerPort", json!(port).to_string()),
                ("protocol", json!("TCP").to_string()),
            ]);
            let mut p = Map::new();
            p.insert("containerPort".into(), json!(port));
            leaves.insert(
                item_path(&[f("ports"), key.clone(), f("containerPort")]),
                json!(port),
            );
            if rng.coin() {
                let v = json!(rng.pick(&["http", "web"]));
                leaves.insert(item_path(&[f("ports"), key, f("name")]), v.clone());
                p.insert("name".into(), v);
            }
            ports.push(Value::Object(p));
        }
        if !ports.is_empty() {
            c.insert("ports".into(), Value::Array(ports));
        }
        containers.push(Value::Object(c));
    }
    if !containers.is_empty() {
        spec.insert(
            "template".into(),
            json!({"spec": {"containers": containers}}),
        );
    }
    let mut config = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata});
    if !spec.is_empty() {
        config["spec"] = Value::Object(spec);
    }
    Case {
        config,
        leaves,
        finalizers,
    }
}

const T0: &str = "2020-01-01T00:00:00Z";
const T1: &str = "2020-01-01T00:00:01Z";
const N_SEEDS: u64 = 400;

fn must(r: Result<Value, ApplyError>, seed: u64) -> Value {
    r.unwrap_or_else(|e| panic!("seed {seed}: apply failed: {e}"))
}

fn entry_fields(obj: &Value, manager: &str) -> FieldSet {
    decode_managed_fields(obj)
        .unwrap_or_default()
        .into_iter()
        .find(|e| e.manager == manager)
        .map(|e| e.fields)
        .unwrap_or_default()
}

fn without_times(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(entries) = o["metadata"]["managedFields"].as_array_mut() {
        for e in entries {
            if let Some(m) = e.as_object_mut() {
                m.remove("time");
            }
        }
    }
    o
}

/// Applying a config, then reading back: every leaf and set item of the config is there;
/// applying it again changes nothing, not even the time.
#[test]
fn applied_config_is_contained_and_reapply_is_a_no_op() {
    for seed in 0..N_SEEDS {
        let mut rng = Rng(seed);
        let base = gen(&mut rng);
        let case = gen(&mut rng);
        let live = must(
            apply(None, &base.config, "other", false, &BuiltinSchema, T0),
            seed,
        );
        let out = must(
            apply(Some(&live), &case.config, "me", true, &BuiltinSchema, T0),
            seed,
        );
        for (path, v) in &case.leaves {
            assert_eq!(lookup(&out, path), Some(v), "seed {seed}: {}", render(path));
        }
        let have = out["metadata"]["finalizers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for fin in &case.finalizers {
            assert!(have.contains(&json!(fin)), "seed {seed}: finalizer {fin}");
        }
        let again = must(
            apply(Some(&out), &case.config, "me", false, &BuiltinSchema, T1),
            seed,
        );
        assert_eq!(again, out, "seed {seed}");
    }
}

/// One manager applying C1 then C2 ends where applying C2 alone does: everything C1 set and
/// C2 does not is pruned, and the applier owns exactly C2's fields.
#[test]
fn reapplying_a_changed_config_prunes_to_the_new_config() {
    for seed in 0..N_SEEDS {
        let mut rng = Rng(seed);
        let c1 = gen(&mut rng);
        let c2 = gen(&mut rng);
        let first = must(
            apply(None, &c1.config, "me", false, &BuiltinSchema, T0),
            seed,
        );
        let second = must(
            apply(Some(&first), &c2.config, "me", false, &BuiltinSchema, T1),
            seed,
        );
        let alone = must(
            apply(None, &c2.config, "me", false, &BuiltinSchema, T1),
            seed,
        );
        assert_eq!(without_times(&second), without_times(&alone), "seed {seed}");
    }
}

/// A second applier conflicts exactly on the leaves both set to different values (whether
/// the first manager applied or created the object); forcing takes those leaves over.
#[test]
fn conflicts_are_exactly_the_differing_shared_leaves() {
    for seed in 0..N_SEEDS {
        let mut rng = Rng(seed);
        let a = gen(&mut rng);
        let b = gen(&mut rng);
        let a_applies = rng.coin();
        let live = if a_applies {
            must(apply(None, &a.config, "a", false, &BuiltinSchema, T0), seed)
        } else {
            track_update(None, &a.config, "a", None, &BuiltinSchema, T0)
        };
        let expected: BTreeMap<String, ModelPath> = b
            .leaves
            .iter()
            .filter(|(p, v)| a.leaves.get(*p).is_some_and(|av| av != *v))
            .map(|(p, _)| (render(p), p.clone()))
            .collect();
        let result = apply(Some(&live), &b.config, "b", false, &BuiltinSchema, T1);
        match (&result, expected.is_empty()) {
            (Ok(_), true) => {}
            (Err(ApplyError::Conflicts(found)), false) => {
                let mut fields: Vec<&str> = found.iter().map(|c| c.field.as_str()).collect();
                fields.sort();
                let want: Vec<&str> = expected.keys().map(String::as_str).collect();
                assert_eq!(fields, want, "seed {seed}");
                let who = if a_applies {
                    "conflict with \"a\""
                } else {
                    "conflict with \"a\" using apps/v1"
                };
                assert!(
                    found.iter().all(|c| c.cause_message() == who),
                    "seed {seed}"
                );
            }
            (other, _) => panic!(
                "seed {seed}: expected conflicts on {:?}, got {other:?}",
                expected.keys()
            ),
        }
        let forced = must(
            apply(Some(&live), &b.config, "b", true, &BuiltinSchema, T1),
            seed,
        );
        let a_set = entry_fields(&forced, "a");
        let b_set = entry_fields(&forced, "b");
        for path in expected.values() {
            assert_eq!(lookup(&forced, path), b.leaves.get(path), "seed {seed}");
            assert!(
                !a_set.contains(&to_elements(path)),
                "seed {seed}: a still owns {}",
                render(path)
            );
        }
        for path in b.leaves.keys() {
            assert!(
                b_set.contains(&to_elements(path)),
                "seed {seed}: b does not own {}",
                render(path)
            );
        }
        for (path, v) in &a.leaves {
            if !b.leaves.contains_key(path) {
                assert_eq!(
                    lookup(&forced, path),
                    Some(v),
                    "seed {seed}: a's {} lost",
                    render(path)
                );
            }
        }
    }
}

/// Updates: after a create by one manager and an update by another, each leaf of the result
/// is owned by the second iff the update added or changed it, and by the first otherwise.
#[test]
fn updates_own_what_they_changed() {
    for seed in 0..N_SEEDS {
        let mut rng = Rng(seed);
        let o1 = gen(&mut rng);
        let o2 = gen(&mut rng);
        let created = track_update(None, &o1.config, "creator", None, &BuiltinSchema, T0);
        let mut next = o2.config.clone();
        next["metadata"]["managedFields"] = created["metadata"]["managedFields"].clone();
        let updated = track_update(Some(&created), &next, "updater", None, &BuiltinSchema, T1);
        assert_eq!(
            lookup(&updated, &vec![f("spec")]),
            o2.config.get("spec"),
            "seed {seed}"
        );
        let creator = entry_fields(&updated, "creator");
        let updater = entry_fields(&updated, "updater");
        for (path, v) in &o2.leaves {
            let changed = o1.leaves.get(path) != Some(v);
            let el = to_elements(path);
            assert_eq!(
                updater.contains(&el),
                changed,
                "seed {seed}: updater and {}",
                render(path)
            );
            assert_eq!(
                creator.contains(&el),
                !changed,
                "seed {seed}: creator and {}",
                render(path)
            );
        }
        for path in o1.leaves.keys().filter(|p| !o2.leaves.contains_key(*p)) {
            let el = to_elements(path);
            assert!(
                !creator.contains(&el) && !updater.contains(&el),
                "seed {seed}: removed {}",
                render(path)
            );
        }
    }
}
