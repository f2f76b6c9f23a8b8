//! Carrying out the command line: [`admin`] commands talk to Postgres or run
//! services; [`client`] commands call the gRPC API with `SWITCHYARD_API_KEY`.

pub mod admin;
pub mod client;
