//! What a replica announces on its connection before it asks for a sync:
//! `REPLCONF listening-port | ip-address | capa`, then `PSYNC` or `SYNC`.
//! The event loop keeps this on the connection's `Client`; a sync request
//! makes the loop hand the socket to a sender thread (`link`).

/// A connection's replication handshake so far.
#[derive(Debug, Default, Clone)]
pub struct Handshake {
    /// `REPLCONF listening-port` (0: not announced).
    pub port: u16,
    /// `REPLCONF ip-address`.
    pub ip: Option<String>,
    /// `capa eof`: can take a diskless (`$EOF:<mark>`) payload.
    pub capa_eof: bool,
    /// `capa psync2`: understands `+CONTINUE <replid>`.
    pub capa_psync2: bool,
    /// Set by PSYNC/SYNC: the event loop hands the socket over.
    pub request: Option<SyncRequest>,
}

/// The sync a replica asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncRequest {
    /// `PSYNC <replid> <offset>`; `offset` is the first byte wanted (`-1`
    /// and replid `?` for no history).
    Psync { replid: String, offset: i64 },
    /// The old `SYNC`: a payload without `+FULLRESYNC`.
    Sync,
}

/// Redis's NET_HOST_STR_LEN: longest `ip-address` accepted.
pub const MAX_IP_LEN: usize = 256;
