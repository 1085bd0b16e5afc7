//! Per-kind behaviour (kube-apiserver's `strategy.go` files): what create and update reset
//! or keep, defaulting, validation, which fields selectors may use, and generation
//! tracking. Pure functions over JSON objects; the generic registry calls them.

use crate::meta;
use crate::names;
use crate::resources::{Resource, Sub};
use crate::status::Cause;
use serde_json::{json, Map, Value};

/// Kinds whose `metadata.generation` counts spec changes.
fn tracks_generation(r: &Resource) -> bool {
    matches!(r.group, "apps" | "batch" | "policy" | "networking.k8s.io") || matches!(r.kind, "Pod")
}

/// Fields a field selector may use, besides metadata.name and metadata.namespace.
pub fn selectable_fields(r: &Resource) -> &'static [&'static str] {
    match (r.group, r.kind) {
        ("", "Pod") => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        ("", "Event") => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        ("", "Secret") => &["type"],
        ("", "Node") => &["spec.unschedulable"],
        ("", "Namespace") => &["status.phase"],
        ("apps", "ReplicaSet") => &["status.replicas"],
        ("batch", "Job") => &["status.successful"],
        _ => &[],
    }
}

fn lookup<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(obj, |v, p| v.get(p))
}

fn scalar(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// The values of every selectable field of an object (missing fields select as "", as
/// Kubernetes' field sets do; `spec.unschedulable` and `spec.hostNetwork` as "false").
pub fn field_values(r: &Resource, obj: &Value) -> Vec<(&'static str, Box<str>)> {
    let mut out: Vec<(&'static str, Box<str>)> = vec![
        ("metadata.name", meta::name(obj).into()),
        ("metadata.namespace", meta::namespace(obj).into()),
    ];
    for &f in selectable_fields(r) {
        let mut v = scalar(lookup(obj, f));
        if v.is_empty() && matches!(f, "spec.unschedulable" | "spec.hostNetwork") {
            v = "false".into();
        }
        if f == "source" {
            v = scalar(lookup(obj, "source.component"));
        }
        out.push((f, v.into()));
    }
    out
}

/// Resets what a client may not set on create.
pub fn prepare_create(r: &Resource, obj: &mut Value) {
    let m = meta::metadata_mut(obj);
    for f in [
        "uid",
        "resourceVersion",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "selfLink",
    ] {
        m.remove(f);
    }
    m.insert("uid".into(), meta::new_uid().into());
    m.insert("creationTimestamp".into(), meta::now().into());
    if tracks_generation(r) {
        m.insert("generation".into(), 1.into());
    }
    // Nodes may set their status on create (kubelet registers with it), as in Kubernetes.
    if r.has(Sub::Status) && !(r.group.is_empty() && r.kind == "Node") {
        if let Some(o) = obj.as_object_mut() {
            o.remove("status");
        }
    }
    match (r.group, r.kind) {
        ("", "Pod") => {
            obj["status"] = json!({"phase": "Pending", "qosClass": qos_class(obj)});
        }
        ("batch", "Job") => job_selector(obj),
        ("", "Namespace") => {
            obj["status"] = json!({"phase": "Active"});
            let name = meta::name(obj).to_string();
            let labels = meta::metadata_mut(obj)
                .entry("labels")
                .or_insert_with(|| json!({}));
            if let Some(l) = labels.as_object_mut() {
                l.insert("kubernetes.io/metadata.name".into(), name.into());
            }
        }
        _ => {}
    }
}

/// A Job without `manualSelector: true` selects its pods by its own uid, as Kubernetes'
/// Job strategy generates: `batch.kubernetes.io/controller-uid` in the selector, and that
/// label plus `batch.kubernetes.io/job-name` (and the legacy unprefixed pair) on the template.
fn job_selector(obj: &mut Value) {
    if obj["spec"]["manualSelector"] == true || !obj["spec"].is_object() {
        return;
    }
    let uid = meta::uid(obj).to_string();
    let name = meta::name(obj).to_string();
    obj["spec"]["selector"] = json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}});
    let t = &mut obj["spec"]["template"];
    if !t.is_object() {
        return;
    }
    let m = meta::metadata_mut(t);
    let labels = m.entry("labels").or_insert_with(|| json!({}));
    if let Some(l) = labels.as_object_mut() {
        for (k, v) in [
            ("batch.kubernetes.io/controller-uid", &uid),
            ("batch.kubernetes.io/job-name", &name),
            ("controller-uid", &uid),
            ("job-name", &name),
        ] {
            l.insert(k.into(), v.clone().into());
        }
    }
}

