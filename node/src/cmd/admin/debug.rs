//! `DEBUG`: only `SLEEP`, which tests and tools use to stall a server on
//! purpose (the watchdog's test does). Refused unless `enable-debug-command`
//! allows it, with Redis 7's error.

use crate::cmd::{CmdResult, Ctx};

use super::Args;

const NOT_ALLOWED: &str = "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.";

/// `DEBUG SLEEP seconds | HELP`
///
/// SLEEP stops the client's event loop for `seconds` (a decimal; text that is
/// not a number reads as 0, as Redis's `strtod` does), as Redis stops its
/// only thread.
pub fn debug(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if !super::config::protected_action_allowed(ctx, "enable-debug-command") {
        return Err(NOT_ALLOWED.into());
    }
    if args.len() == 2 && args.is(1, "help") {
        super::help(
            ctx,
            "debug",
            &[
                "SLEEP <seconds>",
                "    Stop the server for <seconds>. Decimals allowed.",
            ],
        );
        return Ok(());
    }
    if args.len() == 3 && args.is(1, "sleep") {
        let secs = leading_f64(args.get(2));
        if let Ok(d) = std::time::Duration::try_from_secs_f64(secs) {
            std::thread::sleep(d);
        }
        ctx.out.ok();
        return Ok(());
    }
    Err(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
        String::from_utf8_lossy(args.get(1))
    )
    .into())
}

/// The number at the start of `s`, as C's `strtod(s, NULL)` reads it (0 when
/// there is none).
fn leading_f64(s: &[u8]) -> f64 {
    // Numbers longer than this are not durations anyone sleeps for.
    let s = &s[..s.len().min(64)];
    (1..=s.len())
        .rev()
        .find_map(|n| crate::util::parse_f64(&s[..n]))
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::leading_f64;

    #[test]
    fn sleep_argument_reads_like_strtod() {
        assert_eq!(leading_f64(b"1.5"), 1.5);
        assert_eq!(leading_f64(b"0.25s"), 0.25);
        assert_eq!(leading_f64(b"abc"), 0.0);
        assert_eq!(leading_f64(b""), 0.0);
        assert_eq!(leading_f64(b"-3"), -3.0);
    }
}
