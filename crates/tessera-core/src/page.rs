//! Keyset pagination: an opaque `page_token` that names the last item of the previous page, so a
//! page neither skips nor repeats items while others write.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::error::DomainError;

/// The largest page a list endpoint returns.
pub const MAX_PAGE_SIZE: u32 = 1000;
/// The page size when none is asked for.
pub const DEFAULT_PAGE_SIZE: u32 = 100;

/// Where a page starts and how long it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// Items strictly after this position; 0 for the first page.
    pub after: i64,
    /// At most this many items.
    pub size: u32,
}

/// One page of items and the token for the next (`None` on the last page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Where the next page starts; `None` on the last page.
    pub next_after: Option<i64>,
}

impl PageRequest {
    /// Parses `page_size` and `page_token` as a client sent them.
    pub fn parse(page_size: Option<&str>, page_token: Option<&str>) -> Result<Self, DomainError> {
        let size = parse_page_size(page_size)?;
        let after = match page_token {
            None | Some("") => 0,
            Some(token) => decode_page_token("p1", token)?
                .parse()
                .ok()
                .filter(|n: &i64| *n > 0)
                .ok_or_else(bad_page_token)?,
        };
        Ok(PageRequest { after, size })
    }
}

/// `page_size` as a client sent it: 1 to [`MAX_PAGE_SIZE`], [`DEFAULT_PAGE_SIZE`] when absent.
pub fn parse_page_size(page_size: Option<&str>) -> Result<u32, DomainError> {
    match page_size {
        None | Some("") => Ok(DEFAULT_PAGE_SIZE),
        Some(s) => s
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
            .ok_or_else(|| {
                DomainError::invalid(
                    "page_size",
                    format!("must be a whole number from 1 to {MAX_PAGE_SIZE}"),
                )
            }),
    }
}

/// The `next_page_token` for a page: "" on the last one.
pub fn next_page_token(next_after: Option<i64>) -> String {
    next_after
        .map(|after| encode_page_token("p1", &after.to_string()))
        .unwrap_or_default()
}

/// An opaque page token: a `kind` tag (which listing made it, and its version) and the last
/// position of the page, in base64url.
pub fn encode_page_token(kind: &str, position: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{kind}:{position}"))
}

/// The position in a token [`encode_page_token`] made with `kind`; an error naming
/// `page_token` for anything else.
pub fn decode_page_token(kind: &str, token: &str) -> Result<String, DomainError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| bad_page_token())?;
    let text = String::from_utf8(bytes).map_err(|_| bad_page_token())?;
    text.strip_prefix(kind)
        .and_then(|rest| rest.strip_prefix(':'))
        .map(str::to_owned)
        .ok_or_else(bad_page_token)
}

/// The error for a `page_token` this server did not issue.
pub fn bad_page_token() -> DomainError {
    DomainError::invalid(
        "page_token",
        "is not a token this server issued: pass the `next_page_token` of the previous page unchanged",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_garbage_names_the_field() {
        let token = next_page_token(Some(42));
        assert_eq!(PageRequest::parse(None, Some(&token)).unwrap().after, 42);
        assert_eq!(next_page_token(None), "");
        let err = PageRequest::parse(None, Some("garbage!")).unwrap_err();
        assert_eq!(err.field(), Some("page_token"));
        let err = PageRequest::parse(Some("0"), None).unwrap_err();
        assert_eq!(err.field(), Some("page_size"));
        assert_eq!(PageRequest::parse(Some("5"), None).unwrap().size, 5);
    }
}