/// Carries over from the stored object what this kind of update may not change: server
/// fields, and the status (main resource) or everything but the status (status subresource).
pub fn prepare_update(r: &Resource, new: &mut Value, old: &Value, sub: Option<Sub>) {
    let old_meta = meta::metadata(old).cloned().unwrap_or_default();
    match sub {
        Some(Sub::Status) => {
            // Only the status (and, as Kubernetes allows, nothing in metadata) changes.
            let status = new.get("status").cloned();
            let mut keep = old.clone();
            match status {
                Some(s) => keep["status"] = s,
                None => {
                    if let Some(o) = keep.as_object_mut() {
                        o.remove("status");
                    }
                }
            }
            *new = keep;
            return;
        }
        // The binding subresource builds the new pod from the stored one itself (nodeName
        // and the PodScheduled condition): nothing to carry over.
        Some(Sub::Binding) => return,
        Some(Sub::Finalize) => {
            // Namespace finalize: only spec.finalizers changes.
            let fins = new.get("spec").and_then(|s| s.get("finalizers")).cloned();
            let mut keep = old.clone();
            match fins {
                Some(f) => keep["spec"]["finalizers"] = f,
                None => {
                    if let Some(s) = keep.get_mut("spec").and_then(Value::as_object_mut) {
                        s.remove("finalizers");
                    }
                }
            }
            *new = keep;
            return;
        }
        _ => {}
    }
    if r.has(Sub::Status) {
        match old.get("status") {
            Some(s) => new["status"] = s.clone(),
            None => {
                if let Some(o) = new.as_object_mut() {
                    o.remove("status");
                }
            }
        }
    }
    let spec_changed = spec_of(new) != spec_of(old);
    let m = meta::metadata_mut(new);
    for f in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "selfLink",
    ] {
        match old_meta.get(f) {
            Some(v) => m.insert(f.into(), v.clone()),
            None => m.remove(f),
        };
    }
    if tracks_generation(r) && spec_changed {
        let g = old_meta
            .get("generation")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        m.insert("generation".into(), (g + 1).into());
    }
}

/// Everything but metadata and status: what a generation counts.
fn spec_of(obj: &Value) -> Map<String, Value> {
    let mut m = obj.as_object().cloned().unwrap_or_default();
    m.remove("metadata");
    m.remove("status");
    m
}

fn qos_class(pod: &Value) -> &'static str {
    let containers: Vec<&Value> = ["containers", "initContainers"]
        .iter()
        .filter_map(|f| pod.get("spec")?.get(*f)?.as_array())
        .flatten()
        .collect();
    let mut any = false;
    let mut guaranteed = true;
    for c in &containers {
        let req = c
            .get("resources")
            .and_then(|r| r.get("requests"))
            .and_then(Value::as_object);
        let lim = c
            .get("resources")
            .and_then(|r| r.get("limits"))
            .and_then(Value::as_object);
        if req.is_some_and(|m| !m.is_empty()) || lim.is_some_and(|m| !m.is_empty()) {
            any = true;
        }
        for res in ["cpu", "memory"] {
            let l = lim.and_then(|m| m.get(res));
            let q = req.and_then(|m| m.get(res)).or(l);
            if l.is_none() || q != l {
                guaranteed = false;
            }
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

fn set_default(obj: &mut Value, field: &str, v: Value) {
    if let Some(o) = obj.as_object_mut() {
        let slot = o.entry(field).or_insert(Value::Null);
        if slot.is_null() {
            *slot = v;
        }
    }
}

fn child<'a>(obj: &'a mut Value, field: &str) -> Option<&'a mut Value> {
    obj.as_object_mut()?
        .get_mut(field)
        .filter(|v| v.is_object())
}

fn each<'a>(obj: &'a mut Value, field: &str) -> impl Iterator<Item = &'a mut Value> {
    obj.as_object_mut()
        .and_then(|o| o.get_mut(field))
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
}

