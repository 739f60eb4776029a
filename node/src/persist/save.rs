//! SAVE, BGSAVE and the `save` rules; the file protocol; the start-up load.
//!
//! A save writes `dir/temp-<pid>-<n>.rdb`, fsyncs it, renames it over
//! `dir/dbfilename` and fsyncs the directory, as Redis does, so a crash leaves
//! either the old file or the new one. Both SAVE and BGSAVE take the snapshot
//! of [`super::snapshot`]: SAVE on the calling client's thread (its event loop
//! waits, the others keep serving), BGSAVE on a thread of its own. One
//! snapshot runs at a time.
//!
//! # The changes counter
//! Redis's `rdb_changes_since_last_save` counts keyspace changes (`dirty`).
//! Here it counts successful write commands (each once, also inside EXEC),
//! summed over the event loops' own counters so the request path pays no
//! shared atomic: a write that changed nothing (DEL of a missing key) counts,
//! an expiry does not. The `save <seconds> <changes>` rules compare it as
//! Redis does, from the cron thread.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use super::rdb::read::{self, Loaded};
use super::rdb::{Limits, RdbError, Value};
use super::snapshot::{self, Options, Progress, Report, SnapshotError};
use crate::db::entry::Entry;
use crate::server::Server;

/// Redis's CONFIG_BGSAVE_RETRY_DELAY: after a failed BGSAVE, the rules wait
/// this long before trying again.
const RETRY_DELAY_MS: i64 = 5000;

/// Persistence state shared by the commands, the cron and INFO.
pub struct Persistence {
    /// `stats.writes()` when the last successful save started.
    saved_writes: AtomicU64,
    /// Unix seconds of the last successful save (LASTSAVE); the start time
    /// until the first.
    pub last_save: AtomicI64,
    pub in_progress: AtomicBool,
    pub bgsave_in_progress: AtomicBool,
    pub scheduled: AtomicBool,
    /// Unix ms the running save started.
    pub current_started_ms: AtomicI64,
    pub last_bgsave_ok: AtomicBool,
    /// Unix ms of the last BGSAVE attempt (for the retry delay).
    pub last_try_ms: AtomicI64,
    pub last_bgsave_secs: AtomicI64,
    pub saves: AtomicU64,
    pub last_cow: AtomicUsize,
    pub progress: Mutex<Arc<Progress>>,
    pub loading: AtomicBool,
    pub loaded_keys: AtomicU64,
    pub loaded_expired: AtomicU64,
    /// SHUTDOWN already saved (or chose not to): the exit path does not.
    pub shutdown_decided: AtomicBool,
    tmp_seq: AtomicU64,
    /// Held while a save or an AOF rewrite claims the snapshot engine (one
    /// snapshot at a time), so the two never both start.
    pub claims: Mutex<()>,
}

impl Persistence {
    pub fn new(now_ms: i64) -> Persistence {
        Persistence {
            saved_writes: AtomicU64::new(0),
            last_save: AtomicI64::new(now_ms / 1000),
            in_progress: AtomicBool::new(false),
            bgsave_in_progress: AtomicBool::new(false),
            scheduled: AtomicBool::new(false),
            current_started_ms: AtomicI64::new(0),
            last_bgsave_ok: AtomicBool::new(true),
            last_try_ms: AtomicI64::new(0),
            last_bgsave_secs: AtomicI64::new(-1),
            saves: AtomicU64::new(0),
            last_cow: AtomicUsize::new(0),
            progress: Mutex::new(Arc::default()),
            loading: AtomicBool::new(false),
            loaded_keys: AtomicU64::new(0),
            loaded_expired: AtomicU64::new(0),
            shutdown_decided: AtomicBool::new(false),
            tmp_seq: AtomicU64::new(0),
            claims: Mutex::new(()),
        }
    }

    /// Writes since the last successful save.
    pub fn changes(&self, srv: &Server) -> u64 {
        srv.stats
            .writes()
            .saturating_sub(self.saved_writes.load(Ordering::Relaxed))
    }
}

