//! JSON bodies of the management API, with rejections that say what was wrong.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, OptionalFromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Like `axum::Json`, but a bad body answers in Tessera's error shape, naming the field serde
/// complained about.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match <axum::Json<T> as FromRequest<S>>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::BadRequest(
                "the body must be JSON: set `Content-Type: application/json`".into(),
            )),
            Err(JsonRejection::JsonDataError(e)) => Err(does_not_fit(&e.body_text())),
            Err(JsonRejection::JsonSyntaxError(e)) => Err(ApiError::BadRequest(format!(
                "the body is not valid JSON: {}",
                e.body_text()
                    .trim_start_matches("Failed to parse the request body as JSON: ")
            ))),
            Err(JsonRejection::BytesRejection(_)) => Err(ApiError::TooLarge(
                "the request body is larger than 1 MiB, the most a management request may be"
                    .into(),
            )),
            Err(other) => Err(ApiError::BadRequest(other.body_text())),
        }
    }
}

/// An optional body: a request without `Content-Type` has none.
impl<S: Send + Sync, T: DeserializeOwned> OptionalFromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, ApiError> {
        if req.headers().get(header::CONTENT_TYPE).is_none() {
            return Ok(None);
        }
        <ApiJson<T> as FromRequest<S>>::from_request(req, state)
            .await
            .map(Some)
    }
}

/// A body that is JSON but not of the expected shape, said in the API's words: the field's path
/// and the JSON form it takes, never a Rust type (SPEC §11).
fn does_not_fit(text: &str) -> ApiError {
    let text =
        text.trim_start_matches("Failed to deserialize the JSON body into the target type: ");
    // serde_json ends its messages with where in the body it stopped.
    let text = match text.rfind(" at line ") {
        Some(at) => &text[..at],
        None => text,
    };
    let (path, message) = match text.split_once(": ") {
        Some((path, rest)) if !path.contains(' ') => (path, rest),
        _ => (".", text),
    };
    let message = in_json_terms(message);
    // At the top level, a missing or unknown field is the field to name.
    let named = || {
        let start = message.find('`')? + 1;
        let len = message[start..].find('`')?;
        Some(message[start..start + len].to_owned())
    };
    let field = match path {
        "." if message.starts_with("missing field") || message.starts_with("unknown field") => {
            named()
        }
        "." => None,
        path => Some(path.to_owned()),
    };
    match field {
        Some(field) => ApiError::BadField { field, message },
        None => ApiError::BadRequest(format!("the JSON body {message}")),
    }
}

/// serde's words for Rust types, in JSON's.
fn in_json_terms(message: &str) -> String {
    let mut out = message.to_owned();
    // "expected struct CreateIntegrationRequest" names a type of ours: an object is meant.
    while let Some(at) = out.find("expected struct ") {
        let name_end = out[at + 16..]
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(out.len(), |n| at + 16 + n);
        out.replace_range(at..name_end, "expected a JSON object");
    }
    for (rust, json) in [
        ("expected u8", "expected a whole number from 0 to 255"),
        ("expected u16", "expected a whole number from 0 to 65535"),
        (
            "expected u32",
            "expected a whole number from 0 to 4294967295",
        ),
        ("expected u64", "expected a whole number of 0 or more"),
        ("expected usize", "expected a whole number of 0 or more"),
        ("expected i32", "expected a whole number"),
        ("expected i64", "expected a whole number"),
        ("expected f64", "expected a number"),
        ("expected a sequence", "expected a JSON array"),
        ("expected a map", "expected a JSON object"),
        ("expected a borrowed string", "expected a string"),
        ("invalid type: sequence", "invalid type: an array"),
        ("invalid type: map", "invalid type: an object"),
        ("invalid type: unit value", "invalid type: null"),
    ] {
        out = out.replace(rust, json);
    }
    if out.starts_with("invalid type") || out.starts_with("invalid value") {
        out = format!("is of the wrong form: {out}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn described(text: &str) -> (Option<String>, String) {
        match does_not_fit(text) {
            ApiError::BadField { field, message } => (Some(field), message),
            ApiError::BadRequest(m) => (None, m),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn serde_errors_name_the_field_and_the_json_form_never_a_rust_type() {
        let prefix = "Failed to deserialize the JSON body into the target type: ";
        let (field, message) = described(&format!(
            "{prefix}token_ttl_seconds: invalid type: string \"x\", expected u32 at line 1 column 40"
        ));
        assert_eq!(field.as_deref(), Some("token_ttl_seconds"));
        assert!(
            message.contains("whole number from 0 to 4294967295"),
            "{message}"
        );
        let (field, message) = described(&format!(
            "{prefix}invalid type: sequence, expected struct CreateIntegrationRequest at line 1 column 0"
        ));
        assert_eq!(field, None);
        assert!(!message.contains("CreateIntegrationRequest"), "{message}");
        assert!(message.contains("JSON object"), "{message}");
        let (field, _) = described(&format!(
            "{prefix}missing field `display_name` at line 1 column 2"
        ));
        assert_eq!(field.as_deref(), Some("display_name"));
        let (field, message) = described(&format!(
            "{prefix}filters[0].asset_types: invalid type: map, expected a sequence at line 1 column 9"
        ));
        assert_eq!(field.as_deref(), Some("filters[0].asset_types"));
        assert!(
            message.contains("JSON array") && !message.contains("sequence"),
            "{message}"
        );
    }
}