/// Defaults, as Kubernetes' `SetDefaults_*` functions set them.
pub fn default(r: &Resource, obj: &mut Value) {
    match (r.group, r.kind) {
        ("", "Pod") => {
            if let Some(spec) = child(obj, "spec") {
                default_pod_spec(spec);
            }
        }
        ("", "PodTemplate") => default_template(obj.get_mut("template")),
        ("apps", "Deployment") => {
            if let Some(spec) = child(obj, "spec") {
                set_default(spec, "replicas", 1.into());
                set_default(spec, "strategy", json!({"type": "RollingUpdate"}));
                if let Some(st) = child(spec, "strategy") {
                    set_default(st, "type", "RollingUpdate".into());
                    if st["type"] == "RollingUpdate" {
                        set_default(st, "rollingUpdate", json!({}));
                        if let Some(ru) = child(st, "rollingUpdate") {
                            set_default(ru, "maxUnavailable", "25%".into());
                            set_default(ru, "maxSurge", "25%".into());
                        }
                    }
                }
                set_default(spec, "revisionHistoryLimit", 10.into());
                set_default(spec, "progressDeadlineSeconds", 600.into());
                default_template(spec.get_mut("template"));
            }
        }
        ("apps", "ReplicaSet") => {
            if let Some(spec) = child(obj, "spec") {
                set_default(spec, "replicas", 1.into());
                default_template(spec.get_mut("template"));
            }
        }
        ("apps", "DaemonSet") => {
            if let Some(spec) = child(obj, "spec") {
                set_default(spec, "updateStrategy", json!({"type": "RollingUpdate"}));
                if let Some(st) = child(spec, "updateStrategy") {
                    set_default(st, "type", "RollingUpdate".into());
                    if st["type"] == "RollingUpdate" {
                        set_default(st, "rollingUpdate", json!({}));
                        if let Some(ru) = child(st, "rollingUpdate") {
                            set_default(ru, "maxUnavailable", 1.into());
                            set_default(ru, "maxSurge", 0.into());
                        }
                    }
                }
                set_default(spec, "revisionHistoryLimit", 10.into());
                default_template(spec.get_mut("template"));
            }
        }
        ("apps", "StatefulSet") => {
            if let Some(spec) = child(obj, "spec") {
                set_default(spec, "replicas", 1.into());
                set_default(spec, "podManagementPolicy", "OrderedReady".into());
                set_default(
                    spec,
                    "updateStrategy",
                    json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
                );
                set_default(spec, "revisionHistoryLimit", 10.into());
                set_default(
                    spec,
                    "persistentVolumeClaimRetentionPolicy",
                    json!({"whenDeleted": "Retain", "whenScaled": "Retain"}),
                );
                default_template(spec.get_mut("template"));
            }
        }
        ("batch", "Job") => {
            if let Some(spec) = child(obj, "spec") {
                default_job_spec(spec);
            }
        }
        ("batch", "CronJob") => {
            if let Some(spec) = child(obj, "spec") {
                set_default(spec, "concurrencyPolicy", "Allow".into());
                set_default(spec, "suspend", false.into());
                set_default(spec, "successfulJobsHistoryLimit", 3.into());
                set_default(spec, "failedJobsHistoryLimit", 1.into());
                if let Some(jt) = child(spec, "jobTemplate") {
                    if let Some(js) = child(jt, "spec") {
                        default_job_spec(js);
                    }
                }
            }
        }
        ("", "Service") => {
            if let Some(spec) = child(obj, "spec") {
                set_default(spec, "type", "ClusterIP".into());
                set_default(spec, "sessionAffinity", "None".into());
                let ty = spec["type"].as_str().unwrap_or("").to_string();
                if ty != "ExternalName" {
                    set_default(spec, "internalTrafficPolicy", "Cluster".into());
                    set_default(spec, "ipFamilies", json!(["IPv4"]));
                    set_default(spec, "ipFamilyPolicy", "SingleStack".into());
                }
                if ty == "NodePort" || ty == "LoadBalancer" {
                    set_default(spec, "externalTrafficPolicy", "Cluster".into());
                }
                if spec["sessionAffinity"] == "ClientIP" {
                    set_default(
                        spec,
                        "sessionAffinityConfig",
                        json!({"clientIP": {"timeoutSeconds": 10800}}),
                    );
                }
                for p in each(spec, "ports") {
                    set_default(p, "protocol", "TCP".into());
                    let port = p.get("port").cloned().unwrap_or(Value::Null);
                    set_default(p, "targetPort", port);
                }
            }
        }
        ("", "Secret") => {
            set_default(obj, "type", "Opaque".into());
            // stringData is write-only: merged into data, base64-encoded.
            if let Some(Value::Object(sd)) =
                obj.as_object_mut().and_then(|o| o.remove("stringData"))
            {
                use base64::Engine;
                set_default(obj, "data", json!({}));
                if let Some(data) = obj.get_mut("data").and_then(Value::as_object_mut) {
                    for (k, v) in sd {
                        let s = v.as_str().unwrap_or_default();
                        data.insert(
                            k,
                            base64::engine::general_purpose::STANDARD.encode(s).into(),
                        );
                    }
                }
            }
        }
        ("", "Namespace") => {
            set_default(obj, "spec", json!({}));
            if let Some(spec) = child(obj, "spec") {
                set_default(spec, "finalizers", json!(["kubernetes"]));
            }
        }
        ("", "Endpoints") => {
            for s in each(obj, "subsets") {
                for p in each(s, "ports") {
                    set_default(p, "protocol", "TCP".into());
                }
            }
        }
        ("discovery.k8s.io", "EndpointSlice") => {
            for p in each(obj, "ports") {
                set_default(p, "protocol", "TCP".into());
            }
        }
        ("scheduling.k8s.io", "PriorityClass") => {
            set_default(obj, "preemptionPolicy", "PreemptLowerPriority".into())
        }
        _ => {}
    }
}

fn default_job_spec(spec: &mut Value) {
    let both_unset = spec.get("completions").is_none_or(Value::is_null)
        && spec.get("parallelism").is_none_or(Value::is_null);
    if both_unset {
        set_default(spec, "completions", 1.into());
    }
    set_default(spec, "parallelism", 1.into());
    set_default(spec, "backoffLimit", 6.into());
    set_default(spec, "completionMode", "NonIndexed".into());
    set_default(spec, "suspend", false.into());
    set_default(spec, "manualSelector", Value::Null);
    set_default(spec, "podReplacementPolicy", "TerminatingOrFailed".into());
    if let Some(o) = spec.as_object_mut() {
        if o.get("manualSelector").is_some_and(Value::is_null) {
            o.remove("manualSelector");
        }
    }
    default_template(spec.get_mut("template"));
}

fn default_template(template: Option<&mut Value>) {
    if let Some(spec) = template.and_then(|t| child(t, "spec")) {
        default_pod_spec(spec);
    }
}

