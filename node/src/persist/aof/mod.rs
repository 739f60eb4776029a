//! The append-only file, in Redis 7.0's multi-part layout: a directory
//! (`appenddirname`) holding a manifest, one base file and incr files, so
//! that redis-server can load what kcache writes and the other way round.
//!
//! # Data path
//! The AOF is a consumer of the propagation log (`db::log`): the log hands it
//! bytes under its lock and it only copies them into `pending`. The bytes
//! reach the file in three ways:
//! - before an event loop writes the replies of a read batch, it calls
//!   [`Aof::before_reply`] with the end offset of its own appends. With
//!   `appendfsync always` that writes and fsyncs up to that offset first
//!   (group commit: whoever holds the file lock writes everything pending,
//!   and a batch whose offset is already synced does nothing, so concurrent
//!   batches share one fsync); otherwise it only writes, as Redis writes its
//!   AOF buffer before sending replies, so a killed process loses nothing
//!   that was acknowledged;
//! - a background thread writes what no reply waits for (expiry, eviction)
//!   every 100 ms and, with `everysec`, fsyncs once a second on a duplicate
//!   descriptor without holding the file lock;
//! - a rewrite switching files flushes and fsyncs the old incr file first.
//!
//! Lock order: stripes -> file -> log -> pending. Nothing holding `pending`
//! or the log takes the file lock.
//!
//! # Files
//! [`manifest`] formats and parses the manifest; [`load`] replays at start
//! (an RDB-format base with the RDB reader, then commands); [`base`]
//! serialises keys as commands; [`rewrite`] is BGREWRITEAOF (also used to
//! turn the AOF on at run time, as Redis does), a snapshot of the engine of
//! `persist::snapshot`; [`schedule`] decides when rewrites run (BGREWRITEAOF,
//! scheduled and automatic rewrites, one snapshot at a time with BGSAVE).

pub mod base;
pub mod cmd;
pub mod load;
pub mod manifest;
pub mod rewrite;
pub mod schedule;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{
    AtomicBool, AtomicI32, AtomicI64, AtomicU64, AtomicU8, AtomicUsize, Ordering,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use self::manifest::Manifest;
use crate::db::log::{Consumer, ConsumerId};
use crate::server::Server;

/// `appendfsync`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fsync {
    Always = 0,
    Everysec = 1,
    No = 2,
}

impl Fsync {
    pub fn parse(s: &str) -> Fsync {
        match s {
            "always" => Fsync::Always,
            "no" => Fsync::No,
            _ => Fsync::Everysec,
        }
    }

    fn from_u8(v: u8) -> Fsync {
        match v {
            0 => Fsync::Always,
            2 => Fsync::No,
            _ => Fsync::Everysec,
        }
    }
}

/// Bytes handed over by the log and not yet written.
#[derive(Default)]
struct Pending {
    buf: Vec<u8>,
    /// Log offset just after `buf`.
    end: u64,
}

/// The consumer half registered with the log.
struct Feed(Arc<Mutex<Pending>>);

impl Consumer for Feed {
    fn feed(&mut self, start: u64, bytes: &[u8]) {
        let mut p = self.0.lock();
        p.buf.extend_from_slice(bytes);
        p.end = start + bytes.len() as u64;
    }
}

/// The open AOF set.
pub(crate) struct Files {
    pub dir: PathBuf,
    /// `appendfilename`.
    pub file_name: String,
    pub manifest: Manifest,
    incr: File,
    /// A duplicate of `incr` for fsync outside the file lock.
    sync_handle: Arc<File>,
    /// Buffer swapped with `pending` (keeps its capacity).
    spare: Vec<u8>,
}

/// The AOF state shared by every thread.
#[derive(Default)]
pub struct Aof {
    on: AtomicBool,
    fsync: AtomicU8,
    pending: Arc<Mutex<Pending>>,
    files: Mutex<Option<Files>>,
    consumer: Mutex<Option<ConsumerId>>,
    /// Log offsets written to, and fsynced in, the current incr file.
    written: AtomicU64,
    synced: AtomicU64,
    stop: Arc<AtomicBool>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Asks the running rewrite to stop (its base sink fails from then on).
    cancel: Arc<AtomicBool>,
    pub stats: Stats,
}

