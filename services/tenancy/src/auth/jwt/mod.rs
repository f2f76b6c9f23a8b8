//! Machine tokens: JWTs a workspace signs itself (as the brief's
//! `createMachineToken` does) with a key it registered — an Ed25519 or
//! RS256 public key, or an HS256 shared secret. Verified by the
//! `jsonwebtoken` crate.
//!
//! - [`algorithm`]: the algorithms a key may have, and the check that a
//!   key's material suits its algorithm.
//! - [`store`]: the `verification_keys` table — registering, listing and
//!   removing a workspace's keys (each change audited).
//! - [`sealing`]: HS256 secrets at rest, sealed under the master keyring
//!   like connection credentials; the pass sealing secrets earlier versions
//!   stored in plain text, and their re-encryption under a new master key.
//! - [`verify`]: checking a token against its workspace's keys. A token
//!   names its workspace in `ws`; only that workspace's keys are tried (the
//!   header's `kid` picks one, and the key's algorithm must be the header's
//!   `alg`, so an RSA public key can never be used as an HMAC secret).
//!   Required claims: `sub`, `ws`, `scope` (space separated), `exp`, `iat`,
//!   and `aud` = `switchyard`; `nbf` is honoured. Refused: expired, not yet
//!   valid, issued in the future, wrong audience, signed by another
//!   workspace's key, and `alg: none` (not an algorithm the crate parses).
//!   A service without a master keyring refuses HS256 tokens: it cannot
//!   open their secrets.

pub mod algorithm;
pub mod sealing;
pub mod store;
pub mod verify;

pub use algorithm::KeyAlgorithm;
pub use store::{VerificationKey, active_keys, add_key, remove_key};
pub use verify::{AUDIENCE, LEEWAY_SECS, claimed_workspace, looks_like_jwt, verify};
