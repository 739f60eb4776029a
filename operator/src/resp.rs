//! A small RESP2 client over any byte stream: TCP to a pod for the topology
//! step, a port-forwarded stream in the e2e suite. Replies are bounded in size
//! and nesting, so a confused or hostile peer fails the call, never the caller.

use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader,
};

/// A reply, as RESP2 frames it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    Simple(String),
    Error(String),
    Integer(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// The text of a simple string or a bulk string.
    pub fn text(&self) -> Option<String> {
        match self {
            Reply::Simple(s) => Some(s.clone()),
            Reply::Bulk(Some(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum RespError {
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    #[error("connection closed")]
    Closed,
    #[error("protocol: {0}")]
    Protocol(String),
    /// An error reply, from [`Connection::ok`].
    #[error("{command}: {message}")]
    Reply { command: String, message: String },
}

pub type Result<T, E = RespError> = std::result::Result<T, E>;

fn protocol(msg: impl Into<String>) -> RespError {
    RespError::Protocol(msg.into())
}

/// Deepest nesting of arrays accepted in a reply; no command used here nests.
const MAX_DEPTH: usize = 8;
/// Largest bulk string or array accepted, so a corrupted stream fails fast.
const MAX_LEN: i64 = 64 << 20;

pub struct Connection<S> {
    stream: BufReader<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Connection<S> {
    pub fn new(stream: S) -> Self {
        Connection {
            stream: BufReader::new(stream),
        }
    }

    /// Sends one command and reads its reply. An error reply is a `Reply::Error`,
    /// not an `Err`: callers often expect one.
    pub async fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Reply> {
        self.stream.get_mut().write_all(&encode(args)).await?;
        self.stream.get_mut().flush().await?;
        read_reply(&mut self.stream, 0).await
    }

    /// Like `call`, with an error reply turned into an `Err`.
    pub async fn ok<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Reply> {
        match self.call(args).await? {
            Reply::Error(message) => Err(RespError::Reply {
                command: describe(args),
                message,
            }),
            reply => Ok(reply),
        }
    }
}

/// A command as a RESP array of bulk strings.
pub fn encode<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        let a = a.as_ref();
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The command's name and subcommand, never its values (which may be secrets).
fn describe<A: AsRef<[u8]>>(args: &[A]) -> String {
    let name = |i: usize| {
        args.get(i)
            .map(|a| String::from_utf8_lossy(a.as_ref()).to_uppercase())
    };
    match (name(0), name(1)) {
        (Some(cmd), Some(sub)) if matches!(cmd.as_str(), "TOPOLOGY" | "CONFIG" | "INFO") => {
            format!("{cmd} {sub}")
        }
        (Some(cmd), _) => cmd,
        _ => String::new(),
    }
}

async fn read_line<R: AsyncBufRead + Unpin>(r: &mut R) -> Result<String> {
    let mut line = Vec::new();
    // A line is a type byte and a number or a short status: bound it.
    let n = (&mut *r)
        .take(MAX_LINE as u64)
        .read_until(b'\n', &mut line)
        .await?;
    if n == 0 {
        return Err(RespError::Closed);
    }
    if !line.ends_with(b"\r\n") {
        return Err(protocol("reply line not terminated by CRLF"));
    }
    line.truncate(line.len() - 2);
    String::from_utf8(line).map_err(|_| protocol("reply line is not UTF-8"))
}

/// Longest simple-string, error or length line accepted.
const MAX_LINE: usize = 64 * 1024;

fn read_reply<'a, R: AsyncBufRead + Unpin + Send>(
    r: &'a mut R,
    depth: usize,
) -> futures::future::BoxFuture<'a, Result<Reply>> {
    Box::pin(async move {
        let line = read_line(r).await?;
        let (kind, rest) = line.split_at(1.min(line.len()));
        let len = || -> Result<i64> {
            let n: i64 = rest
                .parse()
                .map_err(|_| protocol(format!("bad length {rest:?}")))?;
            if n > MAX_LEN {
                return Err(protocol(format!("length {n} too large")));
            }
            Ok(n)
        };
        Ok(match kind {
            "+" => Reply::Simple(rest.to_string()),
            "-" => Reply::Error(rest.to_string()),
            ":" => Reply::Integer(
                rest.parse()
                    .map_err(|_| protocol(format!("bad integer {rest:?}")))?,
            ),
            "$" => match len()? {
                n if n < 0 => Reply::Bulk(None),
                n => {
                    let mut buf = vec![0; n as usize + 2];
                    r.read_exact(&mut buf).await?;
                    if !buf.ends_with(b"\r\n") {
                        return Err(protocol("bulk string not terminated by CRLF"));
                    }
                    buf.truncate(n as usize);
                    Reply::Bulk(Some(buf))
                }
            },
            "*" => match len()? {
                n if n < 0 => Reply::Array(None),
                n => {
                    if depth >= MAX_DEPTH {
                        return Err(protocol(format!("reply nested deeper than {MAX_DEPTH}")));
                    }
                    let mut items = Vec::with_capacity((n as usize).min(1024));
                    for _ in 0..n {
                        items.push(read_reply(r, depth + 1).await?);
                    }
                    Reply::Array(Some(items))
                }
            },
            other => return Err(protocol(format!("unexpected reply type {other:?}"))),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parse(bytes: &[u8]) -> Result<Reply> {
        let mut r = BufReader::new(bytes);
        read_reply(&mut r, 0).await
    }

    #[tokio::test]
    async fn replies_parse() {
        assert_eq!(
            parse(b"+PONG\r\n").await.unwrap(),
            Reply::Simple("PONG".into())
        );
        assert_eq!(
            parse(b"-ERR x\r\n").await.unwrap(),
            Reply::Error("ERR x".into())
        );
        assert_eq!(parse(b":-3\r\n").await.unwrap(), Reply::Integer(-3));
        assert_eq!(parse(b"$-1\r\n").await.unwrap(), Reply::Bulk(None));
        assert_eq!(
            parse(b"*2\r\n$2\r\nhi\r\n*0\r\n").await.unwrap(),
            Reply::Array(Some(vec![
                Reply::Bulk(Some(b"hi".to_vec())),
                Reply::Array(Some(vec![]))
            ]))
        );
        assert!(parse(b"$5\r\nhi\r\n").await.is_err());
        assert!(parse(b"?\r\n").await.is_err());
        assert!(parse(b"*9999999999\r\n").await.is_err());
        assert!(matches!(parse(b"").await, Err(RespError::Closed)));
    }

    #[tokio::test]
    async fn commands_round_trip_over_a_stream() {
        let (client, mut server) = tokio::io::duplex(1024);
        let mut conn = Connection::new(client);
        let serve = async {
            let mut buf = vec![0; encode(&["SET", "k", "v"]).len()];
            server.read_exact(&mut buf).await.unwrap();
            assert_eq!(buf, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n");
            server.write_all(b"+OK\r\n").await.unwrap();
        };
        let (reply, ()) = tokio::join!(conn.call(&["SET", "k", "v"]), serve);
        assert_eq!(reply.unwrap().text().as_deref(), Some("OK"));
    }

    #[test]
    fn errors_name_the_command_never_its_values() {
        assert_eq!(describe(&["AUTH", "secret"]), "AUTH");
        assert_eq!(describe(&["topology", "role", "3"]), "TOPOLOGY ROLE");
    }
}