pub fn default_pod_spec(spec: &mut Value) {
    set_default(spec, "restartPolicy", "Always".into());
    set_default(spec, "dnsPolicy", "ClusterFirst".into());
    set_default(spec, "terminationGracePeriodSeconds", 30.into());
    set_default(spec, "schedulerName", "default-scheduler".into());
    set_default(spec, "securityContext", json!({}));
    set_default(spec, "enableServiceLinks", true.into());
    for f in ["containers", "initContainers"] {
        for c in each(spec, f) {
            default_container(c);
        }
    }
    for v in each(spec, "volumes") {
        for src in ["configMap", "secret"] {
            if let Some(s) = child(v, src) {
                set_default(s, "defaultMode", 420.into());
            }
        }
    }
}

fn default_container(c: &mut Value) {
    let image = c
        .get("image")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    set_default(c, "imagePullPolicy", image_pull_policy(&image).into());
    set_default(c, "terminationMessagePath", "/dev/termination-log".into());
    set_default(c, "terminationMessagePolicy", "File".into());
    set_default(c, "resources", json!({}));
    for p in each(c, "ports") {
        set_default(p, "protocol", "TCP".into());
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = child(c, probe) {
            set_default(p, "timeoutSeconds", 1.into());
            set_default(p, "periodSeconds", 10.into());
            set_default(p, "successThreshold", 1.into());
            set_default(p, "failureThreshold", 3.into());
            if let Some(h) = child(p, "httpGet") {
                set_default(h, "path", "/".into());
                set_default(h, "scheme", "HTTP".into());
            }
        }
    }
    for e in each(c, "env") {
        if let Some(vf) = child(e, "valueFrom") {
            if let Some(fr) = child(vf, "fieldRef") {
                set_default(fr, "apiVersion", "v1".into());
            }
        }
    }
}

/// `Always` for `:latest` or an untagged image, `IfNotPresent` for a pinned tag or digest.
pub fn image_pull_policy(image: &str) -> &'static str {
    if image.contains('@') {
        return "IfNotPresent";
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        Some((_, "latest")) | None => "Always",
        Some(_) => "IfNotPresent",
    }
}

/// Admission on create: the default ServiceAccount, DefaultTolerationSeconds, Priority.
pub fn admit_create(
    r: &Resource,
    obj: &mut Value,
    priority_of: impl Fn(&str) -> Option<i64>,
) -> Result<(), Cause> {
    if (r.group, r.kind) != ("", "Pod") {
        return Ok(());
    }
    let Some(spec) = child(obj, "spec") else {
        return Ok(());
    };
    if spec
        .get("serviceAccountName")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        let sa = spec
            .get("serviceAccount")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .unwrap_or("default")
            .to_string();
        spec["serviceAccountName"] = sa.into();
    }
    let sa = spec["serviceAccountName"].clone();
    set_default(spec, "serviceAccount", sa);
    set_default(spec, "tolerations", json!([]));
    if let Some(tols) = spec.get_mut("tolerations").and_then(Value::as_array_mut) {
        for key in [
            "node.kubernetes.io/not-ready",
            "node.kubernetes.io/unreachable",
        ] {
            let has = tols.iter().any(|t| {
                t.get("key").and_then(Value::as_str) == Some(key)
                    || (t.get("key").is_none()
                        && t.get("operator").and_then(Value::as_str) == Some("Exists"))
            });
            if !has {
                tols.push(json!({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}));
            }
        }
    }
    let class = spec
        .get("priorityClassName")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let priority = if class.is_empty() {
        0
    } else {
        match priority_of(&class) {
            Some(p) => p,
            None => {
                return Err(Cause {
                    reason: "FieldValueNotFound",
                    field: "spec.priorityClassName".into(),
                    message: format!("Not found: {class:?}"),
                })
            }
        }
    };
    spec["priority"] = priority.into();
    set_default(spec, "preemptionPolicy", "PreemptLowerPriority".into());
    Ok(())
}

// ---- validation ----

fn path_idx(base: &str, field: &str, i: usize) -> String {
    format!("{base}.{field}[{i}]")
}

