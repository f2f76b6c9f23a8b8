//! One test binary for the crate's integration tests: each module below
//! was its own binary; linking them once keeps the build small and fast.

mod common;

mod adaptive;
mod api;
mod control;
mod dead_letters;
mod delivery;
mod destinations;
mod limits;
mod ordering;
mod pause;
mod policies;
mod recovery;
mod shutdown;
mod waiting;
