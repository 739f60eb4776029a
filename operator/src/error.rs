//! Typed errors of the reconciler, each with a category that labels metrics, picks
//! the requeue policy and names the reason of Events and conditions.

use std::time::Duration;

/// Everything a reconcile can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The spec passed admission but cannot be run (for example `maxMemory` above
    /// the memory limit, or a parameter value out of range).
    #[error("invalid spec: {0}")]
    InvalidSpec(String),

    /// The spec asks for an engine the node does not implement yet.
    #[error("engine {0} is not supported yet; only redis is")]
    UnsupportedEngine(&'static str),

    /// A Secret the spec refers to is missing or lacks a key.
    #[error("Secret {name:?} {problem} (needed for {purpose})")]
    MissingSecret {
        name: String,
        problem: String,
        purpose: &'static str,
    },

    /// A call to the Kubernetes API failed.
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),

    /// An object could not be (de)serialized: a bug of the operator.
    #[error("serialization: {0}")]
    Serialization(#[from] serde_json::Error),

    /// A node refused or did not answer a topology command.
    #[error("node {pod}: {source}")]
    Node {
        pod: String,
        #[source]
        source: crate::resp::RespError,
    },

    /// An invariant the operator relies on does not hold (for example an object
    /// without a namespace or uid).
    #[error("internal: {0}")]
    Internal(String),
}

/// Coarse classes of errors: metric label, requeue delay, event reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Category {
    /// The user must change the spec; retried rarely, and at once on a change.
    InvalidSpec,
    /// Something the spec refers to is missing; retried soon.
    Dependency,
    /// The API server failed or refused; retried soon.
    KubeApi,
    /// A node did not answer or refused a topology command; retried at once.
    Node,
    /// A bug; retried with a long delay so that it does not spin.
    Internal,
}

impl Error {
    pub fn category(&self) -> Category {
        match self {
            Self::InvalidSpec(_) | Self::UnsupportedEngine(_) => Category::InvalidSpec,
            Self::MissingSecret { .. } => Category::Dependency,
            Self::Kube(_) => Category::KubeApi,
            Self::Node { .. } => Category::Node,
            Self::Serialization(_) | Self::Internal(_) => Category::Internal,
        }
    }

    /// CamelCase reason for conditions and Events.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::InvalidSpec(_) => "InvalidSpec",
            Self::UnsupportedEngine(_) => "EngineNotSupported",
            Self::MissingSecret { .. } => "SecretNotFound",
            Self::Kube(_) => "KubernetesApiError",
            Self::Node { .. } => "NodeCommandFailed",
            Self::Serialization(_) | Self::Internal(_) => "InternalError",
        }
    }
}

impl Category {
    /// Label value in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidSpec => "invalid_spec",
            Self::Dependency => "dependency",
            Self::KubeApi => "kube_api",
            Self::Node => "node",
            Self::Internal => "internal",
        }
    }

    /// When to try again. An invalid spec is retried anyway when the spec changes
    /// (the watch triggers a reconcile), so its timer is only a backstop.
    pub fn requeue_after(self) -> Duration {
        match self {
            Self::InvalidSpec => Duration::from_secs(300),
            Self::Dependency => Duration::from_secs(30),
            Self::KubeApi => Duration::from_secs(5),
            Self::Node => Duration::from_secs(1),
            Self::Internal => Duration::from_secs(120),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_drive_reasons_and_requeues() {
        let invalid = Error::InvalidSpec("x".into());
        assert_eq!(invalid.category(), Category::InvalidSpec);
        assert_eq!(invalid.reason(), "InvalidSpec");
        let missing = Error::MissingSecret {
            name: "s".into(),
            problem: "does not exist".into(),
            purpose: "auth",
        };
        assert_eq!(missing.category(), Category::Dependency);
        assert!(missing.to_string().contains("\"s\" does not exist"));
        assert!(Category::KubeApi.requeue_after() < Category::Dependency.requeue_after());
        assert!(Category::Dependency.requeue_after() < Category::InvalidSpec.requeue_after());
        assert_eq!(
            Error::UnsupportedEngine("memcached").reason(),
            "EngineNotSupported"
        );
    }
}
