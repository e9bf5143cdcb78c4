//! Multi-tenant applications, app authorizations and the Token Management Service (SPEC §8)
//! through the real router, on SQLite and PostgreSQL.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::{json, Value};

use crate::harness::*;

/// An application version registered by `admin`'s tenant; returns (client_id, secret, view).
pub(crate) async fn app_version(
    h: &Harness,
    admin: &str,
    app: &str,
    version: &str,
    tms: bool,
) -> (String, String, Value) {
    h.create_integration(
        admin,
        json!({"display_name": format!("{app} {version}"), "multi_tenant": true,
               "app_name": app, "app_version": version, "tms_enabled": tms}),
    )
    .await
}

/// Promotes a version; returns its new secret.
pub(crate) async fn promote(h: &Harness, admin: &str, client_id: &str) -> String {
    let reply =
        h.api(Method::POST, &format!("/v1/integrations/{client_id}/promote"), admin, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["stage"], "production");
    reply.body["client_secret"].as_str().unwrap().to_owned()
}

pub(crate) async fn authorize(h: &Harness, admin: &str, body: Value) -> Reply {
    h.api(Method::POST, "/v1/app_authorizations", admin, Some(body)).await
}

/// `POST /tms/v1/tokens` with HTTP Basic and a raw JSON body.
pub(crate) async fn tms(h: &Harness, id: &str, secret: &str, body: &str) -> Reply {
    let req = Request::builder()
        .method(Method::POST)
        .uri("/tms/v1/tokens")
        .header(header::AUTHORIZATION, basic(id, secret))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap();
    h.send(req).await
}

pub(crate) async fn tms_for(h: &Harness, id: &str, secret: &str, tenants: &[String]) -> Reply {
    tms(h, id, secret, &json!({ "tenants": tenants }).to_string()).await
}

async fn tms_tenants(h: &Harness, id: &str, secret: &str, query: &str) -> Reply {
    let req = Request::builder()
        .uri(format!("/tms/v1/tenants{query}"))
        .header(header::AUTHORIZATION, basic(id, secret))
        .body(Body::empty())
        .unwrap();
    h.send(req).await
}

