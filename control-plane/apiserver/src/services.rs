//! ClusterIP and NodePort allocation. Each allocated address or port is a store key
//! (`/registry/ranges/serviceips/<ip>`, `/registry/ranges/servicenodeports/<port>`) created
//! in the same transaction as the Service (compare: the key does not exist) and deleted in
//! the same transaction as the Service's deletion, so no address is handed out twice, on any
//! replica, across failovers, and none leaks.

use crate::registry::Registry;
use crate::resources::Resource;
use crate::status::{ApiError, ApiResult, Cause};
use berth_replication::{ReadConsistency, Store};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::net::Ipv4Addr;
use storage::{
    Compare, CompareResult, CompareTarget, DeleteRangeRequest, PutRequest, RangeRequest, RequestOp,
    TxnRequest,
};

const IP_PREFIX: &str = "/registry/ranges/serviceips/";
const PORT_PREFIX: &str = "/registry/ranges/servicenodeports/";

/// The service IP range (IPv4 CIDR) and the node port range.
#[derive(Debug, Clone)]
pub struct ServiceRanges {
    pub cidr_text: String,
    base: u32,
    size: u32,
    pub node_ports: (u16, u16),
}

impl ServiceRanges {
    /// `10.96.0.0/12` and `30000-32767`.
    pub fn parse(cidr: &str, ports: &str) -> Result<ServiceRanges, String> {
        let (ip, bits) = cidr
            .split_once('/')
            .ok_or_else(|| format!("{cidr:?} is not a CIDR"))?;
        let ip: Ipv4Addr = ip
            .parse()
            .map_err(|_| format!("{cidr:?}: only IPv4 service ranges are supported"))?;
        let bits: u32 = bits
            .parse()
            .map_err(|_| format!("{cidr:?} has a bad prefix length"))?;
        if !(8..=30).contains(&bits) {
            return Err(format!(
                "{cidr:?}: the prefix length must be between 8 and 30"
            ));
        }
        let mask = u32::MAX << (32 - bits);
        let (lo, hi) = ports
            .split_once('-')
            .ok_or_else(|| format!("{ports:?} is not a port range"))?;
        let (lo, hi): (u16, u16) = (
            lo.trim()
                .parse()
                .map_err(|_| format!("bad port range {ports:?}"))?,
            hi.trim()
                .parse()
                .map_err(|_| format!("bad port range {ports:?}"))?,
        );
        if lo == 0 || lo > hi {
            return Err(format!("bad port range {ports:?}"));
        }
        Ok(ServiceRanges {
            cidr_text: cidr.to_string(),
            base: u32::from(ip) & mask,
            size: 1 << (32 - bits),
            node_ports: (lo, hi),
        })
    }

    fn contains(&self, ip: Ipv4Addr) -> bool {
        let v = u32::from(ip);
        // Not the network address, not the broadcast address.
        v > self.base && v < self.base + self.size - 1
    }

    /// The first address of the range: the `kubernetes` Service's ClusterIP.
    pub fn first(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.base + 1)
    }
}

/// Keys a write claims and releases, added to its transaction.
#[derive(Debug, Default)]
pub struct Allocation {
    claims: Vec<String>,
    releases: Vec<String>,
}

impl Allocation {
    pub fn add_to(&self, txn: &mut TxnRequest, owner_key: &str) {
        for k in &self.claims {
            txn.compare.push(Compare {
                key: k.clone().into_bytes(),
                range_end: vec![],
                target: CompareTarget::Create(0),
                result: CompareResult::Equal,
            });
            txn.success.push(RequestOp::Put(PutRequest::new(
                k.clone(),
                owner_key.as_bytes().to_vec(),
            )));
        }
        for k in &self.releases {
            txn.success
                .push(RequestOp::DeleteRange(DeleteRangeRequest::key(k.clone())));
        }
    }
}

fn cluster_ip(svc: &Value) -> Option<&str> {
    svc["spec"]["clusterIP"].as_str().filter(|s| !s.is_empty())
}

