//! Leader election on a `coordination.k8s.io/v1` Lease with client-go's algorithm and
//! defaults (lease 15 s, renew deadline 10 s, retry period 2 s), plus fencing.
//!
//! client-go's elector does not guarantee a single acting leader: a leader that stalls
//! past its lease keeps acting when it wakes until it notices. Berth closes that gap twice:
//! - locally, a leader stops acting the moment `renew_deadline` has passed since the last
//!   renewal it *sent* (10 s < the 15 s any other candidate must wait after it last saw the
//!   Lease change);
//! - in the store, every write made while leading carries a `Fence` (the Lease's namespace,
//!   name, holder and leaseTransitions) in the `X-Berth-Lease-Fence` header; the API server
//!   adds a compare on the Lease's fence record to the write's own store transaction, so a
//!   write from a deposed leader fails (409, cause `LeaseNotHeld`) and changes nothing.

use crate::api::{Client, Resource};
use crate::error::ClientError;
use http::HeaderValue;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::watch;
use tokio::time::Instant;

/// The request header carrying a fence.
pub const FENCE_HEADER: &str = "x-berth-lease-fence";
/// `details.causes[].reason` of the 409 a fenced write gets.
pub const FENCED_CAUSE: &str = "LeaseNotHeld";

/// Who must still hold which Lease for a write to land.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Fence {
    pub namespace: String,
    pub name: String,
    #[serde(rename = "holderIdentity")]
    pub holder: String,
    #[serde(rename = "leaseTransitions")]
    pub transitions: i32,
}

impl Fence {
    pub fn header_value(&self) -> HeaderValue {
        let text = serde_json::to_string(self).unwrap_or_default();
        // Identities are ASCII (replica name, '_', a hex id); anything else cannot travel in a
        // header, and a fence that cannot be sent must not silently become no fence.
        HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
    }

    /// Parses the header; `None` when it is not a fence.
    pub fn parse(header: &[u8]) -> Option<Fence> {
        let f: Fence = serde_json::from_slice(header).ok()?;
        (!f.namespace.is_empty() && !f.name.is_empty() && !f.holder.is_empty()).then_some(f)
    }
}

#[derive(Debug, Clone)]
pub struct LeaderConfig {
    pub namespace: String,
    pub name: String,
    /// `<replica name>_<unique id>`, as kube-scheduler's identity is `<hostname>_<uuid>`.
    pub identity: String,
    pub lease_duration: Duration,
    pub renew_deadline: Duration,
    pub retry_period: Duration,
}

