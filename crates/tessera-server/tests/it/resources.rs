//! The resource API (SPEC §5) and access policies (SPEC §4) through the real router: secure by
//! default, attribute and event filtering, writes only where a policy allows, token checks, and
//! policy changes taking effect at once.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::{json, Value};

use crate::harness::*;

/// An integration with the resource scopes and no policy: (client_id, token).
async fn integration(h: &Harness, admin: &str, scopes: &[&str]) -> (String, String) {
    let (id, secret, _) =
        h.create_integration(admin, json!({"display_name": "app", "scopes": scopes})).await;
    let reply = h.token(&id, &secret, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    (id, reply.body["access_token"].as_str().unwrap().to_owned())
}

async fn create_asset(h: &Harness, token: &str, attributes: Value) -> String {
    let reply =
        h.api(Method::POST, "/v2/assets", token, Some(json!({ "attributes": attributes }))).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply.body["identity"].as_str().unwrap().to_owned()
}

async fn create_policy(h: &Harness, admin: &str, body: Value) -> String {
    let reply = h.api(Method::POST, "/v1/access_policies", admin, Some(body)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply.body["identity"].as_str().unwrap().to_owned()
}

fn uuid_of(identity: &str) -> &str {
    identity.rsplit('/').next().unwrap()
}

fn identities(reply: &Reply) -> Vec<String> {
    reply.body["assets"]
        .as_array()
        .unwrap_or_else(|| panic!("no assets in {}", reply.text))
        .iter()
        .map(|a| a["identity"].as_str().unwrap().to_owned())
        .collect()
}

const READ: &[&str] = &["assets:read", "events:read"];
const ALL: &[&str] = &["assets:read", "assets:write", "events:read", "events:write"];

#[tokio::test]
async fn an_integration_without_a_policy_sees_an_empty_list_not_an_error() {
    let (h, admin) = Harness::with_admin().await;
    create_asset(&h, &admin, json!({"arc_display_type": "Crate"})).await;
    let (_, token) = integration(&h, &admin, READ).await;
    let reply = h.api(Method::GET, "/v2/assets", &token, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body, json!({"assets": [], "next_page_token": ""}));
}

/// A crate (with an event and a secret attribute) and a pallet; an integration that reads
/// under a policy of crates only, some attributes, no events: (crate, pallet, client id, its
/// token, the policy).
async fn crates_only(h: &Harness, admin: &str) -> (String, String, String, String, String) {
    let crate_id = create_asset(
        h,
        admin,
        json!({"arc_display_type": "Crate", "weight": "20t", "owner_notes": "secret", "colour": "red"}),
    )
    .await;
    let pallet =
        create_asset(h, admin, json!({"arc_display_type": "Pallet", "weight": "1t"})).await;
    let (id, token) = integration(h, admin, READ).await;
    let e = h
        .api(
            Method::POST,
            &format!("/v2/{crate_id}/events"),
            admin,
            Some(json!({"operation": "Inspect", "event_attributes": {"result": "ok"}})),
        )
        .await;
    assert_eq!(e.status, StatusCode::CREATED, "{}", e.text);
    assert_eq!(e.body["operation"], "Inspect");
    assert!(e.body["identity"].as_str().unwrap().starts_with(&format!("{crate_id}/events/")));

    // Crates only, weight and colour only, no events.
    let policy = create_policy(
        h,
        admin,
        json!({"display_name": "crates", "filters": [{"asset_types": ["Crate"]}],
               "permissions": [{"actors": [{"client_id": id}], "attributes": ["weight", "colour", "arc_display_type"]}]}),
    )
    .await;
    (crate_id, pallet, id, token, policy)
}

#[tokio::test]
async fn a_policy_shows_only_its_types_and_attributes_and_filters_see_no_further() {
    let (h, admin) = Harness::with_admin().await;
    let (crate_id, pallet, _, token, _) = crates_only(&h, &admin).await;
    let list = h.api(Method::GET, "/v2/assets", &token, None).await;
    assert_eq!(identities(&list), vec![crate_id.clone()]);
    let shown = &list.body["assets"][0];
    assert_eq!(
        shown["attributes"],
        json!({"arc_display_type": "Crate", "weight": "20t", "colour": "red"})
    );
    assert!(shown["tenant_identity"].as_str().unwrap().starts_with("tenant/"));
    assert!(shown["at_time"].as_str().unwrap().ends_with('Z'));
    assert!(!list.text.contains("secret"));

    let one = h.api(Method::GET, &format!("/v2/{crate_id}"), &token, None).await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.body["attributes"]["weight"], "20t");
    assert!(one.body["attributes"].get("owner_notes").is_none());
    // A type the policy does not cover does not exist for this caller.
    let hidden = h.api(Method::GET, &format!("/v2/{pallet}"), &token, None).await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    let events = h.api(Method::GET, &format!("/v2/{crate_id}/events"), &token, None).await;
    assert_eq!(events.body, json!({"events": [], "next_page_token": ""}));

    // Filters match visible attributes only: a hidden one cannot be probed.
    let by_colour = h.api(Method::GET, "/v2/assets?attributes.colour=red", &token, None).await;
    assert_eq!(identities(&by_colour), vec![crate_id.clone()]);
    let other = h.api(Method::GET, "/v2/assets?attributes.colour=blue", &token, None).await;
    assert!(identities(&other).is_empty());
    let probe = h.api(Method::GET, "/v2/assets?attributes.owner_notes=secret", &token, None).await;
    assert!(identities(&probe).is_empty());
}

#[tokio::test]
async fn a_changed_policy_shows_events_at_once_and_a_deleted_one_hides_everything() {
    let (h, admin) = Harness::with_admin().await;
    let (crate_id, _, id, token, policy) = crates_only(&h, &admin).await;
    // Event visibility, granted by a PATCH, takes effect on the next request.
    let patched = h
        .api(
            Method::PATCH,
            &format!("/v1/access_policies/{}", uuid_of(&policy)),
            &admin,
            Some(json!({"permissions": [{"actors": [{"client_id": id}], "attributes": ["*"], "event_visibility": "all"}]})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    let events = h.api(Method::GET, &format!("/v2/{crate_id}/events"), &token, None).await;
    assert_eq!(events.body["events"][0]["event_attributes"], json!({"result": "ok"}));
    assert_eq!(events.body["events"][0]["asset_identity"], crate_id.as_str());
    let all = h.api(Method::GET, &format!("/v2/{crate_id}"), &token, None).await;
    assert_eq!(all.body["attributes"]["owner_notes"], "secret");

    // Deleting the policy hides everything again.
    let deleted = h
        .api(Method::DELETE, &format!("/v1/access_policies/{}", uuid_of(&policy)), &admin, None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let list = h.api(Method::GET, "/v2/assets", &token, None).await;
    assert!(identities(&list).is_empty());
    let gone = h.api(Method::GET, &format!("/v2/{crate_id}"), &token, None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn writes_need_a_policy_that_allows_them_and_reading_is_not_writing() {
    let (h, admin) = Harness::with_admin().await;
    let (id, token) = integration(&h, &admin, ALL).await;
    let denied = h
        .api(
            Method::POST,
            "/v2/assets",
            &token,
            Some(json!({"attributes": {"arc_display_type": "Crate"}})),
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN, "{}", denied.text);
    assert_eq!(denied.error(), "forbidden");
    assert!(denied.description().contains("`Crate`"), "{}", denied.text);

    let read_only = create_policy(
        &h,
        &admin,
        json!({"display_name": "read crates", "filters": [{"asset_types": ["Crate"]}],
               "permissions": [{"actors": [{"client_id": id}], "attributes": ["*"]}]}),
    )
    .await;
    let existing =
        create_asset(&h, &admin, json!({"arc_display_type": "Crate", "weight": "1t"})).await;
    for (method, path, body) in [
        (
            Method::POST,
            "/v2/assets".to_owned(),
            Some(json!({"attributes": {"arc_display_type": "Crate"}})),
        ),
        (Method::PATCH, format!("/v2/{existing}"), Some(json!({"attributes": {"weight": "2t"}}))),
        (Method::DELETE, format!("/v2/{existing}"), None),
        (Method::POST, format!("/v2/{existing}/events"), Some(json!({"event_attributes": {}}))),
    ] {
        let reply = h.api(method.clone(), &path, &token, body).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{method} {path}: {}", reply.text);
    }
    let _ = read_only;
}

#[tokio::test]
async fn a_write_policy_lets_it_write_only_the_attributes_and_types_it_names() {
    let (h, admin) = Harness::with_admin().await;
    let (id, token) = integration(&h, &admin, ALL).await;
    create_policy(
        &h,
        &admin,
        json!({"display_name": "write crates", "filters": [{"asset_types": ["Crate"]}],
               "permissions": [{"actors": [{"client_id": id}], "attributes": ["arc_display_type", "weight"], "write": true}]}),
    )
    .await;
    let mine = create_asset(&h, &token, json!({"arc_display_type": "Crate", "weight": "5t"})).await;
    let changed = h
        .api(
            Method::PATCH,
            &format!("/v2/{mine}"),
            &token,
            Some(json!({"attributes": {"weight": "6t"}})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
    assert_eq!(changed.body["attributes"]["weight"], "6t");
    // An attribute no policy lets it write is refused by name.
    let unlisted = h
        .api(
            Method::PATCH,
            &format!("/v2/{mine}"),
            &token,
            Some(json!({"attributes": {"price": "9"}})),
        )
        .await;
    assert_eq!(unlisted.status, StatusCode::FORBIDDEN);
    assert!(unlisted.description().contains("`price`"), "{}", unlisted.text);
    // Turning a crate into a type it may not write is refused, and nothing changes.
    let retype = h
        .api(
            Method::PATCH,
            &format!("/v2/{mine}"),
            &token,
            Some(json!({"attributes": {"arc_display_type": "Truck"}})),
        )
        .await;
    assert_eq!(retype.status, StatusCode::FORBIDDEN, "{}", retype.text);
    let kept = h.api(Method::GET, &format!("/v2/{mine}"), &admin, None).await;
    assert_eq!(kept.body["attributes"], json!({"arc_display_type": "Crate", "weight": "6t"}));

    let event = h
        .api(
            Method::POST,
            &format!("/v2/{mine}/events"),
            &token,
            Some(json!({"event_attributes": {"seal": "intact"}})),
        )
        .await;
    assert_eq!(event.status, StatusCode::CREATED, "{}", event.text);
    assert_eq!(event.body["principal"], format!("client:{id}"));
    assert_eq!(event.body["operation"], "Record");
    let removed = h.api(Method::DELETE, &format!("/v2/{mine}"), &token, None).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    let after = h.api(Method::GET, &format!("/v2/{mine}"), &admin, None).await;
    assert_eq!(after.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn tokens_are_checked_before_anything_else() {
    let (h, admin) = Harness::with_admin().await;
    let (_, reader) = integration(&h, &admin, &["events:read"]).await;

    let none = h.send(Request::get("/v2/assets").body(Body::empty()).unwrap()).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert!(none.header("www-authenticate").starts_with("Bearer"), "{:?}", none.headers);
    assert!(none.header("www-authenticate").contains("error=\"invalid_token\""));

    let garbage = h.api(Method::GET, "/v2/assets", "not.a.token", None).await;
    assert_eq!(garbage.status, StatusCode::UNAUTHORIZED);
    assert_eq!(garbage.error(), "invalid_token");

    // Tampered signature.
    let mut tampered = admin.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let reply = h.api(Method::GET, "/v2/assets", &tampered, None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);

    // Signed by us, but for another audience.
    let mut claims = h.state.validate_token(&admin).unwrap().as_ref().clone();
    claims.aud = "https://elsewhere.example".into();
    claims.jti = "other-aud".into();
    let foreign = h.state.keys.load().current().mint(&claims).unwrap();
    let reply = h.api(Method::GET, "/v2/assets", &foreign, None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text);
    assert!(reply.description().contains("audience"), "{}", reply.text);

    // Valid token, no assets:read: 403 insufficient_scope with the scope it needs.
    let reply = h.api(Method::GET, "/v2/assets", &reader, None).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.error(), "insufficient_scope");
    assert!(reply.header("www-authenticate").contains("scope=\"assets:read\""));
    let write = h.api(Method::POST, "/v2/assets", &reader, Some(json!({"attributes": {}}))).await;
    assert!(write.header("www-authenticate").contains("scope=\"assets:write\""));

    // A revoked token is refused at once.
    let (_, token) = integration(&h, &admin, READ).await;
    assert_eq!(h.api(Method::GET, "/v2/assets", &token, None).await.status, StatusCode::OK);
    let revoked = h
        .form("/oauth2/revoke", format!("token={token}"), Some((&h.a.client_id, &h.a.secret)))
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text);
    let reply = h.api(Method::GET, "/v2/assets", &token, None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(reply.description().contains("revoked"), "{}", reply.text);
}

#[tokio::test]
async fn pages_cover_every_visible_asset_once_while_others_write() {
    let (h, admin) = Harness::with_admin().await;
    let (id, token) = integration(&h, &admin, READ).await;
    create_policy(
        &h,
        &admin,
        json!({"display_name": "even", "filters": [{"asset_types": ["Even"]}],
               "permissions": [{"actors": [{"client_id": id}], "attributes": ["*"]}]}),
    )
    .await;
    let mut visible = Vec::new();
    for n in 0..12 {
        let kind = if n % 2 == 0 { "Even" } else { "Odd" };
        let made = create_asset(&h, &admin, json!({"arc_display_type": kind, "n": n})).await;
        if n % 2 == 0 {
            visible.push(made);
        }
    }
    let mut seen = Vec::new();
    let mut token_param = String::new();
    let mut pages = 0;
    loop {
        let reply = h
            .api(
                Method::GET,
                &format!("/v2/assets?page_size=4&page_token={token_param}"),
                &token,
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        assert!(identities(&reply).len() <= 4);
        seen.extend(identities(&reply));
        if pages == 0 {
            // Someone writes between pages: a new visible asset and a deleted one already seen.
            let late = create_asset(&h, &admin, json!({"arc_display_type": "Even", "n": 99})).await;
            visible.push(late);
            let first = &visible[0];
            h.api(Method::DELETE, &format!("/v2/{first}"), &admin, None).await;
        }
        pages += 1;
        token_param = reply.body["next_page_token"].as_str().unwrap().to_owned();
        if token_param.is_empty() {
            break;
        }
    }
    assert_eq!(seen, visible, "every visible asset once, in order");
    let filtered = h.api(Method::GET, "/v2/assets?attributes.n=4", &token, None).await;
    assert_eq!(identities(&filtered), vec![visible[2].clone()]);

    for (query, field) in [
        ("page_size=0", "page_size"),
        ("page_size=x", "page_size"),
        ("page_token=zzz", "page_token"),
    ] {
        let reply = h.api(Method::GET, &format!("/v2/assets?{query}"), &token, None).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(reply.body["field"], field, "{}", reply.text);
    }
    let unknown = h.api(Method::GET, "/v2/assets?colour=red", &token, None).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert!(unknown.description().contains("colour"), "{}", unknown.text);
    let twice = h.api(Method::GET, "/v2/assets?page_size=1&page_size=2", &token, None).await;
    assert_eq!(twice.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn bad_asset_input_is_a_clear_400_and_changes_nothing() {
    let (h, admin) = Harness::with_admin().await;
    let asset =
        create_asset(&h, &admin, json!({"arc_display_type": "Crate", "weight": "1t"})).await;
    for (method, path, body, field) in [
        (
            Method::POST,
            "/v2/assets".to_owned(),
            json!({"attributes": {"x": null}}),
            Some("attributes"),
        ),
        (
            Method::POST,
            "/v2/assets".to_owned(),
            json!({"attributes": {"": "v"}}),
            Some("attributes"),
        ),
        (Method::POST, "/v2/assets".to_owned(), json!({"attrs": {}}), None),
        (
            Method::PATCH,
            format!("/v2/{asset}"),
            json!({"attributes": {"weight": "x".repeat(70_000)}}),
            Some("attributes"),
        ),
        (Method::POST, format!("/v2/{asset}/events"), json!({"operation": ""}), Some("operation")),
        (
            Method::POST,
            format!("/v2/{asset}/events"),
            json!({"event_attributes": {"k": null}}),
            Some("event_attributes"),
        ),
    ] {
        let reply = h.api(method.clone(), &path, &admin, Some(body)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{method} {path}: {}", reply.text);
        if let Some(field) = field {
            assert_eq!(reply.body["field"], field, "{}", reply.text);
        }
    }
    let not_json = h
        .send(
            Request::post("/v2/assets")
                .header(header::AUTHORIZATION, format!("Bearer {admin}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{not json"))
                .unwrap(),
        )
        .await;
    assert_eq!(not_json.status, StatusCode::BAD_REQUEST);
    for path in ["/v2/assets/not-a-uuid", "/v2/assets/1b4e28ba-2fa1-11d2-883f-0016d3cca427"] {
        let reply = h.api(Method::GET, path, &admin, None).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        let events = h.api(Method::GET, &format!("{path}/events"), &admin, None).await;
        assert_eq!(events.status, StatusCode::NOT_FOUND, "{path}");
    }
    let kept = h.api(Method::GET, &format!("/v2/{asset}"), &admin, None).await;
    assert_eq!(kept.body["attributes"], json!({"arc_display_type": "Crate", "weight": "1t"}));
    let listed = h.api(Method::GET, "/v2/assets", &admin, None).await;
    assert_eq!(identities(&listed).len(), 1);
}

#[tokio::test]
async fn access_policies_are_made_read_paged_and_renamed() {
    let (h, admin) = Harness::with_admin().await;
    let body = json!({"display_name": "ops", "description": "ops can see crates",
        "filters": [{"asset_types": ["Crate"]}],
        "permissions": [{"actors": [{"email": "Ops@Example.com"}], "attributes": ["*"], "event_visibility": "all"}]});
    let made = h.api(Method::POST, "/v1/access_policies", &admin, Some(body.clone())).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
    assert_eq!(made.body["permissions"][0]["actors"][0], json!({"email": "ops@example.com"}));
    assert_eq!(made.body["permissions"][0]["write"], false);
    let id = uuid_of(made.body["identity"].as_str().unwrap()).to_owned();

    let got = h.api(Method::GET, &format!("/v1/access_policies/{id}"), &admin, None).await;
    assert_eq!(got.body, made.body);
    h.api(Method::POST, "/v1/access_policies", &admin, Some(body.clone())).await;
    let page = h.api(Method::GET, "/v1/access_policies?page_size=1", &admin, None).await;
    assert_eq!(page.body["access_policies"].as_array().unwrap().len(), 1);
    assert_ne!(page.body["next_page_token"], "");
    let renamed = h
        .api(
            Method::PATCH,
            &format!("/v1/access_policies/{id}"),
            &admin,
            Some(json!({"display_name": "renamed"})),
        )
        .await;
    assert_eq!(renamed.body["display_name"], "renamed");
    assert_eq!(renamed.body["filters"], made.body["filters"]);
    let audit = h.audit_actions(&admin, "access_policy.updated").await;
    assert!(audit.iter().any(|e| e["action"] == "access_policy.created"));
}

#[tokio::test]
async fn a_bad_access_policy_is_refused_by_its_field_and_only_admins_manage_them() {
    let (h, admin) = Harness::with_admin().await;
    let (_, reader) = integration(&h, &admin, READ).await;
    let good =
        json!({"display_name": "ops", "filters": [{"asset_types": ["*"]}], "permissions": []});
    let made = h.api(Method::POST, "/v1/access_policies", &admin, Some(good)).await;
    let id = uuid_of(made.body["identity"].as_str().unwrap()).to_owned();
    for (bad, field) in [
        (
            json!({"display_name": "", "filters": [{"asset_types": ["*"]}], "permissions": []}),
            "display_name",
        ),
        (json!({"display_name": "x", "filters": [], "permissions": []}), "filters"),
        (
            json!({"display_name": "x", "filters": [{"asset_types": ["*"]}], "permissions": [{"actors": [{"client_id": "nope"}], "attributes": ["*"]}]}),
            "actors",
        ),
        (
            json!({"display_name": "x", "filters": [{"asset_types": ["*"]}], "permissions": [{"actors": [{}], "attributes": ["*"]}]}),
            "actors",
        ),
        (
            json!({"display_name": "x", "filters": [{"asset_types": ["*"]}], "permissions": [{"actors": [{"email": "a@b.test"}], "attributes": []}]}),
            "permissions",
        ),
        (
            json!({"display_name": "x", "description": "d".repeat(2000), "filters": [{"asset_types": ["*"]}], "permissions": []}),
            "description",
        ),
    ] {
        let reply = h.api(Method::POST, "/v1/access_policies", &admin, Some(bad)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
        assert_eq!(reply.body["field"], field, "{}", reply.text);
    }
    let bad_patch = h
        .api(
            Method::PATCH,
            &format!("/v1/access_policies/{id}"),
            &admin,
            Some(json!({"filters": []})),
        )
        .await;
    assert_eq!(bad_patch.body["field"], "filters");
    let unknown = h
        .api(Method::POST, "/v1/access_policies", &admin, Some(json!({"display_name": "x", "filters": [{"asset_types": ["*"]}], "permissions": [], "extra": 1})))
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);

    let forbidden = h.api(Method::GET, "/v1/access_policies", &reader, None).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert_eq!(forbidden.error(), "insufficient_scope");
    for path in
        ["/v1/access_policies/nope", "/v1/access_policies/1b4e28ba-2fa1-11d2-883f-0016d3cca427"]
    {
        assert_eq!(h.api(Method::GET, path, &admin, None).await.status, StatusCode::NOT_FOUND);
        assert_eq!(h.api(Method::DELETE, path, &admin, None).await.status, StatusCode::NOT_FOUND);
    }
    let still = h.api(Method::GET, &format!("/v1/access_policies/{id}"), &admin, None).await;
    assert_eq!(
        (still.body["display_name"].as_str(), still.body["filters"].clone()),
        (Some("ops"), made.body["filters"].clone())
    );
}

#[tokio::test]
async fn time_issuer_and_the_verified_token_cache() {
    let (h, admin) = Harness::with_admin().await;
    let (_, token) = integration(&h, &admin, READ).await;

    // The first use verifies the signature and remembers the result; later uses look it up.
    assert!(h.state.verified.get(&token).is_none());
    assert_eq!(h.api(Method::GET, "/v2/assets", &token, None).await.status, StatusCode::OK);
    assert!(h.state.verified.get(&token).is_some(), "a verified token is cached");

    // Signed by us, but from another issuer or not valid yet.
    let claims = h.state.validate_token(&token).unwrap().as_ref().clone();
    let mut other_iss = claims.clone();
    other_iss.iss = "https://other-issuer.example".into();
    let mut early = claims.clone();
    early.nbf = claims.iat + 600;
    for (bad, why) in [(other_iss, "issuer"), (early, "not valid yet")] {
        let minted = h.state.keys.load().current().mint(&bad).unwrap();
        let reply = h.api(Method::GET, "/v2/assets", &minted, None).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{why}");
        assert!(reply.header("www-authenticate").contains("invalid_token"), "{why}");
    }

    // Cached or not, an expired token is refused.
    h.clock.advance_seconds(3600 + 120);
    let reply = h.api(Method::GET, "/v2/assets", &token, None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(reply.description().contains("expired"), "{}", reply.text);
}