/// Validates an object for create (old = None) or update.
pub fn validate(r: &Resource, obj: &Value, old: Option<&Value>) -> Vec<Cause> {
    let mut errs = Vec::new();
    validate_meta(r, obj, &mut errs);
    if let Some(old) = old {
        for f in ["name", "namespace", "uid"] {
            if meta::str_field(obj, f) != meta::str_field(old, f)
                && !meta::str_field(old, f).is_empty()
            {
                errs.push(Cause::invalid(
                    format!("metadata.{f}"),
                    &Value::String(meta::str_field(obj, f).into()),
                    "field is immutable",
                ));
            }
        }
    }
    match (r.group, r.kind) {
        ("", "Pod") => {
            let spec = obj.get("spec").unwrap_or(&Value::Null);
            validate_pod_spec(spec, "spec", &mut errs);
            if let Some(old) = old {
                validate_pod_update(obj, old, &mut errs);
            }
        }
        ("apps", "Deployment")
        | ("apps", "ReplicaSet")
        | ("apps", "DaemonSet")
        | ("apps", "StatefulSet") => {
            validate_workload(r, obj, old, &mut errs);
        }
        ("batch", "Job") => {
            let spec = obj.get("spec").unwrap_or(&Value::Null);
            validate_template(
                spec.get("template"),
                "spec.template",
                &["OnFailure", "Never"],
                &mut errs,
            );
        }
        ("", "Service") => validate_service(obj, old, &mut errs),
        ("", "ConfigMap") | ("", "Secret") => {
            let mut total = 0usize;
            for field in ["data", "binaryData"] {
                if let Some(m) = obj.get(field).and_then(Value::as_object) {
                    for (k, v) in m {
                        if !names::is_config_key(k) {
                            errs.push(Cause::invalid(format!("{field}[{k}]"), &Value::String(k.clone()), "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"));
                        }
                        total += k.len() + v.as_str().map_or(0, str::len);
                    }
                }
            }
            if total > 1 << 20 {
                errs.push(Cause::too_long("data", 1 << 20));
            }
            if r.kind == "Secret" {
                if let Some(old) = old {
                    if old.get("type") != obj.get("type") {
                        errs.push(Cause::invalid(
                            "type",
                            obj.get("type").unwrap_or(&Value::Null),
                            "field is immutable",
                        ));
                    }
                }
            }
            if let Some(old) = old {
                if old.get("immutable") == Some(&Value::Bool(true))
                    && (old.get("data") != obj.get("data")
                        || old.get("binaryData") != obj.get("binaryData"))
                {
                    errs.push(Cause::forbidden(
                        "data",
                        "field is immutable when `immutable` is set",
                    ));
                }
            }
        }
        ("coordination.k8s.io", "Lease") => {
            if let Some(d) = obj
                .get("spec")
                .and_then(|s| s.get("leaseDurationSeconds"))
                .and_then(Value::as_i64)
            {
                if d <= 0 {
                    errs.push(Cause::invalid(
                        "spec.leaseDurationSeconds",
                        &d.into(),
                        "must be greater than 0",
                    ));
                }
            }
        }
        _ => {}
    }
    errs
}

fn validate_meta(r: &Resource, obj: &Value, errs: &mut Vec<Cause>) {
    let name = meta::name(obj);
    if name.is_empty() {
        errs.push(Cause::required("metadata.name"));
    } else {
        let problems = match r.kind {
            "Namespace" | "Service" => names::dns1123_label(name),
            // Path-segment names: anything without '/' or '%' and not '.'/'..'.
            "ClusterRole" | "Role" | "ClusterRoleBinding" | "RoleBinding" | "Node" => {
                names::path_segment(name)
            }
            _ => names::dns1123_subdomain(name),
        };
        for p in problems {
            errs.push(Cause::invalid(
                "metadata.name",
                &Value::String(name.into()),
                p,
            ));
        }
    }
    if let Some(labels) = meta::labels(obj) {
        for (k, v) in labels {
            for p in names::qualified_name(k) {
                errs.push(Cause::invalid(
                    "metadata.labels",
                    &Value::String(k.clone()),
                    p,
                ));
            }
            match v.as_str() {
                Some(s) => {
                    for p in names::label_value(s) {
                        errs.push(Cause::invalid(
                            "metadata.labels",
                            &Value::String(s.into()),
                            p,
                        ));
                    }
                }
                None => errs.push(Cause::invalid("metadata.labels", v, "must be a string")),
            }
        }
    }
    if let Some(ann) = meta::metadata(obj)
        .and_then(|m| m.get("annotations"))
        .and_then(Value::as_object)
    {
        let mut total = 0;
        for (k, v) in ann {
            for p in names::qualified_name(&k.to_lowercase()) {
                errs.push(Cause::invalid(
                    "metadata.annotations",
                    &Value::String(k.clone()),
                    p,
                ));
            }
            total += k.len() + v.as_str().map_or(0, str::len);
        }
        if total > 256 * 1024 {
            errs.push(Cause::too_long("metadata.annotations", 256 * 1024));
        }
    }
}

