//! The replica's handshake, in Redis 7.0's order: `PING`, `AUTH` when
//! `masterauth` is set, `REPLCONF listening-port`, `REPLCONF capa eof capa
//! psync2`, then `PSYNC <replid> <offset+1>` (or `PSYNC ? -1` with no history),
//! with a trailing `FAILOVER` while this node hands its role over.

use super::conn::{Conn, LinkError};
use crate::server::Server;

/// The primary's answer to PSYNC.
#[derive(Debug, PartialEq, Eq)]
pub enum Psync {
    /// `+FULLRESYNC <replid> <offset>`: a payload follows.
    Full { replid: String, offset: i64 },
    /// `+CONTINUE [<replid>]`: the stream resumes at our offset + 1; a new id
    /// means the primary's history forked (it was promoted).
    Continue { replid: Option<String> },
}

/// Parses the reply to PSYNC.
pub fn parse_psync_reply(line: &str) -> Result<Psync, LinkError> {
    if let Some(rest) = line.strip_prefix("+FULLRESYNC") {
        let mut w = rest.split_whitespace();
        let (Some(id), Some(off)) = (w.next(), w.next()) else {
            return Err(LinkError::Protocol(format!(
                "bad FULLRESYNC reply '{line}'"
            )));
        };
        let offset = off
            .parse::<i64>()
            .map_err(|_| LinkError::Protocol(format!("bad FULLRESYNC offset '{off}'")))?;
        if id.len() != 40 {
            return Err(LinkError::Protocol(format!("bad FULLRESYNC replid '{id}'")));
        }
        return Ok(Psync::Full {
            replid: id.to_string(),
            offset,
        });
    }
    if let Some(rest) = line.strip_prefix("+CONTINUE") {
        let id = rest.trim();
        let replid = (id.len() == 40).then(|| id.to_string());
        return Ok(Psync::Continue { replid });
    }
    if line.starts_with("-NOMASTERLINK") || line.starts_with("-LOADING") {
        return Err(LinkError::TryLater(line.to_string()));
    }
    Err(LinkError::Protocol(format!(
        "unexpected reply to PSYNC: '{line}'"
    )))
}

/// Runs the handshake up to and including the PSYNC reply. `history`: the
/// replication id and offset to resume from, if any.
pub fn handshake(
    srv: &Server,
    conn: &mut Conn,
    history: Option<(&str, i64)>,
) -> Result<Psync, LinkError> {
    // PING: an authentication error is fine here, AUTH follows.
    let pong = conn.command(&[b"PING"])?;
    if pong.starts_with('-')
        && !pong.starts_with("-NOAUTH")
        && !pong.starts_with("-NOPERM")
        && !pong.starts_with("-ERR operation not permitted")
    {
        return Err(LinkError::Protocol(format!(
            "error reply to PING from the primary: '{pong}'"
        )));
    }
    let pass = srv.config.get("masterauth");
    if !pass.is_empty() {
        let user = srv.config.get("masteruser");
        let reply = if user.is_empty() {
            conn.command(&[b"AUTH", pass.as_bytes()])?
        } else {
            conn.command(&[b"AUTH", user.as_bytes(), pass.as_bytes()])?
        };
        if reply.starts_with('-') {
            return Err(LinkError::Protocol(format!(
                "unable to AUTH to the primary: '{reply}'"
            )));
        }
    }
    // replica-announce-port/-ip: what the primary shows in INFO and hands
    // to failover tooling, when the replica is reached through another address
    // (a NAT, a Service) than the one the primary sees.
    let port = match srv.config.get_i64("replica-announce-port") {
        0 => srv.port().to_string(),
        p => p.to_string(),
    };
    let reply = conn.command(&[b"REPLCONF", b"listening-port", port.as_bytes()])?;
    if reply.starts_with('-') {
        tracing::warn!(
            reply,
            "the primary refused REPLCONF listening-port; continuing"
        );
    }
    let ip = srv.config.get("replica-announce-ip");
    if !ip.is_empty() {
        let reply = conn.command(&[b"REPLCONF", b"ip-address", ip.as_bytes()])?;
        if reply.starts_with('-') {
            tracing::warn!(reply, "the primary refused REPLCONF ip-address; continuing");
        }
    }
    let reply = conn.command(&[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"])?;
    if reply.starts_with('-') {
        tracing::warn!(reply, "the primary refused REPLCONF capa; continuing");
    }
    let (id, off) = match history {
        Some((id, offset)) => (id.to_string(), (offset + 1).to_string()),
        None => ("?".to_string(), "-1".to_string()),
    };
    tracing::info!(replid = %id, offset = %off, "trying a partial resynchronization");
    // A failing-over primary asks its target to take over (repl::failover).
    if crate::repl::failover::in_progress(srv) {
        tracing::info!("PSYNC with FAILOVER: asking the target to take over");
        conn.send_command(&[b"PSYNC", id.as_bytes(), off.as_bytes(), b"FAILOVER"])?;
    } else {
        conn.send_command(&[b"PSYNC", id.as_bytes(), off.as_bytes()])?;
    }
    let line = conn.reply_line()?;
    parse_psync_reply(&line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psync_replies() {
        let id = "a".repeat(40);
        assert_eq!(
            parse_psync_reply(&format!("+FULLRESYNC {id} 1234")).unwrap(),
            Psync::Full {
                replid: id.clone(),
                offset: 1234
            }
        );
        assert_eq!(
            parse_psync_reply("+CONTINUE").unwrap(),
            Psync::Continue { replid: None }
        );
        assert_eq!(
            parse_psync_reply(&format!("+CONTINUE {id}")).unwrap(),
            Psync::Continue {
                replid: Some(id.clone())
            }
        );
        assert!(matches!(
            parse_psync_reply("-NOMASTERLINK Can't SYNC while not connected with my master"),
            Err(LinkError::TryLater(_))
        ));
        assert!(matches!(
            parse_psync_reply("-LOADING Redis is loading the dataset in memory"),
            Err(LinkError::TryLater(_))
        ));
        assert!(matches!(
            parse_psync_reply("-ERR unknown command"),
            Err(LinkError::Protocol(_))
        ));
        assert!(parse_psync_reply("+FULLRESYNC short 1").is_err());
        assert!(parse_psync_reply(&format!("+FULLRESYNC {id} x")).is_err());
    }
}
