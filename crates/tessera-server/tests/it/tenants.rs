//! Tenants (SPEC §4.1) through the real router, on SQLite and PostgreSQL: the operator makes,
//! changes, disables and deletes them; invitations, password resets and sign-up.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use tessera_core::ports::Clock;

use crate::connections::{form_post, get_page, hidden, set_cookie, sign_in, with_cookie};
use crate::harness::*;
use crate::tms::{app_version, authorize, promote, tms_for, token_for};

const PASSWORD: &str = "correct horse battery staple";

async fn create(h: &Harness, platform: &str, body: Value) -> Reply {
    h.api(Method::POST, "/v1/tenants", platform, Some(body)).await
}

/// The path and query of a link on this server.
fn local(url: &str) -> String {
    url.strip_prefix(ISSUER).expect("a link on this server").to_owned()
}

/// Whether the server takes `token`: on the management API for an admin token, on the
/// resource API otherwise.
async fn works(h: &Harness, token: &str) -> bool {
    let scope = decode_claims(token)["scope"].as_str().unwrap_or_default().to_owned();
    let path =
        if scope.split(' ').any(|s| s == "admin") { "/v1/integrations" } else { "/v2/assets" };
    h.api(Method::GET, path, token, None).await.status == StatusCode::OK
}

/// The operator makes "Acme Logistics" (ENTERPRISE, admin Ada): the platform token and the answer.
async fn acme(h: &Harness) -> (String, Reply) {
    let platform = h.admin_token(&h.a).await;
    let made = create(
        h,
        &platform,
        json!({"display_name": " Acme Logistics ", "tier": "ENTERPRISE",
               "admin_email": "Ada@Acme.example", "admin_display_name": "Ada"}),
    )
    .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
    (platform, made)
}

#[tokio::test]
async fn the_operator_creates_a_tenant_whose_admin_is_invited_for_seven_days() {
    for h in Harness::on_both_backends().await {
        let (_, made) = acme(&h).await;
        let id = made.body["tenant_id"].as_str().unwrap().to_owned();
        assert!(id.starts_with("tenant/"), "{id}");
        assert_eq!(made.body["display_name"], "Acme Logistics");
        assert_eq!(made.body["tier"], "ENTERPRISE");
        assert_eq!(made.body["disabled"], false);
        assert_eq!(made.body["operator"], false);
        assert_eq!(made.body["admin"]["email"], "ada@acme.example");
        let invitation = made.body["admin"]["invitation_url"].as_str().unwrap();
        assert!(
            invitation.starts_with(&format!("{ISSUER}/console/set-password?token=")),
            "{invitation}"
        );
        // Seven days by default.
        let expires = made.body["admin"]["invitation_expires_at"].as_str().unwrap();
        let expires =
            time::OffsetDateTime::parse(expires, &time::format_description::well_known::Rfc3339)
                .unwrap()
                .unix_timestamp();
        assert!((expires - h.clock.now_seconds() - 7 * 86_400).abs() <= 1);
    }
}

#[tokio::test]
async fn a_tenant_is_read_by_any_form_of_its_id_and_listed_in_stable_pages() {
    for h in Harness::on_both_backends().await {
        let (platform, made) = acme(&h).await;
        let id = made.body["tenant_id"].as_str().unwrap().to_owned();
        // Read by the full id (percent-encoded, or as it is under /tenant/) or the bare UUID.
        let uuid = id.strip_prefix("tenant/").unwrap();
        for path in [
            format!("/v1/tenants/{uuid}"),
            format!("/v1/tenants/tenant%2F{uuid}"),
            format!("/v1/tenants/{id}"),
        ] {
            let got = h.api(Method::GET, &path, &platform, None).await;
            assert_eq!(got.status, StatusCode::OK, "{path}: {}", got.text);
            assert_eq!(got.body["tenant_id"], id.as_str());
        }
        let listed = h.api(Method::GET, "/v1/tenants", &platform, None).await;
        let all = listed.body["tenants"].as_array().unwrap();
        assert_eq!(all.len(), 2, "{}", listed.text);
        assert_eq!(all[0]["operator"], true, "the operator tenant comes first");
        assert_eq!(all[1]["tenant_id"], id.as_str());
        let first = h.api(Method::GET, "/v1/tenants?page_size=1", &platform, None).await;
        let next = first.body["next_page_token"].as_str().unwrap();
        assert!(!next.is_empty());
        let second = h
            .api(
                Method::GET,
                &format!("/v1/tenants?page_size=1&page_token={next}"),
                &platform,
                None,
            )
            .await;
        assert_eq!(second.body["tenants"][0]["tenant_id"], id.as_str());
        assert_eq!(second.body["next_page_token"], "");
    }
}