fn validate_pod_spec(spec: &Value, base: &str, errs: &mut Vec<Cause>) {
    let containers = spec.get("containers").and_then(Value::as_array);
    if containers.is_none_or(|c| c.is_empty()) {
        errs.push(Cause::required(format!("{base}.containers")));
    }
    let mut seen: Vec<String> = Vec::new();
    for field in ["initContainers", "containers"] {
        for (i, c) in spec
            .get(field)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let p = path_idx(base, field, i);
            let name = c.get("name").and_then(Value::as_str).unwrap_or("");
            if name.is_empty() {
                errs.push(Cause::required(format!("{p}.name")));
            } else {
                for m in names::dns1123_label(name) {
                    errs.push(Cause::invalid(
                        format!("{p}.name"),
                        &Value::String(name.into()),
                        m,
                    ));
                }
                if seen.iter().any(|s| s == name) {
                    errs.push(Cause::duplicate(
                        format!("{p}.name"),
                        &Value::String(name.into()),
                    ));
                }
                seen.push(name.into());
            }
            if c.get("image")
                .and_then(Value::as_str)
                .is_none_or(|s| s.trim().is_empty())
            {
                errs.push(Cause::required(format!("{p}.image")));
            }
            if let Some(pp) = c.get("imagePullPolicy").and_then(Value::as_str) {
                if !["Always", "IfNotPresent", "Never"].contains(&pp) {
                    errs.push(Cause::not_supported(
                        format!("{p}.imagePullPolicy"),
                        &Value::String(pp.into()),
                        &["Always", "IfNotPresent", "Never"],
                    ));
                }
            }
            let mut port_names: Vec<&str> = Vec::new();
            for (j, port) in c
                .get("ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let pp = format!("{p}.ports[{j}]");
                match port.get("containerPort").and_then(Value::as_i64) {
                    Some(n) if (1..=65535).contains(&n) => {}
                    Some(n) => errs.push(Cause::invalid(
                        format!("{pp}.containerPort"),
                        &n.into(),
                        "must be between 1 and 65535, inclusive",
                    )),
                    None => errs.push(Cause::required(format!("{pp}.containerPort"))),
                }
                if let Some(hp) = port.get("hostPort").and_then(Value::as_i64) {
                    if !(1..=65535).contains(&hp) && hp != 0 {
                        errs.push(Cause::invalid(
                            format!("{pp}.hostPort"),
                            &hp.into(),
                            "must be between 1 and 65535, inclusive",
                        ));
                    }
                }
                if let Some(proto) = port.get("protocol").and_then(Value::as_str) {
                    if !["TCP", "UDP", "SCTP"].contains(&proto) {
                        errs.push(Cause::not_supported(
                            format!("{pp}.protocol"),
                            &Value::String(proto.into()),
                            &["SCTP", "TCP", "UDP"],
                        ));
                    }
                }
                if let Some(n) = port.get("name").and_then(Value::as_str) {
                    for m in names::port_name(n) {
                        errs.push(Cause::invalid(
                            format!("{pp}.name"),
                            &Value::String(n.into()),
                            m,
                        ));
                    }
                    if port_names.contains(&n) {
                        errs.push(Cause::duplicate(
                            format!("{pp}.name"),
                            &Value::String(n.into()),
                        ));
                    }
                    port_names.push(n);
                }
            }
            for (j, e) in c
                .get("env")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                if e.get("name")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    errs.push(Cause::required(format!("{p}.env[{j}].name")));
                }
            }
        }
    }
    if let Some(rp) = spec.get("restartPolicy").and_then(Value::as_str) {
        if !["Always", "OnFailure", "Never"].contains(&rp) {
            errs.push(Cause::not_supported(
                format!("{base}.restartPolicy"),
                &Value::String(rp.into()),
                &["Always", "OnFailure", "Never"],
            ));
        }
    }
    if let Some(dp) = spec.get("dnsPolicy").and_then(Value::as_str) {
        let ok = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"];
        if !ok.contains(&dp) {
            errs.push(Cause::not_supported(
                format!("{base}.dnsPolicy"),
                &Value::String(dp.into()),
                &ok,
            ));
        }
    }
    let mut vol_names: Vec<&str> = Vec::new();
    for (i, v) in spec
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let name = v.get("name").and_then(Value::as_str).unwrap_or("");
        if name.is_empty() {
            errs.push(Cause::required(format!("{base}.volumes[{i}].name")));
        } else if vol_names.contains(&name) {
            errs.push(Cause::duplicate(
                format!("{base}.volumes[{i}].name"),
                &Value::String(name.into()),
            ));
        }
        vol_names.push(name);
    }
    if let Some(g) = spec
        .get("terminationGracePeriodSeconds")
        .and_then(Value::as_i64)
    {
        if g < 0 {
            errs.push(Cause::invalid(
                format!("{base}.terminationGracePeriodSeconds"),
                &g.into(),
                "must be greater than or equal to 0",
            ));
        }
    }
}

fn validate_pod_update(new: &Value, old: &Value, errs: &mut Vec<Cause>) {
    // Mutable: container images, activeDeadlineSeconds, tolerations (additions), and the
    // fields the scheduler and admission own once set.
    let strip = |v: &Value| {
        let mut s = v.get("spec").cloned().unwrap_or(Value::Null);
        for f in ["containers", "initContainers"] {
            for c in each(&mut s, f) {
                if let Some(o) = c.as_object_mut() {
                    o.remove("image");
                }
            }
        }
        if let Some(o) = s.as_object_mut() {
            o.remove("activeDeadlineSeconds");
            o.remove("tolerations");
            o.remove("terminationGracePeriodSeconds");
        }
        s
    };
    if strip(new) != strip(old) {
        errs.push(Cause::forbidden(
            "spec",
            "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
        ));
    }
}

fn validate_template(
    template: Option<&Value>,
    base: &str,
    restart_policies: &[&str],
    errs: &mut Vec<Cause>,
) {
    let Some(t) = template else {
        errs.push(Cause::required(base.to_string()));
        return;
    };
    let spec = t.get("spec").unwrap_or(&Value::Null);
    validate_pod_spec(spec, &format!("{base}.spec"), errs);
    if let Some(rp) = spec.get("restartPolicy").and_then(Value::as_str) {
        if !restart_policies.contains(&rp) {
            errs.push(Cause::not_supported(
                format!("{base}.spec.restartPolicy"),
                &Value::String(rp.into()),
                restart_policies,
            ));
        }
    }
}

