//! Loads N string keys straight into a keyspace and prints memory per key, to
//! separate the keyspace's own footprint from the server's.
use kcache_node::alloc;
use kcache_node::db::{entry::Entry, Keyspace};

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    if std::env::var("RAW").is_ok() {
        let r0 = alloc::rss_bytes();
        let mut keep: Vec<Box<[u8; 48]>> = Vec::with_capacity(n);
        let r1 = alloc::rss_bytes();
        for _ in 0..n {
            keep.push(Box::new([1u8; 48]));
        }
        let r2 = alloc::rss_bytes();
        println!(
            "vec={:.1}/key blocks={:.1}/key",
            (r1 - r0) as f64 / n as f64,
            (r2 - r1) as f64 / n as f64
        );
        return;
    }
    let ks = Keyspace::new(16, 42);
    let rss0 = alloc::rss_bytes();
    let used0 = alloc::used_memory();
    let v = [b'x'; 32];
    for i in 0..n {
        let k = format!("key:{i}");
        let h = ks.hash(k.as_bytes());
        let mut sh = ks.db(0).lock(h);
        sh.insert(h, Entry::new_string(k.as_bytes(), &v, None, 0));
    }
    let rss1 = alloc::rss_bytes();
    let used1 = alloc::used_memory();
    let index = ks.db(0).index_bytes();
    println!(
        "keys={n} rss/key={:.1} used/key={:.1} index/key={:.1}",
        (rss1 - rss0) as f64 / n as f64,
        (used1 - used0) as f64 / n as f64,
        index as f64 / n as f64
    );
}