#[tokio::test]
async fn a_changed_tenant_holds_one_invited_admin_and_its_tokens_carry_the_new_tier() {
    for h in Harness::on_both_backends().await {
        let (platform, made) = acme(&h).await;
        let id = made.body["tenant_id"].as_str().unwrap().to_owned();
        let uuid = id.strip_prefix("tenant/").unwrap();
        let patched = h
            .api(
                Method::PATCH,
                &format!("/v1/tenants/{uuid}"),
                &platform,
                Some(json!({"display_name": "Acme", "tier": "FREE"})),
            )
            .await;
        assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
        assert_eq!(patched.body["display_name"], "Acme");
        assert_eq!(patched.body["tier"], "FREE");

        // Nothing else was made in it: one admin, invited, and no integration. Its tokens
        // carry the new tier.
        let tenant = id.parse().unwrap();
        let admin = h.operator_token(tenant).await;
        let claims = decode_claims(&admin);
        assert_eq!(claims["tier"], "FREE");
        assert_eq!(claims["tenant_id"], id.as_str());
        assert_eq!(claims["scope"], "admin");
        let users = h.api(Method::GET, "/v1/users", &admin, None).await;
        assert_eq!(users.body["users"].as_array().unwrap().len(), 1);
        assert_eq!(users.body["users"][0]["role"], "admin");
        assert_eq!(users.body["users"][0]["password_set"], false);
        let integrations = h.api(Method::GET, "/v1/integrations", &admin, None).await;
        assert_eq!(integrations.body["integrations"], json!([]));

        // Audited in the operator tenant and in the tenant concerned.
        h.audit_entry(&platform, |e| e["action"] == "tenant.created" && e["target"] == id.as_str())
            .await;
        h.audit_entry(&admin, |e| {
            e["action"] == "tenant.created" && e["actor"] == format!("client:{}", h.a.client_id)
        })
        .await;
        h.audit_entry(&admin, |e| e["action"] == "tenant.updated").await;
    }
}

/// The payload of a JWT, unverified (the router tests check their own server's tokens).
fn decode_claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn bad_tenant_requests_name_the_field_or_the_rule_and_make_nothing() {
    for h in Harness::on_both_backends().await {
        let platform = h.admin_token(&h.a).await;
        let good = json!({"display_name": "Acme", "admin_email": "ada@acme.example"});
        for (change, field) in [
            (json!({"tier": "GOLD"}), "tier"),
            (json!({"admin_email": "ada"}), "admin_email"),
            (json!({"display_name": "  "}), "display_name"),
            (json!({"admin_display_name": ""}), "admin_display_name"),
        ] {
            let mut body = good.clone();
            for (k, v) in change.as_object().unwrap() {
                body[k] = v.clone();
            }
            let reply = create(&h, &platform, body).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
            assert_eq!(reply.body["field"], field, "{}", reply.text);
        }
        let unknown =
            create(&h, &platform, json!({"display_name": "x", "admin_email": "a@b", "owner": 1}))
                .await;
        assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
        assert!(unknown.text.contains("owner"), "{}", unknown.text);

        let malformed = h.api(Method::GET, "/v1/tenants/not-a-tenant", &platform, None).await;
        assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
        assert_eq!(malformed.body["field"], "tenant_id");
        let nobody = format!("/v1/tenants/{}", uuid::Uuid::new_v4());
        for method in [Method::GET, Method::DELETE] {
            let reply = h.api(method, &nobody, &platform, None).await;
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.text);
        }
        let reply = h.api(Method::PATCH, &nobody, &platform, Some(json!({"tier": "FREE"}))).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);

        // The operator tenant stays.
        let operator = format!("/v1/tenants/{}", h.a.tenant);
        let disable =
            h.api(Method::PATCH, &operator, &platform, Some(json!({"disabled": true}))).await;
        assert_eq!(disable.status, StatusCode::CONFLICT);
        assert!(disable.text.contains("operator tenant cannot be disabled"), "{}", disable.text);
        let delete = h.api(Method::DELETE, &operator, &platform, None).await;
        assert_eq!(delete.status, StatusCode::CONFLICT);
        assert!(delete.text.contains("operator tenant cannot be deleted"), "{}", delete.text);

        // Nothing half-made.
        let listed = h.api(Method::GET, "/v1/tenants", &platform, None).await;
        assert_eq!(listed.body["tenants"].as_array().unwrap().len(), 1);
    }
}

