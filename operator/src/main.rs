//! `kcache-operator`: reconciles `CacheCluster` resources (skeleton; see the operator issue).

fn main() -> anyhow::Result<()> {
    println!("kcache-operator: not implemented yet");
    Ok(())
}
