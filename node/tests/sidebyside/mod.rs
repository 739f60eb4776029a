//! Runs a fixed script on kcache-node and on redis-server and compares the
//! replies, for the collection command tests. A row's first word may carry a
//! marker: `~` sorts an unordered reply before comparing (pairs stay
//! together), `#` compares only the reply's type and length (random picks).
#![allow(dead_code)]

use redis::Value;

use crate::common::Server;

pub type Reply = Result<Value, String>;

pub fn q(c: &mut redis::Connection, argv: &[String]) -> Reply {
    let mut cmd = redis::cmd(&argv[0]);
    for a in &argv[1..] {
        cmd.arg(a.as_str());
    }
    cmd.query::<Value>(c).map_err(|e| {
        format!(
            "{} {}",
            e.code().unwrap_or("?"),
            e.detail().unwrap_or_default()
        )
    })
}

fn key(v: &Value) -> String {
    format!("{v:?}")
}

/// Sorts `items`, keeping consecutive pairs together when `pairs`.
fn sort_items(items: &mut Vec<Value>, pairs: bool) {
    if pairs && items.len().is_multiple_of(2) && !matches!(items.first(), Some(Value::Array(_))) {
        let mut chunks: Vec<Vec<Value>> = items.chunks(2).map(<[Value]>::to_vec).collect();
        chunks.sort_by_key(|c| c.iter().map(key).collect::<Vec<_>>());
        *items = chunks.into_iter().flatten().collect();
    } else {
        items.sort_by_key(key);
    }
}

fn sort_value(v: Value, pairs: bool) -> Value {
    match v {
        Value::Array(mut a) => {
            sort_items(&mut a, pairs);
            Value::Array(a)
        }
        Value::Set(mut a) => {
            sort_items(&mut a, pairs);
            Value::Set(a)
        }
        Value::Map(mut m) => {
            m.sort_by_key(|(k, v)| (key(k), key(v)));
            Value::Map(m)
        }
        v => v,
    }
}

fn shape(v: &Value) -> String {
    match v {
        Value::Array(a) => format!("array of {}", a.len()),
        Value::Set(a) => format!("set of {}", a.len()),
        Value::Map(m) => format!("map of {}", m.len()),
        Value::BulkString(_) => "bulk".into(),
        other => format!("{other:?}"),
    }
}

/// Applies a row's marker to a reply.
pub fn normalise(marker: Option<char>, argv: &[String], reply: Reply) -> Reply {
    let name = argv[0].to_ascii_uppercase();
    let pairs = name == "HGETALL"
        || name == "HSCAN"
        || argv.iter().any(|a| a.eq_ignore_ascii_case("withvalues"));
    reply.map(|v| match marker {
        Some('#') => Value::SimpleString(shape(&v)),
        Some('~') => match v {
            Value::Array(mut parts) if name.ends_with("SCAN") && parts.len() == 2 => {
                let inner = parts.pop().map(|x| sort_value(x, pairs));
                parts.extend(inner);
                Value::Array(parts)
            }
            v => sort_value(v, pairs),
        },
        _ => v,
    })
}

/// Splits the marker off a row.
pub fn parse_row(row: &[String]) -> (Option<char>, Vec<String>) {
    let mut argv = row.to_vec();
    let marker = argv[0].chars().next().filter(|c| *c == '~' || *c == '#');
    if marker.is_some() {
        argv[0] = argv[0][1..].to_string();
    }
    (marker, argv)
}

/// Builds a row from words.
pub fn row(words: &[&str]) -> Vec<String> {
    words.iter().map(|s| s.to_string()).collect()
}

/// Runs `script` on both servers in the given protocol; panics listing every
/// reply that differs.
pub fn run(script: &[Vec<String>], resp3: bool) {
    let node = Server::start(&[]);
    let redis = Server::start_redis(&[]);
    let suffix = if resp3 { "?protocol=resp3" } else { "" };
    let connect = |s: &Server| {
        redis::Client::open(format!("{}{suffix}", s.url()))
            .and_then(|c| c.get_connection())
            .expect("connect")
    };
    let (mut n, mut r) = (connect(&node), connect(&redis));
    let mut mismatches = Vec::new();
    for raw in script {
        let (marker, argv) = parse_row(raw);
        let got = normalise(marker, &argv, q(&mut n, &argv));
        let want = normalise(marker, &argv, q(&mut r, &argv));
        if got != want {
            let shown: Vec<&str> = argv.iter().map(|a| &a[..a.len().min(40)]).collect();
            mismatches.push(format!("{shown:?}\n  node:  {got:?}\n  redis: {want:?}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} replies differ (resp3={resp3}):\n{}",
        mismatches.len(),
        script.len(),
        mismatches.join("\n")
    );
}
