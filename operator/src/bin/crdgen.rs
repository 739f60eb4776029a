//! Prints the CacheCluster CRD as YAML, or with `docs` its markdown reference
//! (`make crds` writes them to `crds/` and `docs/cachecluster.md`).

fn main() -> anyhow::Result<()> {
    match std::env::args().nth(1).as_deref() {
        None => print!("{}", kcache_operator::crd::crd_yaml()?),
        Some("docs") => print!("{}", kcache_operator::crd::docs::markdown()),
        Some(other) => anyhow::bail!("unknown argument {other:?}; usage: crdgen [docs]"),
    }
    Ok(())
}
