//! The reconcile pipeline: `dereference -> validate -> build -> apply -> update_status`.

pub mod dereference;
pub mod validate;
