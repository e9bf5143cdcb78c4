//! URLs Tessera calls out to (an integration's `jwks_uri`, later its webhook and authentication
//! URLs): absolute, HTTPS, or plain HTTP only to this machine, where nothing can listen in.

use crate::error::DomainError;

/// Longer URLs are refused: none of ours needs more, and they end up in logs.
pub const MAX_URL_LEN: usize = 2048;

/// What URLs a deployment lets integrations register for Tessera to call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UrlRules {
    /// Plain http to any host (`--allow-plain-http-callbacks`): for closed networks and tests
    /// only; by default plain http reaches loopback only.
    pub plain_http_anywhere: bool,
}

/// Checks `value` for the request field `field` and returns it normalized.
pub fn validate_web_url(
    field: &'static str,
    value: &str,
    rules: UrlRules,
) -> Result<String, DomainError> {
    if value.len() > MAX_URL_LEN {
        return Err(DomainError::invalid(
            field,
            format!("is longer than {MAX_URL_LEN} characters"),
        ));
    }
    let url = url::Url::parse(value.trim())
        .map_err(|e| DomainError::invalid(field, format!("is not an absolute URL: {e}")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(DomainError::invalid(
            field,
            "must not carry credentials (user:password@)",
        ));
    }
    if url.fragment().is_some() {
        return Err(DomainError::invalid(field, "must not have a #fragment"));
    }
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => Ok(url.into()),
        "http" if loopback || rules.plain_http_anywhere => Ok(url.into()),
        "http" => Err(DomainError::invalid(
            field,
            "must use https (plain http only to 127.0.0.1, ::1 or localhost)",
        )),
        other => Err(DomainError::invalid(
            field,
            format!("has scheme `{other}`; use https"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_elsewhere_only_when_configured() {
        let open = UrlRules {
            plain_http_anywhere: true,
        };
        assert!(validate_web_url("webhook_url", "http://10.0.0.7/hooks", open).is_ok());
        assert!(
            validate_web_url("webhook_url", "http://10.0.0.7/hooks", UrlRules::default()).is_err()
        );
        assert!(validate_web_url("webhook_url", "ftp://10.0.0.7/hooks", open).is_err());
    }

    #[test]
    fn https_anywhere_http_only_on_loopback() {
        for ok in [
            "https://keys.example.com/jwks.json",
            "http://127.0.0.1:8080/jwks",
            "http://[::1]/jwks",
            "http://localhost:9/x",
        ] {
            assert!(
                validate_web_url("jwks_uri", ok, UrlRules::default()).is_ok(),
                "{ok}"
            );
        }
        for (bad, words) in [
            ("http://keys.example.com/jwks", "https"),
            ("ftp://keys.example.com/jwks", "scheme"),
            ("/jwks.json", "absolute"),
            ("https://u:p@keys.example.com/", "credentials"),
            ("https://keys.example.com/#x", "fragment"),
        ] {
            let e = validate_web_url("jwks_uri", bad, UrlRules::default()).unwrap_err();
            assert_eq!(e.field(), Some("jwks_uri"));
            assert!(e.to_string().contains(words), "{bad}: {e}");
        }
        let long = format!("https://a.example/{}", "x".repeat(MAX_URL_LEN));
        assert!(validate_web_url("jwks_uri", &long, UrlRules::default()).is_err());
    }
}
