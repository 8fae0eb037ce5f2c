//! The chaos soak's checkers: the [`history`] every client records (each operation's
//! invocation and return, with what it saw), a [`linearizability`] checker, and the
//! per-service [`checks`] run over a whole history at the end of a soak. The binary
//! (`src/main.rs`) drives the server, the load and the faults that produce the history.

#![forbid(unsafe_code)]

pub mod checks;
pub mod history;
pub mod linearizability;
