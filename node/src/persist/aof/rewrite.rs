//! BGREWRITEAOF: a new base from a point-in-time view of the keyspace, without
//! stopping writes.
//!
//! 1. Holding every stripe (so nothing is appended meanwhile): flush and fsync
//!    the current incr file, open a new incr file and send every later append
//!    there, persist a manifest listing it (a crash from here on loses
//!    nothing), and start a [`Capture`] at this point, log offset O.
//! 2. Release the stripes and serialise each stripe into the new base, holding
//!    only that stripe. A write that reaches a stripe not yet serialised first
//!    serialises it, under the stripe locks it already holds (`repl::prop`,
//!    EXEC, served blocked pops): copy-on-write at stripe granularity. Every
//!    stripe is thus serialised as it was at O, and the base plus the new incr
//!    file replays to exactly the live data.
//! 3. fsync the base, rename it into place, swap the manifest atomically (temp
//!    file + rename + directory fsync) and delete the old base and incr files.
//!
//! What is and is not point-in-time: every key changed by a propagated
//! command or a served blocking pop is captured as of O. Keys deleted by
//! expiry or eviction between O and their stripe's serialisation are missing
//! from the base but their `DEL` is in the new incr file, so the replay is
//! the same. The base writer itself ([`super::base::write_base`]) takes any
//! consistent iteration of `(db, entry)`; the switch-over to the snapshot
//! engine of `persist::snapshot` replaces phase 2's capture with that
//! engine's iterator opened in phase 1 under the same all-stripes hold.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use super::manifest::{self, Manifest, Part};
use super::Files;
use crate::db::{Shard, StripeSet, SHARDS};
use crate::server::Server;

/// The per-stripe capture of a running rewrite.
pub struct Capture {
    /// One flag per (db, stripe), set under that stripe's lock.
    done: Vec<AtomicBool>,
    /// Serialised stripes not yet written to the base file.
    chunks: Mutex<Vec<Vec<u8>>>,
    now_ms: i64,
}

impl Capture {
    fn new(dbs: usize) -> Capture {
        Capture {
            done: (0..dbs * SHARDS).map(|_| AtomicBool::new(false)).collect(),
            chunks: Mutex::new(Vec::new()),
            now_ms: crate::util::now_ms(),
        }
    }

    /// Serialises stripe `(db, stripe)` unless already done. The caller holds
    /// the stripe's lock and passes its shard.
    pub fn take(&self, db: usize, stripe: usize, shard: &Shard) {
        let Some(flag) = self.done.get(db * SHARDS + stripe) else {
            return;
        };
        if flag.load(Ordering::Relaxed) {
            return;
        }
        flag.store(true, Ordering::Relaxed);
        if shard.is_empty() {
            return;
        }
        let mut buf = Vec::new();
        let live = shard.iter().filter(|e| !e.is_expired(self.now_ms));
        let entries: Vec<_> = live.collect();
        // Writing to a Vec cannot fail.
        let _ = super::base::write_base(&mut buf, entries.iter().map(|e| (db, &**e)));
        self.chunks.lock().push(buf);
    }
}

/// Serialises the stripes of `set` that the running rewrite has not reached
/// yet, before a write changes them. The caller holds every stripe of `set`
/// through `Keyspace::with_held`. One atomic load when no rewrite runs.
#[inline]
pub fn before_write(srv: &Server, set: &StripeSet) {
    if !srv.aof.capturing.load(Ordering::Acquire) {
        return;
    }
    capture_set(srv, set);
}

#[cold]
fn capture_set(srv: &Server, set: &StripeSet) {
    let Some(c) = srv.aof.capture.lock().clone() else {
        return;
    };
    for (db, s) in set.iter() {
        let g = srv.keyspace.db(db).lock_index(s);
        c.take(db, s, &g);
    }
}

/// [`before_write`] for a caller holding one stripe directly (served pops).
#[inline]
pub fn before_write_shard(srv: &Server, db: usize, stripe: usize, shard: &Shard) {
    if !srv.aof.capturing.load(Ordering::Acquire) {
        return;
    }
    if let Some(c) = srv.aof.capture.lock().clone() {
        c.take(db, stripe, shard);
    }
}

/// What the rewrite does with the files.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// The AOF is on: switch to a new incr file.
    Switch,
    /// Turning the AOF on (CONFIG SET appendonly yes): new incr, then attach.
    Enable,
    /// The AOF is off (BGREWRITEAOF anyway): a base and a manifest only.
    Offline,
}

