//! BGREWRITEAOF: a new base from a point-in-time snapshot of the keyspace,
//! taken by the snapshot engine of `persist::snapshot` (the one SAVE and
//! BGSAVE use), without stopping writes.
//!
//! 1. Before the snapshot: create the new incr file and persist a manifest
//!    that lists it after the current ones. Writes still go to the old incr
//!    file; replaying the old files then the empty new one gives the same
//!    data, so a crash from here on loses nothing.
//! 2. In the engine's `at_start`, every stripe held (nothing is appended
//!    meanwhile, so this is exactly log offset O): write and fsync what is
//!    pending to the old incr file and send every later append to the new
//!    one (when turning the AOF on, attach it to the log here instead).
//! 3. The engine dumps every stripe as it was at O into a temp file: the
//!    first lock of a stripe by anyone (a write, lazy or active expiry,
//!    eviction, a served blocked pop, EXEC) dumps it first. The base is RDB
//!    with the `aof-base` AUX field (`aof-use-rdb-preamble yes`, Redis's
//!    default; `appendonly.aof.N.base.rdb`) or commands (`.base.aof`).
//! 4. fsync the base, rename it into place, swap the manifest atomically
//!    (temp file + rename + directory fsync) and delete the old files.
//!
//! Point in time: every change after O is in the new incr file and none
//! before it; the base holds the keyspace at O, including keys that expiry
//! or eviction delete after O (deleting locks the stripe, which dumps it
//! first, and the `DEL` goes to the new incr file). Base + new incr replays
//! to exactly the live data. There is no capture of its own on the lock
//! path: the engine's per-lock check is the only cost.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::manifest::{self, Manifest, Part};
use super::Files;
use crate::persist::snapshot::{self, Format, Progress, SnapshotError};
use crate::server::Server;

/// What the rewrite does with the files.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// The AOF is on: switch to a new incr file.
    Switch,
    /// Turning the AOF on (`appendonly yes`, not on yet): new incr, attach.
    Enable,
    /// The AOF is off (BGREWRITEAOF anyway): a base and a manifest only.
    Offline,
}

/// Why a rewrite did not complete.
#[derive(Debug, thiserror::Error)]
pub enum RewriteError {
    #[error("{what}: {source}")]
    Io {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// Another snapshot holds the engine (the rewrite is scheduled again).
    #[error("another snapshot is in progress")]
    Busy,
    #[error("the rewrite was cancelled")]
    Cancelled,
    #[error("the AOF was turned off during the rewrite")]
    TurnedOff,
}

fn io(what: &'static str) -> impl FnOnce(std::io::Error) -> RewriteError {
    move |source| RewriteError::Io { what, source }
}

/// The base sink: a buffered file whose writes fail once the rewrite is
/// cancelled, which makes the engine stop at its next stripe.
struct Sink {
    w: BufWriter<File>,
    cancel: Arc<AtomicBool>,
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(std::io::Error::other("rewrite cancelled"));
        }
        self.w.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.w.flush()
    }
}

/// Starts a claimed rewrite (`rewrite_in_progress` already set by
/// `schedule::claim`) on a thread of its own.
pub(super) fn spawn(srv: &Arc<Server>) -> std::io::Result<()> {
    let st = &srv.aof.stats;
    *st.rewrite_started.lock() = Some(Instant::now());
    st.rewrite_scheduled.store(false, Ordering::Relaxed);
    srv.aof.cancel.store(false, Ordering::Relaxed);
    let s2 = srv.clone();
    std::thread::Builder::new()
        .name("aof-rewrite".into())
        .spawn(move || {
            let t = Instant::now();
            let r = rewrite(&s2);
            finish(&s2, r, t);
        })
        .map(|_| ())
}