/// INFO persistence counters.
pub struct Stats {
    pub rewrite_in_progress: AtomicBool,
    pub rewrite_scheduled: AtomicBool,
    pub last_rewrite_ms: AtomicI64,
    pub rewrite_started: Mutex<Option<Instant>>,
    pub last_rewrite_failed: AtomicBool,
    pub rewrites: AtomicU64,
    pub consecutive_failures: AtomicU64,
    pub last_write_failed: AtomicBool,
    /// The OS error of the last failed write or fsync (MISCONF's text).
    last_write_errno: AtomicI32,
    pub delayed_fsync: AtomicU64,
    pub current_size: AtomicU64,
    /// Redis's `aof_rewrite_base_size`: the base file's size after a load,
    /// the whole set's after a rewrite (the automatic rewrite's reference).
    pub base_size: AtomicU64,
    /// Peak bytes queued by the last rewrite's snapshot (`aof_last_cow_size`).
    pub last_cow: AtomicUsize,
    /// Back-off after repeated failures (`schedule.rs`).
    pub(crate) limit: Mutex<schedule::Limit>,
}

impl Default for Stats {
    fn default() -> Stats {
        Stats {
            rewrite_in_progress: Default::default(),
            rewrite_scheduled: Default::default(),
            // -1: no rewrite yet, as Redis prints.
            last_rewrite_ms: AtomicI64::new(-1),
            rewrite_started: Default::default(),
            last_rewrite_failed: Default::default(),
            rewrites: Default::default(),
            consecutive_failures: Default::default(),
            last_write_failed: Default::default(),
            last_write_errno: Default::default(),
            delayed_fsync: Default::default(),
            current_size: Default::default(),
            base_size: Default::default(),
            last_cow: Default::default(),
            limit: Default::default(),
        }
    }
}

impl Stats {
    /// The last write error as strerror(3) words ("No space left on device").
    pub fn last_write_error(&self) -> String {
        let errno = self.last_write_errno.load(Ordering::Relaxed);
        let text = std::io::Error::from_raw_os_error(errno).to_string();
        match text.find(" (os error") {
            Some(i) => text[..i].to_string(),
            None => text,
        }
    }
}

