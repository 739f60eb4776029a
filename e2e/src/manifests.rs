//! Manifests: YAML documents from files and from the Markdown the README is built
//! from, applied (or dry-run) by server-side apply with strict field validation,
//! the way `kubectl apply --server-side` sends them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use kube::api::{DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::discovery::{self, Scope};
use kube::{Api, Client, ResourceExt};
use serde::Deserialize;

/// Field manager of everything the suite applies.
pub const FIELD_MANAGER: &str = "kcache-e2e";

/// Every document of a multi-document YAML text (empty documents skipped).
pub fn parse_documents(text: &str) -> Result<Vec<DynamicObject>> {
    let mut objects = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(text) {
        let value = serde_yaml::Value::deserialize(doc)?;
        if value.is_null() {
            continue;
        }
        let json = serde_json::to_value(value)?;
        objects.push(serde_json::from_value(json).context("not a Kubernetes object")?);
    }
    Ok(objects)
}

/// Reads a manifest file.
pub fn load_file(path: &Path) -> Result<Vec<DynamicObject>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse_documents(&text).with_context(|| format!("parsing {}", path.display()))
}

/// Fenced ```yaml blocks of a Markdown text that hold a Kubernetes object.
pub fn markdown_manifests(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        let fence = line.trim_start();
        match current.as_mut() {
            None if fence.starts_with("```yaml") || fence.starts_with("```yml") => {
                current = Some(String::new());
            }
            Some(_) if fence.starts_with("```") => {
                let block = current.take().unwrap_or_default();
                if block.contains("apiVersion:") && block.contains("kind:") {
                    blocks.push(block);
                }
            }
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    blocks
}

/// Paths like `examples/cachecluster.yaml` that a Markdown text mentions.
pub fn mentioned_examples(markdown: &str) -> BTreeSet<String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/');
    let mut found = BTreeSet::new();
    let mut rest = markdown;
    while let Some(i) = rest.find("examples/") {
        let tail = &rest[i..];
        let end = tail.find(|c| !allowed(c)).unwrap_or(tail.len());
        let path = tail[..end].trim_end_matches('.');
        if path.ends_with(".yaml") || path.ends_with(".yml") {
            found.insert(path.to_string());
        }
        rest = &tail[end.max(1)..];
    }
    found
}

/// A manifest and where it was found.
pub struct Example {
    pub source: String,
    pub objects: Vec<DynamicObject>,
}

/// Every example manifest users are shown: the files in `examples/`, the
/// `examples/` files the README and docs mention (which must exist), and the YAML
/// blocks in the README and docs.
pub fn readme_examples(repo_root: &Path) -> Result<Vec<Example>> {
    let mut files: BTreeSet<PathBuf> = BTreeSet::new();
    for entry in std::fs::read_dir(repo_root.join("examples"))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            files.insert(path);
        }
    }
    let mut docs = vec![repo_root.join("README.md")];
    for entry in std::fs::read_dir(repo_root.join("docs"))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "md") {
            docs.push(path);
        }
    }
    let mut examples = Vec::new();
    for doc in docs.iter().filter(|d| d.exists()) {
        let text = std::fs::read_to_string(doc)?;
        for mentioned in mentioned_examples(&text) {
            let path = repo_root.join(&mentioned);
            if !path.exists() {
                bail!(
                    "{} mentions {mentioned}, which does not exist",
                    doc.display()
                );
            }
            files.insert(path);
        }
        for (i, block) in markdown_manifests(&text).into_iter().enumerate() {
            let source = format!("{} (YAML block {})", doc.display(), i + 1);
            let objects = parse_documents(&block).with_context(|| source.clone())?;
            examples.push(Example { source, objects });
        }
    }
    for file in files {
        examples.push(Example {
            source: file.display().to_string(),
            objects: load_file(&file)?,
        });
    }
    Ok(examples)
}

/// Applies an object by server-side apply (strict field validation), into
/// `namespace` when its kind is namespaced; `dry_run` asks the API server to run
/// admission and validation without persisting anything.
pub async fn apply(
    client: &Client,
    namespace: &str,
    obj: &DynamicObject,
    dry_run: bool,
) -> Result<DynamicObject> {
    let types = obj
        .types
        .as_ref()
        .ok_or_else(|| anyhow!("{} has no apiVersion/kind", obj.name_any()))?;
    let gvk = GroupVersionKind::try_from(types)?;
    let (resource, caps) = discovery::pinned_kind(client, &gvk)
        .await
        .with_context(|| format!("discovering {}/{}", types.api_version, types.kind))?;
    let api: Api<DynamicObject> = match caps.scope {
        Scope::Namespaced => Api::namespaced_with(client.clone(), namespace, &resource),
        Scope::Cluster => Api::all_with(client.clone(), &resource),
    };
    let mut params = PatchParams::apply(FIELD_MANAGER).validation_strict();
    if dry_run {
        params = params.dry_run();
    }
    let mut obj = obj.clone();
    if caps.scope == Scope::Namespaced {
        obj.metadata.namespace = Some(namespace.to_string());
    }
    let name = obj.name_any();
    api.patch(&name, &params, &Patch::Apply(&obj))
        .await
        .with_context(|| format!("applying {} {name}", types.kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_yields_manifests_and_example_paths() {
        let md = "Run `kubectl apply -f examples/cachecluster.yaml`.\n\
                  ```yaml\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n```\n\
                  ```yaml\nimage:\n  tag: dev\n```\n\
                  See examples/sharded.yml. And examples/ alone.\n";
        let blocks = markdown_manifests(md);
        assert_eq!(blocks.len(), 1);
        let objects = parse_documents(&blocks[0]).unwrap();
        assert_eq!(objects[0].name_any(), "x");
        let paths: Vec<_> = mentioned_examples(md).into_iter().collect();
        assert_eq!(
            paths,
            ["examples/cachecluster.yaml", "examples/sharded.yml"]
        );
    }

    #[test]
    fn the_repository_examples_parse() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let examples = readme_examples(&root).unwrap();
        assert!(examples
            .iter()
            .any(|e| e.source.ends_with("examples/cachecluster.yaml")));
        assert!(examples.iter().all(|e| !e.objects.is_empty()));
    }
}
