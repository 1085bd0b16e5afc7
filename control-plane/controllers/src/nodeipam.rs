//! Node IPAM (`--allocate-node-cidrs`): every node gets `spec.podCIDR` and `spec.podCIDRs`,
//! a `--node-cidr-mask-size` block of `--cluster-cidr`, never one already in use. The
//! allocation map is rebuilt from the nodes at the start of every term, so a deleted node's
//! block is free again and a restart never hands out a block twice.

use crate::error::{Context, ControllerError};
use crate::events::ObjectRef;
use crate::informers::Informer;
use crate::util;
use crate::Term;
use berth_client::api::PatchType;
use berth_client::{Client, Resource};
use k8s_openapi::api::core::v1::Node;
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::sync::Arc;

/// An IPv4 cluster CIDR cut into equal blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    base: u32,
    prefix: u8,
    block_prefix: u8,
}

impl Range {
    pub fn parse(cidr: &str, block_prefix: u8) -> Result<Range, ControllerError> {
        let bad = || {
            ControllerError::Invalid(format!(
                "invalid --cluster-cidr {cidr:?} with --node-cidr-mask-size {block_prefix}"
            ))
        };
        let (ip, len) = cidr.split_once('/').ok_or_else(bad)?;
        let ip: Ipv4Addr = ip.parse().map_err(|_| bad())?;
        let prefix: u8 = len.parse().map_err(|_| bad())?;
        if prefix > 32 || block_prefix > 32 || block_prefix < prefix || block_prefix - prefix > 24 {
            return Err(bad());
        }
        let mask = if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - prefix)
        };
        Ok(Range {
            base: u32::from(ip) & mask,
            prefix,
            block_prefix,
        })
    }

    pub fn blocks(&self) -> u32 {
        1 << (self.block_prefix - self.prefix)
    }

    pub fn block(&self, i: u32) -> String {
        let size = if self.block_prefix == 32 {
            1
        } else {
            1u32 << (32 - self.block_prefix)
        };
        format!(
            "{}/{}",
            Ipv4Addr::from(self.base + i * size),
            self.block_prefix
        )
    }

    /// The index of a block of this range, if `cidr` is one.
    pub fn index_of(&self, cidr: &str) -> Option<u32> {
        (0..self.blocks())
            .find(|i| self.block(*i) == cidr)
            .or_else(|| {
                let (ip, len) = cidr.split_once('/')?;
                if len.parse::<u8>().ok()? != self.block_prefix {
                    return None;
                }
                let ip = u32::from(ip.parse::<Ipv4Addr>().ok()?);
                let size = 1u64 << (32 - self.block_prefix as u32);
                let off = ip.checked_sub(self.base)? as u64;
                (off % size == 0 && off / size < self.blocks() as u64).then(|| (off / size) as u32)
            })
    }
}

/// Allocation state: which blocks are used.
#[derive(Debug, Default)]
pub struct Allocator {
    used: BTreeSet<u32>,
}

impl Allocator {
    /// Rebuilt from the nodes' current podCIDRs.
    pub fn from_nodes(range: &Range, nodes: &[Arc<Node>]) -> Allocator {
        let mut a = Allocator::default();
        for n in nodes {
            if let Some(i) = pod_cidr(n).and_then(|c| range.index_of(c)) {
                a.used.insert(i);
            }
        }
        a
    }

    /// The lowest free block.
    pub fn allocate(&mut self, range: &Range) -> Option<u32> {
        let i = (0..range.blocks()).find(|i| !self.used.contains(i))?;
        self.used.insert(i);
        Some(i)
    }

    pub fn release(&mut self, i: u32) {
        self.used.remove(&i);
    }

    pub fn occupy(&mut self, i: u32) {
        self.used.insert(i);
    }
}

fn pod_cidr(n: &Node) -> Option<&str> {
    n.spec
        .as_ref()?
        .pod_cidr
        .as_deref()
        .filter(|c| !c.is_empty())
}

struct Ipam {
    client: Client,
    nodes: Arc<Informer<Node>>,
    range: Range,
    alloc: Mutex<Option<Allocator>>,
    recorder: crate::events::Recorder,
}