fn finish(srv: &Server, r: Result<(), RewriteError>, t: Instant) {
    let st = &srv.aof.stats;
    *st.rewrite_started.lock() = None;
    match r {
        Ok(()) => {
            st.last_rewrite_ms
                .store(t.elapsed().as_millis() as i64, Ordering::Relaxed);
            st.last_rewrite_failed.store(false, Ordering::Relaxed);
            st.consecutive_failures.store(0, Ordering::Relaxed);
            st.rewrites.fetch_add(1, Ordering::Relaxed);
            tracing::info!(
                secs = t.elapsed().as_secs_f64(),
                "background AOF rewrite finished successfully"
            );
        }
        Err(RewriteError::Busy) => {
            // Not a failure: the cron starts it when the engine is free.
            st.rewrite_scheduled.store(true, Ordering::Relaxed);
            tracing::info!("AOF rewrite scheduled: another snapshot is in progress");
        }
        Err(RewriteError::Cancelled) => {
            tracing::info!("background AOF rewrite cancelled");
        }
        Err(e) => {
            st.last_rewrite_ms
                .store(t.elapsed().as_millis() as i64, Ordering::Relaxed);
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
fn manifest_on_disk(dir: &Path, file_name: &str) -> Manifest {
    std::fs::read_to_string(dir.join(manifest::manifest_name(file_name)))
        .ok()
        .and_then(|t| Manifest::parse(&t).ok())
        .unwrap_or_default()
}

/// What step 1 prepared for `at_start`.
enum Prepared {
    Switch { incr: File, sync: Arc<File> },
    Enable { files: Files },
    Offline { manifest: Manifest },
}

/// Step 1: the new incr file (and for [`Mode::Switch`] the manifest listing
/// it), everything that can fail before the stripes are held.
fn prepare(
    srv: &Server,
    mode: Mode,
    dir: &Path,
    file_name: &str,
) -> Result<Prepared, RewriteError> {
    let mname = manifest::manifest_name(file_name);
    match mode {
        Mode::Switch => srv.aof.with_files(|files| {
            let f = files.as_mut().ok_or(RewriteError::TurnedOff)?;
            let mut m = f.manifest.clone();
            let seq = m.next_incr_seq();
            let name = manifest::incr_name(&f.file_name, seq);
            let incr = open_append(&dir.join(&name)).map_err(io("creating the incr file"))?;
            let sync = Arc::new(incr.try_clone().map_err(io("duplicating the incr file"))?);
            m.incrs.push(Part { name, seq });
            m.store(dir, &mname).map_err(io("writing the manifest"))?;
            f.manifest = m;
            Ok(Prepared::Switch { incr, sync })
        }),
        Mode::Enable => {
            let mut m = manifest_on_disk(dir, file_name);
            let seq = m.next_incr_seq();
            let name = manifest::incr_name(file_name, seq);
            File::create(dir.join(&name)).map_err(io("creating the incr file"))?;
            m.incrs.push(Part {
                name: name.clone(),
                seq,
            });
            // Not stored yet: the old files alone do not hold the current
            // data, so the manifest changes with the base.
            let files = Files::open(dir.to_path_buf(), file_name.to_string(), m, &name)
                .map_err(io("opening the incr file"))?;
            Ok(Prepared::Enable { files })
        }
        Mode::Offline => Ok(Prepared::Offline {
            manifest: manifest_on_disk(dir, file_name),
        }),
    }
}

/// Step 2, every stripe held: the switch. Returns the manifest in force.
fn switch(srv: &Arc<Server>, prepared: Prepared) -> Result<Manifest, RewriteError> {
    let aof = &srv.aof;
    match prepared {
        Prepared::Switch { incr, sync } => aof.with_files(|files| {
            let f = files.as_mut().ok_or(RewriteError::TurnedOff)?;
            aof.write_pending(f);
            aof.fsync_now(f);
            f.switch_incr(incr, sync);
            // The new file starts with a SELECT of its own.
            srv.keyspace.log.at_offset(|_| ());
            Ok(f.manifest.clone())
        }),
        Prepared::Enable { files } => {
            let m = files.manifest.clone();
            aof.install(srv, files);
            Ok(m)
        }
        Prepared::Offline { manifest } => Ok(manifest),
    }
}

fn rewrite(srv: &Arc<Server>) -> Result<(), RewriteError> {
    let aof = &srv.aof;
    let mode = if aof.is_on() {
        Mode::Switch
    } else if srv.config.get_bool("appendonly") {
        Mode::Enable
    } else {
        Mode::Offline
    };
    let (dir, file_name) = location(srv);
    std::fs::create_dir_all(&dir).map_err(io("creating the AOF directory"))?;
    let preamble = srv.config.get_bool("aof-use-rdb-preamble");
    let tmp = dir.join(format!("temp-rewriteaof-bg-{}.aof", std::process::id()));
    let file = File::create(&tmp).map_err(io("creating the temp base file"))?;
    let prepared = match prepare(srv, mode, &dir, &file_name) {
        Ok(p) => p,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    let enable_incr = match &prepared {
        Prepared::Enable { files } => files.manifest.incrs.last().map(|p| p.name.clone()),
        _ => None,
    };

    let sink = Sink {
        w: BufWriter::with_capacity(1 << 20, file),
        cancel: aof.cancel.clone(),
    };
    let opts = base_options(srv, preamble);
    let mut started: Option<Result<Manifest, RewriteError>> = None;
    let result = snapshot::run(
        &srv.keyspace,
        sink,
        &opts,
        Arc::new(Progress::default()),
        || started = Some(switch(srv, prepared)),
    );
    let written = (|| -> Result<(u64, usize, Manifest), RewriteError> {
        let (sink, report) = match result {
            Ok(r) => r,
            Err(SnapshotError::Busy) => return Err(RewriteError::Busy),
            Err(_) if aof.cancel.load(Ordering::Relaxed) => return Err(RewriteError::Cancelled),
            Err(SnapshotError::Io(e)) => return Err(io("writing the base")(e)),
        };
        let old = started.take().ok_or(RewriteError::Busy)??;
        let f = sink
            .w
            .into_inner()
            .map_err(|e| io("writing the base")(e.into_error()))?;
        f.sync_all().map_err(io("fsyncing the base"))?;
        Ok((report.bytes, report.peak_queued, old))
    })();
    let (written, peak, old) = match written {
        Ok(w) => w,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            if mode == Mode::Enable {
                // Turned on in `at_start` but no base: off again (the cron
                // retries while `appendonly` is yes, as Redis's
                // AOF_WAIT_REWRITE does).
                if aof.is_on() {
                    aof.close(srv);
                }
                if let Some(n) = enable_incr {
                    let _ = std::fs::remove_file(dir.join(n));
                }
            }
            return Err(e);
        }
    };
    let base_seq = old.next_base_seq();
    let base_name = manifest::base_name(&file_name, base_seq, preamble);
    let old_files = match install_base(
        srv, mode, &dir, &file_name, &tmp, &base_name, base_seq, &old,
    ) {
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
    let st = &aof.stats;
    let incr_size = aof
        .with_files(|f| {
            f.as_ref()
                .and_then(|f| f.manifest.incrs.last().map(|p| f.dir.join(&p.name)))
        })
        .and_then(|p| std::fs::metadata(p).ok())
        .map_or(0, |m| m.len());
    st.current_size
        .store(written + incr_size, Ordering::Relaxed);
    // As Redis: the reference of the automatic rewrite is the whole set now.
    st.base_size.store(written + incr_size, Ordering::Relaxed);
    st.last_cow.store(peak, Ordering::Relaxed);
    Ok(())
}

/// Step 4: the base into place, the new manifest, and the names of the files
/// it no longer lists.
#[allow(clippy::too_many_arguments)]
fn install_base(
    srv: &Server,
    mode: Mode,
    dir: &Path,
    file_name: &str,
    tmp: &Path,
    base_name: &str,
    base_seq: u64,
    old: &Manifest,
) -> Result<Vec<String>, RewriteError> {
    let mname = manifest::manifest_name(file_name);
    srv.aof.with_files(|files| {
        let current = files.as_ref().map(|f| f.manifest.clone());
        let live_incr = current.as_ref().and_then(|m| m.incrs.last().cloned());
        if mode != Mode::Offline && live_incr.is_none() {
            return Err(RewriteError::TurnedOff);
        }
        let m = Manifest {
            base: Some(Part {
                name: base_name.to_string(),
                seq: base_seq,
            }),
            incrs: if mode == Mode::Offline {
                Vec::new()
            } else {
                live_incr.into_iter().collect()
            },
            history: Vec::new(),
        };
        std::fs::rename(tmp, dir.join(base_name)).map_err(io("renaming the base"))?;
        m.store(dir, &mname).map_err(io("writing the manifest"))?;
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
    })
}

fn open_append(path: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

/// Snapshot options of an AOF base file: an RDB preamble or commands.
fn base_options(srv: &Server, preamble: bool) -> snapshot::Options {
    let mut opts = crate::persist::save::options(srv);
    opts.aof_base = true;
    opts.format = if preamble {
        Format::Rdb
    } else {
        Format::Commands
    };
    opts
}

/// First start with `appendonly yes` and no AOF: as redis-server 7.0, a base
/// from the data set (empty: an RDB file is not loaded when the AOF is on),
/// in RDB format with `aof-use-rdb-preamble yes`, an empty incr file and the
/// manifest, then on.
pub fn create_fresh(srv: &Arc<Server>, dir: PathBuf, file_name: String) -> anyhow::Result<()> {
    std::fs::create_dir_all(&dir)?;
    let preamble = srv.config.get_bool("aof-use-rdb-preamble");
    let base = manifest::base_name(&file_name, 1, preamble);
    let incr = manifest::incr_name(&file_name, 1);
    {
        let opts = base_options(srv, preamble);
        let f = File::create(dir.join(&base))?;
        let (w, _) = snapshot::run(
            &srv.keyspace,
            BufWriter::new(f),
            &opts,
            Arc::new(Progress::default()),
            || (),
        )?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
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
