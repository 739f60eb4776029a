//! A small RESP2 client over any byte stream: a port-forwarded one here, so that
//! tests reach pods the same way on kind and on the local cluster.

use anyhow::{anyhow, bail, Context, Result};
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
    /// not an `Err`: tests often expect one.
    pub async fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Reply> {
        self.stream.get_mut().write_all(&encode(args)).await?;
        self.stream.get_mut().flush().await?;
        read_reply(&mut self.stream, 0).await
    }

    /// Like `call`, with an error reply turned into an `Err`.
    pub async fn ok<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Reply> {
        match self.call(args).await? {
            Reply::Error(e) => Err(anyhow!("{}: {e}", describe(args))),
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

fn describe<A: AsRef<[u8]>>(args: &[A]) -> String {
    args.first()
        .map(|a| String::from_utf8_lossy(a.as_ref()).into_owned())
        .unwrap_or_default()
}

async fn read_line<R: AsyncBufRead + Unpin>(r: &mut R) -> Result<String> {
    let mut line = Vec::new();
    let n = r.read_until(b'\n', &mut line).await?;
    if n == 0 {
        bail!("connection closed");
    }
    if !line.ends_with(b"\r\n") {
        bail!("reply line not terminated by CRLF");
    }
    line.truncate(line.len() - 2);
    String::from_utf8(line).context("reply line is not UTF-8")
}

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
                .with_context(|| format!("bad length {rest:?}"))?;
            if n > MAX_LEN {
                bail!("length {n} too large");
            }
            Ok(n)
        };
        Ok(match kind {
            "+" => Reply::Simple(rest.to_string()),
            "-" => Reply::Error(rest.to_string()),
            ":" => Reply::Integer(
                rest.parse()
                    .with_context(|| format!("bad integer {rest:?}"))?,
            ),
            "$" => match len()? {
                n if n < 0 => Reply::Bulk(None),
                n => {
                    let mut buf = vec![0; n as usize + 2];
                    r.read_exact(&mut buf).await?;
                    if !buf.ends_with(b"\r\n") {
                        bail!("bulk string not terminated by CRLF");
                    }
                    buf.truncate(n as usize);
                    Reply::Bulk(Some(buf))
                }
            },
            "*" => match len()? {
                n if n < 0 => Reply::Array(None),
                n => {
                    if depth >= MAX_DEPTH {
                        bail!("reply nested deeper than {MAX_DEPTH}");
                    }
                    let mut items = Vec::with_capacity(n as usize);
                    for _ in 0..n {
                        items.push(read_reply(r, depth + 1).await?);
                    }
                    Reply::Array(Some(items))
                }
            },
            other => bail!("unexpected reply type {other:?}"),
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
}
