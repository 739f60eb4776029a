//! `kcache-node [configfile] [--name value ...]`: a drop-in for redis-server.

use kcache_node::{alloc, config, server};

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

const USAGE: &str = "\
Usage: kcache-node [/path/to/kcache.conf] [--parameter value ...]
       kcache-node - (read the config from standard input)
       kcache-node -v | --version
       kcache-node -h | --help

Parameters use redis.conf names, e.g.
  kcache-node --port 7777 --maxmemory 2gb --save \"\"
Each parameter can also come from an environment variable KCACHE_<NAME>
(e.g. KCACHE_REQUIREPASS). List every parameter with --help-params.";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("-v") | Some("--version") => {
            println!(
                "kcache-node v={} redis-compat={} bits=64 malloc=mimalloc",
                kcache_node::VERSION,
                kcache_node::REDIS_COMPAT_VERSION
            );
            return;
        }
        Some("-h") | Some("--help") => {
            println!("{USAGE}");
            return;
        }
        Some("--help-params") => {
            for p in config::all_params() {
                println!(
                    "{:<28} default {:<26} {}",
                    p.name,
                    format!("{:?}", p.default),
                    p.doc
                );
            }
            return;
        }
        _ => {}
    }
    let env: Vec<(String, String)> = std::env::vars().collect();
    let cfg = match config::load(&args, &env) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kcache-node: {e}");
            eprintln!("Run kcache-node --help-params for the list of parameters.");
            std::process::exit(1);
        }
    };
    init_logging(&cfg.get("loglevel"));
    let pidfile = cfg.get("pidfile");
    if !pidfile.is_empty() {
        if let Err(e) = std::fs::write(&pidfile, format!("{}\n", std::process::id())) {
            tracing::warn!(pidfile, error = %e, "could not write the pid file");
        }
    }
    let result = server::run(cfg);
    if !pidfile.is_empty() {
        let _ = std::fs::remove_file(&pidfile);
    }
    if let Err(e) = result {
        eprintln!("kcache-node: {e:#}");
        std::process::exit(1);
    }
}

fn init_logging(level: &str) {
    let filter = match level {
        "debug" => "debug",
        "verbose" => "info",
        "warning" => "warn",
        "nothing" => "off",
        _ => "info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("KCACHE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    let json = std::env::var("KCACHE_LOG_FORMAT").is_ok_and(|f| f == "json");
    // Colours only on a terminal: `kubectl logs` and files get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(ansi);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
