//! Typed label matching: metav1 `LabelSelector`, core/v1 `NodeSelector` terms, and taints
//! against tolerations, all parsed once and matched on `BTreeMap<String, String>`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{NodeSelectorRequirement, NodeSelectorTerm, Taint, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// Labels of an object that has none.
pub(crate) static NO_LABELS: BTreeMap<String, String> = BTreeMap::new();

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    In,
    NotIn,
    Exists,
    DoesNotExist,
    Gt,
    Lt,
}

/// One parsed requirement (`labels.Requirement`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Requirement {
    key: String,
    op: Op,
    values: Vec<String>,
    /// The bound for Gt and Lt.
    bound: i64,
}

impl Requirement {
    /// `key In (value)`.
    pub(crate) fn equals(key: &str, value: &str) -> Requirement {
        Requirement {
            key: key.to_string(),
            op: Op::In,
            values: vec![value.to_string()],
            bound: 0,
        }
    }

    /// Parses one requirement; `allow_numeric` admits Gt and Lt (node selectors only).
    /// `None` when invalid, as `labels.NewRequirement` refuses it.
    fn parse(
        key: &str,
        op: &str,
        values: Option<&Vec<String>>,
        allow_numeric: bool,
    ) -> Option<Requirement> {
        let values = values.cloned().unwrap_or_default();
        let op = match op {
            "In" => Op::In,
            "NotIn" => Op::NotIn,
            "Exists" => Op::Exists,
            "DoesNotExist" => Op::DoesNotExist,
            "Gt" if allow_numeric => Op::Gt,
            "Lt" if allow_numeric => Op::Lt,
            _ => return None,
        };
        let mut bound = 0;
        match op {
            Op::In | Op::NotIn if values.is_empty() => return None,
            Op::Exists | Op::DoesNotExist if !values.is_empty() => return None,
            Op::Gt | Op::Lt => {
                if values.len() != 1 {
                    return None;
                }
                bound = values[0].parse::<i64>().ok()?;
            }
            _ => {}
        }
        Some(Requirement {
            key: key.to_string(),
            op,
            values,
            bound,
        })
    }

    fn matches_value(&self, value: Option<&str>) -> bool {
        match (self.op, value) {
            (Op::In, Some(v)) => self.values.iter().any(|x| x == v),
            (Op::In, None) => false,
            (Op::NotIn, Some(v)) => !self.values.iter().any(|x| x == v),
            (Op::NotIn, None) => true,
            (Op::Exists, v) => v.is_some(),
            (Op::DoesNotExist, v) => v.is_none(),
            (Op::Gt, Some(v)) => v.parse::<i64>().is_ok_and(|n| n > self.bound),
            (Op::Lt, Some(v)) => v.parse::<i64>().is_ok_and(|n| n < self.bound),
            (Op::Gt | Op::Lt, None) => false,
        }
    }

    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matches_value(labels.get(&self.key).map(String::as_str))
    }
}

/// A parsed label selector: `Nothing` (nil or invalid selector) or a conjunction of
/// requirements (empty = everything), as `metav1.LabelSelectorAsSelector` builds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Selector {
    Nothing,
    All(Vec<Requirement>),
}

impl Selector {
    /// `metav1.LabelSelectorAsSelector`: nil -> nothing, `{}` -> everything, invalid -> nothing.
    pub(crate) fn from_label_selector(ls: Option<&LabelSelector>) -> Selector {
        let Some(ls) = ls else {
            return Selector::Nothing;
        };
        let mut reqs = Vec::new();
        for (k, v) in ls.match_labels.iter().flatten() {
            reqs.push(Requirement::equals(k, v));
        }
        for e in ls.match_expressions.iter().flatten() {
            match Requirement::parse(&e.key, &e.operator, e.values.as_ref(), false) {
                Some(r) => reqs.push(r),
                None => return Selector::Nothing,
            }
        }
        Selector::All(reqs)
    }

    /// Adds a requirement (topology spread's `matchLabelKeys`).
    pub(crate) fn push(&mut self, req: Requirement) {
        if let Selector::All(reqs) = self {
            reqs.push(req);
        }
    }