impl LeaderConfig {
    /// client-go's defaults: 15 s, 10 s, 2 s.
    pub fn new(namespace: &str, name: &str, replica: &str) -> LeaderConfig {
        LeaderConfig {
            namespace: namespace.into(),
            name: name.into(),
            identity: format!(
                "{replica}_{:016x}{:016x}",
                rand::random::<u64>(),
                rand::random::<u64>()
            ),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// A term of leadership: the fence to write with, valid until `valid_until`.
#[derive(Debug, Clone)]
pub struct Term {
    pub fence: Fence,
    pub valid_until: Instant,
}

/// A component's view of its leadership: `current()` is the fence while it may act.
#[derive(Clone)]
pub struct Leadership {
    rx: watch::Receiver<Option<Term>>,
}

impl Leadership {
    /// The fence, while leading and within the renew deadline; `None` otherwise.
    pub fn current(&self) -> Option<Fence> {
        let t = self.rx.borrow();
        t.as_ref()
            .filter(|t| Instant::now() < t.valid_until)
            .map(|t| t.fence.clone())
    }

    /// Waits until this component leads; returns the fence.
    pub async fn acquired(&mut self) -> Fence {
        loop {
            if let Some(f) = self.current() {
                return f;
            }
            if self.rx.changed().await.is_err() {
                // The elector stopped: never leads again.
                std::future::pending::<()>().await;
            }
        }
    }

    /// Resolves once the term `fence` belongs to has ended (lost, or its deadline passed).
    pub async fn lost(&mut self, fence: &Fence) {
        loop {
            let until = match self.rx.borrow().as_ref() {
                Some(t) if t.fence == *fence => t.valid_until,
                _ => return,
            };
            if Instant::now() >= until {
                return;
            }
            tokio::select! {
                r = self.rx.changed() => if r.is_err() { return },
                _ = tokio::time::sleep_until(until) => {}
            }
        }
    }
}

/// Runs the election loop for one Lease.
pub struct LeaderElector {
    config: LeaderConfig,
    client: Client,
    tx: watch::Sender<Option<Term>>,
    status: Option<prometheus::IntGauge>,
}

struct Observed {
    record: Value,
    at: Instant,
}

impl LeaderElector {
    /// `status` is `leader_election_master_status{name}`.
    pub fn new(
        config: LeaderConfig,
        client: Client,
        status: Option<prometheus::IntGauge>,
    ) -> (LeaderElector, Leadership) {
        let (tx, rx) = watch::channel(None);
        (
            LeaderElector {
                config,
                client,
                tx,
                status,
            },
            Leadership { rx },
        )
    }

    pub fn identity(&self) -> &str {
        &self.config.identity
    }

    /// Spawns the loop; it runs until the runtime stops.
    pub fn spawn(self) -> Arc<tokio::task::JoinHandle<()>> {
        Arc::new(tokio::spawn(self.run()))
    }

    async fn run(self) {
        let c = &self.config;
        let mut observed: Option<Observed> = None;
        let mut leading: Option<Term> = None;
        loop {
            let attempt_started = Instant::now();
            let attempt = tokio::time::timeout(
                c.renew_deadline.min(c.retry_period * 2),
                self.try_acquire_or_renew(&mut observed),
            )
            .await;
            match attempt {
                Ok(Ok(Some(fence))) => {
                    let term = Term {
                        fence: fence.clone(),
                        valid_until: attempt_started + c.renew_deadline,
                    };
                    if leading.as_ref().map(|t| &t.fence) != Some(&fence) {
                        tracing::info!(lease = %format!("{}/{}", c.namespace, c.name), identity = %c.identity, transitions = fence.transitions, "acquired the lease");
                    }
                    leading = Some(term.clone());
                    self.tx.send_replace(Some(term));
                    if let Some(g) = &self.status {
                        g.set(1);
                    }
                }
                Ok(Ok(None)) => {
                    if leading.take().is_some() {
                        tracing::warn!(lease = %format!("{}/{}", c.namespace, c.name), "lost the lease to another holder");
                    }
                    self.tx.send_replace(None);
                    if let Some(g) = &self.status {
                        g.set(0);
                    }
                }
                Ok(Err(e)) => {
                    tracing::debug!(lease = %format!("{}/{}", c.namespace, c.name), error = %e, "lease attempt failed");
                }
                Err(_) => {
                    tracing::debug!(lease = %format!("{}/{}", c.namespace, c.name), "lease attempt timed out");
                }
            }
            if let Some(t) = &leading {
                if Instant::now() >= t.valid_until {
                    tracing::warn!(lease = %format!("{}/{}", c.namespace, c.name), "failed to renew the lease within the renew deadline; stopping");
                    leading = None;
                    self.tx.send_replace(None);
                    if let Some(g) = &self.status {
                        g.set(0);
                    }
                }
            }
            // client-go waits RetryPeriod while leading and RetryPeriod * (1 + jitter 1.2)
            // while following.
            let wait = if leading.is_some() {
                c.retry_period
            } else {
                c.retry_period.mul_f64(1.0 + 1.2 * rand::random::<f64>())
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// One attempt, as client-go's tryAcquireOrRenew: `Some(fence)` when this replica holds
    /// the Lease after it, `None` when another does.
    async fn try_acquire_or_renew(
        &self,
        observed: &mut Option<Observed>,
    ) -> Result<Option<Fence>, ClientError> {
        let c = &self.config;
        let now = micro_time(SystemTime::now());
        let current: Result<Value, ClientError> = self
            .client
            .get(&Resource::LEASES, &c.namespace, &c.name)
            .await;
        let lease = match current {
            Err(e) if e.is_not_found() => {
                let body = json!({
                    "apiVersion": "coordination.k8s.io/v1",
                    "kind": "Lease",
                    "metadata": {"name": c.name, "namespace": c.namespace},
                    "spec": {
                        "holderIdentity": c.identity,
                        "leaseDurationSeconds": c.lease_duration.as_secs(),
                        "acquireTime": now,
                        "renewTime": now,
                        "leaseTransitions": 0,
                    }
                });
                let _: Value = self
                    .client
                    .create(&Resource::LEASES, &c.namespace, &body)
                    .await?;
                return Ok(Some(self.fence(0)));
            }
            other => other?,
        };
        let spec = &lease["spec"];
        let holder = spec["holderIdentity"].as_str().unwrap_or("");
        let transitions = spec["leaseTransitions"].as_i64().unwrap_or(0) as i32;
        let duration = Duration::from_secs(spec["leaseDurationSeconds"].as_u64().unwrap_or(15));
        // The record changed since we last looked: restart the expiry clock (local time
        // only; clocks of different replicas are never compared).
        if observed.as_ref().is_none_or(|o| o.record != *spec) {
            *observed = Some(Observed {
                record: spec.clone(),
                at: Instant::now(),
            });
        }
        let mine = holder == c.identity;
        let seen_at = observed.as_ref().map(|o| o.at).unwrap_or_else(Instant::now);
        if !holder.is_empty() && !mine && Instant::now() < seen_at + duration {
            return Ok(None);
        }
        let mut next = lease.clone();
        let next_transitions = if mine { transitions } else { transitions + 1 };
        next["spec"]["holderIdentity"] = c.identity.clone().into();
        next["spec"]["leaseDurationSeconds"] = c.lease_duration.as_secs().into();
        next["spec"]["renewTime"] = now.clone().into();
        next["spec"]["leaseTransitions"] = next_transitions.into();
        if !mine {
            next["spec"]["acquireTime"] = now.into();
        }
        // Conditional on the resourceVersion read: two candidates racing for an expired
        // Lease cannot both win.
        let updated: Value = self
            .client
            .replace(&Resource::LEASES, &c.namespace, &c.name, None, &next)
            .await?;
        *observed = Some(Observed {
            record: updated["spec"].clone(),
            at: Instant::now(),
        });
        Ok(Some(self.fence(next_transitions)))
    }

    fn fence(&self, transitions: i32) -> Fence {
        Fence {
            namespace: self.config.namespace.clone(),
            name: self.config.name.clone(),
            holder: self.config.identity.clone(),
            transitions,
        }
    }
}

/// A `MicroTime` as the API writes it: RFC 3339, UTC, microseconds.
pub fn micro_time(t: SystemTime) -> String {
    match jiff::Timestamp::try_from(t) {
        Ok(ts) => ts.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        Err(_) => "1970-01-01T00:00:00.000000Z".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fence_header_round_trips() {
        let f = Fence {
            namespace: "kube-system".into(),
            name: "kube-scheduler".into(),
            holder: "replica-0_00ff".into(),
            transitions: 3,
        };
        let h = f.header_value();
        assert_eq!(Fence::parse(h.as_bytes()), Some(f));
        assert_eq!(Fence::parse(b"{}"), None);
        assert_eq!(Fence::parse(b"not json"), None);
    }

    #[test]
    fn micro_time_format() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_micros(1_764_685_531_123_456);
        assert_eq!(micro_time(t), "2025-12-02T14:25:31.123456Z");
    }
}