fn node_ports(svc: &Value) -> Vec<u16> {
    svc["spec"]["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["nodePort"].as_u64())
        .filter(|p| *p > 0 && *p <= 65535)
        .map(|p| p as u16)
        .collect()
}

fn wants_node_ports(svc: &Value) -> bool {
    matches!(
        svc["spec"]["type"].as_str(),
        Some("NodePort" | "LoadBalancer")
    )
}

/// Store deletes that release a Service's addresses when it is deleted.
pub fn release_ops(r: &Resource, svc: &Value, txn: &mut TxnRequest) {
    if r.kind != "Service" || !r.group.is_empty() {
        return;
    }
    if let Some(ip) = cluster_ip(svc).filter(|ip| *ip != "None") {
        txn.success
            .push(RequestOp::DeleteRange(DeleteRangeRequest::key(format!(
                "{IP_PREFIX}{ip}"
            ))));
    }
    for p in node_ports(svc) {
        txn.success
            .push(RequestOp::DeleteRange(DeleteRangeRequest::key(format!(
                "{PORT_PREFIX}{p}"
            ))));
    }
}

async fn taken<S: Store>(reg: &Registry<S>, key: String) -> ApiResult<bool> {
    let resp = reg
        .store
        .range(
            RangeRequest::key(key.into_bytes()),
            ReadConsistency::Linearizable,
        )
        .await
        .map_err(|e| ApiError::internal(format!("storage: {e}")))?;
    Ok(!resp.kvs.is_empty())
}

/// What the watch cache knows is in use (a hint; the transaction is the authority).
fn in_use<S: Store>(reg: &Registry<S>, r: &'static Resource) -> (HashSet<String>, HashSet<u16>) {
    let mut ips = HashSet::new();
    let mut ports = HashSet::new();
    if let Some(c) = reg.cache(r) {
        for o in c.list(None).2 {
            let v = o.value();
            if let Some(ip) = cluster_ip(&v) {
                ips.insert(ip.to_string());
            }
            ports.extend(node_ports(&v));
        }
    }
    (ips, ports)
}

/// Fills in and claims the Service's ClusterIP and NodePorts (create: old = None).
pub async fn allocate<S: Store>(
    reg: &Registry<S>,
    svc: &mut Value,
    old: Option<&Value>,
) -> ApiResult<Allocation> {
    let r = crate::resources::find("", "v1", "services").expect("services are served");
    let ranges = &reg.ranges;
    let name = crate::meta::name(svc).to_string();
    let invalid = |c: Cause| ApiError::invalid("Service", "", &name, vec![c]);
    let mut alloc = Allocation::default();
    let ty = svc["spec"]["type"]
        .as_str()
        .unwrap_or("ClusterIP")
        .to_string();
    let (used_ips, used_ports) = in_use(reg, r);

    // ClusterIP.
    if ty == "ExternalName" {
        if let Some(spec) = svc["spec"].as_object_mut() {
            spec.remove("clusterIP");
            spec.remove("clusterIPs");
        }
        if let Some(ip) = old.and_then(cluster_ip).filter(|ip| *ip != "None") {
            alloc.releases.push(format!("{IP_PREFIX}{ip}"));
        }
    } else {
        let old_ip = old.and_then(cluster_ip).map(str::to_string);
        let wanted = cluster_ip(svc).map(str::to_string).or(old_ip.clone());
        let ip = match wanted {
            Some(ip) if Some(&ip) == old_ip.as_ref() => ip,
            Some(ip) if ip == "None" => ip,
            Some(ip) => {
                let parsed: Ipv4Addr = ip.parse().map_err(|_| {
                    invalid(Cause::invalid(
                        "spec.clusterIPs",
                        &json!([ip]),
                        "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                    ))
                })?;
                if !ranges.contains(parsed) {
                    return Err(invalid(Cause::invalid("spec.clusterIPs", &json!([ip]), format!("failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid range. The range of valid IPs is {}", ranges.cidr_text))));
                }
                if taken(reg, format!("{IP_PREFIX}{ip}")).await? {
                    return Err(invalid(Cause::invalid(
                        "spec.clusterIPs",
                        &json!([ip]),
                        format!("failed to allocate IP {ip}: provided IP is already allocated"),
                    )));
                }
                alloc.claims.push(format!("{IP_PREFIX}{ip}"));
                ip
            }
            None => {
                let mut pick = None;
                for _ in 0..256 {
                    // Skip the first address: it belongs to the `kubernetes` Service.
                    let off = rand::random_range(2..ranges.size - 1);
                    let cand = Ipv4Addr::from(ranges.base + off).to_string();
                    if !used_ips.contains(&cand) {
                        pick = Some(cand);
                        break;
                    }
                }
                let ip = pick.ok_or_else(|| {
                    ApiError::internal("failed to allocate a service IP: range is full")
                })?;
                alloc.claims.push(format!("{IP_PREFIX}{ip}"));
                ip
            }
        };
        svc["spec"]["clusterIP"] = ip.clone().into();
        svc["spec"]["clusterIPs"] = json!([ip]);
    }

    // NodePorts.
    let old_ports: Vec<(i64, String, u16)> = old
        .map(|o| {
            o["spec"]["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| {
                    Some((
                        p["port"].as_i64()?,
                        p["protocol"].as_str().unwrap_or("TCP").to_string(),
                        p["nodePort"].as_u64()? as u16,
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut kept: HashSet<u16> = HashSet::new();
    if wants_node_ports(svc) {
        let (lo, hi) = ranges.node_ports;
        let n_ports = svc["spec"]["ports"].as_array().map_or(0, Vec::len);
        for i in 0..n_ports {
            let p = &svc["spec"]["ports"][i];
            let port = p["port"].as_i64().unwrap_or(0);
            let proto = p["protocol"].as_str().unwrap_or("TCP").to_string();
            let requested = p["nodePort"].as_u64().filter(|n| *n > 0).map(|n| n as u16);
            let previous = old_ports
                .iter()
                .find(|(op, opr, _)| *op == port && *opr == proto)
                .map(|(_, _, np)| *np);
            let np = match (requested, previous) {
                (Some(r), _) if old_ports.iter().any(|(_, _, np)| *np == r) => r,
                (Some(r), _) => {
                    if r < lo || r > hi {
                        return Err(invalid(Cause::invalid(format!("spec.ports[{i}].nodePort"), &r.into(), format!("provided port is not in the valid range. The range of valid ports is {lo}-{hi}"))));
                    }
                    if alloc.claims.contains(&format!("{PORT_PREFIX}{r}"))
                        || taken(reg, format!("{PORT_PREFIX}{r}")).await?
                    {
                        return Err(invalid(Cause::invalid(
                            format!("spec.ports[{i}].nodePort"),
                            &r.into(),
                            "provided port is already allocated",
                        )));
                    }
                    alloc.claims.push(format!("{PORT_PREFIX}{r}"));
                    r
                }
                (None, Some(prev)) => prev,
                (None, None) => {
                    let mut pick = None;
                    for _ in 0..512 {
                        let cand = rand::random_range(lo..=hi);
                        if !used_ports.contains(&cand)
                            && !alloc.claims.contains(&format!("{PORT_PREFIX}{cand}"))
                        {
                            pick = Some(cand);
                            break;
                        }
                    }
                    let np = pick.ok_or_else(|| {
                        ApiError::internal("failed to allocate a node port: range is full")
                    })?;
                    alloc.claims.push(format!("{PORT_PREFIX}{np}"));
                    np
                }
            };
            kept.insert(np);
            svc["spec"]["ports"][i]["nodePort"] = np.into();
        }
    }
    for (_, _, np) in old_ports {
        if !kept.contains(&np) {
            alloc.releases.push(format!("{PORT_PREFIX}{np}"));
        }
    }
    Ok(alloc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_and_bound() {
        let r = ServiceRanges::parse("10.96.0.0/12", "30000-32767").unwrap();
        assert_eq!(r.first(), Ipv4Addr::new(10, 96, 0, 1));
        assert!(r.contains(Ipv4Addr::new(10, 111, 255, 254)));
        assert!(!r.contains(Ipv4Addr::new(10, 112, 0, 1)));
        assert!(!r.contains(Ipv4Addr::new(10, 96, 0, 0)));
        assert!(ServiceRanges::parse("10.96.0.0", "1-2").is_err());
        assert!(ServiceRanges::parse("10.96.0.0/12", "5-1").is_err());
    }
}