    /// `labels.Selector.Empty()`: true only for the everything selector.
    pub(crate) fn is_empty(&self) -> bool {
        matches!(self, Selector::All(reqs) if reqs.is_empty())
    }

    pub(crate) fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match self {
            Selector::Nothing => false,
            Selector::All(reqs) => reqs.iter().all(|r| r.matches(labels)),
        }
    }
}

/// One parsed `NodeSelectorTerm`: label requirements and `metadata.name` field requirements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NodeTerm {
    labels: Vec<Requirement>,
    name_fields: Vec<Requirement>,
}

impl NodeTerm {
    /// `None` for an empty term (selects nothing) or one that does not parse (dropped, as
    /// kube-scheduler's lazy-error node selector drops it).
    pub(crate) fn parse(term: &NodeSelectorTerm) -> Option<NodeTerm> {
        let exprs = term.match_expressions.as_deref().unwrap_or_default();
        let fields = term.match_fields.as_deref().unwrap_or_default();
        if exprs.is_empty() && fields.is_empty() {
            return None;
        }
        let parse = |r: &NodeSelectorRequirement| {
            Requirement::parse(&r.key, &r.operator, r.values.as_ref(), true)
        };
        let labels = exprs.iter().map(parse).collect::<Option<Vec<_>>>()?;
        let mut name_fields = Vec::with_capacity(fields.len());
        for f in fields {
            // Only metadata.name with In/NotIn is a valid node field selector.
            if f.key != "metadata.name" || !matches!(f.operator.as_str(), "In" | "NotIn") {
                return None;
            }
            name_fields.push(parse(f)?);
        }
        Some(NodeTerm {
            labels,
            name_fields,
        })
    }

    pub(crate) fn matches(&self, node_name: &str, labels: &BTreeMap<String, String>) -> bool {
        self.labels.iter().all(|r| r.matches(labels))
            && self
                .name_fields
                .iter()
                .all(|r| r.matches_value(Some(node_name)))
    }
}

/// A taint's effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    NoSchedule,
    PreferNoSchedule,
    NoExecute,
    Other,
}

impl Effect {
    fn parse(s: &str) -> Effect {
        match s {
            "NoSchedule" => Effect::NoSchedule,
            "PreferNoSchedule" => Effect::PreferNoSchedule,
            "NoExecute" => Effect::NoExecute,
            _ => Effect::Other,
        }
    }
}

/// A node taint, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TaintSpec {
    pub(crate) key: String,
    pub(crate) value: String,
    pub(crate) effect: Effect,
}

impl TaintSpec {
    pub(crate) fn parse(t: &Taint) -> TaintSpec {
        TaintSpec {
            key: t.key.clone(),
            value: t.value.clone().unwrap_or_default(),
            effect: Effect::parse(&t.effect),
        }
    }
}

/// A pod toleration, parsed (`v1.Toleration.ToleratesTaint`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TolerationSpec {
    key: String,
    /// `None` for an operator that tolerates nothing.
    exists: Option<bool>,
    value: String,
    /// `None` = any effect.
    effect: Option<Effect>,
}

impl TolerationSpec {
    pub(crate) fn parse(t: &Toleration) -> TolerationSpec {
        let exists = match t.operator.as_deref().unwrap_or("") {
            "" | "Equal" => Some(false),
            "Exists" => Some(true),
            _ => None,
        };
        TolerationSpec {
            key: t.key.clone().unwrap_or_default(),
            exists,
            value: t.value.clone().unwrap_or_default(),
            effect: t
                .effect
                .as_deref()
                .filter(|e| !e.is_empty())
                .map(Effect::parse),
        }
    }

    pub(crate) fn tolerates(&self, taint: &TaintSpec) -> bool {
        if self.effect.is_some_and(|e| e != taint.effect) {
            return false;
        }
        if !self.key.is_empty() && self.key != taint.key {
            return false;
        }
        match self.exists {
            Some(true) => true,
            Some(false) => self.value == taint.value,
            None => false,
        }
    }

