//! Reading the answer: the first bytes of the body, `Retry-After`, and a
//! reqwest error turned into the [`SendError`] the attempt records.

use std::time::Duration;

use super::{SendError, Timeouts};

/// What went wrong, from reqwest's error.
pub fn describe(error: &reqwest::Error, timeouts: Timeouts) -> SendError {
    let detail = error_chain(error);
    if error.is_timeout() {
        return if error.is_connect() {
            SendError::ConnectTimedOut(timeouts.connect)
        } else {
            SendError::TimedOut(timeouts.total)
        };
    }
    if error.is_connect() {
        if has_io_kind(error, std::io::ErrorKind::ConnectionRefused) {
            return SendError::ConnectionRefused(detail);
        }
        return SendError::Connect(detail);
    }
    SendError::Other(detail)
}

/// Reads at most `limit` bytes of the body. A failure part way keeps what
/// arrived: the status already says how the receiver answered.
pub async fn read_capped(mut response: reqwest::Response, limit: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = limit - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    body
}

/// The first `limit` bytes as text: cut before a partial character, lossy
/// if the body is not UTF-8, and without NUL, which Postgres text refuses.
pub fn snippet(body: &[u8], limit: usize) -> String {
    let head = &body[..body.len().min(limit)];
    let text = match std::str::from_utf8(head) {
        Ok(text) => text.to_string(),
        Err(error) if error.error_len().is_none() => {
            String::from_utf8_lossy(&head[..error.valid_up_to()]).into_owned()
        }
        Err(_) => String::from_utf8_lossy(head).into_owned(),
    };
    text.replace('\0', "\u{fffd}")
}

/// `Retry-After` as seconds or as an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// The causes below reqwest's own "error sending request" line, which
/// would only repeat the URL.
fn error_chain(error: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        source = cause.source();
    }
    if parts.is_empty() {
        return error.to_string();
    }
    parts.join(": ")
}

fn has_io_kind(error: &reqwest::Error, kind: std::io::ErrorKind) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == kind)
        {
            return true;
        }
        source = cause.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_cut_at_character_boundaries() {
        assert_eq!(snippet(b"hello", 1024), "hello");
        assert_eq!(snippet("héllo".as_bytes(), 2), "h");
        assert_eq!(snippet("héllo".as_bytes(), 3), "hé");
        assert_eq!(snippet(&[b'a'; 2000], 1024).len(), 1024);
        assert_eq!(snippet(b"a\0b", 1024), "a\u{fffd}b");
        assert_eq!(snippet(&[0xff, b'a'], 1024), "\u{fffd}a");
    }

    #[test]
    fn parses_retry_after() {
        assert_eq!(parse_retry_after(" 30 "), Some(Duration::from_secs(30)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
        let in_a_minute = std::time::SystemTime::now() + Duration::from_secs(60);
        let asked = parse_retry_after(&httpdate::fmt_http_date(in_a_minute)).expect("a date");
        assert!(asked > Duration::from_secs(55) && asked <= Duration::from_secs(60));
    }
}
