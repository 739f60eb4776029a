//! Operator-driven topology: the epoch that fences role changes, and whether
//! the operator has confirmed this node's role since the process started.
//!
//! The operator stamps every topology command with an epoch that only grows.
//! A node refuses a command older than the epoch it holds, so a decision
//! delayed in the network (or sent by an operator that lost its leadership)
//! can never undo a newer one. The epoch is kept in `<dir>/topology-epoch`
//! when `dir` is set, written (temporary file, fsync, rename, fsync of the
//! directory) before the command acts, so a restarted node still refuses
//! what it refused before.
//!
//! With `managed-topology yes` a node starts unconfirmed: `/readyz` keeps it
//! out of the Services until a `TOPOLOGY ROLE` tells it what it is, so a
//! restarted node never serves as a primary on its own say-so. Confirmation
//! lives in memory only: every process starts unconfirmed again.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::{Mutex, MutexGuard};

/// The epoch's file name in `dir`.
pub const EPOCH_FILE: &str = "topology-epoch";
/// `/readyz`'s answer while the operator has not confirmed the role.
pub const UNCONFIRMED: &str = "awaiting role confirmation from the operator";

/// The topology state of a node (on `Server`).
pub struct Topology {
    /// The epoch held; the lock orders TOPOLOGY commands arriving on
    /// different event loops, so check, store and act happen as one step.
    held: Mutex<u64>,
    /// A copy for readers (INFO, TOPOLOGY EPOCH) that must not wait behind
    /// an fsync.
    epoch: AtomicU64,
    confirmed: AtomicBool,
}

/// Why a stamped command was refused.
#[derive(Debug)]
pub enum Refused {
    /// Older than the epoch held.
    Stale { given: u64, held: u64 },
    /// The newer epoch could not be written to `dir`: acting on it would let
    /// a restart accept older commands again.
    NotSaved(std::io::Error),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Stale { given, held } => write!(
                f,
                "STALEEPOCH topology epoch {given} is older than this node's {held}"
            ),
            Refused::NotSaved(e) => write!(f, "ERR could not save the topology epoch: {e}"),
        }
    }
}

impl Topology {
    /// `managed`: the `managed-topology` parameter (unconfirmed at start).
    pub fn new(managed: bool) -> Topology {
        Topology {
            held: Mutex::new(0),
            epoch: AtomicU64::new(0),
            confirmed: AtomicBool::new(!managed),
        }
    }

    /// The epoch held (0: none yet).
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Whether the operator confirmed the role (always true unmanaged).
    pub fn confirmed(&self) -> bool {
        self.confirmed.load(Ordering::Acquire)
    }

    pub fn confirm(&self) {
        if !self.confirmed.swap(true, Ordering::AcqRel) {
            tracing::info!(
                epoch = self.epoch(),
                "topology role confirmed by the operator"
            );
        }
    }

    /// Reads the epoch kept in `dir` at start-up. A missing file is epoch 0;
    /// an unreadable or damaged one stops the start, as a damaged snapshot
    /// does: starting from 0 would silently drop the fence.
    pub fn load(&self, dir: Option<&Path>) -> Result<(), String> {
        let Some(dir) = dir else {
            return Ok(());
        };
        let path = dir.join(EPOCH_FILE);
        let epoch = match read_epoch(&path) {
            Ok(e) => e,
            Err(why) => {
                return Err(format!(
                    "{}: {why} (remove the file to start with topology epoch 0)",
                    path.display()
                ))
            }
        };
        let mut held = self.held.lock();
        *held = (*held).max(epoch);
        self.epoch.store(*held, Ordering::Release);
        if epoch > 0 {
            tracing::info!(epoch, file = %path.display(), "topology epoch loaded");
        }
        Ok(())
    }

    /// Holds at least `epoch` from now on (at start-up: the epoch of the
    /// cluster map kept in the data directory, saved before the epoch file
    /// when a map arrives).
    pub fn at_least(&self, epoch: u64) {
        let mut held = self.held.lock();
        *held = (*held).max(epoch);
        self.epoch.store(*held, Ordering::Release);
    }

