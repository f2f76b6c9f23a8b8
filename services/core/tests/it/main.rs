//! One test binary for the crate's integration tests: each module below
//! was its own binary; linking them once keeps the build small and fast.

mod partitioned_history;
mod pool_settings;
mod states;