impl Aof {
    /// Whether the AOF is on (files open and fed by the log).
    #[inline]
    pub fn is_on(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    pub fn fsync_policy(&self) -> Fsync {
        Fsync::from_u8(self.fsync.load(Ordering::Relaxed))
    }

    pub fn set_fsync_policy(&self, f: Fsync) {
        self.fsync.store(f as u8, Ordering::Relaxed);
    }

    /// Called by an event loop before it writes replies: makes this thread's
    /// appended bytes (up to the log offset `end`) written, and with
    /// `always` fsynced, first. Nearly free when the thread appended nothing.
    #[inline]
    pub fn before_reply(&self) {
        let end = crate::db::log::take_last_end();
        if end == 0 || !self.is_on() {
            return;
        }
        self.reach(end);
    }

    #[cold]
    fn reach(&self, end: u64) {
        let always = self.fsync_policy() == Fsync::Always;
        let done = if always { &self.synced } else { &self.written };
        if done.load(Ordering::Acquire) >= end {
            return;
        }
        let mut files = self.files.lock();
        if done.load(Ordering::Acquire) >= end {
            return;
        }
        let Some(f) = files.as_mut() else {
            return;
        };
        self.write_pending(f);
        if always {
            self.fsync_now(f);
        }
    }

    /// Writes everything pending to the incr file (file lock held).
    fn write_pending(&self, f: &mut Files) {
        let end = {
            let mut p = self.pending.lock();
            std::mem::swap(&mut p.buf, &mut f.spare);
            p.end
        };
        if f.spare.is_empty() {
            return;
        }
        let mut done = 0;
        let result = loop {
            match f.incr.write(&f.spare[done..]) {
                Ok(0) => break Err(std::io::Error::from(std::io::ErrorKind::WriteZero)),
                Ok(n) => {
                    done += n;
                    if done == f.spare.len() {
                        break Ok(());
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        match result {
            Ok(()) => {
                self.stats
                    .current_size
                    .fetch_add(f.spare.len() as u64, Ordering::Relaxed);
                self.written.store(end, Ordering::Release);
                if self.stats.last_write_failed.swap(false, Ordering::Relaxed) {
                    tracing::warn!("AOF write error looks solved, the node can write again");
                }
            }
            Err(e) => {
                self.write_failed(&e);
                // Nothing logged may go missing from the file: a partial write
                // is cut off again (or, where that fails, counts as written),
                // and the rest goes back in front of what was appended since,
                // for the next attempt (the event loops' next write, or the
                // once-a-second flush). Writes get MISCONF meanwhile.
                if done > 0 {
                    let cut = f
                        .incr
                        .metadata()
                        .and_then(|m| f.incr.set_len(m.len().saturating_sub(done as u64)));
                    if cut.is_ok() {
                        done = 0;
                    } else {
                        self.stats
                            .current_size
                            .fetch_add(done as u64, Ordering::Relaxed);
                    }
                }
                let mut p = self.pending.lock();
                f.spare.drain(..done);
                f.spare.extend_from_slice(&p.buf);
                std::mem::swap(&mut p.buf, &mut f.spare);
            }
        }
        f.spare.clear();
        if f.spare.capacity() > 4 << 20 {
            f.spare = Vec::new();
        }
    }

    fn fsync_now(&self, f: &mut Files) {
        let upto = self.written.load(Ordering::Acquire);
        match f.incr.sync_data() {
            Ok(()) => self.synced.fetch_max(upto, Ordering::AcqRel),
            Err(e) => {
                self.write_failed(&e);
                0
            }
        };
    }

    #[cold]
    fn write_failed(&self, e: &std::io::Error) {
        self.stats
            .last_write_errno
            .store(e.raw_os_error().unwrap_or(0), Ordering::Relaxed);
        let first = !self.stats.last_write_failed.swap(true, Ordering::Relaxed);
        if self.fsync_policy() == Fsync::Always {
            // As Redis: with `always`, a reply must never claim a write that
            // may not be on disk.
            tracing::error!(error = %e, "can't recover from AOF write error when the AOF fsync policy is 'always'; exiting");
            std::process::exit(1);
        }
        // Retried every 100 ms: said once, not at every attempt.
        if first {
            tracing::error!(error = %e, "error writing to the AOF file; writes get MISCONF until a write succeeds");
        }
    }

    /// Writes and fsyncs everything pending (shutdown, file switch).
    pub fn flush_all(&self) {
        let mut files = self.files.lock();
        if let Some(f) = files.as_mut() {
            self.write_pending(f);
            self.fsync_now(f);
        }
    }

    /// The background writer/fsyncer (module docs).
    fn background(self: Arc<Self>, srv: std::sync::Weak<Server>) {
        let _ = srv;
        let mut last_sync = Instant::now();
        while !self.stop.load(Ordering::Relaxed) {
            std::thread::park_timeout(Duration::from_millis(100));
            let handle = {
                let mut files = self.files.lock();
                let Some(f) = files.as_mut() else {
                    continue;
                };
                self.write_pending(f);
                f.sync_handle.clone()
            };
            let policy = self.fsync_policy();
            if policy == Fsync::Everysec && last_sync.elapsed() >= Duration::from_secs(1) {
                last_sync = Instant::now();
                let upto = self.written.load(Ordering::Acquire);
                if upto > self.synced.load(Ordering::Acquire) {
                    let t = Instant::now();
                    match handle.sync_data() {
                        Ok(()) => {
                            self.synced.fetch_max(upto, Ordering::AcqRel);
                        }
                        Err(e) => self.write_failed(&e),
                    }
                    if t.elapsed() > Duration::from_secs(2) {
                        // Redis counts an fsync that kept writes waiting past 2 s.
                        self.stats.delayed_fsync.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
    }

    /// Installs `files` as the open set at log offset `at` (under the log
    /// lock when switching) and, when not yet on, attaches to the log.
    pub(crate) fn install(self: &Arc<Self>, srv: &Arc<Server>, files: Files) {
        let size = files.incr.metadata().map_or(0, |m| m.len());
        let base = files
            .manifest
            .base
            .as_ref()
            .and_then(|b| std::fs::metadata(files.dir.join(&b.name)).ok())
            .map_or(0, |m| m.len());
        self.stats
            .current_size
            .store(size + base, Ordering::Relaxed);
        self.stats.base_size.store(base, Ordering::Relaxed);
        *self.files.lock() = Some(files);
        self.set_fsync_policy(Fsync::parse(&srv.config.get("appendfsync")));
        let pending = self.pending.clone();
        let aof = self.clone();
        let id = srv.keyspace.log.attach(move |offset| {
            let mut p = pending.lock();
            p.buf.clear();
            p.end = offset;
            aof.written.store(offset, Ordering::Release);
            aof.synced.store(offset, Ordering::Release);
            Box::new(Feed(pending.clone()))
        });
        *self.consumer.lock() = Some(id);
        self.on.store(true, Ordering::Relaxed);
        self.stop.store(false, Ordering::Relaxed);
        let me = self.clone();
        let weak = Arc::downgrade(srv);
        match std::thread::Builder::new()
            .name("aof-fsync".into())
            .spawn(move || me.background(weak))
        {
            Ok(t) => *self.thread.lock() = Some(t),
            Err(e) => tracing::error!(error = %e, "could not start the AOF fsync thread"),
        }
    }

    /// Turns the AOF off: stops a running rewrite (as Redis kills its child)
    /// and waits for it, then [`Aof::close`]s.
    pub fn turn_off(&self, srv: &Server) {
        if self.stats.rewrite_in_progress.load(Ordering::Acquire) {
            self.cancel.store(true, Ordering::Release);
            while self.stats.rewrite_in_progress.load(Ordering::Acquire) {
                // The cancelled rewrite stops at its next stripe.
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        self.close(srv);
    }

    /// Detaches from the log, writes and fsyncs what is pending, closes the
    /// files.
    pub(crate) fn close(&self, srv: &Server) {
        if let Some(id) = self.consumer.lock().take() {
            srv.keyspace.log.detach(id);
        }
        self.on.store(false, Ordering::Relaxed);
        self.flush_all();
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.lock().take() {
            t.thread().unpark();
            let _ = t.join();
        }
        *self.files.lock() = None;
    }

    /// Runs `f` on the open files with the file lock held.
    pub(crate) fn with_files<R>(&self, f: impl FnOnce(&mut Option<Files>) -> R) -> R {
        f(&mut self.files.lock())
    }
}

impl Files {
    /// Opens (creating if needed) incr file `name` in `dir` for appending.
    pub(crate) fn open(
        dir: PathBuf,
        file_name: String,
        manifest: Manifest,
        incr_name: &str,
    ) -> std::io::Result<Files> {
        let incr = OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(incr_name))?;
        let sync_handle = Arc::new(incr.try_clone()?);
        Ok(Files {
            dir,
            file_name,
            manifest,
            incr,
            sync_handle,
            spare: Vec::new(),
        })
    }

    /// Replaces the incr file being appended to (`sync_handle` is a
    /// duplicate of `incr`, made beforehand so that this cannot fail).
    pub(crate) fn switch_incr(&mut self, incr: File, sync_handle: Arc<File>) {
        self.sync_handle = sync_handle;
        self.incr = incr;
    }
}

/// Loads the AOF at start-up (before clients are accepted) and turns it on
/// when `appendonly yes`. Creates an empty base and incr file when there is
/// no AOF yet.
pub fn start(srv: &Arc<Server>) -> anyhow::Result<()> {
    if !srv.config.get_bool("appendonly") {
        return Ok(());
    }
    let dir = manifest::aof_dir(&srv.config.get("dir"), &srv.config.get("appenddirname"));
    let file_name = srv.config.get("appendfilename");
    let mname = manifest::manifest_name(&file_name);
    let mpath = dir.join(&mname);
    migrate_single_file(srv, &dir, &file_name, &mname)?;
    let manifest = match std::fs::read_to_string(&mpath) {
        Ok(text) => Manifest::parse(&text)
            .map_err(|e| anyhow::anyhow!("bad AOF manifest {}: {e}", mpath.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return rewrite::create_fresh(srv, dir, file_name);
        }
        Err(e) => anyhow::bail!("reading the AOF manifest {}: {e}", mpath.display()),
    };
    let mut files: Vec<PathBuf> = Vec::new();
    if let Some(b) = &manifest.base {
        files.push(dir.join(&b.name));
    }
    files.extend(manifest.incrs.iter().map(|p| dir.join(&p.name)));
    let t = Instant::now();
    let loaded = load::replay(srv, &files, srv.config.get_bool("aof-load-truncated"))?;
    tracing::info!(
        commands = loaded.commands,
        rdb_keys = loaded.rdb_keys,
        errors = loaded.errors,
        truncated = loaded.truncated,
        keys = srv.keyspace.total_keys(),
        secs = t.elapsed().as_secs_f64(),
        "DB loaded from append only file"
    );
    for h in &manifest.history {
        let _ = std::fs::remove_file(dir.join(&h.name));
    }
    let incr_name = match manifest.incrs.last() {
        Some(p) => p.name.clone(),
        None => {
            // A base alone (written by a rewrite that had no incr): add one.
            let mut m = manifest.clone();
            let name = manifest::incr_name(&file_name, m.next_incr_seq());
            m.incrs.push(manifest::Part {
                name: name.clone(),
                seq: m.next_incr_seq(),
            });
            File::create(dir.join(&name))?;
            m.store(&dir, &mname)?;
            return finish_start(srv, Files::open(dir, file_name, m, &name)?);
        }
    };
    finish_start(srv, Files::open(dir, file_name, manifest, &incr_name)?)
}

/// Redis 6's single-file AOF (`dir/appendfilename`) becomes the base of a
/// multi-part set, as redis-server 7.0 upgrades it at start
/// (`aofUpgradePrepare`): the AOF directory is created, a manifest naming the
/// old file as base 1 is written, then the file is moved in. Started again after
/// a crash between the two steps, the move is completed. Without this, a node
/// started with `appendonly yes` on a Redis 6 data directory would start empty.
fn migrate_single_file(
    srv: &Server,
    dir: &std::path::Path,
    file_name: &str,
    manifest_name: &str,
) -> anyhow::Result<()> {
    let root = srv.config.get("dir");
    let root = if root.is_empty() { "." } else { root.as_str() };
    let old = std::path::Path::new(root).join(file_name);
    if !old.is_file() {
        return Ok(());
    }
    let mpath = dir.join(manifest_name);
    let existing = match std::fs::read_to_string(&mpath) {
        Ok(text) => Some(
            Manifest::parse(&text)
                .map_err(|e| anyhow::anyhow!("bad AOF manifest {}: {e}", mpath.display()))?,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => anyhow::bail!("reading the AOF manifest {}: {e}", mpath.display()),
    };
    // Redis's three cases: no AOF directory, a directory without a (non-empty)
    // manifest, or a manifest naming only the old file as base while the file
    // is not in the directory yet.
    let upgrade = match &existing {
        None => true,
        Some(m) if m.base.is_none() && m.incrs.is_empty() => true,
        Some(m) => {
            m.incrs.is_empty()
                && m.base.as_ref().is_some_and(|b| b.name == file_name)
                && !dir.join(file_name).exists()
        }
    };
    if !upgrade {
        return Ok(());
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("creating the AOF directory {}: {e}", dir.display()))?;
    let manifest = Manifest {
        base: Some(manifest::Part {
            name: file_name.to_string(),
            seq: 1,
        }),
        incrs: Vec::new(),
        history: Vec::new(),
    };
    manifest
        .store(dir, manifest_name)
        .map_err(|e| anyhow::anyhow!("writing the AOF manifest {}: {e}", mpath.display()))?;
    std::fs::rename(&old, dir.join(file_name)).map_err(|e| {
        anyhow::anyhow!(
            "moving the old AOF {} into {}: {e}",
            old.display(),
            dir.display()
        )
    })?;
    manifest::sync_dir(dir)?;
    tracing::info!(dir = %dir.display(), "Successfully migrated an old-style AOF into the AOF directory");
    Ok(())
}

fn finish_start(srv: &Arc<Server>, files: Files) -> anyhow::Result<()> {
    srv.aof.install(srv, files);
    Ok(())
}

/// Applies CONFIG SET of `appendonly` / `appendfsync`.
pub fn config_changed(srv: &Arc<Server>) {
    srv.aof
        .set_fsync_policy(Fsync::parse(&srv.config.get("appendfsync")));
    let want = srv.config.get_bool("appendonly");
    if want && !srv.aof.is_on() {
        // As Redis: turning the AOF on writes a base from the current data
        // (scheduled while a save or another rewrite runs).
        match schedule::request(srv) {
            Ok(_) => {}
            Err(schedule::Refused::AlreadyRunning) => {
                // A rewrite of the AOF while it was off: the one that turns
                // it on follows.
                srv.aof
                    .stats
                    .rewrite_scheduled
                    .store(true, Ordering::Relaxed);
            }
            Err(e) => tracing::warn!(error = %e, "could not turn the AOF on"),
        }
    } else if !want
        && (srv.aof.is_on() || srv.aof.stats.rewrite_in_progress.load(Ordering::Acquire))
    {
        srv.aof.turn_off(srv);
        srv.aof
            .stats
            .rewrite_scheduled
            .store(false, Ordering::Relaxed);
    }
}

/// INFO persistence `aof_*` fields.
pub fn info(srv: &Server, s: &mut crate::cmd::admin::info::Section) {
    let a = &srv.aof;
    let st = &a.stats;
    // Redis prints 1 from CONFIG SET appendonly yes on (AOF_WAIT_REWRITE).
    s.kv(
        "aof_enabled",
        (a.is_on() || srv.config.get_bool("appendonly")) as u8,
    );
    s.kv(
        "aof_rewrite_in_progress",
        st.rewrite_in_progress.load(Ordering::Relaxed) as u8,
    );
    s.kv(
        "aof_rewrite_scheduled",
        st.rewrite_scheduled.load(Ordering::Relaxed) as u8,
    );
    let last = st.last_rewrite_ms.load(Ordering::Relaxed);
    s.kv(
        "aof_last_rewrite_time_sec",
        if last < 0 { -1 } else { last / 1000 },
    );
    let current = st
        .rewrite_started
        .lock()
        .map_or(-1, |t| t.elapsed().as_secs() as i64);
    s.kv("aof_current_rewrite_time_sec", current);
    s.kv(
        "aof_last_bgrewrite_status",
        if st.last_rewrite_failed.load(Ordering::Relaxed) {
            "err"
        } else {
            "ok"
        },
    );
    s.kv("aof_rewrites", st.rewrites.load(Ordering::Relaxed));
    s.kv(
        "aof_rewrites_consecutive_failures",
        st.consecutive_failures.load(Ordering::Relaxed),
    );
    s.kv(
        "aof_last_write_status",
        if st.last_write_failed.load(Ordering::Relaxed) {
            "err"
        } else {
            "ok"
        },
    );
    s.kv("aof_last_cow_size", st.last_cow.load(Ordering::Relaxed));
    s.kv("module_fork_in_progress", 0);
    s.kv("module_fork_last_cow_size", 0);
    if a.is_on() {
        s.kv("aof_current_size", st.current_size.load(Ordering::Relaxed));
        s.kv("aof_base_size", st.base_size.load(Ordering::Relaxed));
        s.kv("aof_pending_rewrite", 0);
        s.kv("aof_buffer_length", a.pending.lock().buf.len());
        s.kv("aof_pending_bio_fsync", 0);
        s.kv(
            "aof_delayed_fsync",
            st.delayed_fsync.load(Ordering::Relaxed),
        );
    }
}