#[tokio::test]
async fn only_a_platform_token_manages_tenants_and_only_the_operator_gives_platform() {
    for h in Harness::on_both_backends().await {
        let platform = h.admin_token(&h.a).await;
        let good = json!({"display_name": "Acme", "admin_email": "ada@acme.example"});
        // Without `platform`: the operator's token narrowed to admin, another tenant's admin.
        let narrowed = h.token(&h.a.client_id, &h.a.secret, Some("admin")).await;
        let narrowed = narrowed.body["access_token"].as_str().unwrap();
        let b = h.add_tenant().await;
        let admin_b = h.admin_token(&b).await;
        for token in [narrowed, admin_b.as_str()] {
            let reply = h.api(Method::GET, "/v1/tenants", token, None).await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text);
            assert_eq!(reply.body["error"], "insufficient_scope");
            assert!(reply.header("www-authenticate").contains("platform"));
            let reply = create(&h, token, good.clone()).await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN);
        }
        // `platform` is for the operator's integrations only.
        let refused = h
            .api(
                Method::POST,
                "/v1/integrations",
                &admin_b,
                Some(json!({"display_name": "x", "scopes": ["platform"]})),
            )
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert_eq!(refused.body["field"], "scopes");
        assert!(refused.text.contains("platform"), "{}", refused.text);
        let patched = h
            .api(
                Method::PATCH,
                &format!("/v1/integrations/{}", b.client_id),
                &admin_b,
                Some(json!({"scopes": ["admin", "platform"]})),
            )
            .await;
        assert_eq!(patched.status, StatusCode::BAD_REQUEST);
        assert_eq!(patched.body["field"], "scopes");
        // The operator may give it to its own.
        let (_, _, own) = h
            .create_integration(
                &platform,
                json!({"display_name": "ops robot", "scopes": ["admin", "platform"]}),
            )
            .await;
        assert_eq!(own["scopes"], json!(["admin", "platform"]));
        // An operator token for another tenant carries `admin` only.
        let wide = h
            .form(
                "/oauth2/token",
                format!(
                    "grant_type=client_credentials&scope=admin+platform&tenant_id={}",
                    b.tenant
                ),
                Some((&h.a.client_id, &h.a.secret)),
            )
            .await;
        assert_eq!(wide.status, StatusCode::BAD_REQUEST);
        assert_eq!(wide.error(), "invalid_scope");
    }
}

/// `PATCH /v1/tenants/{id}` `{"disabled": …}` with the operator's `platform` token.
async fn set_disabled(h: &Harness, platform: &str, tenant: &TenantAdmin, disabled: bool) -> Reply {
    let path = format!("/v1/tenants/{}", tenant.tenant);
    h.api(Method::PATCH, &path, platform, Some(json!({"disabled": disabled}))).await
}

#[tokio::test]
async fn a_disabled_tenant_stops_everywhere_and_enabling_restores_grants_not_tokens() {
    for h in Harness::on_both_backends().await {
        let platform = h.admin_token(&h.a).await;
        let b = h.add_tenant().await;
        let admin_b = h.admin_token(&b).await;
        let (reader, reader_secret, _) = h.create_integration(&admin_b, reader()).await;
        let reader_token = h
            .admin_token(&TenantAdmin {
                tenant: b.tenant,
                client_id: reader.clone(),
                secret: reader_secret.clone(),
            })
            .await;
        // B authorized an application of tenant A: a TMS token reaches B's data.
        let (app, _, _) = app_version(&h, &platform, "fleet", "1", true).await;
        let app_secret = promote(&h, &platform, &app).await;
        let given =
            authorize(&h, &admin_b, json!({"app_name": "fleet", "access": "read_write"})).await;
        assert_eq!(given.status, StatusCode::CREATED, "{}", given.text);
        let tms_reply = tms_for(&h, &app, &app_secret, &[b.tenant.to_string()]).await;
        let tms_token = token_for(&tms_reply, &b.tenant.to_string())["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let operator_token = h.operator_token(b.tenant).await;
        for (n, token) in [&admin_b, &reader_token, &tms_token, &operator_token].iter().enumerate()
        {
            assert!(works(&h, token).await, "token {n}");
        }

        let disabled = set_disabled(&h, &platform, &b, true).await;
        assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.text);
        assert_eq!(disabled.body["disabled"], true);
        for token in [&admin_b, &reader_token, &tms_token, &operator_token] {
            let reply = h.api(Method::GET, "/v1/users", token, None).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text);
            assert!(reply.header("www-authenticate").contains("disabled"), "{:?}", reply.headers);
            assert!(!works(&h, token).await);
        }
        // Nothing new for it: its integrations, the operator, TMS.
        let own = h.token(&reader, &reader_secret, None).await;
        assert_eq!(own.status, StatusCode::UNAUTHORIZED);
        assert_eq!(own.error(), "invalid_client");
        let operator = h
            .form(
                "/oauth2/token",
                format!("grant_type=client_credentials&tenant_id={}", b.tenant),
                Some((&h.a.client_id, &h.a.secret)),
            )
            .await;
        assert_eq!(operator.status, StatusCode::BAD_REQUEST);
        assert!(operator.description().contains("disabled"), "{}", operator.text);
        let refused = tms_for(&h, &app, &app_secret, &[b.tenant.to_string()]).await;
        assert_eq!(refused.body["errors"][0]["error"], "access_denied", "{}", refused.text);
        assert_eq!(refused.body["tokens"], json!([]));

        let enabled = set_disabled(&h, &platform, &b, false).await;
        assert_eq!(enabled.body["disabled"], false);
        // Old tokens stay dead; the grants are back for new ones.
        h.clock.advance_seconds(1);
        for token in [&admin_b, &reader_token, &tms_token, &operator_token] {
            assert!(!works(&h, token).await);
        }
        let fresh = h.token(&reader, &reader_secret, None).await;
        assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.text);
        assert!(works(&h, fresh.body["access_token"].as_str().unwrap()).await);
        let again = tms_for(&h, &app, &app_secret, &[b.tenant.to_string()]).await;
        let again =
            token_for(&again, &b.tenant.to_string())["access_token"].as_str().unwrap().to_owned();
        assert!(works(&h, &again).await);
        h.audit_entry(&platform, |e| e["action"] == "tenant.disabled").await;
        h.audit_entry(&platform, |e| e["action"] == "tenant.enabled").await;
    }
}

