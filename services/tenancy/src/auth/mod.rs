//! Who may call what. Every request carries `authorization: Bearer <token>`:
//! a workspace API key (`sy_<env>_…`, [`keys`]), a workspace's machine
//! token (a JWT signed by a key the workspace registered, [`jwt`]), the
//! operator token, or — between services — the internal token.
//!
//! - [`access`] is the one table saying which credential and scope each RPC
//!   needs; a method missing from it is refused.
//! - [`layer::Authorized`] wraps each gRPC service: it looks the method up,
//!   lets the [`Authenticator`] turn the token into a [`Principal`] (cached,
//!   [`cache`], until a change to the workspace's credentials), checks the scope, and hands the principal to the
//!   handler in the request's extensions ([`principal`]). Handlers never
//!   parse credentials; they use the principal's workspace in every query,
//!   so another workspace's resource is simply not found.
//! - [`header`] parses the `authorization` header.

pub mod access;
mod authenticator;
pub mod cache;
pub mod header;
pub mod jwt;
pub mod keys;
pub mod layer;

use std::fmt;

pub use access::Access;
pub use authenticator::Authenticator;
pub use cache::KEY_CACHE_TTL;
pub use header::{bearer_metadata, bearer_token, parse_bearer};
pub use keys::{KeyHasher, create_workspace, generate_api_key};

use switchyard_core::error::ApiError;
use switchyard_core::ids::WorkspaceId;

/// What a credential may do in its workspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// `EmitEvent` (and payload validation) only.
    Emit,
    /// Reading schemas, connections, rules and delivery history.
    Read,
    /// Everything in the workspace; includes `read` and `emit`.
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Emit, Scope::Read, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Emit => "emit",
            Self::Read => "read",
            Self::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == text)
    }

    fn bit(self) -> u8 {
        match self {
            Self::Emit => 1,
            Self::Read => 2,
            Self::Admin => 4,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of scopes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Scopes(u8);

impl Scopes {
    pub fn of(scopes: &[Scope]) -> Self {
        Self(scopes.iter().fold(0, |bits, scope| bits | scope.bit()))
    }

    /// Parses scope names; the error names the first unknown one.
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut scopes = Vec::new();
        for name in names {
            scopes.push(Scope::parse(name).ok_or_else(|| format!("unknown scope `{name}`"))?);
        }
        Ok(Self::of(&scopes))
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    /// `admin` allows everything; otherwise the scope itself is needed.
    pub fn allows(self, required: Scope) -> bool {
        self.contains(Scope::Admin) || self.contains(required)
    }

    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL
            .into_iter()
            .filter(move |scope| self.contains(*scope))
    }

    pub fn names(self) -> Vec<&'static str> {
        self.iter().map(Scope::as_str).collect()
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().join(" "))
    }
}

/// The authenticated caller of a workspace RPC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub workspace: WorkspaceId,
    pub scopes: Scopes,
    /// Who, for the audit log: the key's visible prefix or `jwt:<subject>`.
    pub actor: String,
}

/// The caller holding the operator token (workspace administration).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Operator;

impl Operator {
    pub const ACTOR: &'static str = "operator";
}

/// The principal [`layer::Authorized`] attached to the request.
pub fn principal<T>(request: &tonic::Request<T>) -> Result<&Principal, ApiError> {
    request.extensions().get::<Principal>().ok_or_else(|| {
        ApiError::Unauthenticated("this RPC needs a workspace API key or token".to_string())
    })
}

/// The workspace of the request's principal.
pub fn workspace<T>(request: &tonic::Request<T>) -> Result<WorkspaceId, ApiError> {
    principal(request).map(|principal| principal.workspace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_allows_everything_and_read_does_not_emit() {
        let admin = Scopes::of(&[Scope::Admin]);
        assert!(Scope::ALL.iter().all(|scope| admin.allows(*scope)));
        let read = Scopes::of(&[Scope::Read]);
        assert!(read.allows(Scope::Read));
        assert!(!read.allows(Scope::Emit));
        assert!(!read.allows(Scope::Admin));
        let emit = Scopes::of(&[Scope::Emit]);
        assert!(emit.allows(Scope::Emit) && !emit.allows(Scope::Read));
    }

    #[test]
    fn parses_and_prints_scopes() {
        let scopes = Scopes::parse(["read", "emit"]).expect("valid");
        assert_eq!(scopes.to_string(), "emit read");
        assert_eq!(
            Scopes::parse(["read", "root"]),
            Err("unknown scope `root`".to_string())
        );
        assert!(Scopes::parse([]).expect("empty").is_empty());
    }
}