/// Starts a rewrite on a background thread. Err when one is running.
pub fn start_background(srv: Arc<Server>, enable: bool) -> Result<(), &'static str> {
    let st = &srv.aof.stats;
    if st.rewrite_in_progress.swap(true, Ordering::AcqRel) {
        return Err("ERR Background append only file rewriting already in progress");
    }
    *st.rewrite_started.lock() = Some(Instant::now());
    let mode = if srv.aof.is_on() {
        Mode::Switch
    } else if enable {
        Mode::Enable
    } else {
        Mode::Offline
    };
    let s2 = srv.clone();
    let spawned = std::thread::Builder::new()
        .name("aof-rewrite".into())
        .spawn(move || {
            let t = Instant::now();
            let r = rewrite(&s2, mode);
            finish(&s2, r, t);
        });
    if spawned.is_err() {
        finish(
            &srv,
            Err("could not start the rewrite thread".into()),
            Instant::now(),
        );
        return Err("ERR Can't rewrite append only file in background: fork: Resource temporarily unavailable");
    }
    Ok(())
}

fn finish(srv: &Server, r: Result<(), String>, t: Instant) {
    let st = &srv.aof.stats;
    srv.aof.capturing.store(false, Ordering::Release);
    *srv.aof.capture.lock() = None;
    st.last_rewrite_ms
        .store(t.elapsed().as_millis() as i64, Ordering::Relaxed);
    *st.rewrite_started.lock() = None;
    match r {
        Ok(()) => {
            st.last_rewrite_failed.store(false, Ordering::Relaxed);
            st.consecutive_failures.store(0, Ordering::Relaxed);
            st.rewrites.fetch_add(1, Ordering::Relaxed);
            tracing::info!(
                secs = t.elapsed().as_secs_f64(),
                "background AOF rewrite finished successfully"
            );
        }
        Err(e) => {
            st.last_rewrite_failed.store(true, Ordering::Relaxed);
            st.consecutive_failures.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(error = %e, "background AOF rewrite failed");
        }
    }
    st.rewrite_in_progress.store(false, Ordering::Release);
}

/// Where the AOF lives, from the config.
fn location(srv: &Server) -> (PathBuf, String) {
    (
        manifest::aof_dir(&srv.config.get("dir"), &srv.config.get("appenddirname")),
        srv.config.get("appendfilename"),
    )
}

/// The manifest on disk, or an empty one.
fn manifest_on_disk(dir: &std::path::Path, file_name: &str) -> Manifest {
    std::fs::read_to_string(dir.join(manifest::manifest_name(file_name)))
        .ok()
        .and_then(|t| Manifest::parse(&t).ok())
        .unwrap_or_default()
}

