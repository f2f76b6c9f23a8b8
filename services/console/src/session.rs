//! Sessions: the browser's cookie holds a random id, this process maps it
//! to the credential, the workspace and scopes the services reported for
//! it (`GetCaller`), and a CSRF token every form must echo. Sessions end on
//! sign-out, after the idle timeout, or when a service stops accepting the
//! credential. A restart signs everyone out (the map lives in memory).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use rand::RngCore;
use secrecy::SecretString;

use crate::ConsoleState;
use crate::error::ConsoleError;

pub const COOKIE: &str = "sy_session";

/// One signed-in browser.
#[derive(Clone)]
pub struct Session {
    pub id: String,
    pub credential: SecretString,
    pub csrf: String,
    pub workspace_id: String,
    pub workspace_slug: String,
    /// The key prefix or `jwt:<subject>`.
    pub actor: String,
    /// The credential has the `admin` scope: retries, replays and pauses
    /// are offered (the services decide anyway).
    pub admin: bool,
}

impl Session {
    /// Refuses a form whose token is not this session's.
    pub fn check_csrf(&self, token: &str) -> Result<(), ConsoleError> {
        if constant_time_eq(token.as_bytes(), self.csrf.as_bytes()) {
            Ok(())
        } else {
            Err(ConsoleError::forbidden(
                "the form's CSRF token does not match this session; reload the page and try again",
            ))
        }
    }
}

#[derive(Clone)]
pub struct Sessions {
    inner: Arc<Mutex<HashMap<String, (Session, Instant)>>>,
    idle_timeout: Duration,
}

impl Sessions {
    pub fn new(idle_timeout: Duration) -> Self {
        Self {
            inner: Arc::default(),
            idle_timeout,
        }
    }

    /// Starts a session; returns it with its fresh id and CSRF token.
    pub fn create(&self, mut session: Session) -> Session {
        session.id = random_token();
        session.csrf = random_token();
        let mut map = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        map.retain(|_, (_, used)| now.duration_since(*used) < self.idle_timeout);
        map.insert(session.id.clone(), (session.clone(), now));
        session
    }

    /// The live session with this id, its idle clock restarted.
    pub fn get(&self, id: &str) -> Option<Session> {
        let mut map = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let (session, used) = map.get_mut(id)?;
        if now.duration_since(*used) >= self.idle_timeout {
            map.remove(id);
            return None;
        }
        *used = now;
        Some(session.clone())
    }

    pub fn remove(&self, id: &str) {
        let mut map = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        map.remove(id);
    }
}

/// 32 random bytes, hex.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The value of cookie `name` in the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, the whole console.
pub fn set_cookie(name: &str, value: &str, secure: bool, max_age: Option<u64>) -> String {
    let mut cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if let Some(seconds) = max_age {
        cookie.push_str(&format!("; Max-Age={seconds}"));
    }
    if secure {
        cookie.push_str("; Secure");
    }
    cookie
}

/// A handler argument: the signed-in session, or a redirect to sign in.
pub struct SignedIn(pub Session);

impl FromRequestParts<Arc<ConsoleState>> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<ConsoleState>,
    ) -> Result<Self, Self::Rejection> {
        cookie(&parts.headers, COOKIE)
            .and_then(|id| state.sessions.get(id))
            .map(SignedIn)
            .ok_or_else(|| Redirect::to("/signin").into_response())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session {
            id: String::new(),
            credential: SecretString::from("sy_test_x"),
            csrf: String::new(),
            workspace_id: "ws_1".to_string(),
            workspace_slug: "acme".to_string(),
            actor: "sy_test_x".to_string(),
            admin: false,
        }
    }

    #[test]
    fn sessions_get_fresh_ids_and_expire_when_idle() {
        let sessions = Sessions::new(Duration::from_millis(50));
        let first = sessions.create(session());
        let second = sessions.create(session());
        assert_eq!(first.id.len(), 64);
        assert_ne!(first.id, second.id);
        assert_ne!(first.csrf, first.id);
        assert!(sessions.get(&first.id).is_some());
        std::thread::sleep(Duration::from_millis(80));
        assert!(sessions.get(&first.id).is_none());
    }

    #[test]
    fn csrf_tokens_must_match_exactly() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let live = sessions.create(session());
        assert!(live.check_csrf(&live.csrf).is_ok());
        assert!(live.check_csrf("").is_err());
        assert!(live.check_csrf(&live.csrf[..63]).is_err());
    }

    #[test]
    fn cookies_are_http_only_and_strict() {
        let value = set_cookie(COOKIE, "abc", true, Some(10));
        assert!(value.contains("HttpOnly"));
        assert!(value.contains("SameSite=Strict"));
        assert!(value.ends_with("; Secure"));
    }
}
