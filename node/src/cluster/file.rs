//! The node's cluster file (`<dir>/<cluster-config-file>`): its id and the
//! newest map, in the map's own token form (`super::map`):
//!
//! ```text
//! # kcache cluster state ...
//! myid <40 hex>
//! epoch <n>
//! node <id> <ip> <port> <hostname|-> primary <slots|->
//! node <id> <ip> <port> <hostname|-> replica <primary-id>
//! ```

use std::io::Write as _;
use std::path::Path;

use super::map::Map;

/// What the file holds.
#[derive(Debug)]
pub struct State {
    pub myid: String,
    pub map: Option<Map>,
}

/// Reads the file; `None` when there is none.
pub fn read(path: &Path) -> Result<Option<State>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: cannot read: {e}", path.display())),
    };
    parse(&text).map(Some).map_err(|why| {
        format!(
            "{}: damaged cluster file ({why}); remove it to start with a new node id and no map",
            path.display()
        )
    })
}

fn parse(text: &str) -> Result<State, String> {
    let mut myid = None;
    let mut epoch = None;
    let mut tokens: Vec<&[u8]> = Vec::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [] => {}
            [w, ..] if w.starts_with('#') => {}
            ["myid", id] if id.len() == 40 && id.bytes().all(|c| c.is_ascii_hexdigit()) => {
                myid = Some(id.to_ascii_lowercase());
            }
            ["epoch", n] => epoch = Some(n.parse::<u64>().map_err(|_| "bad epoch line")?),
            ["node", ..] => tokens.extend(words.iter().map(|w| w.as_bytes())),
            _ => return Err(format!("unexpected line {line:?}")),
        }
    }
    let myid = myid.ok_or("no myid line")?;
    let map = match (epoch, tokens.is_empty()) {
        (None, true) => None,
        (Some(epoch), false) => Some(Map::parse(epoch, &tokens).map_err(|e| e.to_string())?),
        _ => return Err("an epoch without nodes, or nodes without an epoch".into()),
    };
    Ok(State { myid, map })
}

/// Replaces the file whole: temporary file, fsync, rename, fsync of `dir`.
pub fn write(dir: &Path, name: &str, myid: &str, map: Option<&Map>) -> std::io::Result<()> {
    let mut text = String::from(
        "# kcache cluster state: this node's id and the newest cluster map (TOPOLOGY MAP).\n\
         # Written by kcache-node; replaced whole on every change.\n",
    );
    text.push_str(&format!("myid {myid}\n"));
    if let Some(m) = map {
        text.push_str(&format!("epoch {}\n", m.epoch));
        for l in m.lines() {
            text.push_str(&l);
            text.push('\n');
        }
    }
    let tmp = dir.join(format!("temp-{name}"));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, dir.join(name))?;
    crate::persist::aof::manifest::sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_then_read_back() {
        let dir = std::env::temp_dir().join(format!("kcache-cluster-file-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        let id = "0123456789abcdef0123456789abcdef01234567";
        let toks: Vec<&[u8]> = vec![
            b"NODE",
            id.as_bytes(),
            b"127.0.0.1",
            b"7000",
            b"",
            b"PRIMARY",
            b"0-16383",
        ];
        let map = Map::parse(9, &toks).expect("valid");
        write(&dir, "nodes.conf", id, Some(&map)).expect("written");
        let back = read(&dir.join("nodes.conf"))
            .expect("readable")
            .expect("present");
        assert_eq!(back.myid, id);
        assert_eq!(back.map, Some(map));
        std::fs::write(dir.join("nodes.conf"), "myid xyz\n").expect("write");
        assert!(read(&dir.join("nodes.conf"))
            .unwrap_err()
            .contains("damaged"));
        assert!(read(&dir.join("none.conf")).expect("no file").is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
