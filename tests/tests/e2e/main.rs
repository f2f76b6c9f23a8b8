//! One test binary for the crate's integration tests: each module below
//! was its own binary; linking them once keeps the build small and fast.

mod pki;

mod audit;
mod bad_apple;
mod bad_input;
mod bench_smoke;
mod connection_controls;
mod credentials;
mod delivery_semantics;
mod deprecated_emit;
mod end_to_end;
mod four_destinations;
mod health;
mod machine_token_secrets;
mod machine_tokens;
mod quotas;
mod rejected_credentials;
mod revocation;
mod routing_throughput;
mod rules;
mod rules_cli;
mod schema_cli;
mod tenancy;
mod tls;
mod two_stacks;
