//! Leader election over a `coordination.k8s.io/v1` Lease, so that of the
//! operator's replicas only one reconciles. The others wait to take over when the
//! leader stops renewing.
//!
//! Writes use the Lease's resourceVersion (optimistic concurrency): of two
//! replicas racing for an expired Lease, the API server lets exactly one win.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{ObjectMeta, PostParams};
use kube::Api;

/// What a replica may do with the Lease as it is now.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// No Lease yet: create it, holding it.
    Create,
    /// We hold it: renew.
    Renew,
    /// Expired or released by another holder: take it over.
    Take,
    /// Someone else holds it.
    Wait,
}

/// Pure decision, from the Lease as read.
pub fn decide(lease: Option<&Lease>, me: &str, now: Timestamp) -> Decision {
    let Some(spec) = lease.and_then(|l| l.spec.as_ref()) else {
        return if lease.is_none() {
            Decision::Create
        } else {
            Decision::Take
        };
    };
    match spec.holder_identity.as_deref() {
        Some(holder) if holder == me => Decision::Renew,
        None | Some("") => Decision::Take,
        Some(_) => {
            let duration =
                SignedDuration::from_secs(i64::from(spec.lease_duration_seconds.unwrap_or(0)));
            let expired = spec
                .renew_time
                .as_ref()
                .or(spec.acquire_time.as_ref())
                .is_none_or(|t| t.0 + duration < now);
            if expired {
                Decision::Take
            } else {
                Decision::Wait
            }
        }
    }
}

/// One replica's view of the election.
pub struct Elector {
    api: Api<Lease>,
    name: String,
    identity: String,
    duration: Duration,
}

impl Elector {
    pub fn new(api: Api<Lease>, name: &str, identity: &str, duration: Duration) -> Self {
        Self {
            api,
            name: name.into(),
            identity: identity.into(),
            duration,
        }
    }

    /// How often the holder renews: well inside the Lease duration, so a slow API
    /// call does not cost the lead.
    pub fn renew_period(&self) -> Duration {
        self.duration / 3
    }

    pub fn lease_duration(&self) -> Duration {
        self.duration
    }

