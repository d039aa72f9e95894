//! The integration tests: one binary (every extra test binary is another link).
//!
//! Under WASI (`cargo xtask wasi`) the same binary runs in wasmtime with one preopened
//! directory; symlinks there need std's unstable WASI extension (the build is bootstrapped).
#![cfg_attr(target_os = "wasi", feature(wasi_ext))]

mod conformance;
mod harness;

mod attack;
mod disk;
mod logging;
mod memory;
mod reliability;
mod tempfile_surface;