#[tokio::test]
async fn deleting_a_tenant_removes_everything_of_it_and_every_grant_to_or_from_it() {
    for h in Harness::on_both_backends().await {
        let platform = h.admin_token(&h.a).await;
        let b = h.add_tenant().await;
        let admin_b = h.admin_token(&b).await;
        let (reader, reader_secret, _) = h.create_integration(&admin_b, reader()).await;
        let asset = h
            .api(
                Method::POST,
                "/v2/assets",
                &admin_b,
                Some(json!({"attributes": {"arc_display_type": "Truck"}})),
            )
            .await;
        assert_eq!(asset.status, StatusCode::CREATED, "{}", asset.text);
        // B's application, authorized by tenant A: that grant goes with B.
        let (app, _, _) = app_version(&h, &admin_b, "b-app", "1", true).await;
        let app_secret = promote(&h, &admin_b, &app).await;
        let given =
            authorize(&h, &platform, json!({"app_name": "b-app", "access": "limited"})).await;
        assert_eq!(given.status, StatusCode::CREATED, "{}", given.text);
        let tms_reply = tms_for(&h, &app, &app_secret, &[h.a.tenant.to_string()]).await;
        let tms_token = token_for(&tms_reply, &h.a.tenant.to_string())["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(works(&h, &tms_token).await);

        let gone =
            h.api(Method::DELETE, &format!("/v1/tenants/{}", b.tenant), &platform, None).await;
        assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.text);
        let again =
            h.api(Method::DELETE, &format!("/v1/tenants/{}", b.tenant), &platform, None).await;
        assert_eq!(again.status, StatusCode::NOT_FOUND);
        assert!(!works(&h, &admin_b).await);
        assert!(!works(&h, &tms_token).await);
        assert_eq!(h.token(&reader, &reader_secret, None).await.status, StatusCode::UNAUTHORIZED);
        // A's authorization of B's application is gone, and nothing of B is stored.
        let authorizations = h.api(Method::GET, "/v1/app_authorizations", &platform, None).await;
        assert_eq!(authorizations.body["app_authorizations"], json!([]), "{}", authorizations.text);
        let page = tessera_core::page::PageRequest { after: 0, size: 100 };
        assert!(h.storage.list_users(b.tenant, page).await.unwrap().items.is_empty());
        assert!(h.storage.list_integrations(b.tenant, page).await.unwrap().items.is_empty());
        assert!(h.storage.list_assets(b.tenant, None, page).await.unwrap().items.is_empty());
        let left = h.storage.list_audit(b.tenant, &Default::default(), page).await.unwrap().items;
        assert!(left.is_empty(), "{left:?}");
        assert!(h.storage.app_owner("b-app").await.unwrap().is_none());
        let listed = h.api(Method::GET, "/v1/tenants", &platform, None).await;
        assert_eq!(listed.body["tenants"].as_array().unwrap().len(), 1);
        let entry = h.audit_entry(&platform, |e| e["action"] == "tenant.deleted").await;
        assert_eq!(entry["target"], b.tenant.to_string());
    }
}

/// The admin token of tenant `b` and a user invited there; returns (admin token, invitation).
async fn invited(h: &Harness, b: &TenantAdmin, email: &str) -> (String, Reply) {
    let admin_b = h.admin_token(b).await;
    let reply = h
        .api(
            Method::POST,
            "/v1/users",
            &admin_b,
            Some(json!({"email": email, "display_name": "Ivy", "role": "admin"})),
        )
        .await;
    (admin_b, reply)
}

async fn set_password(h: &Harness, link: &str, password: &str, confirm: &str) -> Reply {
    let page = get_page(h, link).await;
    let token = if page.status == StatusCode::OK {
        hidden(&page.text, "token")
    } else {
        link.split("token=").nth(1).unwrap_or_default().to_owned()
    };
    form_post(
        h,
        "/console/set-password",
        "",
        &[("token", &token), ("password", password), ("confirm", confirm)],
    )
    .await
}

