//! The Rust `kube` client's informer machinery (`kube::runtime::watcher`) against a 3-replica
//! cluster: its view stays equal to the store across a leader failover and a compaction that
//! forces it to relist on 410, and it never misses an object.

use berth_system_tests::{Cluster, Kubectl, Opts};
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::watcher;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct View {
    /// name -> resourceVersion, as the informer sees it.
    objects: BTreeMap<String, String>,
    pending: BTreeMap<String, String>,
    relists: usize,
}

fn cm(name: &str) -> ConfigMap {
    serde_json::from_value(serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": name}})).unwrap()
}

#[test]
fn kube_watcher_stays_consistent_across_failover_and_compaction() {
    let mut c = Cluster::start(
        3,
        Opts {
            kube_api: true,
            ..Opts::default()
        },
    );
    let leader = c.wait_leader(&[0, 1, 2]);
    let via = (leader + 1) % 3; // the replica the client talks to survives
    let k = Kubectl::new(&c.kubeconfig(via));
    k.wait_ready();
    // The root CA publisher's ConfigMap first: the test needs `default`'s ConfigMaps to
    // change only by its own writes (a controller's write after the compaction would move
    // the watcher past it, legitimately, and no 410 would come).
    berth_system_tests::wait_for(
        "kube-root-ca.crt in default",
        Duration::from_secs(30),
        || {
            let out = k.run(&["get", "configmap", "kube-root-ca.crt"], None);
            if out.status.success() {
                Ok(())
            } else {
                Err(out.stderr)
            }
        },
    );
    let rt = berth_system_tests::client::runtime();
    let kubeconfig = c.kubeconfig(via);
    let client = rt.block_on(async {
        let kc = kube::config::Kubeconfig::read_from(&kubeconfig).unwrap();
        let config =
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .unwrap();
        kube::Client::try_from(config).unwrap()
    });
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let view = Arc::new(Mutex::new(View::default()));
    let v = view.clone();
    let w_api = api.clone();
    // A short server-side timeout makes the watcher re-watch from its last resourceVersion
    // every few seconds, as long-running informers do when a connection ends.
    rt.spawn(async move {
        // Without bookmarks the watcher's resourceVersion is its last ConfigMap event, so a
        // compaction past it forces a 410 even while the cluster's Leases keep the
        // revision moving (with bookmarks it may resume past the compaction: no relist).
        let mut config = watcher::Config::default().timeout(3);
        config.bookmarks = false;
        let mut events = watcher(w_api, config).boxed();
        while let Some(ev) = events.next().await {
            let ev = match ev {
                Ok(ev) => ev,
                Err(e) => {
                    eprintln!("watcher: {e}");
                    continue;
                }
            };
            let mut v = v.lock().unwrap();
            match ev {
                watcher::Event::Init => {
                    v.pending.clear();
                    v.relists += 1;
                }
                watcher::Event::InitApply(o) => {
                    let (n, rv) = (
                        o.metadata.name.clone().unwrap(),
                        o.metadata.resource_version.clone().unwrap(),
                    );
                    v.pending.insert(n, rv);
                }
                watcher::Event::InitDone => {
                    v.objects = std::mem::take(&mut v.pending);
                }
                watcher::Event::Apply(o) => {
                    v.objects.insert(
                        o.metadata.name.clone().unwrap(),
                        o.metadata.resource_version.clone().unwrap(),
                    );
                }
                watcher::Event::Delete(o) => {
                    v.objects.remove(&o.metadata.name.clone().unwrap());
                }
            }
        }
    });
    let write = |range: std::ops::Range<usize>, delete_every: usize| {
        rt.block_on(async {
            for i in range {
                let name = format!("cm{i}");
                api.create(&PostParams::default(), &cm(&name))
                    .await
                    .unwrap();
                if delete_every > 0 && i % delete_every == 0 {
                    api.delete(&name, &DeleteParams::default()).await.unwrap();
                }
            }
        })
    };
    let truth = || -> BTreeMap<String, String> {
        rt.block_on(async { api.list(&Default::default()).await.unwrap() })
            .items
            .into_iter()
            .map(|o| {
                (
                    o.metadata.name.unwrap(),
                    o.metadata.resource_version.unwrap(),
                )
            })
            .collect()
    };
    let converges = |what: &str| {
        berth_system_tests::wait_for(what, Duration::from_secs(20), || {
            let want = truth();
            let got = view.lock().unwrap().objects.clone();
            if got == want {
                Ok(())
            } else {
                Err(format!("informer {got:?}\nstore {want:?}"))
            }
        })
    };

    write(0..20, 5);
    converges("the informer to see the first writes");

    // The store's leader dies; writes go on through the surviving replicas.
    c.kill(leader);
    write(20..40, 7);
    converges("the informer to see the writes after the failover");

    // Compaction past the informer's resourceVersion: its next re-watch gets 410 and relists.
    let relists_before = view.lock().unwrap().relists;
    for i in 0..5 {
        c.etcdctl(&["put", &format!("/other/{i}"), "x"]).ok();
    }
    let head = c.hashkv(via).1;
    c.etcdctl(&["compaction", &head.to_string()]).ok();
    berth_system_tests::wait_for(
        "the informer to relist after the compaction",
        Duration::from_secs(20),
        || {
            let n = view.lock().unwrap().relists;
            if n > relists_before {
                Ok(())
            } else {
                Err(format!("relists {n}"))
            }
        },
    );
    write(40..60, 3);
    rt.block_on(async { api.delete("cm22", &DeleteParams::default()).await.unwrap() });
    converges("the informer to equal the store after the relist");
}
