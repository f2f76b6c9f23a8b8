//! One test binary for the crate's integration tests: each module below
//! was its own binary; linking them once keeps the build small and fast.

mod support;

mod access;
mod batch;
mod cache;
mod compat_modes;
mod compat_rules;
mod compatibility;
mod lifecycle;
mod register;
mod validate;