#[tokio::test]
async fn invitations_and_password_resets_set_a_password_once_before_they_expire() {
    for h in Harness::on_both_backends().await {
        let b = h.add_tenant().await;
        let (admin_b, made) = invited(&h, &b, "ivy@b.example").await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
        assert_eq!(made.body["password_set"], false);
        let link = local(made.body["invitation_url"].as_str().unwrap());
        let user_id = made.body["id"].as_str().unwrap().to_owned();
        let twice = invited(&h, &b, "IVY@b.example").await.1;
        assert_eq!(twice.status, StatusCode::CONFLICT);
        assert!(twice.text.contains("ivy@b.example"), "{}", twice.text);
        // No password matches an invited user before the link is used.
        let early = sign_in(&h, "ivy@b.example", "", "/console").await;
        assert_eq!(early.status, StatusCode::UNAUTHORIZED);

        let page = get_page(&h, &link).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.text.contains("ivy@b.example"), "{}", page.text);
        assert_eq!(page.header("referrer-policy"), "no-referrer");
        let short = set_password(&h, &link, "short", "short").await;
        assert_eq!(short.status, StatusCode::BAD_REQUEST);
        assert!(short.text.contains("at least 12"), "{}", short.text);
        let differ = set_password(&h, &link, PASSWORD, "another long password").await;
        assert_eq!(differ.status, StatusCode::BAD_REQUEST);
        assert!(differ.text.contains("differ"), "{}", differ.text);
        let done = set_password(&h, &link, PASSWORD, PASSWORD).await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.text);
        assert!(done.text.contains("Your password is set"), "{}", done.text);
        let used = get_page(&h, &link).await;
        assert_eq!(used.status, StatusCode::GONE);
        assert!(used.text.contains("used already"), "{}", used.text);
        let reuse = set_password(&h, &link, "yet another password", "yet another password").await;
        assert_eq!(reuse.status, StatusCode::GONE);
        let signed = sign_in(&h, "ivy@b.example", PASSWORD, "/console").await;
        assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.text);
        let session =
            format!("tessera_session={}", set_cookie(&signed, "tessera_session").unwrap());
        assert_eq!(with_cookie(&h, "/console", &session).await.status, StatusCode::OK);

        // A reset ends the sessions at once; a newer link replaces the older one.
        let reset_path = format!("/v1/users/{user_id}/password_reset");
        let first = h.api(Method::POST, &reset_path, &admin_b, None).await;
        assert_eq!(first.status, StatusCode::OK, "{}", first.text);
        let home = with_cookie(&h, "/console", &session).await;
        assert_eq!(home.status, StatusCode::SEE_OTHER, "the session ended");
        let second = h.api(Method::POST, &reset_path, &admin_b, None).await;
        let replaced =
            get_page(&h, &local(first.body["password_reset_url"].as_str().unwrap())).await;
        assert_eq!(replaced.status, StatusCode::GONE);
        assert!(replaced.text.contains("newer link"), "{}", replaced.text);
        let newest = local(second.body["password_reset_url"].as_str().unwrap());
        h.clock.advance_seconds(25 * 3600);
        let expired = get_page(&h, &newest).await;
        assert_eq!(expired.status, StatusCode::GONE);
        assert!(expired.text.contains("expired"), "{}", expired.text);
        let late = set_password(&h, &newest, PASSWORD, PASSWORD).await;
        assert_eq!(late.status, StatusCode::GONE);
        let altered = get_page(&h, &format!("{newest}x")).await;
        assert_eq!(altered.status, StatusCode::GONE);
        assert!(altered.text.contains("not valid"), "{}", altered.text);

        let admin_b = h.admin_token(&b).await;
        for path in [
            format!("/v1/users/{}/password_reset", uuid::Uuid::new_v4()),
            "/v1/users/nope/password_reset".to_owned(),
        ] {
            let reply = h.api(Method::POST, &path, &admin_b, None).await;
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        }
        // Another tenant's user is not found either.
        let platform = h.admin_token(&h.a).await;
        let foreign = h.api(Method::POST, &reset_path, &platform, None).await;
        assert_eq!(foreign.status, StatusCode::NOT_FOUND);
        h.audit_entry(&admin_b, |e| e["action"] == "user.invited").await;
        h.audit_entry(&admin_b, |e| e["action"] == "user.password_reset").await;
    }
}

#[tokio::test]
async fn a_disabled_tenant_ends_its_console_sessions_and_refuses_sign_in() {
    for h in Harness::on_both_backends().await {
        let platform = h.admin_token(&h.a).await;
        let b = h.add_tenant().await;
        let (_, made) = invited(&h, &b, "ivy@b.example").await;
        let link = local(made.body["invitation_url"].as_str().unwrap());
        assert_eq!(set_password(&h, &link, PASSWORD, PASSWORD).await.status, StatusCode::OK);
        let signed = sign_in(&h, "ivy@b.example", PASSWORD, "/console").await;
        let session =
            format!("tessera_session={}", set_cookie(&signed, "tessera_session").unwrap());
        h.api(
            Method::PATCH,
            &format!("/v1/tenants/{}", b.tenant),
            &platform,
            Some(json!({"disabled": true})),
        )
        .await;
        assert_eq!(with_cookie(&h, "/console", &session).await.status, StatusCode::SEE_OTHER);
        let refused = sign_in(&h, "ivy@b.example", PASSWORD, "/console").await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert!(refused.text.contains("disabled"), "{}", refused.text);
    }
}

