//! Prints the CacheCluster CRD as YAML (`make crds` writes it to `crds/`).

fn main() -> anyhow::Result<()> {
    print!("{}", kcache_operator::crd::crd_yaml()?);
    Ok(())
}
