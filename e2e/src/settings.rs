//! What a run is configured with. The Makefile sets these; every one has a
//! default that works from the repository root against any cluster.

use std::env;
use std::path::PathBuf;

/// Settings of one e2e run.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Operator image the chart is installed with (`KCACHE_E2E_OPERATOR_IMAGE`).
    pub operator_image: String,
    /// Node image the operator gives clusters (`KCACHE_E2E_NODE_IMAGE`).
    pub node_image: String,
    /// The in-cluster client load (`KCACHE_E2E_LOAD_IMAGE`), run as Jobs.
    pub load_image: String,
    /// Changes whenever the images are rebuilt under the same tag
    /// (`KCACHE_E2E_IMAGE_ID`), so that the install rolls the operator onto them.
    pub image_id: String,
    /// Namespace and name of the Helm release.
    pub release_namespace: String,
    pub release: String,
    /// The installer script (shared with `make demo`).
    pub install_script: PathBuf,
    /// Repository root: examples, docs and the chart are read from here.
    pub repo_root: PathBuf,
    /// Keep the namespace of a failed scenario for inspection (`KCACHE_E2E_KEEP=1`).
    pub keep_failed: bool,
}

impl Settings {
    pub fn from_env() -> Settings {
        // Tests run with the crate directory as working directory.
        let repo_root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(".."));
        Settings {
            operator_image: var("KCACHE_E2E_OPERATOR_IMAGE", "kcache-operator:e2e"),
            node_image: var("KCACHE_E2E_NODE_IMAGE", "kcache-node:e2e"),
            load_image: var("KCACHE_E2E_LOAD_IMAGE", "kcache-load:e2e"),
            image_id: var("KCACHE_E2E_IMAGE_ID", ""),
            release_namespace: var("KCACHE_E2E_RELEASE_NAMESPACE", "kcache-system"),
            release: var("KCACHE_E2E_RELEASE", "kcache"),
            install_script: repo_root.join("hack/e2e/install-operator.sh"),
            keep_failed: env::var("KCACHE_E2E_KEEP").is_ok_and(|v| v == "1"),
            repo_root,
        }
    }
}

fn var(name: &str, default: &str) -> String {
    env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_string())
}

/// `repository:tag` split at the last colon after the last slash (a registry
/// host may carry a port).
pub fn split_image(image: &str) -> (&str, &str) {
    let slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[slash..].rfind(':') {
        Some(i) => (&image[..slash + i], &image[slash + i + 1..]),
        None => (image, "latest"),
    }
}

#[cfg(test)]
mod tests {
    use super::split_image;

    #[test]
    fn images_split_at_the_tag() {
        assert_eq!(split_image("kcache-node:e2e"), ("kcache-node", "e2e"));
        assert_eq!(
            split_image("registry.local:5000/kcache/node:1.2"),
            ("registry.local:5000/kcache/node", "1.2")
        );
        assert_eq!(
            split_image("registry.local:5000/node"),
            ("registry.local:5000/node", "latest")
        );
    }
}