/// Why a save did not happen.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("a save is already in progress")]
    Busy,
    /// An AOF rewrite holds the snapshot engine.
    #[error("an AOF rewrite is in progress")]
    RewriteRunning,
    #[error("{0}")]
    Snapshot(#[from] SnapshotError),
    #[error("{op} {path}: {source}")]
    File {
        op: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// `dir` (the current directory when empty).
pub fn dir(srv: &Server) -> PathBuf {
    let d = srv.config.get("dir");
    if d.is_empty() {
        PathBuf::from(".")
    } else {
        PathBuf::from(d)
    }
}

/// `dir/dbfilename`.
pub fn rdb_path(srv: &Server) -> PathBuf {
    dir(srv).join(srv.config.get("dbfilename"))
}

/// The snapshot options the config asks for.
pub fn options(srv: &Server) -> Options {
    let policy = srv.config.evict.policy.load(Ordering::Relaxed);
    Options {
        compress: srv.config.get_bool("rdbcompression"),
        checksum: srv.config.get_bool("rdbchecksum"),
        // volatile-lru and allkeys-lru (see config::policy_index).
        lru_idle: policy == 0 || policy == 4,
        ..Options::default()
    }
}

fn file_err(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> SaveError {
    let path = path.display().to_string();
    move |source| SaveError::File { op, path, source }
}

/// Claims the single save slot; refused while an AOF rewrite holds the
/// snapshot engine (`persist::aof::schedule`).
fn claim(srv: &Server) -> Result<(), SaveError> {
    let p = &srv.persist;
    let _g = p.claims.lock();
    if srv.aof.stats.rewrite_in_progress.load(Ordering::Acquire) {
        return Err(SaveError::RewriteRunning);
    }
    p.in_progress
        .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
        .map(|_| ())
        .map_err(|_| SaveError::Busy)
}

/// Claims the save slot, waiting for a running AOF rewrite to end first.
fn claim_after_rewrite(srv: &Server) -> Result<(), SaveError> {
    loop {
        match claim(srv) {
            Err(SaveError::RewriteRunning) => {
                // Not synchronisation with a test: the rewrite ends by itself.
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            r => return r,
        }
    }
}

/// Takes a snapshot into `dir/dbfilename` on this thread. The caller has
/// claimed the save slot; this releases it.
fn save_claimed(srv: &Server) -> Result<Report, SaveError> {
    let p = &srv.persist;
    let progress = Arc::new(Progress::default());
    *p.progress.lock() = progress.clone();
    p.current_started_ms
        .store(crate::util::now_ms(), Ordering::Relaxed);
    let result = write_file(srv, progress);
    if let Ok(r) = &result {
        // As Redis's rdbSave: any successful save clears a failed BGSAVE's
        // status, and with it the MISCONF refusal.
        p.last_bgsave_ok.store(true, Ordering::Relaxed);
        p.last_save
            .store(crate::util::now_ms() / 1000, Ordering::Relaxed);
        p.saves.fetch_add(1, Ordering::Relaxed);
        p.last_cow.store(r.peak_queued, Ordering::Relaxed);
    }
    p.in_progress.store(false, Ordering::Release);
    result
}

fn write_file(srv: &Server, progress: Arc<Progress>) -> Result<Report, SaveError> {
    let dir = dir(srv);
    let path = rdb_path(srv);
    let n = srv.persist.tmp_seq.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!("temp-{}-{n}.rdb", std::process::id()));
    let file = File::create(&tmp).map_err(file_err("create", &tmp))?;
    let writes = &srv.persist.saved_writes;
    let mut writes_at_start = 0;
    // On a replica the applied offset moves under the apply lock: holding it
    // until the start point pairs the data with `repl-offset` exactly.
    let apply = srv.repl.apply_lock();
    let result = snapshot::run_with_aux(
        &srv.keyspace,
        BufWriter::with_capacity(1 << 20, file),
        &options(srv),
        progress,
        || {
            writes_at_start = srv.stats.writes();
            let aux = crate::repl::primary::rdb_aux(srv);
            drop(apply);
            aux
        },
    );
    let finish = |result: Result<(BufWriter<File>, Report), SnapshotError>| {
        let (w, report) = result?;
        let file = w
            .into_inner()
            .map_err(|e| file_err("write", &tmp)(e.into_error()))?;
        file.sync_all().map_err(file_err("fsync", &tmp))?;
        drop(file);
        std::fs::rename(&tmp, &path).map_err(file_err("rename", &path))?;
        // The rename is durable once the directory is.
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(report)
    };
    match finish(result) {
        Ok(r) => {
            writes.store(writes_at_start, Ordering::Relaxed);
            tracing::info!(
                path = %path.display(),
                keys = r.keys,
                bytes = r.bytes,
                peak_queued = r.peak_queued,
                ms = r.duration.as_millis() as u64,
                "DB saved on disk"
            );
            Ok(r)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            tracing::warn!(error = %e, "saving the DB failed");
            Err(e)
        }
    }
}

/// Claims the snapshot slot for a replica's full sync (one snapshot runs at
/// a time; SAVE/BGSAVE answer "already in progress" meanwhile). False while
/// a save or an AOF rewrite runs.
pub fn try_claim_for_sync(srv: &Server) -> bool {
    claim(srv).is_ok()
}

/// Releases the slot [`try_claim_for_sync`] took.
pub fn release_for_sync(srv: &Server) {
    srv.persist.in_progress.store(false, Ordering::Release);
}

/// SAVE: a snapshot on the calling thread. Redis's SAVE runs while its AOF
/// rewrite child does; here the engine takes one snapshot at a time, so SAVE
/// waits for a running rewrite to end, then saves.
pub fn save(srv: &Server) -> Result<Report, SaveError> {
    claim_after_rewrite(srv)?;
    save_claimed(srv)
}

/// BGSAVE: starts a snapshot on a thread of its own; `Err(Busy)` when one
/// runs, `Err(RewriteRunning)` during an AOF rewrite.
pub fn bgsave(srv: &Arc<Server>) -> Result<(), SaveError> {
    let p = &srv.persist;
    claim(srv)?;
    p.bgsave_in_progress.store(true, Ordering::Relaxed);
    p.scheduled.store(false, Ordering::Relaxed);
    p.last_try_ms
        .store(crate::util::now_ms(), Ordering::Relaxed);
    let s = srv.clone();
    let spawned = std::thread::Builder::new()
        .name("bgsave".into())
        .spawn(move || {
            let started = Instant::now();
            let ok = save_claimed(&s).is_ok();
            let p = &s.persist;
            p.last_bgsave_ok.store(ok, Ordering::Relaxed);
            p.last_bgsave_secs
                .store(started.elapsed().as_secs() as i64, Ordering::Relaxed);
            p.bgsave_in_progress.store(false, Ordering::Release);
        });
    if let Err(e) = spawned {
        p.bgsave_in_progress.store(false, Ordering::Relaxed);
        p.in_progress.store(false, Ordering::Release);
        return Err(SaveError::File {
            op: "spawn a thread for",
            path: "BGSAVE".into(),
            source: e,
        });
    }
    tracing::info!("Background saving started");
    Ok(())
}

/// A save on the way out: waits for a running BGSAVE (Redis kills its child;
/// here the thread's snapshot is simply let finish), then saves.
pub fn save_for_shutdown(srv: &Server) -> Result<Report, SaveError> {
    while claim(srv).is_err() {
        // Not synchronisation with a test: the running save or rewrite ends
        // by itself.
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    tracing::info!("saving the final RDB snapshot before exiting");
    save_claimed(srv)
}

/// After the event loops stop: unless SHUTDOWN decided already, save when
/// `save` rules are configured or `save` asks, unless `nosave` (as Redis
/// does on SIGTERM, by `shutdown-on-sigterm`).
pub fn on_exit(srv: &Server, save: bool, nosave: bool) {
    if srv.persist.shutdown_decided.swap(true, Ordering::AcqRel) || nosave {
        return;
    }
    if save || !save_points(srv).is_empty() {
        if let Err(e) = save_for_shutdown(srv) {
            tracing::error!(error = %e, "could not save the DB on exit");
        }
    }
}

/// The `save` rules as (seconds, changes) pairs.
pub fn save_points(srv: &Server) -> Vec<(i64, u64)> {
    let v = srv.config.get("save");
    let nums: Vec<u64> = v
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    nums.chunks_exact(2).map(|c| (c[0] as i64, c[1])).collect()
}

/// Called by the cron: starts a scheduled BGSAVE, or one a `save` rule asks for.
pub fn cron(srv: &Arc<Server>, now_ms: i64) {
    let p = &srv.persist;
    if p.in_progress.load(Ordering::Relaxed)
        || p.loading.load(Ordering::Relaxed)
        || srv.aof.stats.rewrite_in_progress.load(Ordering::Relaxed)
    {
        return;
    }
    if p.scheduled.load(Ordering::Relaxed) {
        let _ = bgsave(srv);
        return;
    }
    let changes = p.changes(srv);
    let since = now_ms / 1000 - p.last_save.load(Ordering::Relaxed);
    let may_retry = p.last_bgsave_ok.load(Ordering::Relaxed)
        || now_ms - p.last_try_ms.load(Ordering::Relaxed) > RETRY_DELAY_MS;
    for (secs, min_changes) in save_points(srv) {
        if changes >= min_changes && since > secs && may_retry {
            tracing::info!(changes, seconds = secs, "save rule met; saving");
            let _ = bgsave(srv);
            return;
        }
    }
}

/// The access word of a loaded key: its IDLE or FREQ record under the policy
/// that uses it, a fresh word otherwise (Redis's `objectSetLRUOrLFU`).
pub fn access_word(idle: Option<u64>, freq: Option<u8>, now_ms: i64) -> u32 {
    if crate::db::access::lfu_mode() {
        if let Some(f) = freq {
            return ((((now_ms / 60_000) as u32) & 0xffff) << 8) | f as u32;
        }
    } else if let Some(s) = idle {
        let at = now_ms.saturating_sub(s.min(i64::MAX as u64 / 1000) as i64 * 1000);
        return crate::db::lru_clock(at);
    }
    crate::db::new_access(now_ms)
}

/// Builds the entry for a loaded or restored value.
pub fn entry(key: &[u8], value: Value, expire: Option<i64>, access: u32) -> Entry {
    match value {
        Value::Str(s) => Entry::new_string_owned(key, s, expire, access),
        Value::Obj(o) => Entry::new_object(key, o, expire, access),
    }
}

/// What a start-up load did.
#[derive(Debug)]
pub struct LoadReport {
    pub keys: u64,
    pub expired: u64,
    pub millis: u64,
}

/// Loads `dir/dbfilename` if it exists. Refuses a file that is damaged, holds a
/// database index beyond `databases`, or holds a key twice.
pub fn load_at_start(srv: &Server) -> Result<Option<LoadReport>, RdbError> {
    let path = rdb_path(srv);
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(RdbError::Io {
                offset: 0,
                source: e,
            })
        }
    };
    let p = &srv.persist;
    p.loading.store(true, Ordering::Release);
    let started = Instant::now();
    let result = load_into(srv, file);
    p.loading.store(false, Ordering::Release);
    let sum = result?;
    // `repl-id` / `repl-offset`: resume the replication history.
    crate::repl::primary::restore_from_rdb(srv, &sum.aux);
    p.loaded_keys.store(sum.keys, Ordering::Relaxed);
    p.loaded_expired
        .store(sum.expired_skipped, Ordering::Relaxed);
    Ok(Some(LoadReport {
        keys: sum.keys,
        expired: sum.expired_skipped,
        millis: started.elapsed().as_millis() as u64,
    }))
}

/// Reads an RDB stream into the keyspace (errors about a key carry offset 0;
/// the reader replaces it with the key's offset).
pub fn load_into(srv: &Server, r: impl std::io::Read) -> Result<read::Summary, RdbError> {
    load_into_with(srv, r, false)
}

/// [`load_into`], keeping keys already expired when `keep_expired` (an AOF's
/// RDB preamble: the AOF's later commands ran while those keys lived, and
/// replay does not expire keys, as Redis's loader does not).
pub fn load_into_with(
    srv: &Server,
    r: impl std::io::Read,
    keep_expired: bool,
) -> Result<read::Summary, RdbError> {
    let ks = &srv.keyspace;
    let lim = Limits::from_config(&srv.config);
    let now = crate::util::now_ms();
    read::load_with(r, &lim, now, keep_expired, |k: Loaded| {
        if k.db >= ks.db_count() {
            return Err(RdbError::Unsupported {
                offset: 0,
                reason: format!(
                    "the file holds database {} but `databases` is {}",
                    k.db,
                    ks.db_count()
                ),
            });
        }
        let h = ks.hash(&k.key);
        let mut sh = ks.db(k.db).lock(h);
        if sh.find(h, &k.key).is_some() {
            return Err(RdbError::Corrupt {
                offset: 0,
                reason: format!(
                    "duplicate key '{}' in database {}",
                    String::from_utf8_lossy(&k.key),
                    k.db
                ),
            });
        }
        let access = access_word(k.idle, k.freq, now);
        sh.insert(h, entry(&k.key, k.value, k.expire, access));
        Ok(())
    })
}
