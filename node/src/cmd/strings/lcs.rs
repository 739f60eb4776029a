//! LCS: longest common subsequence of two strings, Redis 7.0's algorithm and
//! reply shapes (the match ranges come out from the end of the strings).

use super::str_of;
use crate::cmd::{err, Args, CmdResult, Ctx, SYNTAX};

/// A matched run: (a_start, a_end), (b_start, b_end), length; inclusive.
type Match = ((usize, usize), (usize, usize), usize);

/// Options after the two keys.
struct Opts {
    len: bool,
    idx: bool,
    with_match_len: bool,
    min_match_len: u64,
}

fn parse_opts(args: &Args) -> Result<Opts, crate::cmd::CmdError> {
    let mut o = Opts {
        len: false,
        idx: false,
        with_match_len: false,
        min_match_len: 0,
    };
    let mut i = 3;
    while i < args.len() {
        if args.is(i, "idx") {
            o.idx = true;
        } else if args.is(i, "len") {
            o.len = true;
        } else if args.is(i, "withmatchlen") {
            o.with_match_len = true;
        } else if args.is(i, "minmatchlen") && i + 1 < args.len() {
            o.min_match_len = args.int(i + 1)?.max(0) as u64;
            i += 1;
        } else {
            return err(SYNTAX);
        }
        i += 1;
    }
    Ok(o)
}

/// Copies both values out under one lock of both stripes, so the quadratic work
/// below runs without holding any stripe.
fn load(ctx: &Ctx, args: &Args) -> Result<(Vec<u8>, Vec<u8>), crate::cmd::CmdError> {
    let ks = ctx.ks();
    let keys = [args.get(1), args.get(2)];
    let hashes = [ks.hash(keys[0]), ks.hash(keys[1])];
    let mut locked = ctx.db().lock_many(&hashes);
    let mut out: [Vec<u8>; 2] = Default::default();
    let mut wrong_type = false;
    for i in 0..2 {
        let sh = locked.stripe(hashes[i]);
        if let Some(slot) = ks.read(sh, hashes[i], keys[i], ctx.now_ms) {
            match str_of(&sh.view(slot)) {
                Ok(v) => out[i] = v.to_vec(),
                Err(_) => wrong_type = true,
            }
        }
    }
    if wrong_type {
        return err("ERR The specified keys must contain string values");
    }
    let [a, b] = out;
    Ok((a, b))
}

/// `LCS key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]`
pub fn lcs(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let (a, b) = load(ctx, args)?;
    let o = parse_opts(args)?;
    if o.idx && o.len {
        return err("ERR If you want both the length and indexes, please just use IDX.");
    }
    if a.len() >= u32::MAX as usize - 1 || b.len() >= u32::MAX as usize - 1 {
        return err("ERR String too long for LCS");
    }
    let (alen, blen) = (a.len(), b.len());
    let cells = (alen as u64 + 1) * (blen as u64 + 1);
    let bytes = cells.saturating_mul(4);
    if bytes > ctx.srv.config.get_i64("proto-max-bulk-len") as u64 {
        return err("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
    }
    let mut table: Vec<u32> = Vec::new();
    if table.try_reserve_exact(cells as usize).is_err() {
        return err("ERR Insufficient memory, failed allocating transient memory for LCS");
    }
    table.resize(cells as usize, 0);
    let w = blen + 1;
    for i in 1..=alen {
        for j in 1..=blen {
            table[i * w + j] = if a[i - 1] == b[j - 1] {
                table[(i - 1) * w + j - 1] + 1
            } else {
                table[(i - 1) * w + j].max(table[i * w + j - 1])
            };
        }
    }
    let total = table[alen * w + blen];
    let compute = o.idx || !o.len;
    let mut result = vec![0u8; if compute { total as usize } else { 0 }];
    let mut idx = total as usize;
    let mut ranges: Vec<Match> = Vec::new();
    let (mut i, mut j) = (alen, blen);
    let mut open: Option<(usize, usize, usize, usize)> = None;
    while compute && i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            result[idx - 1] = a[i - 1];
            match open {
                None => open = Some((i - 1, i - 1, j - 1, j - 1)),
                Some((ast, aend, bst, bend)) => {
                    if ast == i && bst == j {
                        open = Some((ast - 1, aend, bst - 1, bend));
                    } else {
                        emit = true;
                    }
                }
            }
            if let Some((ast, _, bst, _)) = open {
                if ast == 0 || bst == 0 {
                    emit = true;
                }
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if table[(i - 1) * w + j] > table[i * w + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            if open.is_some() {
                emit = true;
            }
        }
        if emit {
            if let Some((ast, aend, bst, bend)) = open.take() {
                let len = aend - ast + 1;
                if o.min_match_len == 0 || len as u64 >= o.min_match_len {
                    ranges.push(((ast, aend), (bst, bend), len));
                }
            }
        }
    }
    let out = &mut *ctx.out;
    if o.idx {
        out.map(2);
        out.bulk(b"matches");
        out.array(ranges.len());
        for ((ast, aend), (bst, bend), len) in ranges {
            out.array(2 + o.with_match_len as usize);
            out.array(2);
            out.int(ast as i64);
            out.int(aend as i64);
            out.array(2);
            out.int(bst as i64);
            out.int(bend as i64);
            if o.with_match_len {
                out.int(len as i64);
            }
        }
        out.bulk(b"len");
        out.int(total as i64);
    } else if o.len {
        out.int(total as i64);
    } else {
        out.bulk(&result);
    }
    Ok(())
}
