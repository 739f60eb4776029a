//! Process lifecycle: command-line parsing, the HTTP endpoint, graceful
//! shutdown on SIGTERM and SHUTDOWN, and redis-benchmark as an unmodified client.

mod rawresp;

use std::io::{Read, Write};
use std::process::Command;
use std::time::Duration;

use rawresp::{bulk_text, info_field, Node, Raw};

fn http_get(port: u16, path: &str) -> (String, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect http");
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read http response");
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.lines().next().unwrap_or("").to_string();
    (status, body.to_string())
}

#[test]
fn http_health_readiness_and_metrics() {
    let n = Node::start(None, &[], &[]);
    let mut c = Raw::connect(n.port);
    let info = bulk_text(&c.cmd(&["INFO", "server"]));
    let http: u16 = info_field(&info, "http_port").unwrap().parse().unwrap();
    assert!(http > 0);
    assert_eq!(
        http_get(http, "/healthz"),
        ("HTTP/1.1 200 OK".into(), "ok\n".into())
    );
    assert_eq!(http_get(http, "/readyz").0, "HTTP/1.1 200 OK");
    assert_eq!(http_get(http, "/nosuch").0, "HTTP/1.1 404 Not Found");
    for i in 0..5 {
        c.cmd(&["SET", &format!("k{i}"), "v"]);
    }
    c.cmd(&["GET", "k1"]);
    let (status, metrics) = http_get(http, "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        metrics.contains("\nkcache_commands_total{cmd=\"set\"} 5\n"),
        "{metrics}"
    );
    assert!(metrics.contains("\nkcache_commands_total{cmd=\"get\"} 1\n"));
    assert!(
        metrics.contains("\nkcache_connected_clients 1\n"),
        "{metrics}"
    );
    assert!(metrics.contains("# TYPE kcache_command_duration_seconds histogram"));
    let inf = metrics
        .lines()
        .find_map(|l| l.strip_prefix("kcache_command_duration_seconds_bucket{le=\"+Inf\"} "))
        .expect("+Inf bucket");
    assert!(inf.parse::<u64>().unwrap() >= 7, "{inf}");
    assert!(metrics.contains("\nkcache_keys{db=\"0\"} 5\n"));
}

#[test]
fn sigterm_mid_pipeline_answers_everything_then_exits_0() {
    let mut n = Node::start(None, &[], &[]);
    let mut c = Raw::connect(n.port);
    const N: usize = 5000;
    let mut pipeline = Vec::new();
    for i in 0..N {
        pipeline.extend(rawresp::encode(&[
            b"SET",
            format!("key:{i}").as_bytes(),
            b"value",
        ]));
    }
    c.send(&pipeline);
    // SAFETY: kill has no memory-safety preconditions; the pid is our child's.
    let rc = unsafe { libc::kill(n.child.id() as i32, libc::SIGTERM) };
    assert_eq!(rc, 0);
    let got = c
        .until_closed(Duration::from_secs(20))
        .expect("the node closes the connection after answering");
    let text = String::from_utf8_lossy(&got);
    assert_eq!(
        text.matches("+OK\r\n").count(),
        N,
        "replies lost at shutdown"
    );
    assert_eq!(got.len(), N * 5);
    assert_eq!(n.wait_exit(Duration::from_secs(20)), Some(0));
}

#[test]
fn shutdown_command_exits_0() {
    for opts in [&[][..], &["NOSAVE", "NOW"][..], &["SAVE", "FORCE"][..]] {
        let mut n = Node::start(None, &[], &[]);
        let mut other = Raw::connect(n.port);
        assert_eq!(other.cmd_s(&["SET", "a", "1"]), "+OK\r\n");
        let mut c = Raw::connect(n.port);
        let mut args = vec!["SHUTDOWN"];
        args.extend_from_slice(opts);
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        c.send(&rawresp::encode(&a));
        // Like Redis: no reply, the connection closes and the process exits 0.
        assert_eq!(
            c.until_closed(Duration::from_secs(20)).as_deref(),
            Some(&b""[..])
        );
        assert_eq!(n.wait_exit(Duration::from_secs(20)), Some(0), "{opts:?}");
        assert!(other.until_closed(Duration::from_secs(5)).is_some());
    }
}

#[test]
fn redis_benchmark_runs_unchanged() {
    let n = Node::start(None, &[], &[]);
    let out = match Command::new("redis-benchmark")
        .args([
            "-p",
            &n.port.to_string(),
            "-n",
            "2000",
            "-q",
            "-t",
            "set,get",
        ])
        .output()
    {
        Ok(o) => o,
        Err(_) => return, // redis-benchmark not installed
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        !stderr.contains("WARNING") && !stdout.contains("WARNING"),
        "{stderr}"
    );
    assert!(
        stdout.contains("SET: ") && stdout.contains("GET: "),
        "{stdout}"
    );
    let mut c = Raw::connect(n.port);
    assert_eq!(c.cmd_s(&["EXISTS", "key:__rand_int__"]), ":1\r\n");
}

#[test]
fn command_line_parsing() {
    let bin = rawresp::node_bin();
    let out = Command::new(&bin)
        .args(["--port", "0", "--foo", "1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("foo"), "{err}");

    let out = Command::new(&bin)
        .args(["--port", "0", "--maxmemory", "lots"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("maxmemory") && err.contains("memory value"),
        "{err}"
    );

    let out = Command::new(&bin).arg("--version").output().unwrap();
    assert!(out.status.success());
    let v = String::from_utf8_lossy(&out.stdout);
    assert!(
        v.starts_with("kcache-node v=") && v.contains("redis-compat=7.0.15"),
        "{v}"
    );

    let out = Command::new(&bin)
        .arg("/nonexistent/kcache.conf")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/kcache.conf"));
}

#[test]
fn config_file_with_command_line_overrides() {
    let dir = rawresp::scratch("args");
    let path = dir.join("kcache.conf");
    std::fs::write(
        &path,
        "# test\nmaxmemory 1mb\nhz 20\nmaxmemory-policy allkeys-lru\nsave \"\"\n",
    )
    .unwrap();
    let n = Node::start(Some(&path), &["--maxmemory", "2mb", "--hz", "15"], &[]);
    let mut c = Raw::connect(n.port);
    assert_eq!(
        c.cmd_s(&["CONFIG", "GET", "maxmemory"]),
        "*2\r\n$9\r\nmaxmemory\r\n$7\r\n2097152\r\n"
    );
    assert_eq!(
        c.cmd_s(&["CONFIG", "GET", "hz"]),
        "*2\r\n$2\r\nhz\r\n$2\r\n15\r\n"
    );
    assert_eq!(
        c.cmd_s(&["CONFIG", "GET", "maxmemory-policy"]),
        "*2\r\n$16\r\nmaxmemory-policy\r\n$11\r\nallkeys-lru\r\n"
    );
    assert_eq!(
        c.cmd_s(&["CONFIG", "GET", "save"]),
        "*2\r\n$4\r\nsave\r\n$0\r\n\r\n"
    );
    let info = bulk_text(&c.cmd(&["INFO", "memory"]));
    assert_eq!(info_field(&info, "maxmemory_human").unwrap(), "2.00M");
    std::fs::remove_dir_all(dir).ok();
}
