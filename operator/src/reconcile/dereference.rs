//! `dereference`: reads what a CacheCluster refers to and what already exists
//! for it. The only step besides `apply` and `update_status` that calls the API.

use std::io::Read;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Secret;
use kube::api::ListParams;
use kube::{Api, Client, ResourceExt};

use crate::builders::{labels, names};
use crate::crd::CacheCluster;
use crate::error::{Error, Result};

/// What the spec refers to, as found in the cluster.
#[derive(Clone, Debug, Default)]
pub struct Referenced {
    /// The user's password Secret, or the one the operator generated earlier.
    pub auth_secret: Option<Secret>,
    /// The TLS Secret named by `spec.tls`.
    pub tls_secret: Option<Secret>,
    /// A new password, present only when the operator must generate its Secret.
    pub fresh_password: Option<String>,
    /// StatefulSets of the cluster that exist now (to tell creations from updates).
    pub statefulsets: Vec<StatefulSet>,
}

/// Names of the Secrets a cluster reads: its password Secret (the user's or the
/// generated one) and its TLS Secret. A change to any of them triggers a reconcile.
pub fn referenced_secrets(cluster: &CacheCluster) -> Vec<String> {
    let spec = &cluster.spec;
    let mut names = Vec::new();
    if spec.auth.enabled {
        names.push(match &spec.auth.password_secret {
            Some(r) => r.name.clone(),
            None => names::auth_secret(&cluster.name_any()),
        });
    }
    if let Some(tls) = &spec.tls {
        names.push(tls.secret_name.clone());
    }
    names
}

pub async fn dereference(client: &Client, cluster: &CacheCluster) -> Result<Referenced> {
    let name = cluster.name_any();
    let namespace = cluster
        .namespace()
        .ok_or_else(|| Error::Internal(format!("CacheCluster {name} has no namespace")))?;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    let spec = &cluster.spec;

    let mut refs = Referenced::default();
    if spec.auth.enabled {
        let secret_name = match &spec.auth.password_secret {
            Some(r) => r.name.clone(),
            None => names::auth_secret(&name),
        };
        refs.auth_secret = secrets.get_opt(&secret_name).await?;
        if spec.auth.password_secret.is_none() && refs.auth_secret.is_none() {
            refs.fresh_password = Some(generate_password()?);
        }
    }
    if let Some(tls) = &spec.tls {
        refs.tls_secret = secrets.get_opt(&tls.secret_name).await?;
    }
    let statefulsets: Api<StatefulSet> = Api::namespaced(client.clone(), &namespace);
    let selector = labels::selector_string(&labels::cluster_selector(&name));
    refs.statefulsets = statefulsets
        .list(&ListParams::default().labels(&selector))
        .await?
        .items;
    Ok(refs)
}

/// 32 random bytes from the kernel, hex-encoded: 256 bits, and only characters
/// that need no quoting in a shell, a URL or a redis.conf line.
fn generate_password() -> Result<String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| Error::Internal(format!("reading /dev/urandom: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn referenced_secrets_follow_the_spec() {
        use crate::builders::fixtures::cluster;
        assert_eq!(referenced_secrets(&cluster("")), ["demo-auth"]);
        let both = cluster("auth: {passwordSecret: {name: pw}}\ntls: {secretName: cert}");
        assert_eq!(referenced_secrets(&both), ["pw", "cert"]);
        assert!(referenced_secrets(&cluster("auth: {enabled: false}")).is_empty());
    }

    #[test]
    fn generated_passwords_are_long_and_distinct() {
        let a = generate_password().expect("urandom is readable");
        let b = generate_password().expect("urandom is readable");
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
