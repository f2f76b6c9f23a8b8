//! List pagination shared by every `List*` RPC.
//!
//! 1. [`page_size`]: `page_size` 0 means [`DEFAULT_PAGE_SIZE`]; more than
//!    [`MAX_PAGE_SIZE`] is refused (`INVALID_ARGUMENT`), never clamped.
//! 2. [`after`]: the page token is the text of the last key of the previous
//!    page (an id, or an event type's name), parsed with the listed
//!    resource's own parser, so a token from another list is refused. It is
//!    opaque to clients; the empty token asks for the first page.
//! 3. [`fetch_limit`]: the query fetches one row more than the page, and
//!    [`finish`] cuts it off: it only tells whether another page follows, so
//!    the last page never carries a token leading to an empty one.

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

/// Parses a page token with the key parser of the listed resource.
pub fn after<T>(token: &str, parse: impl Fn(&str) -> Result<T, String>) -> ApiResult<Option<T>> {
    if token.is_empty() {
        return Ok(None);
    }
    parse(token)
        .map(Some)
        .map_err(|_| ApiError::invalid("page_token", "is not a token returned by this list"))
}

/// The `LIMIT` of a page's query: one look-ahead row more than the page.
pub fn fetch_limit(page_size: i64) -> i64 {
    page_size + 1
}

/// Cuts the look-ahead row off `rows` (fetched with [`fetch_limit`]) and
/// returns the token of the next page: the key of the page's last row when
/// another page follows, empty otherwise.
pub fn finish<R, K: ToString>(rows: &mut Vec<R>, page_size: i64, key: impl Fn(&R) -> K) -> String {
    let page_len = usize::try_from(page_size).unwrap_or(usize::MAX);
    if rows.len() <= page_len {
        return String::new();
    }
    rows.truncate(page_len);
    rows.last()
        .map(|row| key(row).to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{DeliveryId, EventId, RuleId};

    #[test]
    fn sizes_default_and_bound() {
        assert_eq!(page_size(0).ok(), Some(100));
        assert_eq!(page_size(7).ok(), Some(7));
        assert_eq!(page_size(500).ok(), Some(500));
        assert!(page_size(501).is_err());
    }

    #[test]
    fn tokens_round_trip_and_reject_garbage() {
        let ids = [RuleId::generate(), RuleId::generate(), RuleId::generate()];
        let mut rows = ids.to_vec();
        let token = finish(&mut rows, 2, |id| *id);
        assert_eq!(rows, ids[..2]);
        assert_eq!(after(&token, RuleId::parse).ok(), Some(Some(ids[1])));
        assert!(after("nope", RuleId::parse).is_err());
        assert_eq!(after("", RuleId::parse).ok(), Some(None));
    }

    #[test]
    fn the_last_page_has_no_token() {
        let mut full = vec![1, 2];
        assert_eq!(finish(&mut full, 2, |n| *n), "");
        assert_eq!(full, [1, 2]);
        let mut short = vec![1];
        assert_eq!(finish(&mut short, 2, |n| *n), "");
        let mut empty: Vec<u8> = Vec::new();
        assert_eq!(finish(&mut empty, 2, |n| *n), "");
        assert_eq!(fetch_limit(2), 3);
    }

    #[test]
    fn a_token_of_another_list_is_refused() {
        let delivery = DeliveryId::generate();
        let token = delivery.to_string();
        assert_eq!(after(&token, DeliveryId::parse).ok(), Some(Some(delivery)));
        let event_token = EventId::generate().to_string();
        for bad in ["abc", "!!!", "dlv_", event_token.as_str()] {
            let error = after(bad, DeliveryId::parse).err().map(|e| e.code());
            assert_eq!(error, Some(tonic::Code::InvalidArgument), "{bad}");
        }
    }
}