fn rewrite(srv: &Arc<Server>, mode: Mode) -> Result<(), String> {
    let io = |what: &str, e: std::io::Error| format!("{what}: {e}");
    let (dir, file_name) = location(srv);
    std::fs::create_dir_all(&dir).map_err(|e| io("creating the AOF directory", e))?;
    let mname = manifest::manifest_name(&file_name);
    let capture = Arc::new(Capture::new(srv.keyspace.db_count()));
    let all = StripeSet::all(srv.keyspace.db_count());

    // Phase 1, every stripe held: nothing is appended meanwhile.
    let (old, base_seq) = srv
        .keyspace
        .with_held(&all, || -> Result<(Manifest, u64), String> {
            let new_files = srv
                .aof
                .with_files(|files| -> Result<Option<Files>, String> {
                    match (mode, files.as_mut()) {
                        (Mode::Switch, Some(f)) => {
                            srv.aof.write_pending(f);
                            srv.aof.fsync_now(f);
                            let mut m = f.manifest.clone();
                            let seq = m.next_incr_seq();
                            let name = manifest::incr_name(&f.file_name, seq);
                            let incr = open_append(&dir.join(&name))
                                .map_err(|e| io("creating the incr file", e))?;
                            m.incrs.push(Part { name, seq });
                            m.store(&dir, &mname)
                                .map_err(|e| io("writing the manifest", e))?;
                            f.switch_incr(incr)
                                .map_err(|e| io("switching the incr file", e))?;
                            f.manifest = m;
                            // The new file starts with a SELECT of its own.
                            srv.keyspace.log.at_offset(|_| ());
                            Ok(None)
                        }
                        (Mode::Switch, None) => Err("the AOF was turned off".into()),
                        (Mode::Enable, _) => {
                            let mut m = manifest_on_disk(&dir, &file_name);
                            let seq = m.next_incr_seq();
                            let name = manifest::incr_name(&file_name, seq);
                            File::create(dir.join(&name))
                                .map_err(|e| io("creating the incr file", e))?;
                            m.incrs.push(Part {
                                name: name.clone(),
                                seq,
                            });
                            // Not stored yet: the old files alone do not hold the
                            // current data, so the manifest changes with the base.
                            Files::open(dir.clone(), file_name.clone(), m, &name)
                                .map(Some)
                                .map_err(|e| io("opening the incr file", e))
                        }
                        (Mode::Offline, _) => Ok(None),
                    }
                })?;
            *srv.aof.capture.lock() = Some(capture.clone());
            srv.aof.capturing.store(true, Ordering::Release);
            let m = match new_files {
                Some(f) => {
                    let m = f.manifest.clone();
                    srv.aof.install(srv, f);
                    m
                }
                None => srv
                    .aof
                    .with_files(|f| f.as_ref().map(|f| f.manifest.clone()))
                    .unwrap_or_else(|| manifest_on_disk(&dir, &file_name)),
            };
            let seq = m.next_base_seq();
            Ok((m, seq))
        })?;

    // Phase 2: each stripe held only while it is serialised.
    let base_name = manifest::base_name(&file_name, base_seq, false);
    let tmp = dir.join(format!("temp-rewriteaof-bg-{}.aof", std::process::id()));
    let written = (|| -> std::io::Result<u64> {
        let mut out = std::io::BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
        let mut total = 0u64;
        for db in 0..srv.keyspace.db_count() {
            for s in 0..SHARDS {
                {
                    let g = srv.keyspace.db(db).lock_index(s);
                    capture.take(db, s, &g);
                }
                let chunks = std::mem::take(&mut *capture.chunks.lock());
                for c in chunks {
                    out.write_all(&c)?;
                    total += c.len() as u64;
                }
            }
        }
        srv.aof.capturing.store(false, Ordering::Release);
        for c in std::mem::take(&mut *capture.chunks.lock()) {
            out.write_all(&c)?;
            total += c.len() as u64;
        }
        let f = out.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        Ok(total)
    })();
    let written = match written {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(io("writing the base", e));
        }
    };

    // Phase 3: the new manifest, atomically; then the old files go.
    let swap = || -> Result<Vec<String>, String> {
        let r = srv.aof.with_files(|files| -> std::io::Result<Vec<String>> {
            let current = files.as_ref().map(|f| f.manifest.clone());
            let live_incr = current.as_ref().and_then(|m| m.incrs.last().cloned());
            if mode != Mode::Offline && live_incr.is_none() {
                return Err(std::io::Error::other(
                    "the AOF was turned off during the rewrite",
                ));
            }
            let mut m = Manifest {
                base: Some(Part {
                    name: base_name.clone(),
                    seq: base_seq,
                }),
                incrs: live_incr.into_iter().collect(),
                history: Vec::new(),
            };
            if mode == Mode::Offline {
                m.incrs.clear();
            }
            std::fs::rename(&tmp, dir.join(&base_name))?;
            m.store(&dir, &mname)?;
            let keep: Vec<&str> = m
                .base
                .iter()
                .chain(m.incrs.iter())
                .map(|p| p.name.as_str())
                .collect();
            let mut old_files: Vec<String> = old
                .base
                .iter()
                .chain(old.incrs.iter())
                .chain(old.history.iter())
                .map(|p| p.name.clone())
                .collect();
            if let Some(c) = &current {
                old_files.extend(c.incrs.iter().map(|p| p.name.clone()));
            }
            old_files.retain(|n| !keep.contains(&n.as_str()));
            old_files.sort();
            old_files.dedup();
            if let Some(f) = files.as_mut() {
                f.manifest = m;
            }
            Ok(old_files)
        });
        r.map_err(|e| io("installing the new base", e))
    };
    let old_files = match swap() {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    for name in old_files {
        let _ = std::fs::remove_file(dir.join(name));
    }
    let _ = manifest::sync_dir(&dir);
    let st = &srv.aof.stats;
    st.base_size.store(written, Ordering::Relaxed);
    let incr_size = srv
        .aof
        .with_files(|f| {
            f.as_ref()
                .and_then(|f| f.manifest.incrs.last().map(|p| f.dir.join(&p.name)))
        })
        .and_then(|p| std::fs::metadata(p).ok())
        .map_or(0, |m| m.len());
    st.current_size
        .store(written + incr_size, Ordering::Relaxed);
    Ok(())
}

fn open_append(path: &std::path::Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

/// First start with `appendonly yes` and no AOF: an empty base (nothing is
/// loaded yet), an empty incr file and the manifest, then on.
pub fn create_fresh(srv: &Arc<Server>, dir: PathBuf, file_name: String) -> anyhow::Result<()> {
    std::fs::create_dir_all(&dir)?;
    let base = manifest::base_name(&file_name, 1, false);
    let incr = manifest::incr_name(&file_name, 1);
    {
        let mut f = File::create(dir.join(&base))?;
        let all: Vec<(usize, &crate::db::entry::Entry)> = Vec::new();
        super::base::write_base(&mut f, all.into_iter())?;
        f.sync_all()?;
    }
    File::create(dir.join(&incr))?.sync_all()?;
    let m = Manifest {
        base: Some(Part { name: base, seq: 1 }),
        incrs: vec![Part {
            name: incr.clone(),
            seq: 1,
        }],
        history: Vec::new(),
    };
    m.store(&dir, &manifest::manifest_name(&file_name))?;
    tracing::info!(dir = %dir.display(), "created the append only file set");
    let files = Files::open(dir, file_name, m, &incr)?;
    srv.aof.install(srv, files);
    Ok(())
}