    /// Whether this toleration applies to PreferNoSchedule taints (empty effect or that one).
    pub(crate) fn applies_to_prefer_no_schedule(&self) -> bool {
        matches!(self.effect, None | Some(Effect::PreferNoSchedule))
    }
}

/// The first NoSchedule or NoExecute taint no toleration tolerates
/// (`FindMatchingUntoleratedTaint` with `DoNotScheduleTaintsFilterFunc`).
pub(crate) fn first_untolerated(
    taints: &[TaintSpec],
    tolerations: &[TolerationSpec],
) -> Option<usize> {
    taints.iter().position(|t| {
        matches!(t.effect, Effect::NoSchedule | Effect::NoExecute)
            && !tolerations.iter().any(|tol| tol.tolerates(t))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn expr(key: &str, op: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: (!values.is_empty()).then(|| values.iter().map(|v| v.to_string()).collect()),
        }
    }

    fn check_label(selector: Option<LabelSelector>, node: &[(&str, &str)], want: bool) {
        let s = Selector::from_label_selector(selector.as_ref());
        assert_eq!(s.matches(&labels(node)), want, "{selector:?} on {node:?}");
    }

    #[test]
    fn label_selectors() {
        let ml = |pairs: &[(&str, &str)]| LabelSelector {
            match_labels: Some(labels(pairs)),
            ..Default::default()
        };
        let me = |e: Vec<LabelSelectorRequirement>| LabelSelector {
            match_expressions: Some(e),
            ..Default::default()
        };
        type Case<'a> = (Option<LabelSelector>, &'a [(&'a str, &'a str)], bool);
        let cases: Vec<Case> = vec![
            (None, &[("a", "1")], false),
            (Some(LabelSelector::default()), &[("a", "1")], true),
            (Some(LabelSelector::default()), &[], true),
            (Some(ml(&[("a", "1")])), &[("a", "1"), ("b", "2")], true),
            (Some(ml(&[("a", "1")])), &[("a", "2")], false),
            (
                Some(me(vec![expr("a", "In", &["1", "2"])])),
                &[("a", "2")],
                true,
            ),
            (Some(me(vec![expr("a", "In", &["1"])])), &[], false),
            (Some(me(vec![expr("a", "NotIn", &["1"])])), &[], true),
            (
                Some(me(vec![expr("a", "NotIn", &["1"])])),
                &[("a", "1")],
                false,
            ),
            (Some(me(vec![expr("a", "Exists", &[])])), &[("a", "")], true),
            (
                Some(me(vec![expr("a", "DoesNotExist", &[])])),
                &[("a", "")],
                false,
            ),
            // Invalid selectors match nothing.
            (Some(me(vec![expr("a", "In", &[])])), &[("a", "1")], false),
            (
                Some(me(vec![expr("a", "Exists", &["1"])])),
                &[("a", "1")],
                false,
            ),
            (
                Some(me(vec![expr("a", "Gt", &["1"])])),
                &[("a", "2")],
                false,
            ),
            (
                Some(me(vec![expr("a", "Bogus", &["1"])])),
                &[("a", "1")],
                false,
            ),
        ];
        for (sel, node, want) in cases {
            check_label(sel, node, want);
        }
        assert!(Selector::from_label_selector(Some(&LabelSelector::default())).is_empty());
        assert!(!Selector::Nothing.is_empty());
    }

    fn check_term(
        exprs: &[(&str, &str, &[&str])],
        fields: &[(&str, &str, &[&str])],
        node: (&str, &[(&str, &str)]),
        want: Option<bool>,
    ) {
        let req = |(k, op, vals): &(&str, &str, &[&str])| NodeSelectorRequirement {
            key: k.to_string(),
            operator: op.to_string(),
            values: (!vals.is_empty()).then(|| vals.iter().map(|v| v.to_string()).collect()),
        };
        let term = NodeSelectorTerm {
            match_expressions: (!exprs.is_empty()).then(|| exprs.iter().map(req).collect()),
            match_fields: (!fields.is_empty()).then(|| fields.iter().map(req).collect()),
        };
        let got = NodeTerm::parse(&term).map(|t| t.matches(node.0, &labels(node.1)));
        assert_eq!(got, want, "{exprs:?} {fields:?} on {node:?}");
    }

    #[test]
    fn node_selector_terms() {
        check_term(&[], &[], ("n", &[]), None);
        check_term(
            &[("zone", "In", &["a", "b"])],
            &[],
            ("n", &[("zone", "b")]),
            Some(true),
        );
        check_term(&[("zone", "NotIn", &["a"])], &[], ("n", &[]), Some(true));
        check_term(
            &[("gpu", "Gt", &["3"])],
            &[],
            ("n", &[("gpu", "4")]),
            Some(true),
        );
        check_term(
            &[("gpu", "Gt", &["3"])],
            &[],
            ("n", &[("gpu", "3")]),
            Some(false),
        );
        check_term(
            &[("gpu", "Lt", &["3"])],
            &[],
            ("n", &[("gpu", "2")]),
            Some(true),
        );
        check_term(
            &[("gpu", "Lt", &["3"])],
            &[],
            ("n", &[("gpu", "x")]),
            Some(false),
        );
        check_term(&[("gpu", "Lt", &["3"])], &[], ("n", &[]), Some(false));
        check_term(&[("gpu", "Gt", &["x"])], &[], ("n", &[("gpu", "4")]), None);
        check_term(
            &[("gpu", "Gt", &["1", "2"])],
            &[],
            ("n", &[("gpu", "4")]),
            None,
        );
        check_term(
            &[("a", "Exists", &[]), ("b", "DoesNotExist", &[])],
            &[],
            ("n", &[("a", "1")]),
            Some(true),
        );
        check_term(
            &[("a", "Exists", &[]), ("b", "DoesNotExist", &[])],
            &[],
            ("n", &[("a", "1"), ("b", "")]),
            Some(false),
        );
        check_term(
            &[],
            &[("metadata.name", "In", &["n1"])],
            ("n1", &[]),
            Some(true),
        );
        check_term(
            &[],
            &[("metadata.name", "In", &["n1"])],
            ("n2", &[]),
            Some(false),
        );
        check_term(
            &[],
            &[("metadata.name", "NotIn", &["n1"])],
            ("n2", &[]),
            Some(true),
        );
        check_term(&[], &[("metadata.uid", "In", &["n1"])], ("n1", &[]), None);
        check_term(&[], &[("metadata.name", "Exists", &[])], ("n1", &[]), None);
    }

    fn check_toleration(tol: Toleration, taint: (&str, &str, &str), want: bool) {
        let taint = TaintSpec {
            key: taint.0.into(),
            value: taint.1.into(),
            effect: Effect::parse(taint.2),
        };
        assert_eq!(
            TolerationSpec::parse(&tol).tolerates(&taint),
            want,
            "{tol:?} vs {taint:?}"
        );
    }

    #[test]
    fn tolerations() {
        let tol = |key: &str, op: &str, value: &str, effect: &str| Toleration {
            key: (!key.is_empty()).then(|| key.into()),
            operator: (!op.is_empty()).then(|| op.into()),
            value: (!value.is_empty()).then(|| value.into()),
            effect: (!effect.is_empty()).then(|| effect.into()),
            toleration_seconds: None,
        };
        check_toleration(
            tol("k", "", "v", "NoSchedule"),
            ("k", "v", "NoSchedule"),
            true,
        );
        check_toleration(tol("k", "Equal", "v", ""), ("k", "v", "NoExecute"), true);
        check_toleration(tol("k", "Equal", "v", ""), ("k", "w", "NoExecute"), false);
        check_toleration(tol("k", "Exists", "", ""), ("k", "w", "NoExecute"), true);
        check_toleration(
            tol("k", "Exists", "", "NoSchedule"),
            ("k", "w", "NoExecute"),
            false,
        );
        check_toleration(tol("", "Exists", "", ""), ("any", "w", "NoSchedule"), true);
        check_toleration(tol("j", "Exists", "", ""), ("k", "", "NoSchedule"), false);
        check_toleration(tol("k", "Lt", "", ""), ("k", "", "NoSchedule"), false);
    }
}