/// The sign-up form filled in and posted, with its cookie and token.
async fn sign_up(h: &Harness, organization: &str, email: &str, password: &str) -> Reply {
    let page = get_page(h, "/console/sign-up").await;
    assert_eq!(page.status, StatusCode::OK);
    let cookie = set_cookie(&page, "tessera_sign_in").unwrap();
    let csrf = hidden(&page.text, "csrf");
    let fields =
        [("organization", organization), ("email", email), ("password", password), ("csrf", &csrf)];
    form_post(h, "/console/sign-up", &format!("tessera_sign_in={cookie}"), &fields).await
}

#[tokio::test]
async fn sign_up_is_off_by_default() {
    let h = Harness::new().await;
    for method in [Method::GET, Method::POST] {
        let request = axum::http::Request::builder().method(method).uri("/console/sign-up");
        let reply = h.send(request.body(axum::body::Body::empty()).unwrap()).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        assert!(reply.header("content-type").starts_with("text/html"));
    }
    assert!(!get_page(&h, "/console/sign-in").await.text.contains("/console/sign-up"));
}

#[tokio::test]
async fn sign_up_when_on_makes_a_free_tenant_whose_admin_signs_in() {
    for h in Harness::on_both_backends_configured(|c| c.allow_sign_up = true).await {
        let sign_in_page = get_page(&h, "/console/sign-in").await;
        assert!(sign_in_page.text.contains("/console/sign-up"), "{}", sign_in_page.text);
        // Console pages cannot be framed or sniffed, load nothing from elsewhere, and send no
        // Referer (SPEC §9, §11).
        assert_eq!(sign_in_page.header("x-frame-options"), "DENY");
        assert_eq!(sign_in_page.header("x-content-type-options"), "nosniff");
        assert_eq!(sign_in_page.header("referrer-policy"), "no-referrer");
        let csp = sign_in_page.header("content-security-policy");
        assert!(
            csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"),
            "{csp}"
        );
        // A cookie and a form token of an attacker's choosing do not match: the form's token
        // is the server's MAC of the cookie's nonce.
        let chosen =
            [("organization", "x"), ("email", "a@b.c"), ("password", PASSWORD), ("csrf", "chosen")];
        let planted = form_post(&h, "/console/sign-up", "tessera_sign_in=chosen", &chosen).await;
        assert_eq!(planted.status, StatusCode::BAD_REQUEST, "{}", planted.text);
        assert!(planted.text.contains("expired"), "{}", planted.text);
        let short = sign_up(&h, "Solo Co", "sam@solo.example", "short").await;
        assert_eq!(short.status, StatusCode::BAD_REQUEST);
        assert!(short.text.contains("at least 12"), "{}", short.text);
        let forged = form_post(&h, "/console/sign-up", "", &chosen).await;
        assert_eq!(forged.status, StatusCode::BAD_REQUEST);

        let made = sign_up(&h, "Solo Co", "sam@solo.example", PASSWORD).await;
        assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.text);
        let session = format!("tessera_session={}", set_cookie(&made, "tessera_session").unwrap());
        let home = with_cookie(&h, "/console", &session).await;
        assert!(home.text.contains("sam@solo.example"), "{}", home.text);
        let platform = h.admin_token(&h.a).await;
        let listed = h.api(Method::GET, "/v1/tenants", &platform, None).await;
        let solo = &listed.body["tenants"][1];
        assert_eq!(
            (solo["display_name"].as_str(), solo["tier"].as_str()),
            (Some("Solo Co"), Some("FREE"))
        );
        // It signs in with that password later too.
        let again = sign_in(&h, "sam@solo.example", PASSWORD, "/console").await;
        assert_eq!(again.status, StatusCode::SEE_OTHER);
    }
}

#[tokio::test]
async fn sign_up_takes_five_attempts_a_minute_from_one_address() {
    for h in Harness::on_both_backends_configured(|c| c.allow_sign_up = true).await {
        // The tests' requests have no address, so they share one.
        let short = sign_up(&h, "Solo Co", "sam@solo.example", "short").await;
        assert_eq!(short.status, StatusCode::BAD_REQUEST, "a refused attempt counts too");
        for n in 0..4 {
            let made = sign_up(&h, &format!("Co {n}"), &format!("a{n}@co.example"), PASSWORD).await;
            assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.text);
        }
        let limited = sign_up(&h, "Late Co", "late@late.example", PASSWORD).await;
        assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS, "{}", limited.text);
        h.clock.advance_seconds(61);
        let later = sign_up(&h, "Late Co", "late@late.example", PASSWORD).await;
        assert_eq!(later.status, StatusCode::SEE_OTHER, "{}", later.text);
    }
}