/// The token issued for `tenant` in a TMS answer.
pub(crate) fn token_for(reply: &Reply, tenant: &str) -> Value {
    reply.body["tokens"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", reply.text))
        .iter()
        .find(|t| t["tenant_id"] == tenant)
        .cloned()
        .unwrap_or_else(|| panic!("no token for {tenant}: {}", reply.text))
}

pub(crate) fn error_for(reply: &Reply, tenant: &str) -> Value {
    reply.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tenant_id"] == tenant)
        .cloned()
        .unwrap_or_else(|| panic!("no error for {tenant}: {}", reply.text))
}

#[tokio::test]
async fn application_versions_have_stages_and_promotion_replaces_their_credentials() {
    for h in Harness::on_both_backends().await {
        let admin = h.admin_token(&h.a).await;
        let (id, dev_secret, view) = app_version(&h, &admin, "kpi", "1.0", true).await;
        assert_eq!(view["multi_tenant"], true);
        assert_eq!(view["stage"], "development");
        assert_eq!(view["tms_enabled"], true);
        assert_eq!(
            (view["app_name"].as_str(), view["app_version"].as_str()),
            (Some("kpi"), Some("1.0"))
        );
        let plain = h.create_integration(&admin, reader()).await.2;
        assert_eq!(plain["multi_tenant"], false);
        assert!(plain.get("stage").is_none());

        // What a create or patch may not do, each naming its field.
        let refused = [
            (json!({"display_name": "x", "app_name": "kpi"}), "app_name"),
            (json!({"display_name": "x", "tms_enabled": true}), "tms_enabled"),
            (json!({"display_name": "x", "multi_tenant": true, "app_name": "kpi"}), "app_version"),
            (json!({"display_name": "x", "multi_tenant": true, "app_version": "1"}), "app_name"),
            (
                json!({"display_name": "x", "multi_tenant": true, "app_name": "k p i", "app_version": "1"}),
                "app_name",
            ),
        ];
        for (body, field) in refused {
            let reply = h.api(Method::POST, "/v1/integrations", &admin, Some(body.clone())).await;
            reply.refused(&body, &format!("`{field}`"));
        }
        let twice = h
            .api(Method::POST, "/v1/integrations", &admin, Some(json!({"display_name": "again", "multi_tenant": true, "app_name": "kpi", "app_version": "1.0"})))
            .await;
        assert_eq!(twice.status, StatusCode::CONFLICT, "{}", twice.text);
        // The name belongs to the tenant that registered it.
        let other = h.add_tenant().await;
        let other_admin = h.admin_token(&other).await;
        let taken = h
            .api(Method::POST, "/v1/integrations", &other_admin, Some(json!({"display_name": "copy", "multi_tenant": true, "app_name": "kpi", "app_version": "9"})))
            .await;
        assert_eq!(taken.status, StatusCode::CONFLICT, "{}", taken.text);
        assert!(taken.text.contains("app_name"), "{}", taken.text);
        let plain_id = plain["client_id"].as_str().unwrap();
        let patch = h
            .api(
                Method::PATCH,
                &format!("/v1/integrations/{plain_id}"),
                &admin,
                Some(json!({"tms_enabled": true})),
            )
            .await;
        assert_eq!(patch.status, StatusCode::BAD_REQUEST);
        assert!(patch.text.contains("`tms_enabled`"), "{}", patch.text);

        // Promotion: new credentials, the development ones stop at once.
        assert_eq!(h.token(&id, &dev_secret, None).await.status, StatusCode::OK);
        let prod_secret = promote(&h, &admin, &id).await;
        assert_ne!(prod_secret, dev_secret);
        let old = h.token(&id, &dev_secret, None).await;
        assert_eq!(old.status, StatusCode::UNAUTHORIZED, "{}", old.text);
        assert_eq!(old.error(), "invalid_client");
        assert_eq!(h.token(&id, &prod_secret, None).await.status, StatusCode::OK);
        let shown = h.api(Method::GET, &format!("/v1/integrations/{id}"), &admin, None).await;
        assert_eq!(shown.body["stage"], "production");
        assert!(shown.body.get("client_secret").is_none());
        let path = format!("/v1/integrations/{id}/promote");
        let again = h.api(Method::POST, &path, &admin, None).await;
        assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
        let not_app = h
            .api(Method::POST, &format!("/v1/integrations/{plain_id}/promote"), &admin, None)
            .await;
        assert_eq!(not_app.status, StatusCode::CONFLICT, "{}", not_app.text);
        let foreign = h.api(Method::POST, &path, &other_admin, None).await;
        assert_eq!(foreign.status, StatusCode::NOT_FOUND);
        let audit = h.audit_actions(&admin, "integration.promoted").await;
        assert!(audit.iter().any(|e| e["target"] == id.as_str()));
    }
}

#[tokio::test]
async fn app_authorizations_are_given_listed_and_revoked_by_tenant_admins() {
    for h in Harness::on_both_backends().await {
        let vendor = h.admin_token(&h.a).await;
        app_version(&h, &vendor, "kpi", "1.0", true).await;
        let customer = h.add_tenant().await;
        let admin = h.admin_token(&customer).await;

        let given = authorize(&h, &admin, json!({"app_name": "kpi", "access": "limited"})).await;
        assert_eq!(given.status, StatusCode::CREATED, "{}", given.text);
        assert_eq!(given.body["scopes"], json!(["assets:read", "assets:write", "events:read"]));
        assert_eq!(given.body["tenant_id"], customer.tenant.to_string());
        let id = given.body["id"].as_str().unwrap().to_owned();
        assert!(id.starts_with("app_authorizations/"));

        let refused = [
            (json!({"app_name": "kpi", "access": "all"}), "access"),
            (json!({"app_name": "kpi", "access": "custom"}), "scopes"),
            (json!({"app_name": "kpi", "access": "custom", "scopes": ["admin"]}), "scopes"),
            (json!({"app_name": "kpi", "access": "custom", "scopes": ["nope"]}), "scopes"),
            (json!({"app_name": "kpi", "access": "limited", "scopes": ["assets:read"]}), "scopes"),
            (json!({"app_name": "unknown-app", "access": "read_write"}), "app_name"),
            (json!({"app_name": "", "access": "read_write"}), "app_name"),
        ];
        for (body, field) in refused {
            let reply = authorize(&h, &admin, body.clone()).await;
            reply.refused(&body, &format!("`{field}`"));
        }
        let extra =
            authorize(&h, &admin, json!({"app_name": "kpi", "access": "limited", "why": 1})).await;
        assert_eq!(extra.status, StatusCode::BAD_REQUEST);
        // Only admins authorize.
        let (rid, rsecret, _) = h.create_integration(&admin, reader()).await;
        let member =
            h.token(&rid, &rsecret, None).await.body["access_token"].as_str().unwrap().to_owned();
        let forbidden =
            authorize(&h, &member, json!({"app_name": "kpi", "access": "limited"})).await;
        assert_eq!(forbidden.status, StatusCode::FORBIDDEN);

        // A new POST replaces it under a new id.
        let custom = authorize(
            &h,
            &admin,
            json!({"app_name": "kpi", "access": "custom", "scopes": ["events:read"]}),
        )
        .await;
        assert_eq!(custom.status, StatusCode::CREATED, "{}", custom.text);
        let new_id = custom.body["id"].as_str().unwrap().to_owned();
        assert_ne!(new_id, id);
        let listed = h.api(Method::GET, "/v1/app_authorizations", &admin, None).await;
        let all = listed.body["app_authorizations"].as_array().unwrap();
        assert_eq!(all.len(), 1, "{}", listed.text);
        assert_eq!(all[0]["access"], "custom");
        assert_eq!(all[0]["scopes"], json!(["events:read"]));
        let vendor_list = h.api(Method::GET, "/v1/app_authorizations", &vendor, None).await;
        assert_eq!(vendor_list.body["app_authorizations"], json!([]));

        // Revocation by id: another tenant's, a gone one or a malformed id is 404.
        let uuid = new_id.trim_start_matches("app_authorizations/");
        let by_id = format!("/v1/app_authorizations/{uuid}");
        for (path, token, expected, what) in [
            (by_id.as_str(), &vendor, StatusCode::NOT_FOUND, "another tenant's"),
            (by_id.as_str(), &admin, StatusCode::NO_CONTENT, "its own"),
            (by_id.as_str(), &admin, StatusCode::NOT_FOUND, "a gone one"),
            ("/v1/app_authorizations/not-an-id", &admin, StatusCode::NOT_FOUND, "junk"),
        ] {
            let reply = h.api(Method::DELETE, path, token, None).await;
            assert_eq!(reply.status, expected, "{what}: {}", reply.text);
        }
        let audit = h.audit_actions(&admin, "app.authorization_revoked").await;
        assert!(audit.iter().any(|e| e["action"] == "app.authorized"));
    }
}

/// The scene of the TMS tests below: the vendor's application `kpi` 1.0 in production with TMS
/// on, four customer tenants (read/write, limited, custom `events:read`, and one that did not
/// authorize it), and the TMS reply for all four and a tenant that does not exist.
struct KpiScene {
    vendor: String,
    id: String,
    dev_secret: String,
    secret: String,
    /// (tenant id, its admin's token), in the order above.
    customers: Vec<(String, String)>,
    nowhere: String,
    reply: Reply,
}

impl KpiScene {
    async fn new(h: &Harness) -> KpiScene {
        let vendor = h.admin_token(&h.a).await;
        let (id, dev_secret, _) = app_version(h, &vendor, "kpi", "1.0", true).await;
        let secret = promote(h, &vendor, &id).await;
        let mut customers = Vec::new();
        for access in [
            json!({"access": "read_write"}),
            json!({"access": "limited"}),
            json!({"access": "custom", "scopes": ["events:read"]}),
            Value::Null,
        ] {
            let c = h.add_tenant().await;
            let admin = h.admin_token(&c).await;
            if let Value::Object(mut body) = access {
                body.insert("app_name".into(), json!("kpi"));
                let given = authorize(h, &admin, Value::Object(body)).await;
                assert_eq!(given.status, StatusCode::CREATED, "{}", given.text);
            }
            customers.push((c.tenant.to_string(), admin));
        }
        let nowhere = tessera_core::id::TenantId::random().to_string();
        let asked: Vec<String> =
            customers.iter().map(|(t, _)| t.clone()).chain([nowhere.clone()]).collect();
        let reply = tms_for(h, &id, &secret, &asked).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        KpiScene { vendor, id, dev_secret, secret, customers, nowhere, reply }
    }

    /// The access token TMS issued for customer `n`.
    fn token(&self, n: usize) -> String {
        token_for(&self.reply, &self.customers[n].0)["access_token"].as_str().unwrap().to_owned()
    }
}

#[tokio::test]
async fn tms_issues_one_token_per_authorizing_tenant_with_the_access_it_gave() {
    for h in Harness::on_both_backends().await {
        let kpi = KpiScene::new(&h).await;
        let development = tms_for(&h, &kpi.id, &kpi.dev_secret, &[h.a.tenant.to_string()]).await;
        assert_eq!(development.status, StatusCode::UNAUTHORIZED, "{}", h.storage.backend_name());
        let reply = &kpi.reply;
        assert_eq!(reply.header("cache-control"), "no-store");
        assert_eq!(reply.body["tokens"].as_array().unwrap().len(), 3);
        let rw = token_for(reply, &kpi.customers[0].0);
        assert_eq!(rw["scope"], "assets:read assets:write events:read events:write");
        assert_eq!(rw["token_type"], "Bearer");
        assert!(rw["expires_in"].as_u64().unwrap() > 0);
        assert_eq!(
            token_for(reply, &kpi.customers[1].0)["scope"],
            "assets:read assets:write events:read"
        );
        assert_eq!(token_for(reply, &kpi.customers[2].0)["scope"], "events:read");
        // Not authorized and not existing look the same.
        let (unauthorized, missing) =
            (error_for(reply, &kpi.customers[3].0), error_for(reply, &kpi.nowhere));
        assert_eq!(unauthorized["error"], "access_denied");
        assert_eq!(
            (&unauthorized["error"], &unauthorized["error_description"]),
            (&missing["error"], &missing["error_description"])
        );
    }
}

#[tokio::test]
async fn tms_tokens_reach_only_their_tenants_data_and_only_within_their_scopes() {
    for h in Harness::on_both_backends().await {
        let kpi = KpiScene::new(&h).await;
        let rw_token = kpi.token(0);
        let claims = h.introspect((&h.a.client_id, &h.a.secret), &rw_token).await;
        assert_eq!(claims.body["active"], false, "another tenant's admin cannot introspect it");
        let (c0, c0_admin) = &kpi.customers[0];
        let created = h
            .api(
                Method::POST,
                "/v2/assets",
                &rw_token,
                Some(json!({"attributes": {"arc_display_type": "pump", "name": "p1"}})),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        assert_eq!(created.body["tenant_identity"], c0.as_str());
        let owner_view = h.api(Method::GET, "/v2/assets", c0_admin, None).await;
        assert_eq!(owner_view.body["assets"].as_array().unwrap().len(), 1);
        let other_data = h.api(Method::GET, "/v2/assets", &kpi.token(1), None).await;
        assert_eq!(other_data.status, StatusCode::OK);
        assert_eq!(other_data.body["assets"], json!([]), "{}", other_data.text);
        let vendor_data = h.api(Method::GET, "/v2/assets", &kpi.vendor, None).await;
        assert_eq!(vendor_data.body["assets"], json!([]));
        let no_write = h
            .api(
                Method::POST,
                "/v2/assets",
                &kpi.token(2),
                Some(json!({"attributes": {"name": "x"}})),
            )
            .await;
        assert_eq!(no_write.status, StatusCode::FORBIDDEN);
        assert_eq!(no_write.error(), "insufficient_scope");
        let asset = created.body["identity"].as_str().unwrap();
        let event = h
            .api(
                Method::POST,
                &format!("/v2/{asset}/events"),
                &rw_token,
                Some(json!({"event_attributes": {"reading": "1"}})),
            )
            .await;
        assert!(event.status.is_success(), "{}", event.text);
    }
}

#[tokio::test]
async fn both_tenants_audit_logs_record_each_tms_token() {
    for h in Harness::on_both_backends().await {
        let kpi = KpiScene::new(&h).await;
        let (c0, c0_admin) = &kpi.customers[0];
        let actor = format!("client:{}", kpi.id);
        let issued = h
            .audit_entry(c0_admin, |e| {
                e["action"] == "token.issued"
                    && e["actor"] == actor.as_str()
                    && e["detail"]["grant_type"] == "tms"
            })
            .await;
        assert_eq!(issued["detail"]["tenant_id"], c0.as_str());
        let in_vendor = h
            .audit_entry(&kpi.vendor, |e| {
                e["action"] == "token.issued"
                    && e["actor"] == actor.as_str()
                    && e["detail"]["tenant_id"] == c0.as_str()
            })
            .await;
        assert_eq!(in_vendor["target"], issued["target"], "the same token");
    }
}

#[tokio::test]
async fn revoking_an_app_authorization_ends_its_tms_tokens_and_stops_new_ones() {
    for h in Harness::on_both_backends().await {
        let kpi = KpiScene::new(&h).await;
        let (c0, c0_admin) = &kpi.customers[0];
        let rw_token = kpi.token(0);
        let listed = h.api(Method::GET, "/v1/app_authorizations", c0_admin, None).await;
        let auth_id = listed.body["app_authorizations"][0]["id"]
            .as_str()
            .unwrap()
            .trim_start_matches("app_authorizations/")
            .to_owned();
        let revoked = h
            .api(Method::DELETE, &format!("/v1/app_authorizations/{auth_id}"), c0_admin, None)
            .await;
        assert_eq!(revoked.status, StatusCode::NO_CONTENT);
        let after = h.api(Method::GET, "/v2/assets", &rw_token, None).await;
        assert_eq!(after.status, StatusCode::UNAUTHORIZED, "{}", after.text);
        assert!(after.text.contains("revoked the grant"), "{}", after.text);
        let again = tms_for(&h, &kpi.id, &kpi.secret, std::slice::from_ref(c0)).await;
        assert_eq!(error_for(&again, c0)["error"], "access_denied");
        // Another customer's token is untouched.
        let other = h.api(Method::GET, "/v2/assets", &kpi.token(1), None).await;
        assert_eq!(other.status, StatusCode::OK, "{}", h.storage.backend_name());
    }
}

#[tokio::test]
async fn deregistering_the_application_ends_its_tms_tokens() {
    for h in Harness::on_both_backends().await {
        let kpi = KpiScene::new(&h).await;
        let limited_token = kpi.token(1);
        let status = |token: String| {
            let h = &h;
            async move { h.api(Method::GET, "/v2/assets", &token, None).await.status }
        };
        assert_eq!(status(limited_token.clone()).await, StatusCode::OK);
        let deleted =
            h.api(Method::DELETE, &format!("/v1/integrations/{}", kpi.id), &kpi.vendor, None).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        assert_eq!(status(limited_token).await, StatusCode::UNAUTHORIZED);
        let customer = [kpi.customers[1].0.clone()];
        let again = tms_for(&h, &kpi.id, &kpi.secret, &customer).await;
        assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn tms_refuses_bad_requests_and_versions_not_enabled_for_it() {
    for h in Harness::on_both_backends().await {
        let vendor = h.admin_token(&h.a).await;
        let (id, dev, _) = app_version(&h, &vendor, "kpi", "1.0", true).await;
        let secret = promote(&h, &vendor, &id).await;
        let t = |_: usize| tessera_core::id::TenantId::random().to_string();
        let one = t(0);
        let bad = [
            (json!({"tenants": []}).to_string(), "names 0"),
            (json!({"tenants": (0..6).map(t).collect::<Vec<_>>()}).to_string(), "names 6"),
            (json!({"tenants": [one.clone(), one.clone()]}).to_string(), "twice"),
            (json!({"tenants": ["tenant/nope"]}).to_string(), "entry 0"),
            (json!({"tenants": [one.clone()], "scope": "x"}).to_string(), "scope"),
            (json!({"tenant": [one.clone()]}).to_string(), "tenant"),
            ("{not json".to_owned(), "JSON"),
        ];
        for (body, says) in bad {
            let reply = tms(&h, &id, &secret, &body).await;
            reply.refused(&body, says);
            if reply.body.get("field").is_some() || reply.text.contains("`tenants`") {
                assert!(reply.text.contains("tenants"), "{}", reply.text);
            }
        }
        // Authentication: none, a wrong secret, a bearer token.
        let req = Request::builder()
            .method(Method::POST)
            .uri("/tms/v1/tokens")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(json!({"tenants": [one.clone()]}).to_string()))
            .unwrap();
        let none = h.send(req).await;
        assert_eq!(none.status, StatusCode::UNAUTHORIZED);
        assert_eq!(none.error(), "invalid_client");
        let wrong = tms_for(&h, &id, &dev, std::slice::from_ref(&one)).await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        let listing = tms_tenants(&h, &id, "wrong", "").await;
        assert_eq!(listing.status, StatusCode::UNAUTHORIZED);

        // A version not enabled for TMS, and an integration that is no application.
        let (v2, v2_secret, _) = app_version(&h, &vendor, "kpi", "2.0", false).await;
        let off = tms_for(&h, &v2, &v2_secret, &[h.a.tenant.to_string()]).await;
        assert_eq!(off.status, StatusCode::BAD_REQUEST);
        assert_eq!(off.error(), "unauthorized_client");
        assert!(off.description().contains("tms_enabled"), "{}", off.text);
        assert_eq!(tms_tenants(&h, &v2, &v2_secret, "").await.error(), "unauthorized_client");
        let (plain, plain_secret, _) = h.create_integration(&vendor, reader()).await;
        let not_app = tms_for(&h, &plain, &plain_secret, &[h.a.tenant.to_string()]).await;
        assert_eq!(not_app.error(), "unauthorized_client");
    }
}

#[tokio::test]
async fn a_version_switched_on_for_tms_works_at_home_in_development_and_everywhere_in_production() {
    for h in Harness::on_both_backends().await {
        let vendor = h.admin_token(&h.a).await;
        let (v2, v2_secret, _) = app_version(&h, &vendor, "kpi", "2.0", false).await;
        // Enabled on its own, the new version works; the authorization is by application.
        let customer = h.add_tenant().await;
        let cadmin = h.admin_token(&customer).await;
        authorize(&h, &cadmin, json!({"app_name": "kpi", "access": "read_write"})).await;
        let on = h
            .api(
                Method::PATCH,
                &format!("/v1/integrations/{v2}"),
                &vendor,
                Some(json!({"tms_enabled": true})),
            )
            .await;
        assert_eq!(on.status, StatusCode::OK, "{}", on.text);
        assert_eq!(on.body["tms_enabled"], true);

        // In development, only its own tenant.
        let c = customer.tenant.to_string();
        let own = h.a.tenant.to_string();
        let dev_answer = tms_for(&h, &v2, &v2_secret, &[own.clone(), c.clone()]).await;
        assert_eq!(dev_answer.status, StatusCode::OK, "{}", dev_answer.text);
        assert!(token_for(&dev_answer, &own)["scope"].as_str().unwrap().contains("assets:read"));
        let refused = error_for(&dev_answer, &c);
        assert!(
            refused["error_description"].as_str().unwrap().contains("development"),
            "{refused}"
        );
        let v2_prod = promote(&h, &vendor, &v2).await;
        let prod_answer = tms_for(&h, &v2, &v2_prod, std::slice::from_ref(&c)).await;
        assert_eq!(
            token_for(&prod_answer, &c)["scope"],
            "assets:read assets:write events:read events:write"
        );
    }
}

#[tokio::test]
async fn tms_lists_authorizing_tenants_in_stable_pages() {
    for h in Harness::on_both_backends().await {
        let vendor = h.admin_token(&h.a).await;
        let (id, _, _) = app_version(&h, &vendor, "kpi", "1.0", true).await;
        let secret = promote(&h, &vendor, &id).await;
        let mut admins = Vec::new();
        for _ in 0..5 {
            let c = h.add_tenant().await;
            let admin = h.admin_token(&c).await;
            authorize(&h, &admin, json!({"app_name": "kpi", "access": "limited"})).await;
            admins.push((c.tenant.to_string(), admin));
        }
        let mut expected: Vec<String> = admins.iter().map(|(t, _)| t.clone()).collect();
        expected.sort();
        let first = tms_tenants(&h, &id, &secret, "?page_size=2").await;
        assert_eq!(first.status, StatusCode::OK, "{}", first.text);
        // Each with its name and the access it gave.
        assert_eq!(
            first.body["tenants"][0],
            json!({"tenant_id": expected[0], "display_name": "T", "access": "limited",
                   "scopes": ["assets:read", "assets:write", "events:read"]})
        );
        let ids = |r: &Reply| -> Vec<String> {
            r.body["tenants"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["tenant_id"].as_str().unwrap().to_owned())
                .collect()
        };
        let mut seen = ids(&first);
        assert_eq!(seen, expected[..2]);
        // Meanwhile the first listed tenant revokes and a new one authorizes: the tenants that
        // stay are each listed once.
        let (gone_tenant, gone_admin) = admins.iter().find(|(t, _)| *t == expected[0]).unwrap();
        let listed = h.api(Method::GET, "/v1/app_authorizations", gone_admin, None).await;
        let auth = listed.body["app_authorizations"][0]["id"]
            .as_str()
            .unwrap()
            .trim_start_matches("app_authorizations/")
            .to_owned();
        h.api(Method::DELETE, &format!("/v1/app_authorizations/{auth}"), gone_admin, None).await;
        let late = h.add_tenant().await;
        let late_admin = h.admin_token(&late).await;
        authorize(&h, &late_admin, json!({"app_name": "kpi", "access": "limited"})).await;
        let mut token = first.body["next_page_token"].as_str().unwrap().to_owned();
        while !token.is_empty() {
            let page =
                tms_tenants(&h, &id, &secret, &format!("?page_size=2&page_token={token}")).await;
            assert_eq!(page.status, StatusCode::OK, "{}", page.text);
            seen.extend(ids(&page));
            token = page.body["next_page_token"].as_str().unwrap().to_owned();
        }
        for stayed in &expected[1..] {
            assert_eq!(seen.iter().filter(|t| *t == stayed).count(), 1, "{stayed} in {seen:?}");
        }
        assert!(seen.contains(gone_tenant), "listed before it revoked");
        let mut sorted = seen.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), seen.len(), "no tenant twice: {seen:?}");

        let bad = tms_tenants(&h, &id, &secret, "?page_token=garbage").await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(bad.text.contains("page_token"), "{}", bad.text);
        let size = tms_tenants(&h, &id, &secret, "?page_size=0").await;
        assert_eq!(size.status, StatusCode::BAD_REQUEST);
        assert!(size.text.contains("page_size"), "{}", size.text);
    }
}