fn validate_workload(r: &Resource, obj: &Value, old: Option<&Value>, errs: &mut Vec<Cause>) {
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    if let Some(n) = spec.get("replicas").and_then(Value::as_i64) {
        if n < 0 {
            errs.push(Cause::invalid(
                "spec.replicas",
                &n.into(),
                "must be greater than or equal to 0",
            ));
        }
    }
    let selector = spec.get("selector");
    match selector {
        None | Some(Value::Null) => errs.push(Cause::required("spec.selector")),
        Some(sel) => match berth_apimachinery::labels::Selector::from_label_selector(sel) {
            Err(e) => errs.push(Cause::invalid("spec.selector", sel, e.to_string())),
            Ok(s) => {
                if s.is_everything() {
                    errs.push(Cause::invalid(
                        "spec.selector",
                        sel,
                        "empty selector is invalid for deployment",
                    ));
                }
                let labels = spec
                    .get("template")
                    .and_then(|t| t.get("metadata"))
                    .and_then(|m| m.get("labels"))
                    .and_then(Value::as_object);
                if !s.matches(labels) {
                    errs.push(Cause::invalid(
                        "spec.template.metadata.labels",
                        &labels.cloned().map(Value::Object).unwrap_or(Value::Null),
                        "`selector` does not match template `labels`",
                    ));
                }
            }
        },
    }
    validate_template(spec.get("template"), "spec.template", &["Always"], errs);
    if let Some(old) = old {
        let old_sel = old.get("spec").and_then(|s| s.get("selector"));
        if old_sel != selector {
            errs.push(Cause::invalid(
                "spec.selector",
                selector.unwrap_or(&Value::Null),
                "field is immutable",
            ));
        }
    }
    if r.kind == "Deployment" {
        if let Some(st) = spec
            .get("strategy")
            .and_then(|s| s.get("type"))
            .and_then(Value::as_str)
        {
            if !["Recreate", "RollingUpdate"].contains(&st) {
                errs.push(Cause::not_supported(
                    "spec.strategy.type",
                    &Value::String(st.into()),
                    &["Recreate", "RollingUpdate"],
                ));
            }
        }
    }
}

