//! `LOLWUT [VERSION version]`: Redis's computer-art command. Redis 7.0 has no
//! art of its own and answers its version line; the node does the same for
//! every version (Redis 5's and 6's drawings are not reproduced).

use super::super::{err, Args, CmdResult, Ctx};

/// `LOLWUT [VERSION version [arg ...]]`
pub fn lolwut(ctx: &mut Ctx, args: &Args) -> CmdResult {
    if args.len() >= 3
        && args.get(1).eq_ignore_ascii_case(b"version")
        && crate::util::parse_i64_strict(args.get(2)).is_none()
    {
        return err("ERR value is not an integer or out of range");
    }
    let line = format!("Redis ver. {}\n", crate::REDIS_COMPAT_VERSION);
    ctx.out.verbatim(&line);
    Ok(())
}
