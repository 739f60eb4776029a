//! `validate`: turns a CacheCluster and what it refers to into a [`Validated`]
//! cluster that the builders can render without further checks. Pure.
//!
//! The CRD's schema and CEL rules refuse most bad specs at admission; this step
//! checks what admission cannot (Secrets, quantities, parameter ranges) and
//! re-checks the rest, because an object written before a CRD upgrade skipped them.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::{Resource, ResourceExt};

use crate::builders::names;
use crate::constants::{MAXMEMORY_PERCENT_OF_LIMIT, PASSWORD_KEY};
use crate::crd::{CacheCluster, CacheClusterSpec, Engine, PersistenceMode};
use crate::error::{Error, Result};
use crate::maintenance::Window;
use crate::reconcile::dereference::Referenced;
use crate::{parameters, quantity};

/// A cluster the builders can render: names resolved, defaults computed, every
/// reference checked.
#[derive(Clone, Debug, PartialEq)]
pub struct Validated {
    pub name: String,
    pub namespace: String,
    /// Controller reference put on every object, so that deleting the
    /// CacheCluster deletes them.
    pub owner: OwnerReference,
    pub spec: CacheClusterSpec,
    /// Node image to run.
    pub image: String,
    /// `maxmemory` in bytes; `None` leaves the node unlimited.
    pub maxmemory: Option<u64>,
    pub auth: Auth,
    /// Ordinal of each shard's recorded primary (from status): a scale-down
    /// keeps that pod until the topology step has handed its role over.
    pub primary_ordinals: BTreeMap<i32, i32>,
    /// When rolls that restart nodes may run; `None`: at any time.
    pub maintenance_window: Option<Window>,
}

/// Where the node's password comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum Auth {
    Disabled,
    /// A key of a Secret; `generated` holds the password when the operator owns
    /// the Secret and must (re)apply it.
    Secret {
        name: String,
        key: String,
        generated: Option<String>,
    },
}

impl Validated {
    pub fn cluster_mode(&self) -> bool {
        self.spec.shards > 1
    }

    pub fn persistent(&self) -> bool {
        self.spec.persistence.mode != PersistenceMode::None
    }

    /// Pods per shard: the primary and its replicas.
    pub fn pods_per_shard(&self) -> i32 {
        1 + self.spec.replicas_per_shard
    }

    /// Pods the StatefulSet of `shard` runs now: the spec's count, or more
    /// while the primary sits on an ordinal a scale-down would remove (a
    /// StatefulSet removes the highest ordinals, whatever their role).
    pub fn statefulset_pods(&self, shard: i32) -> i32 {
        let held = self.primary_ordinals.get(&shard).map_or(0, |o| o + 1);
        self.pods_per_shard().max(held)
    }
}

/// Checks a cluster against what dereference found. `default_image` is the
/// operator's node image (its repository is reused when the spec sets `version`).
pub fn validate(
    cluster: &CacheCluster,
    refs: &Referenced,
    default_image: &str,
) -> Result<Validated> {
    let spec = &cluster.spec;
    if spec.engine == Engine::Memcached {
        return Err(Error::UnsupportedEngine("memcached"));
    }
    let name = cluster.name_any();
    let namespace = cluster
        .namespace()
        .ok_or_else(|| Error::Internal(format!("CacheCluster {name} has no namespace")))?;
    let owner = cluster
        .controller_owner_ref(&())
        .ok_or_else(|| Error::Internal(format!("CacheCluster {name} has no uid yet")))?;

    check_shape(&name, spec)?;
    let image = resolve_image(spec, default_image)?;
    let maxmemory = resolve_maxmemory(spec)?;
    for (key, value) in &spec.parameters {
        parameters::check(key, value).map_err(Error::InvalidSpec)?;
    }
    let storage_ok = quantity::bytes(&spec.persistence.storage.size).is_some_and(|b| b > 0);
    if spec.persistence.mode != PersistenceMode::None && !storage_ok {
        return Err(invalid(
            "persistence.storage.size must be a positive quantity of bytes such as 1Gi",
        ));
    }
    if let Some(schedule) = &spec.persistence.schedule {
        if schedule.trim().is_empty() || !parameters::is_save_points(schedule) {
            return Err(invalid(
                "persistence.schedule must be pairs of \"seconds changes\", like \"3600 1 300 100\"",
            ));
        }
    }
    if let Some(tls) = &spec.tls {
        let mut keys = vec!["tls.crt", "tls.key"];
        if tls.client_auth {
            keys.push("ca.crt");
        }
        require_keys(refs.tls_secret.as_ref(), &tls.secret_name, &keys, "tls")?;
    }
    let auth = resolve_auth(cluster, &name, refs)?;

    let primary_ordinals = primary_ordinals(cluster, &name);
    let maintenance_window = spec
        .maintenance_window
        .as_deref()
        .map(Window::parse)
        .transpose()
        .map_err(Error::InvalidSpec)?;
    Ok(Validated {
        name,
        namespace,
        owner,
        spec: spec.clone(),
        image,
        maxmemory,
        auth,
        primary_ordinals,
        maintenance_window,
    })
}

/// Ordinals of the recorded primaries, by shard.
fn primary_ordinals(cluster: &CacheCluster, name: &str) -> BTreeMap<i32, i32> {
    let Some(status) = &cluster.status else {
        return BTreeMap::new();
    };
    status
        .shards
        .iter()
        .filter_map(|s| {
            Some((
                s.index,
                names::ordinal(name, s.index, s.primary.as_deref()?)?,
            ))
        })
        .collect()
}

fn invalid(message: &str) -> Error {
    Error::InvalidSpec(message.to_string())
}