/// The operator's admin signed in to the console, on the Tenants page: the session cookie and
/// the page's CSRF token.
async fn operator_console(h: &Harness) -> (String, String) {
    let signed = sign_in(h, "ops@operator.example", PASSWORD, "/console").await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.text);
    let session = format!("tessera_session={}", set_cookie(&signed, "tessera_session").unwrap());
    let home = with_cookie(h, "/console", &session).await;
    assert!(home.text.contains("/console/tenants"), "{}", home.text);
    let page = with_cookie(h, "/console/tenants", &session).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains("Operator"), "{}", page.text);
    let csrf = hidden(&page.text, "csrf");
    (session, csrf)
}

#[tokio::test]
async fn the_console_tenants_page_is_for_the_operators_admins() {
    for h in Harness::on_both_backends().await {
        let (session, csrf) = operator_console(&h).await;

        let bad = form_post(
            &h,
            "/console/tenants",
            &session,
            &[("csrf", &csrf), ("display_name", "Acme"), ("tier", "TEAM"), ("admin_email", "nope")],
        )
        .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(
            bad.text.contains("The admin&#39;s email") || bad.text.contains("admin's email"),
            "{}",
            bad.text
        );
        let forged = form_post(
            &h,
            "/console/tenants",
            &session,
            &[
                ("csrf", "x"),
                ("display_name", "Acme"),
                ("tier", "TEAM"),
                ("admin_email", "a@acme.example"),
            ],
        )
        .await;
        assert_eq!(forged.status, StatusCode::BAD_REQUEST);
        let made = form_post(
            &h,
            "/console/tenants",
            &session,
            &[
                ("csrf", &csrf),
                ("display_name", "Acme"),
                ("tier", "TEAM"),
                ("admin_email", "ada@acme.example"),
            ],
        )
        .await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
        let invitation = hidden_value(&made.text, "invitation-url");
        assert!(invitation.starts_with(&format!("{ISSUER}/console/set-password?token=")));
        let platform = h.admin_token(&h.a).await;
        let listed = h.api(Method::GET, "/v1/tenants", &platform, None).await;
        assert_eq!(listed.body["tenants"][1]["display_name"], "Acme", "{}", listed.text);
    }
}

#[tokio::test]
async fn the_operator_disables_and_deletes_a_tenant_in_the_console_after_typing_its_name() {
    for h in Harness::on_both_backends().await {
        let (session, csrf) = operator_console(&h).await;
        let platform = h.admin_token(&h.a).await;
        let made = h
            .api(
                Method::POST,
                "/v1/tenants",
                &platform,
                Some(json!({"display_name": "Acme", "admin_email": "ada@acme.example"})),
            )
            .await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
        let acme = made.body["tenant_id"].as_str().unwrap().to_owned();
        let disabled = form_post(
            &h,
            "/console/tenants/state",
            &session,
            &[("csrf", &csrf), ("tenant_id", &acme), ("disabled", "true")],
        )
        .await;
        assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.text);
        assert!(disabled.text.contains("Disabled Acme"), "{}", disabled.text);
        let got = h.api(Method::GET, &format!("/v1/tenants/{acme}"), &platform, None).await;
        assert_eq!(got.body["disabled"], true);

        let confirm_path = format!(
            "/console/tenants/delete?tenant_id={}",
            form_urlencoded::byte_serialize(acme.as_bytes()).collect::<String>()
        );
        let confirm = with_cookie(&h, &confirm_path, &session).await;
        assert_eq!(confirm.status, StatusCode::OK);
        assert!(confirm.text.contains("Type the tenant"), "{}", confirm.text);
        let wrong = form_post(
            &h,
            "/console/tenants/delete",
            &session,
            &[("csrf", &csrf), ("tenant_id", &acme), ("confirm", "Acme Inc")],
        )
        .await;
        assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
        let deleted = form_post(
            &h,
            "/console/tenants/delete",
            &session,
            &[("csrf", &csrf), ("tenant_id", &acme), ("confirm", "Acme")],
        )
        .await;
        assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text);
        assert!(deleted.text.contains("Deleted Acme"), "{}", deleted.text);
        let got = h.api(Method::GET, &format!("/v1/tenants/{acme}"), &platform, None).await;
        assert_eq!(got.status, StatusCode::NOT_FOUND);
        let operator = format!(
            "/console/tenants/delete?tenant_id={}",
            form_urlencoded::byte_serialize(h.a.tenant.to_string().as_bytes()).collect::<String>()
        );
        assert_eq!(with_cookie(&h, &operator, &session).await.status, StatusCode::CONFLICT);
    }
}

