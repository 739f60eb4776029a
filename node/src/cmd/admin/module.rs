//! `MODULE LIST | LOAD | LOADEX | UNLOAD | HELP`: the node has no modules.
//! LIST answers an empty list (clients call it on connect to look for
//! RedisJSON or RediSearch); the others are refused with Redis's errors:
//! first `enable-module-command`'s, then the one redis-server gives for a
//! module it cannot load or does not have.

use super::super::{err, Args, CmdResult, Ctx};

/// `MODULE <subcommand> [arg ...]`
pub fn module(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let sub = super::subcommand(args, "module", super::MODULE_SUBS)?;
    if matches!(sub, "load" | "loadex" | "unload")
        && !super::config::protected_action_allowed(ctx, "enable-module-command")
    {
        return err(
            "ERR MODULE command not allowed. If the enable-module-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.",
        );
    }
    match sub {
        "list" => ctx.out.array(0),
        "load" | "loadex" => return err("ERR Error loading the extension. Please check the server logs."),
        "unload" => return err("ERR Error unloading module: no such module with that name"),
        _ => super::help(
            ctx,
            "module",
            &[
                "LIST",
                "    Return a list of loaded modules.",
                "LOAD <path> [<arg> ...]",
                "    Load a module library from <path>, passing to it any optional arguments.",
                "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
                "    Load a module library from <path>, while passing it module configurations and optional arguments.",
                "UNLOAD <name>",
                "    Unload a module.",
            ],
        ),
    }
    Ok(())
}