fn validate_service(obj: &Value, old: Option<&Value>, errs: &mut Vec<Cause>) {
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    let ty = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP");
    let types = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
    if !types.contains(&ty) {
        errs.push(Cause::not_supported(
            "spec.type",
            &Value::String(ty.into()),
            &types,
        ));
    }
    let headless = spec.get("clusterIP").and_then(Value::as_str) == Some("None");
    let ports = spec
        .get("ports")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if ports.is_empty() && ty != "ExternalName" && !headless {
        errs.push(Cause::required("spec.ports"));
    }
    let mut seen_names: Vec<String> = Vec::new();
    let mut seen_ports: Vec<(i64, String)> = Vec::new();
    for (i, p) in ports.iter().enumerate() {
        let base = format!("spec.ports[{i}]");
        let name = p.get("name").and_then(Value::as_str).unwrap_or("");
        if ports.len() > 1 && name.is_empty() {
            errs.push(Cause::required(format!("{base}.name")));
        }
        if !name.is_empty() {
            for m in names::dns1123_label(name) {
                errs.push(Cause::invalid(
                    format!("{base}.name"),
                    &Value::String(name.into()),
                    m,
                ));
            }
            if seen_names.iter().any(|n| n == name) {
                errs.push(Cause::duplicate(
                    format!("{base}.name"),
                    &Value::String(name.into()),
                ));
            }
            seen_names.push(name.into());
        }
        let proto = p
            .get("protocol")
            .and_then(Value::as_str)
            .unwrap_or("TCP")
            .to_string();
        match p.get("port").and_then(Value::as_i64) {
            Some(n) if (1..=65535).contains(&n) => {
                if seen_ports.contains(&(n, proto.clone())) {
                    errs.push(Cause::duplicate(
                        format!("{base}"),
                        &json!({"port": n, "protocol": proto}),
                    ));
                }
                seen_ports.push((n, proto.clone()));
            }
            Some(n) => errs.push(Cause::invalid(
                format!("{base}.port"),
                &n.into(),
                "must be between 1 and 65535, inclusive",
            )),
            None => errs.push(Cause::required(format!("{base}.port"))),
        }
        if !["TCP", "UDP", "SCTP"].contains(&proto.as_str()) {
            errs.push(Cause::not_supported(
                format!("{base}.protocol"),
                &Value::String(proto.clone()),
                &["SCTP", "TCP", "UDP"],
            ));
        }
        match p.get("targetPort") {
            Some(Value::Number(n)) if !(1..=65535).contains(&n.as_i64().unwrap_or(0)) => {
                errs.push(Cause::invalid(
                    format!("{base}.targetPort"),
                    &Value::Number(n.clone()),
                    "must be between 1 and 65535, inclusive",
                ))
            }
            Some(Value::String(s)) => {
                for m in names::port_name(s) {
                    errs.push(Cause::invalid(
                        format!("{base}.targetPort"),
                        &Value::String(s.clone()),
                        m,
                    ));
                }
            }
            _ => {}
        }
        if let Some(np) = p.get("nodePort").and_then(Value::as_i64) {
            if np != 0 && ty == "ClusterIP" {
                errs.push(Cause::forbidden(
                    format!("{base}.nodePort"),
                    "may not be used when `type` is 'ClusterIP'",
                ));
            }
        }
    }
    if let Some(aff) = spec.get("sessionAffinity").and_then(Value::as_str) {
        if !["ClientIP", "None"].contains(&aff) {
            errs.push(Cause::not_supported(
                "spec.sessionAffinity",
                &Value::String(aff.into()),
                &["ClientIP", "None"],
            ));
        }
    }
    if let Some(old) = old {
        let old_ip = old
            .get("spec")
            .and_then(|s| s.get("clusterIP"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let new_ip = spec.get("clusterIP").and_then(Value::as_str).unwrap_or("");
        if !old_ip.is_empty() && old_ip != new_ip && ty != "ExternalName" {
            errs.push(Cause::invalid(
                "spec.clusterIPs[0]",
                &Value::String(new_ip.into()),
                "may not change once set",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::find;

    #[test]
    fn jobs_select_their_pods_by_uid() {
        let r = find("batch", "v1", "jobs").unwrap();
        let mut j = json!({"metadata": {"name": "j"}, "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}], "restartPolicy": "Never"}}}});
        prepare_create(r, &mut j);
        let uid = j["metadata"]["uid"].as_str().unwrap().to_string();
        assert_eq!(
            j["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"],
            uid.as_str()
        );
        assert_eq!(
            j["spec"]["template"]["metadata"]["labels"]["batch.kubernetes.io/job-name"],
            "j"
        );
        assert_eq!(j["metadata"]["generation"], 1);
    }

    #[test]
    fn pull_policy_follows_the_tag() {
        for (img, want) in [
            ("busybox", "Always"),
            ("busybox:latest", "Always"),
            ("busybox:1.35", "IfNotPresent"),
            ("localhost:5000/busybox", "Always"),
            ("localhost:5000/busybox:1", "IfNotPresent"),
            ("busybox@sha256:abc", "IfNotPresent"),
        ] {
            assert_eq!(image_pull_policy(img), want, "{img}");
        }
    }

    #[test]
    fn deployment_defaults() {
        let r = find("apps", "v1", "deployments").unwrap();
        let mut d = json!({"spec": {"selector": {"matchLabels": {"app": "a"}}, "template": {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "c", "image": "busybox:1.35", "ports": [{"containerPort": 80}]}]}}}});
        default(r, &mut d);
        assert_eq!(d["spec"]["replicas"], 1);
        assert_eq!(
            d["spec"]["strategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
        );
        assert_eq!(d["spec"]["revisionHistoryLimit"], 10);
        assert_eq!(d["spec"]["progressDeadlineSeconds"], 600);
        let pod = &d["spec"]["template"]["spec"];
        assert_eq!(pod["restartPolicy"], "Always");
        assert_eq!(pod["containers"][0]["imagePullPolicy"], "IfNotPresent");
        assert_eq!(pod["containers"][0]["ports"][0]["protocol"], "TCP");
    }

    fn causes(r: &Resource, obj: Value) -> Vec<String> {
        validate(r, &obj, None)
            .into_iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect()
    }

    #[test]
    fn pod_validation() {
        let r = find("", "v1", "pods").unwrap();
        assert_eq!(
            causes(
                r,
                json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]}})
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            causes(r, json!({"metadata": {"name": "p"}, "spec": {}})),
            vec!["spec.containers: Required value"]
        );
        assert_eq!(
            causes(r, json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}, {"name": "c", "image": "i", "ports": [{"containerPort": 70000}]}]}})),
            vec!["spec.containers[1].name: Duplicate value: \"c\"", "spec.containers[1].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"]
        );
        assert_eq!(causes(r, json!({"metadata": {"name": "Bad_Name"}, "spec": {"containers": [{"name": "c", "image": "i"}]}})).len(), 1);
    }

    #[test]
    fn deployment_selector_must_match_template() {
        let r = find("apps", "v1", "deployments").unwrap();
        let d = json!({"metadata": {"name": "d"}, "spec": {"selector": {"matchLabels": {"app": "a"}}, "template": {"metadata": {"labels": {"app": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}});
        assert_eq!(causes(r, d), vec!["spec.template.metadata.labels: Invalid value: {\"app\":\"b\"}: `selector` does not match template `labels`"]);
    }

    #[test]
    fn status_subresource_changes_only_status() {
        let r = find("apps", "v1", "deployments").unwrap();
        let old = json!({"metadata": {"name": "d", "uid": "u", "generation": 3}, "spec": {"replicas": 1}, "status": {"replicas": 0}});
        let mut new =
            json!({"metadata": {"name": "d"}, "spec": {"replicas": 5}, "status": {"replicas": 1}});
        prepare_update(r, &mut new, &old, Some(Sub::Status));
        assert_eq!(
            new,
            json!({"metadata": {"name": "d", "uid": "u", "generation": 3}, "spec": {"replicas": 1}, "status": {"replicas": 1}})
        );
        let mut main =
            json!({"metadata": {"name": "d"}, "spec": {"replicas": 5}, "status": {"replicas": 9}});
        prepare_update(r, &mut main, &old, None);
        assert_eq!(
            main,
            json!({"metadata": {"name": "d", "uid": "u", "generation": 4}, "spec": {"replicas": 5}, "status": {"replicas": 0}})
        );
    }
}