#[tokio::test]
async fn the_console_tenants_page_is_nobody_elses() {
    for h in Harness::on_both_backends().await {
        // Another tenant's admin: not their page.
        let b = h.add_tenant().await;
        let (_, made) = invited(&h, &b, "ivy@b.example").await;
        let link = local(made.body["invitation_url"].as_str().unwrap());
        set_password(&h, &link, PASSWORD, PASSWORD).await;
        let other = sign_in(&h, "ivy@b.example", PASSWORD, "/console").await;
        let other = format!("tessera_session={}", set_cookie(&other, "tessera_session").unwrap());
        let refused = with_cookie(&h, "/console/tenants", &other).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert!(!with_cookie(&h, "/console", &other).await.text.contains("/console/tenants"));
        // Without a session: the sign-in.
        assert_eq!(get_page(&h, "/console/tenants").await.status, StatusCode::SEE_OTHER);
    }
}

/// The value of the input with id `id` in a page.
fn hidden_value(page: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\" type=\"text\" readonly value=\"");
    let start = page.find(&marker).unwrap_or_else(|| panic!("no {id} in {page}")) + marker.len();
    page[start..].split('"').next().unwrap().replace("&#38;", "&").replace("&amp;", "&")
}

#[tokio::test]
async fn console_sessions_live_on_the_server_and_end_at_sign_out_or_when_unused() {
    for h in Harness::on_both_backends().await {
        let session_of = |reply: &Reply| {
            format!(
                "tessera_session={}",
                set_cookie(reply, "tessera_session").expect("a session cookie")
            )
        };
        let signed = sign_in(&h, "ops@operator.example", PASSWORD, "/console").await;
        let session = session_of(&signed);
        let home = with_cookie(&h, "/console", &session).await;
        assert_eq!(home.status, StatusCode::OK);
        // Signing out ends it in the store: the same cookie, replayed, opens nothing.
        let csrf = hidden(&home.text, "csrf");
        let out = form_post(&h, "/console/sign-out", &session, &[("csrf", &csrf)]).await;
        assert_eq!(out.status, StatusCode::OK, "{}", out.text);
        let replayed = with_cookie(&h, "/console", &session).await;
        assert_eq!(replayed.status, StatusCode::SEE_OTHER);

        // Used now and then, a session lasts; unused for an hour, it ends.
        let session = session_of(&sign_in(&h, "ops@operator.example", PASSWORD, "/console").await);
        for _ in 0..3 {
            h.clock.advance_seconds(50 * 60);
            assert_eq!(with_cookie(&h, "/console", &session).await.status, StatusCode::OK);
        }
        h.clock.advance_seconds(61 * 60);
        assert_eq!(with_cookie(&h, "/console", &session).await.status, StatusCode::SEE_OTHER);

        // However used, it ends twelve hours after it began.
        let session = session_of(&sign_in(&h, "ops@operator.example", PASSWORD, "/console").await);
        for _ in 0..14 {
            h.clock.advance_seconds(50 * 60);
            assert_eq!(with_cookie(&h, "/console", &session).await.status, StatusCode::OK);
        }
        h.clock.advance_seconds(50 * 60);
        assert_eq!(with_cookie(&h, "/console", &session).await.status, StatusCode::SEE_OTHER);
        // A made-up cookie opens nothing.
        assert_eq!(
            with_cookie(&h, "/console", "tessera_session=made-up").await.status,
            StatusCode::SEE_OTHER
        );
    }
}

#[tokio::test]
async fn a_role_or_password_change_ends_the_users_console_sessions() {
    for h in Harness::on_both_backends().await {
        let admin = h.admin_token(&h.a).await;
        let created = h
            .api(
                Method::POST,
                "/v1/users",
                &admin,
                Some(json!({"email": "rae@example.com", "display_name": "Rae", "role": "admin", "password": PASSWORD})),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        let path = format!("/v1/users/{}", created.body["id"].as_str().unwrap());
        let session_for = |password: &'static str| {
            let h = &h;
            async move {
                // A change ends the sessions begun up to its millisecond; this clock stands
                // still unless moved.
                h.clock.advance_seconds(1);
                let signed = sign_in(h, "rae@example.com", password, "/console").await;
                let cookie = format!(
                    "tessera_session={}",
                    set_cookie(&signed, "tessera_session").expect("a session cookie")
                );
                let home = with_cookie(h, "/console", &cookie).await;
                assert_eq!(home.status, StatusCode::OK);
                cookie
            }
        };
        // Each change, made while a session is open, and whether that session still stands:
        // demoted or a new password ends it, on this and (through the store) every instance; a
        // name change is not a reason to sign anyone out.
        for (signed_in_with, change, stands) in [
            (PASSWORD, json!({"role": "member"}), StatusCode::SEE_OTHER),
            (PASSWORD, json!({"password": "a brand new passphrase"}), StatusCode::SEE_OTHER),
            ("a brand new passphrase", json!({"display_name": "Rae B"}), StatusCode::OK),
        ] {
            let session = session_for(signed_in_with).await;
            let changed = h.api(Method::PATCH, &path, &admin, Some(change.clone())).await;
            assert_eq!(changed.status, StatusCode::OK, "{change}: {}", changed.text);
            assert_eq!(with_cookie(&h, "/console", &session).await.status, stands, "{change}");
        }
    }
}