/// Ranges and cross-field rules that the CRD also enforces at admission.
fn check_shape(name: &str, spec: &CacheClusterSpec) -> Result<()> {
    if name.len() > names::MAX_CLUSTER_NAME {
        return Err(Error::InvalidSpec(format!(
            "metadata.name must be at most {} characters",
            names::MAX_CLUSTER_NAME
        )));
    }
    if !(1..=250).contains(&spec.shards) {
        return Err(invalid("shards must be between 1 and 250"));
    }
    if !(0..=5).contains(&spec.replicas_per_shard) {
        return Err(invalid("replicasPerShard must be between 0 and 5"));
    }
    if spec.failover.min_replicas_to_write > spec.replicas_per_shard {
        return Err(invalid(
            "failover.minReplicasToWrite cannot exceed replicasPerShard: every write would be refused",
        ));
    }
    if spec.persistence.schedule.is_some() && spec.persistence.mode != PersistenceMode::Snapshot {
        return Err(invalid(
            "persistence.schedule applies only to mode snapshot",
        ));
    }
    if spec.auth.password_secret.is_some() && !spec.auth.enabled {
        return Err(invalid(
            "auth.passwordSecret is set but auth.enabled is false",
        ));
    }
    Ok(())
}

fn resolve_image(spec: &CacheClusterSpec, default_image: &str) -> Result<String> {
    match (&spec.image, &spec.version) {
        (Some(_), Some(_)) => Err(invalid("set either image or version, not both")),
        (Some(image), None) => Ok(image.clone()),
        (None, Some(version)) => Ok(format!("{}:{version}", image_repository(default_image))),
        (None, None) => Ok(default_image.to_string()),
    }
}

/// The repository part of an image reference: without `:tag` and `@digest`,
/// keeping a registry's `host:port`.
fn image_repository(image: &str) -> &str {
    let image = image.split('@').next().unwrap_or(image);
    match image.rfind(':') {
        Some(colon) if !image[colon..].contains('/') => &image[..colon],
        _ => image,
    }
}

fn resolve_maxmemory(spec: &CacheClusterSpec) -> Result<Option<u64>> {
    let limit = match spec
        .resources
        .as_ref()
        .and_then(|r| r.limits.as_ref())
        .and_then(|l| l.get("memory"))
    {
        Some(q) => Some(quantity::bytes(q).ok_or_else(|| {
            Error::InvalidSpec(format!(
                "resources.limits.memory {:?} is not a memory quantity",
                q.0
            ))
        })?),
        None => None,
    };
    match (&spec.max_memory, limit) {
        (Some(q), limit) => {
            let bytes = quantity::bytes(q).filter(|b| *b > 0).ok_or_else(|| {
                Error::InvalidSpec(format!(
                    "maxMemory {:?} is not a positive memory quantity",
                    q.0
                ))
            })?;
            if let Some(limit) = limit.filter(|l| bytes > *l) {
                return Err(Error::InvalidSpec(format!(
                    "maxMemory ({bytes} bytes) exceeds the memory limit ({limit} bytes); the node would be killed before it evicts"
                )));
            }
            Ok(Some(bytes))
        }
        (None, Some(limit)) => {
            let share = u128::from(limit) * u128::from(MAXMEMORY_PERCENT_OF_LIMIT) / 100;
            Ok(Some(u64::try_from(share).unwrap_or(limit)))
        }
        (None, None) => Ok(None),
    }
}

fn resolve_auth(cluster: &CacheCluster, name: &str, refs: &Referenced) -> Result<Auth> {
    let auth = &cluster.spec.auth;
    if !auth.enabled {
        return Ok(Auth::Disabled);
    }
    if let Some(secret_ref) = &auth.password_secret {
        require_keys(
            refs.auth_secret.as_ref(),
            &secret_ref.name,
            &[secret_ref.key.as_str()],
            "auth",
        )?;
        return Ok(Auth::Secret {
            name: secret_ref.name.clone(),
            key: secret_ref.key.clone(),
            generated: None,
        });
    }
    // Keep the password of the Secret the operator generated before: changing it
    // would lock out every client.
    let existing = refs
        .auth_secret
        .as_ref()
        .and_then(|s| s.data.as_ref())
        .and_then(|d| d.get(PASSWORD_KEY))
        .and_then(|v| String::from_utf8(v.0.clone()).ok())
        .filter(|p| !p.is_empty());
    let password = existing
        .or_else(|| refs.fresh_password.clone())
        .ok_or_else(|| {
            Error::Internal("no generated password available for the auth Secret".into())
        })?;
    Ok(Auth::Secret {
        name: names::auth_secret(name),
        key: PASSWORD_KEY.into(),
        generated: Some(password),
    })
}

fn require_keys(
    secret: Option<&Secret>,
    name: &str,
    keys: &[&str],
    purpose: &'static str,
) -> Result<()> {
    let Some(secret) = secret else {
        return Err(Error::MissingSecret {
            name: name.into(),
            problem: "does not exist".into(),
            purpose,
        });
    };
    let has = |key: &str| {
        secret
            .data
            .as_ref()
            .is_some_and(|d| d.get(key).is_some_and(|v| !v.0.is_empty()))
            || secret
                .string_data
                .as_ref()
                .is_some_and(|d| d.get(key).is_some_and(|v| !v.is_empty()))
    };
    let missing: Vec<&str> = keys.iter().copied().filter(|k| !has(k)).collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::MissingSecret {
            name: name.into(),
            problem: format!("has no non-empty key {}", missing.join(", ")),
            purpose,
        })
    }
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
