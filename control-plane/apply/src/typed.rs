//! Schema-aware walks over JSON objects: the field set of a config, merging a config into a
//! live object, comparing two objects (added, modified, removed paths) and removing paths.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::fieldpath::{path_string, FieldSet, OrdValue, Path, PathElement};
use crate::schema::{ListType, Schema};

/// A schema bound to one kind.
pub(crate) struct Typed<'a> {
    pub schema: &'a dyn Schema,
    pub api_version: &'a str,
    pub kind: &'a str,
}

/// What changed between two objects.
#[derive(Debug, Default)]
pub(crate) struct Comparison {
    pub added: FieldSet,
    pub modified: FieldSet,
    pub removed: FieldSet,
}

impl Comparison {
    pub fn exclude(&mut self, ignored: &FieldSet) {
        self.added = self.added.recursive_difference(ignored);
        self.modified = self.modified.recursive_difference(ignored);
        self.removed = self.removed.recursive_difference(ignored);
    }
}

/// A config that cannot be interpreted with the schema: where, and why.
#[derive(Debug)]
pub(crate) struct TypeError {
    pub path: String,
    pub message: String,
}

/// `Some(None)` when absent, `Some(Some(map))` for a map, `None` for anything else.
fn as_map(v: Option<&Value>) -> Option<Option<&Map<String, Value>>> {
    match v {
        None => Some(None),
        Some(Value::Object(m)) => Some(Some(m)),
        _ => None,
    }
}

/// `Some(None)` when absent, `Some(Some(items))` for a list, `None` for anything else.
fn as_list(v: Option<&Value>) -> Option<Option<&[Value]>> {
    match v {
        None => Some(None),
        Some(Value::Array(a)) => Some(Some(a.as_slice())),
        _ => None,
    }
}

