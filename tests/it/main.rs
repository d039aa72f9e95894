//! The integration tests: one binary (every extra test binary is another link).

mod conformance;
mod harness;

mod disk;
mod memory;
mod reliability;
