//! A writer that records every acknowledged write, for the failover, drain,
//! upgrade and resharding scenarios: "acknowledged writes lost: 0" and "seconds
//! of unavailability" are measured from its log.
//!
//! It writes `SET <prefix>:<i> v<i>` for i = 0, 1, ... and counts a write as
//! acknowledged only when the node answered `OK` (and, with `wait_replicas`, when
//! `WAIT` confirmed enough replicas). A failed write is retried with the same key
//! and value on a new connection, so a write that was applied but not
//! acknowledged is harmless. The number of writes and the run time are bounded.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use tokio::sync::watch;

use crate::node::NodeConn;
use crate::resp::Reply;

/// How the writer runs.
#[derive(Clone, Debug)]
pub struct Writer {
    pub prefix: String,
    /// Stop after this many acknowledged writes.
    pub max_writes: u64,
    /// Stop after this long, acknowledged or not.
    pub max_duration: Duration,
    /// `WAIT numreplicas timeout-ms` after each write; the write counts only when
    /// at least `numreplicas` acknowledged it.
    pub wait_replicas: Option<(u32, u64)>,
    /// Pause before reconnecting after a failure: a rate limit while a node is
    /// away, not a synchronisation.
    pub reconnect_backoff: Duration,
    /// Bound on connecting and on each write (with its WAIT): a client
    /// gives up on a node that stopped answering (frozen, partitioned) and
    /// reconnects, as real clients do with their socket timeouts.
    pub op_timeout: Duration,
}

impl Writer {
    pub fn new(prefix: &str, max_writes: u64, max_duration: Duration) -> Writer {
        Writer {
            prefix: prefix.to_string(),
            max_writes,
            max_duration,
            wait_replicas: None,
            reconnect_backoff: Duration::from_millis(100),
            op_timeout: Duration::from_secs(3),
        }
    }

    pub fn key(&self, i: u64) -> String {
        format!("{}:{i}", self.prefix)
    }

    pub fn value(i: u64) -> String {
        format!("v{i}")
    }

    /// Writes until `max_writes` are acknowledged, `max_duration` passes, or
    /// `stop` turns true. `connect` opens a connection to the current primary.
    pub async fn run<F, Fut>(&self, mut connect: F, mut stop: watch::Receiver<bool>) -> WriteLog
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<NodeConn>>,
    {
        let started = Instant::now();
        let mut log = WriteLog::default();
        let mut conn: Option<NodeConn> = None;
        let mut i = 0;
        while i < self.max_writes && started.elapsed() < self.max_duration && !*stop.borrow() {
            let bounded = |what: &'static str| {
                move |_| anyhow::anyhow!("{what}: no answer within the client's timeout")
            };
            let result = match conn.as_mut() {
                Some(c) => tokio::time::timeout(self.op_timeout, self.write_one(c, i))
                    .await
                    .unwrap_or_else(|e| Err(bounded("writing")(e))),
                None => match tokio::time::timeout(self.op_timeout, connect()).await {
                    Ok(Ok(c)) => {
                        conn = Some(c);
                        continue;
                    }
                    Ok(Err(e)) => Err(e.context("connecting")),
                    Err(e) => Err(bounded("connecting")(e)),
                },
            };
            match result {
                Ok(()) => {
                    log.acked.push(Ack {
                        key: self.key(i),
                        value: Self::value(i),
                        at: started.elapsed(),
                    });
                    i += 1;
                }
                Err(e) => {
                    log.failures.push((started.elapsed(), format!("{e:#}")));
                    conn = None;
                    // Either the backoff passes or we are told to stop.
                    let _ = tokio::time::timeout(self.reconnect_backoff, stop.changed()).await;
                }
            }
        }
        log.duration = started.elapsed();
        log
    }

    async fn write_one(&self, conn: &mut NodeConn, i: u64) -> Result<()> {
        let key = self.key(i);
        match conn
            .call(&["SET", key.as_str(), Self::value(i).as_str()])
            .await?
        {
            Reply::Simple(ok) if ok == "OK" => {}
            other => bail!("SET {key}: {other:?}"),
        }
        if let Some((replicas, timeout_ms)) = self.wait_replicas {
            let n = replicas.to_string();
            let t = timeout_ms.to_string();
            match conn.call(&["WAIT", n.as_str(), t.as_str()]).await? {
                Reply::Integer(acked) if acked >= i64::from(replicas) => {}
                other => bail!("WAIT {replicas} {timeout_ms} after SET {key}: {other:?}"),
            }
        }
        Ok(())
    }
}

/// One acknowledged write.
#[derive(Clone, Debug)]
pub struct Ack {
    pub key: String,
    pub value: String,
    /// Since the writer started.
    pub at: Duration,
}

/// What a writer saw.
#[derive(Clone, Debug, Default)]
pub struct WriteLog {
    pub acked: Vec<Ack>,
    /// Failed attempts: when, and why.
    pub failures: Vec<(Duration, String)>,
    pub duration: Duration,
}

/// Keys read back per MGET.
const VERIFY_BATCH: usize = 200;

impl WriteLog {
    /// Longest time without an acknowledged write, from the start to the end of
    /// the run: the unavailability a client saw.
    pub fn longest_gap(&self) -> Duration {
        let mut last = Duration::ZERO;
        let mut gap = Duration::ZERO;
        for at in self.acked.iter().map(|a| a.at).chain([self.duration]) {
            gap = gap.max(at.saturating_sub(last));
            last = at;
        }
        gap
    }

    /// Reads back every acknowledged write and returns the keys whose value is
    /// missing or different: acknowledged writes lost.
    pub async fn lost(&self, conn: &mut NodeConn) -> Result<Vec<String>> {
        let mut lost = Vec::new();
        for batch in self.acked.chunks(VERIFY_BATCH) {
            let mut args = vec!["MGET"];
            args.extend(batch.iter().map(|a| a.key.as_str()));
            let Reply::Array(Some(values)) = conn.ok(&args).await? else {
                bail!("MGET: not an array");
            };
            if values.len() != batch.len() {
                bail!("MGET: {} values for {} keys", values.len(), batch.len());
            }
            for (ack, value) in batch.iter().zip(values) {
                if value.text().as_deref() != Some(ack.value.as_str()) {
                    lost.push(ack.key.clone());
                }
            }
        }
        Ok(lost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ack(ms: u64) -> Ack {
        Ack {
            key: String::new(),
            value: String::new(),
            at: Duration::from_millis(ms),
        }
    }

    #[test]
    fn the_longest_gap_counts_the_start_and_the_end() {
        let log = WriteLog {
            acked: vec![ack(10), ack(20), ack(500), ack(510)],
            failures: vec![],
            duration: Duration::from_millis(600),
        };
        assert_eq!(log.longest_gap(), Duration::from_millis(480));
        let empty = WriteLog {
            duration: Duration::from_secs(3),
            ..WriteLog::default()
        };
        assert_eq!(empty.longest_gap(), Duration::from_secs(3));
    }
}
