//! The ServiceAccount controller (a `default` ServiceAccount in every active namespace) and
//! the root CA publisher (a `kube-root-ca.crt` ConfigMap with key `ca.crt` in every active
//! namespace, kept equal to the cluster CA).

use crate::error::{Context, ControllerError};
use crate::informers::Informer;
use crate::util;
use crate::Term;
use berth_client::{Client, Resource};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

pub const ROOT_CA_CONFIGMAP: &str = "kube-root-ca.crt";
pub const ROOT_CA_KEY: &str = "ca.crt";
const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

fn active(ns: &Namespace) -> bool {
    ns.metadata.deletion_timestamp.is_none()
        && ns.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Terminating")
}

/// Creating into a namespace that began terminating is refused (403): not an error.
fn benign(e: &berth_client::ClientError) -> bool {
    e.is_already_exists() || e.is_not_found() || e.code() == Some(403)
}

struct SaController {
    client: Client,
    namespaces: Arc<Informer<Namespace>>,
    sas: Arc<Informer<ServiceAccount>>,
}

pub fn start_service_accounts(t: &mut Term) {
    let queue = t.queue("serviceaccount");
    let c = Arc::new(SaController {
        client: t.client.clone(),
        namespaces: t.informers.get::<Namespace>(),
        sas: t.informers.get::<ServiceAccount>(),
    });
    let q = queue.clone();
    c.namespaces.on_change(move |_old, new| {
        if let Some(ns) = new {
            q.add(&util::key(&ns.metadata));
        }
    });
    let q = queue.clone();
    c.sas.on_change(move |old, new| {
        if let (Some(sa), None) = (old, new) {
            if util::name(&sa.metadata) == "default" {
                q.add(util::namespace(&sa.metadata));
            }
        }
    });
    let c2 = c.clone();
    t.resync(&queue, move || {
        c2.namespaces
            .list()
            .iter()
            .map(|n| util::key(&n.metadata))
            .collect()
    });
    t.spawn_workers(&queue, 1, move |ns| {
        let c = c.clone();
        async move { c.sync(&ns).await }
    });
}

impl SaController {
    async fn sync(&self, ns: &str) -> Result<(), ControllerError> {
        let Some(n) = self.namespaces.get(ns) else {
            return Ok(());
        };
        if !active(&n) || self.sas.get_in(ns, "default").is_some() {
            return Ok(());
        }
        let sa = ServiceAccount {
            metadata: ObjectMeta {
                name: Some("default".into()),
                namespace: Some(ns.into()),
                ..Default::default()
            },
            ..Default::default()
        };
        match self
            .client
            .create::<Value>(&Resource::SERVICE_ACCOUNTS, ns, &sa)
            .await
        {
            Err(e) if !benign(&e) => {
                Err(e).ctx(|| format!("create the default service account in {ns}"))
            }
            _ => Ok(()),
        }
    }
}

/// The ConfigMap the publisher wants in `ns`, given the current one.
pub fn desired_root_ca(ns: &str, pem: &str, current: Option<&ConfigMap>) -> Option<ConfigMap> {
    let data: BTreeMap<String, String> = [(ROOT_CA_KEY.to_string(), pem.to_string())].into();
    let want_ann = (
        String::from("kubernetes.io/description"),
        DESCRIPTION.to_string(),
    );
    match current {
        Some(cm)
            if cm.data.as_ref() == Some(&data)
                && cm
                    .metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(&want_ann.0))
                    == Some(&want_ann.1) =>
        {
            None
        }
        Some(cm) => {
            let mut cm = cm.clone();
            cm.data = Some(data);
            cm.binary_data = None;
            cm.metadata
                .annotations
                .get_or_insert_with(BTreeMap::new)
                .insert(want_ann.0, want_ann.1);
            Some(cm)
        }
        None => Some(ConfigMap {
            metadata: ObjectMeta {
                name: Some(ROOT_CA_CONFIGMAP.into()),
                namespace: Some(ns.into()),
                annotations: Some([want_ann].into()),
                ..Default::default()
            },
            data: Some(data),
            ..Default::default()
        }),
    }
}

struct RootCa {
    client: Client,
    namespaces: Arc<Informer<Namespace>>,
    configmaps: Arc<Informer<ConfigMap>>,
    pem: String,
}

pub fn start_root_ca(t: &mut Term) {
    let queue = t.queue("root_ca_cert_publisher");
    let c = Arc::new(RootCa {
        client: t.client.clone(),
        namespaces: t.informers.get::<Namespace>(),
        configmaps: t.informers.get::<ConfigMap>(),
        pem: t.config.root_ca_pem.clone(),
    });
    let q = queue.clone();
    c.namespaces.on_change(move |_old, new| {
        if let Some(ns) = new {
            q.add(&util::key(&ns.metadata));
        }
    });
    let q = queue.clone();
    c.configmaps.on_change(move |old, new| {
        if let Some(cm) = new.or(old) {
            if util::name(&cm.metadata) == ROOT_CA_CONFIGMAP {
                q.add(util::namespace(&cm.metadata));
            }
        }
    });
    let c2 = c.clone();
    t.resync(&queue, move || {
        c2.namespaces
            .list()
            .iter()
            .map(|n| util::key(&n.metadata))
            .collect()
    });
    t.spawn_workers(&queue, 1, move |ns| {
        let c = c.clone();
        async move { c.sync(&ns).await }
    });
}

impl RootCa {
    async fn sync(&self, ns: &str) -> Result<(), ControllerError> {
        let Some(n) = self.namespaces.get(ns) else {
            return Ok(());
        };
        if !active(&n) {
            return Ok(());
        }
        let current = self.configmaps.get_in(ns, ROOT_CA_CONFIGMAP);
        let Some(want) = desired_root_ca(ns, &self.pem, current.as_deref()) else {
            return Ok(());
        };
        let res = if current.is_some() {
            self.client
                .replace::<Value>(&Resource::CONFIGMAPS, ns, ROOT_CA_CONFIGMAP, None, &want)
                .await
        } else {
            self.client
                .create::<Value>(&Resource::CONFIGMAPS, ns, &want)
                .await
        };
        match res {
            Err(e) if !benign(&e) => Err(e).ctx(|| format!("publish {ROOT_CA_CONFIGMAP} in {ns}")),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_ca_configmap() {
        let pem = "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n";
        let created = desired_root_ca("team-a", pem, None).expect("created");
        assert_eq!(created.metadata.name.as_deref(), Some(ROOT_CA_CONFIGMAP));
        assert_eq!(
            created
                .data
                .as_ref()
                .unwrap()
                .get(ROOT_CA_KEY)
                .map(String::as_str),
            Some(pem)
        );
        assert_eq!(
            desired_root_ca("team-a", pem, Some(&created)),
            None,
            "up to date"
        );
        let mut tampered = created.clone();
        tampered.data = Some([(ROOT_CA_KEY.to_string(), "old".to_string())].into());
        let fixed = desired_root_ca("team-a", pem, Some(&tampered)).expect("rewritten");
        assert_eq!(fixed.data, created.data);
    }
}
