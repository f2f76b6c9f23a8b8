//! List pagination shared by every `List*` RPC: `page_size` 0 means the
//! default, more than the maximum is refused, and the page token is the last
//! id of the previous page (opaque to clients, validated on the way in).

use crate::error::{ApiError, ApiResult};

pub const DEFAULT_PAGE_SIZE: u32 = 100;
pub const MAX_PAGE_SIZE: u32 = 500;

/// The number of rows to return for a requested `page_size`.
pub fn page_size(requested: u32) -> ApiResult<i64> {
    match requested {
        0 => Ok(i64::from(DEFAULT_PAGE_SIZE)),
        n if n > MAX_PAGE_SIZE => Err(ApiError::invalid(
            "page_size",
            format!("must be at most {MAX_PAGE_SIZE}"),
        )),
        n => Ok(i64::from(n)),
    }
}

/// Parses a page token with the id parser of the listed resource.
pub fn after<T>(token: &str, parse: impl Fn(&str) -> Result<T, String>) -> ApiResult<Option<T>> {
    if token.is_empty() {
        return Ok(None);
    }
    parse(token)
        .map(Some)
        .map_err(|_| ApiError::invalid("page_token", "is not a token returned by this list"))
}

/// The token for the next page: the last id when the page is full.
pub fn next_token<T: ToString>(rows: usize, limit: i64, last: Option<&T>) -> String {
    match last {
        Some(last) if i64::try_from(rows).unwrap_or(i64::MAX) >= limit => last.to_string(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::RuleId;

    #[test]
    fn sizes_default_and_bound() {
        assert_eq!(page_size(0).ok(), Some(100));
        assert_eq!(page_size(7).ok(), Some(7));
        assert!(page_size(501).is_err());
    }

    #[test]
    fn tokens_round_trip_and_reject_garbage() {
        let id = RuleId::generate();
        let token = next_token(2, 2, Some(&id));
        assert_eq!(after(&token, RuleId::parse).ok(), Some(Some(id)));
        assert_eq!(next_token(1, 2, Some(&id)), "");
        assert!(after("nope", RuleId::parse).is_err());
        assert_eq!(after("", RuleId::parse).ok(), Some(None));
    }
}
