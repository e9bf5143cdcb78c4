//! Application private tokens (SPEC §7) through the real router, on SQLite and PostgreSQL.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::{json, Value};

use crate::harness::*;

const MAX: usize = tessera_core::model::DEFAULT_MAX_VALUE_BYTES;

/// A body with its content type, or none.
type TypedBody = Option<(&'static str, Vec<u8>)>;

/// An integration with `private_tokens` and its token.
pub(crate) async fn store_owner(h: &Harness, admin: &str, name: &str) -> (String, String) {
    let (id, secret, _) = h
        .create_integration(
            admin,
            json!({"display_name": name, "scopes": ["private_tokens", "assets:read"]}),
        )
        .await;
    let reply = h.token(&id, &secret, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    (id, reply.body["access_token"].as_str().unwrap().to_owned())
}

/// A request with a bearer token, a body of a content type, and extra headers.
pub(crate) async fn call(
    h: &Harness,
    method: Method,
    path: &str,
    token: &str,
    body: Option<(&str, Vec<u8>)>,
    extra: &[(&str, &str)],
) -> Reply {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    for (name, value) in extra {
        req = req.header(*name, *value);
    }
    let req = match body {
        Some((content_type, bytes)) => {
            req.header(header::CONTENT_TYPE, content_type).body(Body::from(bytes))
        }
        None => req.body(Body::empty()),
    };
    h.send(req.unwrap()).await
}

pub(crate) fn json_body(value: Value) -> Option<(&'static str, Vec<u8>)> {
    Some(("application/json", value.to_string().into_bytes()))
}

/// `/v1/private_tokens/{relatedId}/{key}` with both names percent-encoded.
pub(crate) fn entry_path(related_id: &str, key: &str) -> String {
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    format!("/v1/private_tokens/{}/{}", enc(related_id), enc(key))
}

fn listed(reply: &Reply) -> Vec<(String, String)> {
    reply.body["private_tokens"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", reply.text))
        .iter()
        .map(|e| {
            (e["relatedId"].as_str().unwrap().to_owned(), e["key"].as_str().unwrap().to_owned())
        })
        .collect()
}

/// A store with entries of `employee1` (`email`, `name`, `project`), `employee10` (`name`) and
/// `project.1` (`name`), on one backend.
struct Scene {
    h: Harness,
    admin: String,
    owner_id: String,
    owner: String,
}

impl Scene {
    async fn on_both_backends() -> Vec<Scene> {
        let mut scenes = Vec::new();
        for h in Harness::on_both_backends().await {
            let admin = h.admin_token(&h.a).await;
            let (owner_id, owner) = store_owner(&h, &admin, "owner").await;
            let put = |related_id: &'static str, key: &'static str, value: String| {
                json_body(json!({"relatedId": related_id, "key": key, "value": value}))
            };
            let mut entries = vec![("project.1", "name", "The project number one".to_owned())];
            for key in ["email", "name", "project"] {
                entries.push(("employee1", key, format!("{key} of employee1")));
            }
            entries.push(("employee10", "name", "Jane".to_owned()));
            for (related_id, key, value) in entries {
                let posted = call(
                    &h,
                    Method::POST,
                    "/v1/private_tokens",
                    &owner,
                    put(related_id, key, value),
                    &[],
                )
                .await;
                assert_eq!(posted.status, StatusCode::CREATED, "{}", posted.text);
            }
            scenes.push(Scene { h, admin, owner_id, owner });
        }
        scenes
    }

    /// Which backend, for failure messages.
    fn backend(&self) -> &'static str {
        self.h.storage.backend_name()
    }
}

#[tokio::test]
async fn a_put_creates_then_replaces_with_a_new_etag() {
    for h in Harness::on_both_backends().await {
        let backend = h.storage.backend_name();
        let admin = h.admin_token(&h.a).await;
        let (_, owner) = store_owner(&h, &admin, "owner").await;
        // PUT as JSON creates (201) and replaces (200); each write has a new ETag.
        let path = entry_path("project.1", "name");
        let created = call(
            &h,
            Method::PUT,
            &path,
            &owner,
            json_body(json!({"value": "The project number one"})),
            &[],
        )
        .await;
        assert_eq!(created.status, StatusCode::CREATED, "{backend}: {}", created.text);
        let etag = created.header("etag").to_owned();
        assert_eq!(etag, format!("\"{}\"", created.body["etag"].as_str().unwrap()));
        assert_eq!(created.body["size"], 22);
        assert!(created.body.get("value").is_none());
        let replaced = call(
            &h,
            Method::PUT,
            &path,
            &owner,
            json_body(json!({"value": "[\"foo\", \"bar\"]"})),
            &[],
        )
        .await;
        assert_eq!(replaced.status, StatusCode::OK, "{backend}: {}", replaced.text);
        assert_ne!(replaced.header("etag"), etag);
        assert_eq!(replaced.body["created_at"], created.body["created_at"]);
        let got = call(&h, Method::GET, &path, &owner, None, &[]).await;
        assert_eq!(got.status, StatusCode::OK, "{backend}: {}", got.text);
        assert_eq!(got.body["value"], "[\"foo\", \"bar\"]");
        assert_eq!(got.header("etag"), replaced.header("etag"));
    }
}

#[tokio::test]
async fn names_take_any_character_and_a_raw_body_is_the_value() {
    for h in Harness::on_both_backends().await {
        let backend = h.storage.backend_name();
        let admin = h.admin_token(&h.a).await;
        let (_, owner) = store_owner(&h, &admin, "owner").await;
        // Dots, slashes, Unicode, spaces, an encoded slash, `..`.
        let odd = [("a.b/c", "ключ.1"), ("🚚 truck", "$where"), ("x%2Fy", "..")];
        for (related_id, key) in odd {
            let path = entry_path(related_id, key);
            let value = format!("{related_id}={key}").into_bytes();
            let put = call(&h, Method::PUT, &path, &owner, Some(("text/plain", value)), &[]).await;
            assert_eq!(
                put.status,
                StatusCode::CREATED,
                "{backend} {related_id}/{key}: {}",
                put.text
            );
            let got = call(&h, Method::GET, &path, &owner, None, &[]).await;
            assert_eq!(got.body["value"], format!("{related_id}={key}"), "{backend}: {}", got.text);
            assert_eq!(got.body["relatedId"], related_id);
            assert_eq!(got.body["key"], key);
        }
    }
}

#[tokio::test]
async fn listings_page_and_filter_and_carry_values_only_when_asked() {
    for scene in Scene::on_both_backends().await {
        let (h, owner, backend) = (&scene.h, &scene.owner, scene.backend());
        // One relatedId, page by page, without values unless asked.
        let first = call(
            h,
            Method::GET,
            "/v1/private_tokens?relatedId=employee1&page_size=2",
            owner,
            None,
            &[],
        )
        .await;
        assert_eq!(
            listed(&first),
            [("employee1".into(), "email".into()), ("employee1".into(), "name".into())],
            "{backend}"
        );
        assert!(first.body["private_tokens"][0].get("value").is_none());
        assert_eq!(first.body["private_tokens"][0]["size"], 18);
        let token = first.body["next_page_token"].as_str().unwrap();
        assert!(!token.is_empty());
        let second = call(h, Method::GET, &format!("/v1/private_tokens?relatedId=employee1&page_size=2&page_token={token}&include_values=true"), owner, None, &[]).await;
        assert_eq!(listed(&second), [("employee1".into(), "project".into())], "{backend}");
        assert_eq!(second.body["private_tokens"][0]["value"], "project of employee1");
        assert_eq!(second.body["next_page_token"], "");
        // Over all entries: by prefix, by key.
        let prefixed =
            call(h, Method::GET, "/v1/private_tokens?relatedId_prefix=employee", owner, None, &[])
                .await;
        assert_eq!(listed(&prefixed).len(), 4, "{backend}");
        let names = call(h, Method::GET, "/v1/private_tokens?key=name", owner, None, &[]).await;
        assert_eq!(
            listed(&names),
            [
                ("employee1".into(), "name".into()),
                ("employee10".into(), "name".into()),
                ("project.1".into(), "name".into())
            ],
            "{backend}"
        );
    }
}

#[tokio::test]
async fn another_integration_of_any_tenant_sees_nothing_and_changes_nothing() {
    for scene in Scene::on_both_backends().await {
        let (h, backend) = (&scene.h, scene.backend());
        let path = entry_path("project.1", "name");
        let (_, stranger) = store_owner(h, &scene.admin, "stranger").await;
        let other = h.add_tenant().await;
        let other_admin = h.admin_token(&other).await;
        let (_, foreigner) = store_owner(h, &other_admin, "foreigner").await;
        for token in [&stranger, &foreigner] {
            let got = call(h, Method::GET, &path, token, None, &[]).await;
            assert_eq!(got.status, StatusCode::NOT_FOUND, "{backend}: {}", got.text);
            assert_eq!(got.error(), "not_found");
            let deleted = call(h, Method::DELETE, &path, token, None, &[]).await;
            assert_eq!(deleted.status, StatusCode::NOT_FOUND, "{backend}");
            let all = call(h, Method::GET, "/v1/private_tokens", token, None, &[]).await;
            assert_eq!(listed(&all), Vec::<(String, String)>::new(), "{backend}");
            let gone =
                call(h, Method::DELETE, "/v1/private_tokens/employee1", token, None, &[]).await;
            assert_eq!(gone.body["deleted"], 0, "{backend}");
        }
        let still = call(h, Method::GET, &path, &scene.owner, None, &[]).await;
        assert_eq!(still.status, StatusCode::OK, "{backend}");
    }
}

#[tokio::test]
async fn the_tenants_admin_lists_an_integrations_entries_and_no_other_tenant_does() {
    for scene in Scene::on_both_backends().await {
        let (h, backend, owner_id) = (&scene.h, scene.backend(), &scene.owner_id);
        let path = format!("/v1/integrations/{owner_id}/private_tokens");
        let by_admin =
            call(h, Method::GET, &format!("{path}?relatedId=employee1"), &scene.admin, None, &[])
                .await;
        assert_eq!(listed(&by_admin).len(), 3, "{backend}: {}", by_admin.text);
        let other = h.add_tenant().await;
        let other_admin = h.admin_token(&other).await;
        let refused = call(h, Method::GET, &path, &other_admin, None, &[]).await;
        assert_eq!(refused.status, StatusCode::NOT_FOUND, "{backend}");
        let not_admin = call(h, Method::GET, &path, &scene.owner, None, &[]).await;
        assert_eq!(not_admin.status, StatusCode::FORBIDDEN, "{backend}");
    }
}

#[tokio::test]
async fn entries_go_by_key_by_related_id_and_with_their_integration() {
    for scene in Scene::on_both_backends().await {
        let (h, owner, backend) = (&scene.h, &scene.owner, scene.backend());
        let email = entry_path("employee1", "email");
        let deleted = call(h, Method::DELETE, &email, owner, None, &[]).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{backend}");
        let again = call(h, Method::DELETE, &email, owner, None, &[]).await;
        assert_eq!(again.status, StatusCode::NOT_FOUND, "{backend}");
        let whole = call(h, Method::DELETE, "/v1/private_tokens/employee1", owner, None, &[]).await;
        assert_eq!(whole.body["deleted"], 2, "{backend}: {}", whole.text);
        // Deleting the integration deletes its store.
        let removed = h
            .api(
                Method::DELETE,
                &format!("/v1/integrations/{}", scene.owner_id),
                &scene.admin,
                None,
            )
            .await;
        assert_eq!(removed.status, StatusCode::NO_CONTENT, "{backend}");
        let (_, successor) = store_owner(h, &scene.admin, "successor").await;
        let none = call(h, Method::GET, "/v1/private_tokens", &successor, None, &[]).await;
        assert_eq!(listed(&none).len(), 0, "{backend}");
        let left = h
            .storage
            .list_private_tokens(
                scene.owner_id.parse().unwrap(),
                &Default::default(),
                None,
                10,
                None,
            )
            .await
            .unwrap();
        assert!(left.is_empty(), "{backend}: {left:?}");
    }
}

/// `PUT` of the JSON value `value` at `path` as `owner`, with `headers`.
async fn put_value(
    h: &Harness,
    path: &str,
    owner: &str,
    value: &str,
    headers: &[(&str, &str)],
) -> Reply {
    call(h, Method::PUT, path, owner, json_body(json!({"value": value})), headers).await
}

#[tokio::test]
async fn if_match_stops_lost_updates() {
    for h in Harness::on_both_backends().await {
        let admin = h.admin_token(&h.a).await;
        let (_, owner) = store_owner(&h, &admin, "owner").await;
        let path = entry_path("doc", "body");
        let missing = put_value(&h, &path, &owner, "v0", &[("if-match", "*")]).await;
        assert_eq!(missing.status, StatusCode::PRECONDITION_FAILED, "{}", missing.text);
        assert_eq!(missing.error(), "precondition_failed");
        let v1 = put_value(&h, &path, &owner, "v1", &[]).await;
        let etag1 = v1.header("etag").to_owned();
        // Two writers read v1; the first write wins, the second is refused.
        let first = put_value(&h, &path, &owner, "writer A", &[("if-match", &etag1)]).await;
        assert_eq!(first.status, StatusCode::OK, "{}", first.text);
        let second = put_value(&h, &path, &owner, "writer B", &[("if-match", &etag1)]).await;
        assert_eq!(second.status, StatusCode::PRECONDITION_FAILED);
        assert!(second.description().contains("If-Match"), "{}", second.text);
        let weak_tag = format!("W/{}", first.header("etag"));
        let weak = put_value(&h, &path, &owner, "x", &[("if-match", &weak_tag)]).await;
        assert_eq!(weak.status, StatusCode::PRECONDITION_FAILED);
        let got = call(&h, Method::GET, &path, &owner, None, &[]).await;
        assert_eq!(got.body["value"], "writer A");
        let exists = put_value(&h, &path, &owner, "any version", &[("if-match", "*")]).await;
        assert_eq!(exists.status, StatusCode::OK);
        // Deletes too.
        let stale = call(&h, Method::DELETE, &path, &owner, None, &[("if-match", &etag1)]).await;
        assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
        let current = exists.header("etag").to_owned();
        let deleted =
            call(&h, Method::DELETE, &path, &owner, None, &[("if-match", &current)]).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        let malformed = put_value(&h, &path, &owner, "x", &[("if-match", "no-quotes")]).await;
        assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
        assert_eq!(malformed.body["field"], "If-Match");
    }
}

#[tokio::test]
async fn the_private_token_api_needs_its_scope_and_keeps_to_its_size_limit() {
    for h in Harness::on_both_backends().await {
        let admin = h.admin_token(&h.a).await;
        let (_, owner) = store_owner(&h, &admin, "owner").await;
        let (reader_id, reader_secret, _) = h
            .create_integration(
                &admin,
                json!({"display_name": "reader", "scopes": ["assets:read"]}),
            )
            .await;
        let reader = h.token(&reader_id, &reader_secret, None).await.body["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let path = entry_path("r", "k");

        // No token, or one without the scope.
        let anonymous = h.send(Request::get(&path).body(Body::empty()).unwrap()).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
        let unscoped = call(&h, Method::GET, &path, &reader, None, &[]).await;
        assert_eq!(unscoped.status, StatusCode::FORBIDDEN);
        assert_eq!(unscoped.error(), "insufficient_scope");
        assert!(unscoped.header("www-authenticate").contains("private_tokens"));

        // One byte over the limit, raw or in JSON: 413 naming the limit; exactly the limit is fine.
        let exact = call(
            &h,
            Method::PUT,
            &path,
            &owner,
            Some(("application/octet-stream", vec![b'x'; MAX])),
            &[],
        )
        .await;
        assert_eq!(exact.status, StatusCode::CREATED, "{}", exact.text);
        assert_eq!(exact.body["size"], MAX);
        let over = call(
            &h,
            Method::PUT,
            &path,
            &owner,
            Some(("application/octet-stream", vec![b'x'; MAX + 1])),
            &[],
        )
        .await;
        assert_eq!(over.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", over.text);
        assert!(over.description().contains("16 MiB"), "{}", over.text);
        let over_json = call(
            &h,
            Method::PUT,
            &path,
            &owner,
            json_body(json!({"value": "y".repeat(MAX + 1)})),
            &[],
        )
        .await;
        assert_eq!(over_json.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", over_json.text);
        assert!(over_json.description().contains("16 MiB"));
        let kept = call(&h, Method::GET, &path, &owner, None, &[]).await;
        assert_eq!(kept.body["size"], MAX, "nothing stored is lost");
    }
}

#[tokio::test]
async fn a_bad_private_token_body_name_or_listing_is_a_400_that_names_it() {
    for h in Harness::on_both_backends().await {
        let admin = h.admin_token(&h.a).await;
        let (_, owner) = store_owner(&h, &admin, "owner").await;
        let path = entry_path("r", "k");
        let cases: Vec<(Method, String, TypedBody, &str)> = vec![
            (Method::PUT, path.clone(), Some(("text/plain", vec![0xff, 0xfe])), "UTF-8"),
            (Method::PUT, path.clone(), json_body(json!({"value": 1})), "JSON"),
            (Method::PUT, path.clone(), json_body(json!({"value": "v", "extra": 1})), "extra"),
            (
                Method::POST,
                "/v1/private_tokens".into(),
                json_body(json!({"relatedId": "", "key": "k", "value": "v"})),
                "relatedId",
            ),
            (
                Method::POST,
                "/v1/private_tokens".into(),
                json_body(json!({"relatedId": "r", "key": "k".repeat(513), "value": "v"})),
                "512",
            ),
            (
                Method::POST,
                "/v1/private_tokens".into(),
                Some(("text/plain", b"v".to_vec())),
                "Content-Type",
            ),
            (Method::GET, "/v1/private_tokens?page_token=garbage".into(), None, "page_token"),
            (Method::GET, "/v1/private_tokens?page_size=0".into(), None, "page_size"),
            (Method::GET, "/v1/private_tokens?include_values=yes".into(), None, "include_values"),
            (
                Method::GET,
                "/v1/private_tokens?relatedId=a&relatedId_prefix=a".into(),
                None,
                "relatedId_prefix",
            ),
        ];
        for (method, path, body, words) in cases {
            let reply = call(&h, method.clone(), &path, &owner, body, &[]).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{method} {path}: {}", reply.text);
            assert!(reply.description().contains(words), "{method} {path}: {}", reply.text);
        }
        let missing = call(&h, Method::GET, &entry_path("r", "nothing"), &owner, None, &[]).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert!(missing.description().contains("private token"), "{}", missing.text);
    }
}

#[tokio::test]
async fn pages_with_values_stop_at_one_values_worth_of_bytes() {
    let h = Harness::configured(|c| c.max_private_token_bytes = 1000).await;
    let admin = h.admin_token(&h.a).await;
    let (_, owner) = store_owner(&h, &admin, "owner").await;
    for key in ["a", "b", "c", "d"] {
        let put = call(
            &h,
            Method::PUT,
            &entry_path("big", key),
            &owner,
            Some(("text/plain", vec![b'v'; 600])),
            &[],
        )
        .await;
        assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    }
    // 600 + 600 passes 1000 after the second value: pages of two, each with its values.
    let mut token = String::new();
    let mut pages = Vec::new();
    loop {
        let page = call(
            &h,
            Method::GET,
            &format!("/v1/private_tokens?include_values=true&page_token={token}"),
            &owner,
            None,
            &[],
        )
        .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        let entries = page.body["private_tokens"].as_array().unwrap().clone();
        assert!(entries.iter().all(|e| e["value"].as_str().unwrap().len() == 600));
        pages.push(listed(&page));
        token = page.body["next_page_token"].as_str().unwrap().to_owned();
        if token.is_empty() {
            break;
        }
    }
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [2, 2]);
    // Without values, one page.
    let all = call(&h, Method::GET, "/v1/private_tokens", &owner, None, &[]).await;
    assert_eq!(listed(&all).len(), 4);
    assert_eq!(all.body["next_page_token"], "");
}

/// A raw body sent in pieces of `piece` bytes, as a client streaming it would.
fn streamed(bytes: Vec<u8>, piece: usize) -> Body {
    let pieces: Vec<Result<Vec<u8>, std::io::Error>> =
        bytes.chunks(piece).map(|c| Ok(c.to_vec())).collect();
    Body::from_stream(futures::stream::iter(pieces))
}

async fn put_streamed(
    h: &Harness,
    token: &str,
    path: &str,
    bytes: Vec<u8>,
    extra: &[(&str, &str)],
) -> Reply {
    let mut req = Request::builder()
        .method(Method::PUT)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "text/plain");
    for (name, value) in extra {
        req = req.header(*name, *value);
    }
    h.send(req.body(streamed(bytes, 7_001)).unwrap()).await
}

/// Parts of unfinished writes still stored (removed by the write's own cleanup, which runs just
/// after the response): waits up to a second for them to go.
async fn unfinished_parts(h: &Harness) -> u64 {
    let mut left = 0;
    for _ in 0..20 {
        left = h.storage.sweep_private_token_parts(i64::MAX).await.unwrap();
        if left == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    left
}

#[tokio::test]
async fn large_values_stream_in_parts_and_read_back_whole() {
    for h in Harness::on_both_backends().await {
        let admin = h.admin_token(&h.a).await;
        let (owner_id, owner) = store_owner(&h, &admin, "owner").await;
        // 3.5 MiB of 1- to 4-byte characters, sent in pieces that cut characters in two.
        let value: String = "aé€😀\"\n\\".repeat(3_500_000 / 16);
        let path = entry_path("big", "report.json");
        let put = put_streamed(&h, &owner, &path, value.clone().into_bytes(), &[]).await;
        assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
        assert_eq!(put.body["size"], value.len() as u64);
        let etag = put.headers[header::ETAG].to_str().unwrap().to_owned();

        let got = call(&h, Method::GET, &path, &owner, None, &[]).await;
        assert_eq!(got.status, StatusCode::OK);
        assert_eq!(got.headers[header::ETAG].to_str().unwrap(), etag);
        assert!(got.body["value"].as_str() == Some(value.as_str()), "value differs");
        assert_eq!(got.body["size"], value.len() as u64);
        assert_eq!(got.body["relatedId"], "big");

        let page = call(
            &h,
            Method::GET,
            "/v1/private_tokens?relatedId=big&include_values=true",
            &owner,
            None,
            &[],
        )
        .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        assert!(page.body["private_tokens"][0]["value"].as_str() == Some(value.as_str()));
        let admin_view = call(
            &h,
            Method::GET,
            &format!("/v1/integrations/{owner_id}/private_tokens?include_values=true"),
            &admin,
            None,
            &[],
        )
        .await;
        assert!(admin_view.body["private_tokens"][0]["value"].as_str() == Some(value.as_str()));

        // JSON: the same value escaped, replacing the first under If-Match.
        let again = format!("{value}{value}");
        let put = put_value(&h, &path, &owner, &again, &[("if-match", &etag)]).await;
        assert_eq!(put.status, StatusCode::OK, "{}", put.text);
        let got = call(&h, Method::GET, &path, &owner, None, &[]).await;
        assert!(got.body["value"].as_str() == Some(again.as_str()), "JSON value differs");

        // Refused writes leave the stored value and no parts behind: a stale If-Match, text
        // that stops being UTF-8 after the first part.
        let stale =
            put_streamed(&h, &owner, &path, value.clone().into_bytes(), &[("if-match", &etag)])
                .await;
        assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED, "{}", stale.text);
        let mut broken = value.clone().into_bytes();
        broken[2_500_000] = 0xFF;
        let bad = put_streamed(&h, &owner, &path, broken, &[]).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text);
        assert!(bad.text.contains("UTF-8"), "{}", bad.text);
        let got = call(&h, Method::GET, &path, &owner, None, &[]).await;
        assert!(got.body["value"].as_str() == Some(again.as_str()));
        assert_eq!(unfinished_parts(&h).await, 0);

        // Another integration sees nothing; a delete removes the value.
        let (_, other) = store_owner(&h, &admin, "other").await;
        let theirs = call(&h, Method::GET, &path, &other, None, &[]).await;
        assert_eq!(theirs.status, StatusCode::NOT_FOUND);
        let deleted = call(&h, Method::DELETE, &path, &owner, None, &[]).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        let gone = call(&h, Method::GET, &path, &owner, None, &[]).await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn a_streamed_value_past_the_limit_is_refused_without_a_trace() {
    let limit = 3 * 1024 * 1024 / 2;
    for h in Harness::on_both_backends_configured(|c| c.max_private_token_bytes = limit).await {
        let admin = h.admin_token(&h.a).await;
        let (_, owner) = store_owner(&h, &admin, "owner").await;
        let path = entry_path("big", "k");
        // No Content-Length: the limit is found mid-body, after a part was written.
        let over = put_streamed(&h, &owner, &path, vec![b'x'; limit + 1], &[]).await;
        assert_eq!(over.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", over.text);
        assert!(over.text.contains("1572864 bytes"), "{}", over.text);
        assert_eq!(unfinished_parts(&h).await, 0);
        let gone = call(&h, Method::GET, &path, &owner, None, &[]).await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND);
        let exact = put_streamed(&h, &owner, &path, vec![b'x'; limit], &[]).await;
        assert_eq!(exact.status, StatusCode::CREATED, "{}", exact.text);
    }
}

/// Every stored piece of a value, as the database holds it.
async fn stored_pieces(h: &Harness, owner_id: &str, related_id: &str, key: &str) -> Vec<String> {
    let client: tessera_core::id::ClientId = owner_id.parse().unwrap();
    let name = tessera_core::model::EntryName::new(related_id, key).unwrap();
    let entry = h.storage.get_private_token(client, &name).await.unwrap();
    let mut pieces = vec![entry.value.clone()];
    for n in 0.. {
        match h.storage.private_token_part(client, &entry.info.etag, n).await.unwrap() {
            Some(part) => pieces.push(part),
            None => break,
        }
    }
    pieces
}

#[tokio::test]
async fn values_are_sealed_at_rest_and_one_that_no_longer_opens_says_nothing() {
    use tessera_core::model::{EntryName, PrivateToken, PrivateTokenInfo, WriteCondition};
    for h in Harness::on_both_backends().await {
        let admin = h.admin_token(&h.a).await;
        let (owner_id, owner) = store_owner(&h, &admin, "owner").await;
        let small = "the small secret";
        let large = "the large secret ".repeat(150_000); // 2.5 MiB: three parts
        for (key, value) in [("small", small), ("large", large.as_str())] {
            let put = call(
                &h,
                Method::PUT,
                &entry_path("r", key),
                &owner,
                Some(("text/plain", value.as_bytes().to_vec())),
                &[],
            )
            .await;
            assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
            let pieces = stored_pieces(&h, &owner_id, "r", key).await;
            assert!(!pieces.iter().any(|p| p.contains("secret")), "{key} is stored plain");
            assert!(pieces.iter().map(String::len).sum::<usize>() > value.len());
            let got = call(&h, Method::GET, &entry_path("r", key), &owner, None, &[]).await;
            assert!(got.body["value"].as_str() == Some(value), "{key} reads back");
        }

        // A value that no longer opens (altered in the database, or a different master key) is
        // a server error whose answer tells nothing of what is stored.
        let client: tessera_core::id::ClientId = owner_id.parse().unwrap();
        let stored = stored_pieces(&h, &owner_id, "r", "small").await.remove(0);
        let mut altered = stored.clone().into_bytes();
        altered[20] = if altered[20] == b'A' { b'B' } else { b'A' };
        let name = EntryName::new("r", "small").unwrap();
        let info = h.storage.get_private_token(client, &name).await.unwrap().info;
        let broken = PrivateToken {
            info: PrivateTokenInfo { etag: info.etag.clone(), ..info },
            value: String::from_utf8(altered).unwrap(),
        };
        h.storage.put_private_token(h.a.tenant, broken, &WriteCondition::Always).await.unwrap();
        let refused = call(&h, Method::GET, &entry_path("r", "small"), &owner, None, &[]).await;
        assert_eq!(refused.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", refused.text);
        assert_eq!(refused.error(), "server_error");
        assert!(!refused.text.contains(&stored[..20]) && !refused.text.contains("secret"));
    }
}

#[tokio::test]
async fn plain_values_from_before_read_as_they_are_and_are_sealed_at_start() {
    use tessera_core::model::{EntryName, PrivateToken, PrivateTokenInfo, WriteCondition};
    for h in Harness::on_both_backends().await {
        let admin = h.admin_token(&h.a).await;
        let (owner_id, owner) = store_owner(&h, &admin, "owner").await;
        // Values stored plain by an older version read as they are, then the sweep at start
        // seals them in place: the same values and ETags, nothing plain left.
        let client: tessera_core::id::ClientId = owner_id.parse().unwrap();
        let plain_large = "old plain ".repeat(250_000);
        let plain = |key: &str, etag: &str, value: &str, size: usize| PrivateToken {
            info: PrivateTokenInfo {
                client_id: client,
                name: EntryName::new("old", key).unwrap(),
                size: size as u64,
                etag: etag.into(),
                created_at: 1,
                updated_at: 1,
                sealed: false,
            },
            value: value.into(),
        };
        let t = h.a.tenant;
        h.storage
            .put_private_token(t, plain("a", "olda", "old plain", 9), &WriteCondition::Always)
            .await
            .unwrap();
        let mut rest = plain_large.as_str();
        let mut n = 0;
        while !rest.is_empty() {
            let (part, tail) = rest.split_at(tessera_core::model::next_part_len(rest));
            h.storage.put_private_token_part(client, "oldb", n, part.into(), 1).await.unwrap();
            rest = tail;
            n += 1;
        }
        let big = plain("b", "oldb", "", plain_large.len());
        h.storage.put_private_token(t, big, &WriteCondition::Always).await.unwrap();
        let read_old = || async {
            let page = call(
                &h,
                Method::GET,
                "/v1/private_tokens?relatedId=old&include_values=true",
                &owner,
                None,
                &[],
            )
            .await;
            assert_eq!(page.status, StatusCode::OK, "{}", page.text);
            let one = call(&h, Method::GET, &entry_path("old", "b"), &owner, None, &[]).await;
            assert_eq!(one.status, StatusCode::OK);
            let entries = &page.body["private_tokens"];
            assert_eq!(entries[0]["value"], "old plain");
            assert_eq!(entries[0]["etag"], "olda");
            assert!(entries[1]["value"].as_str() == Some(plain_large.as_str()));
            assert!(one.body["value"].as_str() == Some(plain_large.as_str()));
            assert_eq!(one.headers[header::ETAG], "\"oldb\"");
        };
        read_old().await;
        let sealed = tessera_server::workers::sweep::seal_plain_values(&h.state).await.unwrap();
        assert_eq!(sealed, 2);
        for key in ["a", "b"] {
            let pieces = stored_pieces(&h, &owner_id, "old", key).await;
            assert!(!pieces.iter().any(|p| p.contains("old plain")), "{key} is still plain");
        }
        read_old().await;
        assert_eq!(tessera_server::workers::sweep::seal_plain_values(&h.state).await.unwrap(), 0);
    }
}

#[tokio::test]
async fn a_tenant_admin_opens_and_deletes_its_integrations_entries_and_no_one_elses() {
    for h in Harness::on_both_backends().await {
        let admin = h.admin_token(&h.a).await;
        let (id, token) = store_owner(&h, &admin, "Owned").await;
        for key in ["a", "b"] {
            let put = call(
                &h,
                Method::PUT,
                &entry_path("r/1", key),
                &token,
                json_body(json!({"value": format!("v-{key}")})),
                &[],
            )
            .await;
            assert!(put.status.is_success(), "{}", put.text);
        }
        let owned = |rest: &str| format!("/v1/integrations/{id}/private_tokens/{rest}");
        let got = h.api(Method::GET, &owned("r%2F1/a"), &admin, None).await;
        assert_eq!(got.status, StatusCode::OK, "{}", got.text);
        assert_eq!(got.body["value"], "v-a");
        assert!(!got.header("etag").is_empty());
        let missing = h.api(Method::GET, &owned("r%2F1/zzz"), &admin, None).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert_eq!(missing.body["error_description"], "private token not found");

        // Another tenant's admin, an unknown integration and a token without `admin` get
        // nothing.
        let other = h.add_tenant().await;
        let stranger = h.admin_token(&other).await;
        for (path, token, status) in [
            (owned("r%2F1/a"), stranger.as_str(), StatusCode::NOT_FOUND),
            (
                format!("/v1/integrations/{}/private_tokens/r/a", other.client_id),
                admin.as_str(),
                StatusCode::NOT_FOUND,
            ),
            (
                "/v1/integrations/nope/private_tokens/r/a".into(),
                admin.as_str(),
                StatusCode::NOT_FOUND,
            ),
            (owned("r%2F1/a"), token.as_str(), StatusCode::FORBIDDEN),
        ] {
            let reply = h.api(Method::GET, &path, token, None).await;
            assert_eq!(reply.status, status, "{path}: {}", reply.text);
            let reply = h.api(Method::DELETE, &path, token, None).await;
            assert_eq!(reply.status, status, "{path}: {}", reply.text);
        }

        let deleted = h.api(Method::DELETE, &owned("r%2F1/a"), &admin, None).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        let again = h.api(Method::DELETE, &owned("r%2F1/a"), &admin, None).await;
        assert_eq!(again.status, StatusCode::NOT_FOUND);
        let related = h.api(Method::DELETE, &owned("r%2F1"), &admin, None).await;
        assert_eq!(related.status, StatusCode::OK, "{}", related.text);
        assert_eq!(related.body["deleted"], 1);
        let by_stranger = h.api(Method::DELETE, &owned("r%2F1"), &stranger, None).await;
        assert_eq!(by_stranger.status, StatusCode::NOT_FOUND);
        let left = call(&h, Method::GET, "/v1/private_tokens", &token, None, &[]).await;
        assert_eq!(left.body["private_tokens"], json!([]));
    }
}