    /// Acquires or renews the Lease; `Ok(true)` while this replica leads.
    pub async fn try_lead(&self) -> Result<bool, kube::Error> {
        let now = Timestamp::now();
        let current = self.api.get_opt(&self.name).await?;
        let decision = decide(current.as_ref(), &self.identity, now);
        let seconds = i32::try_from(self.duration.as_secs()).unwrap_or(i32::MAX);
        let result = match decision {
            Decision::Wait => return Ok(false),
            Decision::Create => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.name.clone()),
                        ..ObjectMeta::default()
                    },
                    spec: Some(LeaseSpec {
                        holder_identity: Some(self.identity.clone()),
                        lease_duration_seconds: Some(seconds),
                        acquire_time: Some(MicroTime(now)),
                        renew_time: Some(MicroTime(now)),
                        lease_transitions: Some(0),
                        ..LeaseSpec::default()
                    }),
                };
                self.api.create(&PostParams::default(), &lease).await
            }
            Decision::Renew | Decision::Take => {
                // `current` exists here: Create is the only decision without it.
                let mut lease = current.unwrap_or_default();
                let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
                if decision == Decision::Take {
                    spec.holder_identity = Some(self.identity.clone());
                    spec.acquire_time = Some(MicroTime(now));
                    spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
                }
                spec.lease_duration_seconds = Some(seconds);
                spec.renew_time = Some(MicroTime(now));
                self.api
                    .replace(&self.name, &PostParams::default(), &lease)
                    .await
            }
        };
        match result {
            Ok(_) => Ok(true),
            // Another replica wrote first (create raced, or resourceVersion moved).
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Gives the Lease up on shutdown, so that another replica takes over at
    /// once instead of after the Lease expires.
    pub async fn release(&self) -> Result<(), kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.name).await? else {
            return Ok(());
        };
        let Some(spec) = lease.spec.as_mut() else {
            return Ok(());
        };
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        self.api
            .replace(&self.name, &PostParams::default(), &lease)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(holder: Option<&str>, renewed: i64, duration: i32) -> Lease {
        Lease {
            metadata: ObjectMeta::default(),
            spec: Some(LeaseSpec {
                holder_identity: holder.map(String::from),
                lease_duration_seconds: Some(duration),
                renew_time: Some(MicroTime(Timestamp::from_second(renewed).expect("time"))),
                ..LeaseSpec::default()
            }),
        }
    }

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(s).expect("time")
    }

    #[test]
    fn decisions() {
        assert_eq!(decide(None, "a", at(100)), Decision::Create);
        assert_eq!(
            decide(Some(&lease(Some("a"), 90, 15)), "a", at(100)),
            Decision::Renew
        );
        assert_eq!(
            decide(Some(&lease(Some("b"), 90, 15)), "a", at(100)),
            Decision::Wait
        );
        assert_eq!(
            decide(Some(&lease(Some("b"), 80, 15)), "a", at(100)),
            Decision::Take
        );
        assert_eq!(
            decide(Some(&lease(None, 99, 15)), "a", at(100)),
            Decision::Take
        );
        assert_eq!(
            decide(Some(&lease(Some(""), 99, 15)), "a", at(100)),
            Decision::Take
        );
    }

    /// A scripted API server: answers each request with the next (status, body)
    /// and records method and path.
    async fn scripted(
        replies: Vec<(u16, serde_json::Value)>,
        run: impl FnOnce(Elector) -> futures::future::BoxFuture<'static, Result<bool, kube::Error>>,
    ) -> (Result<bool, kube::Error>, Vec<String>) {
        use http::{Request, Response};
        use kube::client::Body;
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let client = kube::Client::new(service, "ops");
        let elector = Elector::new(
            Api::namespaced(client, "ops"),
            "leader",
            "me",
            Duration::from_secs(15),
        );
        let server = tokio::spawn(async move {
            let mut seen = Vec::new();
            for (status, body) in replies {
                let Some((req, send)) = handle.next_request().await else {
                    break;
                };
                seen.push(format!("{} {}", req.method(), req.uri().path()));
                let bytes = serde_json::to_vec(&body).expect("serializes");
                send.send_response(
                    Response::builder()
                        .status(status)
                        .body(Body::from(bytes))
                        .expect("response"),
                );
            }
            if let Some((req, _)) = handle.next_request().await {
                panic!("unexpected {} {}", req.method(), req.uri());
            }
            seen
        });
        let result = run(elector).await;
        (result, server.await.expect("server"))
    }

    fn status(code: u16, reason: &str) -> serde_json::Value {
        serde_json::json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                           "reason": reason, "code": code, "message": reason})
    }

    fn lease_json(holder: &str, renewed: Timestamp) -> serde_json::Value {
        serde_json::json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "leader", "namespace": "ops", "resourceVersion": "7"},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15,
                     "renewTime": MicroTime(renewed)},
        })
    }

    #[tokio::test]
    async fn creates_a_missing_lease() {
        let created = lease_json("me", Timestamp::now());
        let (result, seen) = scripted(vec![(404, status(404, "NotFound")), (201, created)], |e| {
            Box::pin(async move { e.try_lead().await })
        })
        .await;
        assert!(result.expect("no error"));
        assert_eq!(
            seen,
            [
                "GET /apis/coordination.k8s.io/v1/namespaces/ops/leases/leader",
                "POST /apis/coordination.k8s.io/v1/namespaces/ops/leases"
            ]
        );
    }

    #[tokio::test]
    async fn a_live_holder_is_left_alone() {
        let (result, seen) = scripted(vec![(200, lease_json("other", Timestamp::now()))], |e| {
            Box::pin(async move { e.try_lead().await })
        })
        .await;
        assert!(!result.expect("no error"));
        assert_eq!(
            seen.len(),
            1,
            "no write while another replica holds the Lease"
        );
    }

    #[tokio::test]
    async fn losing_the_race_for_an_expired_lease_is_not_leading() {
        let old = Timestamp::now() - SignedDuration::from_secs(60);
        let (result, seen) = scripted(
            vec![
                (200, lease_json("other", old)),
                (409, status(409, "Conflict")),
            ],
            |e| Box::pin(async move { e.try_lead().await }),
        )
        .await;
        assert!(!result.expect("a conflict is not an error"));
        assert_eq!(
            seen[1],
            "PUT /apis/coordination.k8s.io/v1/namespaces/ops/leases/leader"
        );
    }
}