pub fn start(t: &mut Term) {
    let range = match Range::parse(&t.config.cluster_cidr, t.config.node_cidr_mask_size) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "node IPAM disabled");
            return;
        }
    };
    let queue = t.queue("node_ipam");
    let c = Arc::new(Ipam {
        client: t.client.clone(),
        nodes: t.informers.get::<Node>(),
        range,
        alloc: Mutex::new(None),
        recorder: t.recorder.with_component("cidrAllocator"),
    });
    let w = Arc::downgrade(&c);
    let q = queue.clone();
    c.nodes.on_change(move |old, new| {
        let Some(c) = w.upgrade() else { return };
        match (old, new) {
            (Some(n), None) => {
                // A deleted node's block is free again.
                if let Some(i) = pod_cidr(n).and_then(|cidr| c.range.index_of(cidr)) {
                    if let Some(a) = c.alloc.lock().as_mut() {
                        a.release(i);
                    }
                }
            }
            (_, Some(n)) if pod_cidr(n).is_none() => q.add(&util::key(&n.metadata)),
            (_, Some(n)) => {
                if let (Some(i), Some(a)) = (
                    pod_cidr(n).and_then(|cidr| c.range.index_of(cidr)),
                    c.alloc.lock().as_mut(),
                ) {
                    a.occupy(i);
                }
            }
            _ => {}
        }
    });
    t.spawn_workers(&queue, 1, move |key| {
        let c = c.clone();
        async move { c.sync(&key).await }
    });
}

impl Ipam {
    async fn sync(&self, name: &str) -> Result<(), ControllerError> {
        let Some(node) = self.nodes.get(name) else {
            return Ok(());
        };
        if pod_cidr(&node).is_some() {
            return Ok(());
        }
        let i = {
            let mut g = self.alloc.lock();
            let a = g.get_or_insert_with(|| Allocator::from_nodes(&self.range, &self.nodes.list()));
            a.allocate(&self.range)
        };
        let Some(i) = i else {
            self.recorder.normal(
                ObjectRef::of(&*node),
                "CIDRNotAvailable",
                format!("Node {name} status is now: CIDRNotAvailable"),
            );
            return Err(ControllerError::Invalid(format!(
                "no free pod CIDR in {} for node {name}",
                self.range.block(0)
            )));
        };
        let cidr = self.range.block(i);
        let patch = json!({"metadata": {"resourceVersion": node.metadata.resource_version}, "spec": {"podCIDR": cidr, "podCIDRs": [cidr]}});
        let res = self
            .client
            .patch::<Value>(&Resource::NODES, "", name, None, PatchType::Merge, &patch)
            .await;
        if res.is_err() {
            if let Some(a) = self.alloc.lock().as_mut() {
                a.release(i);
            }
        }
        res.ctx(|| format!("set podCIDR {cidr} on node {name}"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::NodeSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn node(name: &str, cidr: Option<&str>) -> Arc<Node> {
        Arc::new(Node {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            spec: Some(NodeSpec {
                pod_cidr: cidr.map(str::to_string),
                ..Default::default()
            }),
            status: None,
        })
    }

    #[test]
    fn ranges() {
        let r = Range::parse("10.244.0.0/16", 24).unwrap();
        assert_eq!(r.blocks(), 256);
        assert_eq!(r.block(0), "10.244.0.0/24");
        assert_eq!(r.block(255), "10.244.255.0/24");
        assert_eq!(r.index_of("10.244.7.0/24"), Some(7));
        assert_eq!(r.index_of("10.245.0.0/24"), None);
        assert_eq!(r.index_of("10.244.7.0/25"), None);
        for bad in [
            ("10.244.0.0", 24),
            ("10.244.0.0/16", 8),
            ("x/16", 24),
            ("10.0.0.0/33", 34),
        ] {
            assert!(Range::parse(bad.0, bad.1).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn allocation_never_repeats_and_reuses_released() {
        let r = Range::parse("10.244.0.0/22", 24).unwrap();
        let mut a = Allocator::from_nodes(
            &r,
            &[
                node("a", Some("10.244.0.0/24")),
                node("b", Some("10.244.2.0/24")),
                node("c", None),
            ],
        );
        assert_eq!(a.allocate(&r), Some(1));
        assert_eq!(a.allocate(&r), Some(3));
        assert_eq!(a.allocate(&r), None, "full");
        a.release(2);
        assert_eq!(a.allocate(&r), Some(2));
    }
}