    /// Takes the order lock for one stamped command: check, then store, then
    /// act while holding it.
    pub fn begin(&self) -> Fence<'_> {
        Fence {
            topology: self,
            held: self.held.lock(),
        }
    }
}

/// One stamped command in progress (see [`Topology::begin`]).
pub struct Fence<'a> {
    topology: &'a Topology,
    held: MutexGuard<'a, u64>,
}

impl Fence<'_> {
    /// Refuses an epoch older than the one held.
    pub fn check(&self, given: u64) -> Result<(), Refused> {
        if given < *self.held {
            return Err(Refused::Stale {
                given,
                held: *self.held,
            });
        }
        Ok(())
    }

    /// Holds `given` from now on (after [`Fence::check`]); writes it to `dir`
    /// first when it is newer. Never moves the epoch backwards.
    pub fn store(&mut self, given: u64, dir: Option<&Path>) -> Result<(), Refused> {
        self.check(given)?;
        if given == *self.held {
            return Ok(());
        }
        if let Some(dir) = dir {
            write_epoch(dir, given).map_err(Refused::NotSaved)?;
        }
        tracing::info!(from = *self.held, to = given, "topology epoch raised");
        *self.held = given;
        self.topology.epoch.store(given, Ordering::Release);
        Ok(())
    }
}

/// `dir` when set: the epoch file's directory.
pub fn epoch_dir(dir: &str) -> Option<PathBuf> {
    (!dir.is_empty()).then(|| PathBuf::from(dir))
}

fn read_epoch(path: &Path) -> Result<u64, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(format!("cannot read the topology epoch: {e}")),
    };
    text.trim()
        .parse::<u64>()
        .ok()
        .filter(|&e| e <= i64::MAX as u64)
        .ok_or_else(|| format!("damaged topology epoch file (content {:?})", text.trim()))
}

fn write_epoch(dir: &Path, epoch: u64) -> std::io::Result<()> {
    let tmp = dir.join(format!("temp-{EPOCH_FILE}"));
    {
        let mut f = std::fs::File::create(&tmp)?;
        writeln!(f, "{epoch}")?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, dir.join(EPOCH_FILE))?;
    crate::persist::aof::manifest::sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("kcache-topology-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("scratch dir");
        d
    }

    #[test]
    fn older_refused_equal_kept_newer_stored_and_saved() {
        let dir = scratch("rules");
        let t = Topology::new(true);
        assert!(!t.confirmed());
        t.load(Some(&dir)).expect("no file is epoch 0");
        assert_eq!(t.epoch(), 0);
        t.begin().store(5, Some(&dir)).expect("newer");
        assert_eq!(t.epoch(), 5);
        assert_eq!(
            std::fs::read_to_string(dir.join(EPOCH_FILE)).unwrap(),
            "5\n"
        );
        t.begin().store(5, Some(&dir)).expect("equal");
        let e = t.begin().store(4, Some(&dir)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "STALEEPOCH topology epoch 4 is older than this node's 5"
        );
        assert_eq!(t.epoch(), 5);
        let again = Topology::new(false);
        assert!(again.confirmed());
        again.load(Some(&dir)).expect("saved file");
        assert_eq!(again.epoch(), 5);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_damaged_file_stops_the_start() {
        let dir = scratch("damaged");
        std::fs::write(dir.join(EPOCH_FILE), "12x\n").unwrap();
        let e = Topology::new(true).load(Some(&dir)).unwrap_err();
        assert!(e.contains("damaged topology epoch file"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_unsaved_epoch_is_not_held() {
        let t = Topology::new(false);
        let missing = Path::new("/nonexistent/kcache-topology");
        assert!(matches!(
            t.begin().store(3, Some(missing)),
            Err(Refused::NotSaved(_))
        ));
        assert_eq!(t.epoch(), 0);
    }
}