fn is_empty_container(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

impl Typed<'_> {
    fn list_type(&self, names: &[String]) -> ListType {
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        self.schema.list_type(self.api_version, self.kind, &names)
    }

    /// The path element of one item of a granular list.
    fn item_element(
        &self,
        names: &[String],
        lt: &ListType,
        item: &Value,
    ) -> Result<PathElement, String> {
        match lt {
            ListType::Atomic => Err("invalid indexing of non-associative list".to_string()),
            ListType::Set => match item {
                Value::Object(_) => Err(
                    "associative list without keys has an element that's a map type".to_string(),
                ),
                Value::Array(_) => {
                    Err("not supported: associative list with lists as elements".to_string())
                }
                Value::Null => Err(
                    "associative list without keys has an element that's an explicit null"
                        .to_string(),
                ),
                _ => Ok(PathElement::Value(OrdValue(item.clone()))),
            },
            ListType::Map(keys) => {
                let m =
                    match item {
                        Value::Object(m) => m,
                        Value::Null => {
                            return Err("associative list with keys may not have a null element"
                                .to_string())
                        }
                        _ => {
                            return Err("associative list with keys may not have non-map elements"
                                .to_string())
                        }
                    };
                let mut fields = Vec::new();
                for key in keys {
                    if let Some(v) = m.get(key) {
                        fields.push((key.clone(), OrdValue(v.clone())));
                    } else {
                        let ns: Vec<&str> = names.iter().map(String::as_str).collect();
                        if let Some(d) =
                            self.schema
                                .list_key_default(self.api_version, self.kind, &ns, key)
                        {
                            fields.push((key.clone(), OrdValue(d)));
                        }
                    }
                }
                if fields.is_empty() && !keys.is_empty() {
                    return Err(format!(
                        "associative list with keys has an element that omits all key fields {keys:?} \
                         (and doesn't have default values for any key fields)"
                    ));
                }
                fields.sort();
                Ok(PathElement::Key(fields))
            }
        }
    }

    /// Elements of every item, or `None` when an item cannot be keyed (then the list is
    /// handled as atomic rather than failing on a live object).
    fn elements(
        &self,
        names: &[String],
        lt: &ListType,
        items: &[Value],
    ) -> Option<Vec<PathElement>> {
        items
            .iter()
            .map(|item| self.item_element(names, lt, item).ok())
            .collect()
    }

    /// The fields a config sets, as Kubernetes' `ToFieldSet`: every leaf, every map-list and
    /// set item, atomic lists and empty maps as a whole, and explicit nulls.
    pub fn field_set(&self, config: &Value) -> Result<FieldSet, TypeError> {
        let mut out = FieldSet::new();
        self.field_set_at(&mut Vec::new(), &mut Vec::new(), config, &mut out)?;
        Ok(out)
    }

    fn field_set_at(
        &self,
        names: &mut Vec<String>,
        path: &mut Path,
        v: &Value,
        out: &mut FieldSet,
    ) -> Result<(), TypeError> {
        match v {
            Value::Object(m) => {
                if m.is_empty() {
                    out.insert(path);
                }
                for (k, child) in m {
                    names.push(k.clone());
                    path.push(PathElement::Field(k.clone()));
                    self.field_set_at(names, path, child, out)?;
                    path.pop();
                    names.pop();
                }
            }
            Value::Array(items) => {
                let lt = self.list_type(names);
                if lt == ListType::Atomic {
                    out.insert(path);
                    return Ok(());
                }
                let mut seen = BTreeMap::new();
                for (idx, item) in items.iter().enumerate() {
                    let pe = self
                        .item_element(names, &lt, item)
                        .map_err(|message| TypeError {
                            path: path_string(path),
                            message: format!("element {idx}: {message}"),
                        })?;
                    if seen.insert(pe.clone(), ()).is_some() {
                        return Err(TypeError {
                            path: path_string(path),
                            message: format!("duplicate entries for key {pe}"),
                        });
                    }
                    path.push(pe);
                    self.field_set_at(names, path, item, out)?;
                    out.insert(path);
                    path.pop();
                }
            }
            _ => out.insert(path),
        }
        Ok(())
    }

    /// Merges `config` into `live`: maps field by field, granular lists item by item (config
    /// order for config items, live-only items kept in place), everything else replaced.
    /// A `null` in the config removes the field.
    pub fn merge(&self, live: Option<&Value>, config: &Value) -> Value {
        self.merge_at(&mut Vec::new(), live, config)
    }

    fn merge_at(&self, names: &mut Vec<String>, live: Option<&Value>, config: &Value) -> Value {
        match (live, config) {
            (live, Value::Object(c)) => {
                let mut out = match live {
                    Some(Value::Object(l)) => l.clone(),
                    _ => Map::new(),
                };
                let l = live.and_then(Value::as_object);
                for (k, cv) in c {
                    if cv.is_null() {
                        out.remove(k);
                        continue;
                    }
                    names.push(k.clone());
                    let merged = self.merge_at(names, l.and_then(|l| l.get(k)), cv);
                    names.pop();
                    out.insert(k.clone(), merged);
                }
                Value::Object(out)
            }
            (live, Value::Array(c)) => {
                let lt = self.list_type(names);
                if lt == ListType::Atomic {
                    return config.clone();
                }
                let l: &[Value] = match live {
                    Some(Value::Array(l)) => l,
                    _ => &[],
                };
                self.merge_list(names, &lt, l, c)
                    .unwrap_or_else(|| config.clone())
            }
            _ => config.clone(),
        }
    }

    /// Merges granular list items; `None` if an item cannot be keyed.
    fn merge_list(
        &self,
        names: &mut Vec<String>,
        lt: &ListType,
        l: &[Value],
        r: &[Value],
    ) -> Option<Value> {
        let lpes = self.elements(names, lt, l)?;
        let rpes = self.elements(names, lt, r)?;
        let mut l_first: BTreeMap<&PathElement, Option<usize>> = BTreeMap::new();
        for (i, pe) in lpes.iter().enumerate() {
            // A duplicated live item has no single value to merge with: the config replaces it.
            l_first
                .entry(pe)
                .and_modify(|e| *e = None)
                .or_insert(Some(i));
        }
        let r_index: BTreeMap<&PathElement, usize> =
            rpes.iter().enumerate().map(|(i, pe)| (pe, i)).collect();
        // Items in both lists, in config order: live items wait for their turn in this order.
        let mut shared: std::collections::VecDeque<&PathElement> =
            rpes.iter().filter(|pe| l_first.contains_key(pe)).collect();
        let mut emitted: BTreeMap<&PathElement, ()> = BTreeMap::new();
        let mut out = Vec::with_capacity(l.len().max(r.len()));
        let merge_item = |this: &Self, names: &mut Vec<String>, pe: &PathElement, ri: usize| {
            let live_item = l_first.get(pe).copied().flatten().map(|li| &l[li]);
            this.merge_at(names, live_item, &r[ri])
        };
        let (mut li, mut ri) = (0, 0);
        while li < l.len() || ri < r.len() {
            if li < l.len() && ri < r.len() && lpes[li] == rpes[ri] {
                out.push(merge_item(self, names, &rpes[ri], ri));
                emitted.insert(&rpes[ri], ());
                if shared.front() == Some(&&rpes[ri]) {
                    shared.pop_front();
                }
                li += 1;
                ri += 1;
                continue;
            }
            if li < l.len() {
                let pe = &lpes[li];
                if !r_index.contains_key(pe) {
                    out.push(l[li].clone());
                    li += 1;
                    continue;
                }
                if emitted.contains_key(pe) {
                    li += 1;
                } else if shared.front() != Some(&pe) {
                    // Reordered by the config: emitted when the config reaches it.
                    li += 1;
                    continue;
                }
            }
            if ri < r.len() {
                let pe = &rpes[ri];
                if !emitted.contains_key(pe) {
                    out.push(merge_item(self, names, pe, ri));
                    emitted.insert(pe, ());
                }
                if shared.front() == Some(&pe) {
                    shared.pop_front();
                }
                ri += 1;
            }
        }
        Some(Value::Array(out))
    }

    /// Compares two versions of an object, as Kubernetes' `Compare`: leaves that differ are
    /// modified; a map or granular list that appears or disappears is added or removed along
    /// with everything below it.
    pub fn compare(&self, old: &Value, new: &Value) -> Comparison {
        let mut cmp = Comparison::default();
        self.compare_at(
            &mut Vec::new(),
            &mut Vec::new(),
            Some(old),
            Some(new),
            &mut cmp,
        );
        cmp
    }

    fn compare_at(
        &self,
        names: &mut Vec<String>,
        path: &mut Path,
        old: Option<&Value>,
        new: Option<&Value>,
        cmp: &mut Comparison,
    ) {
        let mut granular = false;
        if let (Some(o), Some(n)) = (as_map(old), as_map(new)) {
            if o.is_some_and(|m| !m.is_empty()) || n.is_some_and(|m| !m.is_empty()) {
                granular = true;
                let empty = Map::new();
                let (o, n) = (o.unwrap_or(&empty), n.unwrap_or(&empty));
                let mut keys: Vec<&String> = o.keys().chain(n.keys()).collect();
                keys.sort();
                keys.dedup();
                for k in keys {
                    names.push(k.clone());
                    path.push(PathElement::Field(k.clone()));
                    self.compare_at(names, path, o.get(k), n.get(k), cmp);
                    path.pop();
                    names.pop();
                }
            }
        } else if let (Some(o), Some(n)) = (as_list(old), as_list(new)) {
            let (o, n) = (o.unwrap_or(&[]), n.unwrap_or(&[]));
            let lt = self.list_type(names);
            if lt != ListType::Atomic && (!o.is_empty() || !n.is_empty()) {
                if let (Some(ope), Some(npe)) =
                    (self.elements(names, &lt, o), self.elements(names, &lt, n))
                {
                    granular = true;
                    self.compare_items(names, path, (o, &ope), (n, &npe), cmp);
                }
            }
        }
        match (old, new) {
            (None, _) => cmp.added.insert(path),
            (_, None) => cmp.removed.insert(path),
            (Some(o), Some(n)) if !granular && o != n => cmp.modified.insert(path),
            _ => {}
        }
    }

    fn compare_items(
        &self,
        names: &mut Vec<String>,
        path: &mut Path,
        old: (&[Value], &[PathElement]),
        new: (&[Value], &[PathElement]),
        cmp: &mut Comparison,
    ) {
        let mut by_pe: BTreeMap<&PathElement, (Vec<&Value>, Vec<&Value>)> = BTreeMap::new();
        for (v, pe) in old.0.iter().zip(old.1) {
            by_pe.entry(pe).or_default().0.push(v);
        }
        for (v, pe) in new.0.iter().zip(new.1) {
            by_pe.entry(pe).or_default().1.push(v);
        }
        for (pe, (o, n)) in by_pe {
            path.push(pe.clone());
            match (o.as_slice(), n.as_slice()) {
                ([], [n]) => self.compare_at(names, path, None, Some(n), cmp),
                ([o], []) => self.compare_at(names, path, Some(o), None, cmp),
                ([o], [n]) => self.compare_at(names, path, Some(o), Some(n), cmp),
                // Duplicated items are compared as a whole.
                ([], _) => cmp.added.insert(path),
                (_, []) => cmp.removed.insert(path),
                (o, n) if o != n => cmp.modified.insert(path),
                _ => {}
            }
            path.pop();
        }
    }

    /// Removes the members of `set` (with everything below them) from `v`. A map or list that
    /// becomes empty because of a removal is removed too, as Kubernetes drops such fields when
    /// it stores the object.
    pub fn remove(&self, v: &Value, set: &FieldSet) -> Value {
        self.remove_at(&mut Vec::new(), v, set)
    }

    fn remove_at(&self, names: &mut Vec<String>, v: &Value, set: &FieldSet) -> Value {
        match v {
            Value::Object(m) => {
                let mut out = Map::new();
                for (k, child) in m {
                    let pe = PathElement::Field(k.clone());
                    if set.has_member(&pe) {
                        continue;
                    }
                    match set.child(&pe) {
                        Some(sub) => {
                            names.push(k.clone());
                            let rest = self.remove_at(names, child, sub);
                            names.pop();
                            if is_empty_container(&rest) && !is_empty_container(child) {
                                continue;
                            }
                            out.insert(k.clone(), rest);
                        }
                        None => {
                            out.insert(k.clone(), child.clone());
                        }
                    }
                }
                Value::Object(out)
            }
            Value::Array(items) => {
                let lt = self.list_type(names);
                if lt == ListType::Atomic {
                    return v.clone();
                }
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    let Ok(pe) = self.item_element(names, &lt, item) else {
                        out.push(item.clone());
                        continue;
                    };
                    if set.has_member(&pe) {
                        continue;
                    }
                    match set.child(&pe) {
                        Some(sub) => out.push(self.remove_at(names, item, sub)),
                        None => out.push(item.clone()),
                    }
                }
                Value::Array(out)
            }
            _ => v.clone(),
        }
    }
}
