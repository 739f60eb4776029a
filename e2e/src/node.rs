//! Connections to kcache nodes through the API server's port-forward, which works
//! the same on kind and on the local cluster (no route to pod IPs is assumed).

use anyhow::{anyhow, bail, Context, Result};
use k8s_openapi::api::core::v1::{Pod, Secret};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kcache_operator::builders::names;
use kcache_operator::constants::{PASSWORD_KEY, RESP_PORT};
use kube::api::ListParams;
use kube::api::Portforwarder;
use kube::{Api, Client};
use tokio::io::DuplexStream;

use crate::resp::{Connection, Reply};

/// A RESP connection to one pod, authenticated when a password is given.
pub struct NodeConn {
    pub pod: String,
    conn: Connection<DuplexStream>,
    // Owns the port-forward's WebSocket task; dropping the connection ends it.
    forwarder: Portforwarder,
}

impl NodeConn {
    pub async fn connect(
        client: &Client,
        namespace: &str,
        pod: &str,
        password: Option<&str>,
    ) -> Result<NodeConn> {
        let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
        let port = RESP_PORT as u16;
        let mut forwarder = pods
            .portforward(pod, &[port])
            .await
            .with_context(|| format!("port-forward to {namespace}/{pod}:{port}"))?;
        let stream = forwarder
            .take_stream(port)
            .ok_or_else(|| anyhow!("port-forward gave no stream for port {port}"))?;
        let mut node = NodeConn {
            pod: pod.to_string(),
            conn: Connection::new(stream),
            forwarder,
        };
        if let Some(password) = password {
            node.ok(&["AUTH", password])
                .await
                .with_context(|| format!("AUTH on {pod}"))?;
        }
        Ok(node)
    }

    pub async fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Reply> {
        self.conn
            .call(args)
            .await
            .with_context(|| format!("on {}", self.pod))
    }

    pub async fn ok<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Reply> {
        self.conn
            .ok(args)
            .await
            .with_context(|| format!("on {}", self.pod))
    }

    /// `GET key` as text (`None` for a missing key).
    pub async fn get(&mut self, key: &str) -> Result<Option<String>> {
        match self.ok(&["GET", key]).await? {
            Reply::Bulk(None) => Ok(None),
            reply => match reply.text() {
                Some(v) => Ok(Some(v)),
                None => bail!("GET {key} on {}: unexpected reply {reply:?}", self.pod),
            },
        }
    }
}

impl Drop for NodeConn {
    fn drop(&mut self) {
        self.forwarder.abort();
    }
}

/// The password clients use for a CacheCluster, from the Secret the operator
/// generated (`<name>-auth`) or the one the spec names.
pub async fn cluster_password(
    client: &Client,
    namespace: &str,
    cluster: &kcache_operator::crd::CacheCluster,
) -> Result<Option<String>> {
    let auth = cluster.spec.auth.clone();
    if !auth.enabled {
        return Ok(None);
    }
    let name = cluster
        .metadata
        .name
        .as_deref()
        .ok_or_else(|| anyhow!("CacheCluster without a name"))?;
    let (secret, key) = match auth.password_secret {
        Some(s) => (s.name, s.key),
        None => (names::auth_secret(name), PASSWORD_KEY.to_string()),
    };
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let found = secrets
        .get(&secret)
        .await
        .with_context(|| format!("Secret {secret}"))?;
    let value = found
        .data
        .as_ref()
        .and_then(|d| d.get(&key))
        .ok_or_else(|| anyhow!("Secret {secret} has no key {key}"))?;
    Ok(Some(
        String::from_utf8(value.0.clone()).context("password is not UTF-8")?,
    ))
}

/// The pods a Service routes to now: the ready endpoints of its EndpointSlices,
/// as kube-proxy sees them. A client of the Service reaches one of these.
pub async fn service_pods(client: &Client, namespace: &str, service: &str) -> Result<Vec<String>> {
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), namespace);
    let list = slices
        .list(&ListParams::default().labels(&format!("kubernetes.io/service-name={service}")))
        .await
        .with_context(|| format!("EndpointSlices of {service}"))?;
    let mut pods: Vec<String> = list
        .items
        .iter()
        .flat_map(|s| s.endpoints.iter())
        .filter(|e| e.conditions.as_ref().and_then(|c| c.ready) == Some(true))
        .filter_map(|e| e.target_ref.as_ref())
        .filter(|r| r.kind.as_deref() == Some("Pod"))
        .filter_map(|r| r.name.clone())
        .collect();
    pods.sort();
    pods.dedup();
    Ok(pods)
}

/// A connection to the pod behind a Service, as a client of the Service gets:
/// fails when the Service routes to no pod (a client would be refused).
pub async fn connect_service(
    client: &Client,
    namespace: &str,
    service: &str,
    password: Option<&str>,
) -> Result<NodeConn> {
    let pods = service_pods(client, namespace, service).await?;
    let pod = pods
        .first()
        .ok_or_else(|| anyhow!("Service {service} routes to no pod"))?;
    NodeConn::connect(client, namespace, pod, password).await
}
