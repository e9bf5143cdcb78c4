//! The console's admin pages (SPEC §9, issue 17) through the real router: each form does what
//! its `/v1` call does, as the signed-in user, and refuses with the API's words next to the
//! field; bad CSRF, another tenant's ids and members are refused with HTML pages.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::connections::{form_post, get_page, hidden, set_cookie, sign_in, with_cookie};
use crate::harness::*;

const PASSWORD: &str = "correct horse battery staple";

/// A user of `admin`'s tenant signed in to the console: the session cookie and the CSRF
/// token its forms carry.
pub(crate) struct ConsoleSession {
    pub cookie: String,
    pub csrf: String,
    pub user_id: String,
}

impl ConsoleSession {
    pub(crate) async fn start(h: &Harness, admin: &TenantAdmin, email: &str, role: &str) -> Self {
        let token = h.admin_token(admin).await;
        let made = h
            .api(
                Method::POST,
                "/v1/users",
                &token,
                Some(json!({"email": email, "display_name": "Ada", "role": role,
                            "password": PASSWORD})),
            )
            .await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
        let signed = sign_in(h, email, PASSWORD, "/console").await;
        assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.text);
        let cookie = format!(
            "tessera_session={}",
            set_cookie(&signed, "tessera_session").expect("a session cookie")
        );
        let home = with_cookie(h, "/console", &cookie).await;
        assert_eq!(home.status, StatusCode::OK, "{}", home.text);
        ConsoleSession {
            csrf: hidden(&home.text, "csrf"),
            cookie,
            user_id: made.body["id"].as_str().unwrap().to_owned(),
        }
    }

    pub(crate) async fn get(&self, h: &Harness, path: &str) -> Reply {
        with_cookie(h, path, &self.cookie).await
    }

    /// Posts a form with this session's CSRF token added.
    pub(crate) async fn post(&self, h: &Harness, path: &str, fields: &[(&str, &str)]) -> Reply {
        let mut body = vec![("csrf", self.csrf.as_str())];
        body.extend_from_slice(fields);
        form_post(h, path, &self.cookie, &body).await
    }

    /// [`ConsoleSession::post`] of fields written `name=value&name=value` (values as typed,
    /// not encoded), as a long form reads best.
    pub(crate) async fn submit(&self, h: &Harness, path: &str, fields: &str) -> Reply {
        let fields: Vec<(&str, &str)> =
            fields.split('&').filter_map(|field| field.split_once('=')).collect();
        self.post(h, path, &fields).await
    }
}

/// The value of the read-only input `id` on a page.
pub(crate) fn shown(page: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\" type=\"text\" readonly value=\"");
    let start = page.find(&marker).unwrap_or_else(|| panic!("no {id} in {page}")) + marker.len();
    page[start..].split('"').next().unwrap().to_owned()
}

fn is_html(reply: &Reply) -> bool {
    reply.header("content-type").starts_with("text/html")
}

#[tokio::test]
async fn the_root_leads_to_the_console_and_unknown_console_paths_are_html_pages() {
    let h = Harness::new().await;
    let root = get_page(&h, "/").await;
    assert!(root.status.is_redirection(), "{}", root.status);
    assert_eq!(root.header("location"), "/console");
    let missing = get_page(&h, "/console/no-such-page").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(is_html(&missing), "{}", missing.header("content-type"));
    assert!(missing.text.contains("There is no such page"), "{}", missing.text);
    // The API keeps answering JSON.
    let api = get_page(&h, "/v1/no-such-thing").await;
    assert_eq!(api.status, StatusCode::NOT_FOUND);
    assert_eq!(api.body["error"], "not_found");
    // A page asked for without a session comes back after signing in.
    let page = get_page(&h, "/console/integrations?page_size=5").await;
    assert!(page.status.is_redirection());
    assert_eq!(
        page.header("location"),
        "/console/sign-in?next=%2Fconsole%2Fintegrations%3Fpage_size%3D5"
    );
}

#[tokio::test]
async fn an_admin_creates_an_integration_with_a_custom_claim_and_sees_its_secret_once() {
    for h in Harness::on_both_backends().await {
        let ada = ConsoleSession::start(&h, &h.a, "ada@example.com", "admin").await;
        let form = ada.get(&h, "/console/integrations/new").await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.text);
        assert!(form.text.contains("read assets"), "scopes in words: {}", form.text);
        assert!(form.text.contains("Signed in") || form.text.contains("ada@example.com"));

        let created = ada
            .post(
                &h,
                "/console/integrations",
                &[
                    ("display_name", "Pump telemetry"),
                    ("scope", "assets:read"),
                    ("scope", "events:read"),
                    ("claim_name", "site"),
                    ("claim_value", "north"),
                    ("claim_name", ""),
                    ("claim_value", ""),
                    ("token_ttl_seconds", "1800"),
                    ("intent", "save"),
                ],
            )
            .await;
        assert_eq!(created.status, StatusCode::OK, "{}", created.text);
        assert!(created.text.contains("cannot be seen again"), "{}", created.text);
        let client_id = shown(&created.text, "client_id");
        let secret = shown(&created.text, "client_secret");
        assert!(created.text.contains("curl -s -u"), "a ready curl line");

        // The secret works, and the token carries the claim and the chosen scopes.
        let token = h.token(&client_id, &secret, None).await;
        assert_eq!(token.status, StatusCode::OK, "{}", token.text);
        assert_eq!(token.body["scope"], "assets:read events:read");
        assert_eq!(token.body["expires_in"], 1800);
        let access = token.body["access_token"].as_str().unwrap();
        let claims = h.introspect((&h.a.client_id, &h.a.secret), access).await;
        assert_eq!(claims.body["site"], "north", "{}", claims.text);

        // The detail page shows the integration, never the secret again.
        let detail = ada.get(&h, &format!("/console/integrations/{client_id}")).await;
        assert_eq!(detail.status, StatusCode::OK);
        assert!(detail.text.contains("Pump telemetry"));
        assert!(!detail.text.contains(&secret), "the secret is shown once only");
        let list = ada.get(&h, "/console/integrations").await;
        assert!(list.text.contains(&client_id), "{}", list.text);

        // Audited with the user as the actor.
        let admin = h.admin_token(&h.a).await;
        let audited = h
            .audit_entry(&admin, |e| {
                e["action"] == "integration.created" && e["target"] == client_id.as_str()
            })
            .await;
        assert_eq!(audited["actor"], format!("user:{}", ada.user_id));
    }
}

#[tokio::test]
async fn the_integration_form_refuses_with_the_apis_words_next_to_the_field() {
    let h = Harness::new().await;
    let ada = ConsoleSession::start(&h, &h.a, "ada@example.com", "admin").await;
    let admin = h.admin_token(&h.a).await;
    let count = || async {
        h.api(Method::GET, "/v1/integrations", &admin, None).await.body["integrations"]
            .as_array()
            .unwrap()
            .len()
    };
    let before = count().await;

    let reserved = ada
        .post(
            &h,
            "/console/integrations",
            &[
                ("display_name", "Reserved"),
                ("scope", "assets:read"),
                ("claim_name", "iss"),
                ("claim_value", "me"),
                ("intent", "save"),
            ],
        )
        .await;
    assert_eq!(reserved.status, StatusCode::BAD_REQUEST);
    assert!(is_html(&reserved));
    assert!(reserved.text.contains("id=\"claims-problem\""), "{}", reserved.text);
    assert!(reserved.text.contains("value=\"Reserved\""), "what was typed is kept");
    let unnamed = ada
        .post(
            &h,
            "/console/integrations",
            &[("display_name", "No name"), ("claim_name", ""), ("claim_value", "x")],
        )
        .await;
    assert_eq!(unnamed.status, StatusCode::BAD_REQUEST);
    assert!(unnamed.text.contains("but no name"), "{}", unnamed.text);
    let blank =
        ada.post(&h, "/console/integrations", &[("display_name", ""), ("intent", "save")]).await;
    assert_eq!(blank.status, StatusCode::BAD_REQUEST);
    assert!(blank.text.contains("id=\"display_name-problem\""), "{}", blank.text);
    let ttl = ada
        .post(
            &h,
            "/console/integrations",
            &[("display_name", "Ttl"), ("token_ttl_seconds", "soon")],
        )
        .await;
    assert!(ttl.text.contains("id=\"ttl-problem\""), "{}", ttl.text);

    // "Add a claim row" shows the form again with one more row and creates nothing.
    let more = ada
        .post(
            &h,
            "/console/integrations",
            &[
                ("display_name", "Rows"),
                ("claim_name", "a"),
                ("claim_value", "1"),
                ("intent", "add_claim"),
            ],
        )
        .await;
    assert_eq!(more.status, StatusCode::OK);
    assert!(more.text.contains("id=\"claim-name-1\""), "{}", more.text);

    // A form without this session's CSRF token changes nothing.
    let forged = form_post(
        &h,
        "/console/integrations",
        &ada.cookie,
        &[("csrf", "forged"), ("display_name", "Forged"), ("intent", "save")],
    )
    .await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST);
    assert!(forged.text.contains("The form expired"), "{}", forged.text);
    assert_eq!(count().await, before, "nothing was created");
}

#[tokio::test]
async fn another_tenants_integrations_are_not_found_and_members_do_not_manage_any() {
    let h = Harness::new().await;
    let ada = ConsoleSession::start(&h, &h.a, "ada@example.com", "admin").await;
    let admin = h.admin_token(&h.a).await;
    let count = || async {
        let listed = h.api(Method::GET, "/v1/integrations", &admin, None).await;
        listed.body["integrations"].as_array().unwrap().len()
    };
    let before = count().await;
    // Another tenant's integration is not found, as a page.
    let other = h.add_tenant().await;
    for path in [
        format!("/console/integrations/{}", other.client_id),
        format!("/console/integrations/{}/edit", other.client_id),
        "/console/integrations/not-an-id".to_owned(),
    ] {
        let page = ada.get(&h, &path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert!(is_html(&page), "{path}");
    }
    let deleted =
        ada.post(&h, &format!("/console/integrations/{}/delete", other.client_id), &[]).await;
    assert_eq!(deleted.status, StatusCode::NOT_FOUND);
    let other_token = h.admin_token(&other).await;
    assert_eq!(
        h.api(Method::GET, "/v1/integrations", &other_token, None).await.status,
        StatusCode::OK,
        "the other tenant's integration is still there"
    );

    // A member signs in but the admin pages are not theirs.
    let bob = ConsoleSession::start(&h, &h.a, "bob@example.com", "member").await;
    let page = bob.get(&h, "/console/integrations").await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.text.contains("Only an admin"), "{}", page.text);
    let posted = bob
        .post(&h, "/console/integrations", &[("display_name", "Sneaky"), ("intent", "save")])
        .await;
    assert_eq!(posted.status, StatusCode::FORBIDDEN);
    assert_eq!(count().await, before);
    let home = bob.get(&h, "/console").await;
    assert!(!home.text.contains("href=\"/console/integrations\""), "{}", home.text);
}

/// Creates an integration through the console; its client id and secret.
async fn console_integration(h: &Harness, ada: &ConsoleSession, name: &str) -> (String, String) {
    let created = ada
        .post(
            h,
            "/console/integrations",
            &[("display_name", name), ("scope", "assets:read"), ("intent", "save")],
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text);
    (shown(&created.text, "client_id"), shown(&created.text, "client_secret"))
}

#[tokio::test]
async fn an_integration_is_edited_and_its_secret_regenerated_now_or_with_a_grace_period() {
    let h = Harness::new().await;
    let ada = ConsoleSession::start(&h, &h.a, "ada@example.com", "admin").await;
    let (id, first) = console_integration(&h, &ada, "Ledger").await;

    let edit = ada.get(&h, &format!("/console/integrations/{id}/edit")).await;
    assert_eq!(edit.status, StatusCode::OK);
    assert!(edit.text.contains("value=\"Ledger\""), "{}", edit.text);
    let saved = ada
        .post(
            &h,
            &format!("/console/integrations/{id}"),
            &[
                ("display_name", "Ledger v2"),
                ("scope", "assets:read"),
                ("scope", "events:read"),
                ("claim_name", "team"),
                ("claim_value", "blue"),
                ("token_ttl_seconds", "600"),
                ("intent", "save"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text);
    let detail = ada.get(&h, saved.header("location")).await;
    assert!(detail.text.contains("Saved."), "{}", detail.text);
    assert!(detail.text.contains("Ledger v2"));
    assert!(detail.text.contains("blue"));

    let now = ada
        .post(&h, &format!("/console/integrations/{id}/secret"), &[("grace_seconds", "0")])
        .await;
    assert_eq!(now.status, StatusCode::OK, "{}", now.text);
    let second = shown(&now.text, "client_secret");
    assert_eq!(h.token(&id, &first, None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.token(&id, &second, None).await.status, StatusCode::OK);

    let graceful = ada
        .post(&h, &format!("/console/integrations/{id}/secret"), &[("grace_seconds", "3600")])
        .await;
    let third = shown(&graceful.text, "client_secret");
    assert!(graceful.text.contains("keeps working until"), "{}", graceful.text);
    assert_eq!(h.token(&id, &second, None).await.status, StatusCode::OK);
    assert_eq!(h.token(&id, &third, None).await.status, StatusCode::OK);

    let too_long = ada
        .post(&h, &format!("/console/integrations/{id}/secret"), &[("grace_seconds", "99999999")])
        .await;
    // A grace period that is not a number is refused, not taken as "now": the secret stands.
    let junk = ada
        .post(&h, &format!("/console/integrations/{id}/secret"), &[("grace_seconds", "soon")])
        .await;
    assert_eq!(junk.status, StatusCode::BAD_REQUEST, "{}", junk.text);
    assert!(junk.text.contains("grace_seconds"), "{}", junk.text);
    assert_eq!(h.token(&id, &third, None).await.status, StatusCode::OK);
    assert_eq!(too_long.status, StatusCode::BAD_REQUEST);
    assert!(too_long.text.contains("grace_seconds"), "{}", too_long.text);
}

#[tokio::test]
async fn keys_are_added_and_removed_and_an_integration_is_deleted_after_asking() {
    let h = Harness::new().await;
    let ada = ConsoleSession::start(&h, &h.a, "ada@example.com", "admin").await;
    let (id, secret) = console_integration(&h, &ada, "Signer").await;
    let jwk = json!({"kty": "OKP", "crv": "Ed25519", "kid": "k1",
                     "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
    let added = ada
        .post(&h, &format!("/console/integrations/{id}/keys"), &[("key", &jwk.to_string())])
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.text);
    let detail = ada.get(&h, added.header("location")).await;
    assert!(detail.text.contains("The key was added."), "{}", detail.text);
    let kid = {
        let admin = h.admin_token(&h.a).await;
        let keys: Value =
            h.api(Method::GET, &format!("/v1/integrations/{id}/keys"), &admin, None).await.body;
        keys["keys"][0]["kid"].as_str().unwrap().to_owned()
    };
    assert!(detail.text.contains(&kid));
    let junk =
        ada.post(&h, &format!("/console/integrations/{id}/keys"), &[("key", "not a key")]).await;
    assert_eq!(junk.status, StatusCode::BAD_REQUEST);
    assert!(junk.text.contains("neither a PEM certificate"), "{}", junk.text);
    let private = json!({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
                         "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"});
    let refused = ada
        .post(&h, &format!("/console/integrations/{id}/keys"), &[("key", &private.to_string())])
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);
    let removed =
        ada.post(&h, &format!("/console/integrations/{id}/keys/delete"), &[("kid", &kid)]).await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
    let detail = ada.get(&h, removed.header("location")).await;
    assert!(detail.text.contains("No key registered."), "{}", detail.text);

    let asks = ada.get(&h, &format!("/console/integrations/{id}/delete")).await;
    assert_eq!(asks.status, StatusCode::OK);
    assert!(asks.text.contains("cannot be undone"));
    assert_eq!(h.token(&id, &secret, None).await.status, StatusCode::OK, "asking deletes nothing");
    let deleted = ada.post(&h, &format!("/console/integrations/{id}/delete"), &[]).await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER);
    let list = ada.get(&h, deleted.header("location")).await;
    assert!(list.text.contains("Signer was deleted."), "{}", list.text);
    assert_eq!(h.token(&id, &secret, None).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn seed_000s_policy_is_made_in_the_console_and_said_in_words() {
    for h in Harness::on_both_backends().await {
        let ada = ConsoleSession::start(&h, &h.a, "ada@example.com", "admin").await;
        let (id, secret) = console_integration(&h, &ada, "Custom integration").await;
        let admin = h.admin_token(&h.a).await;
        h.api(
            Method::POST,
            "/v2/assets",
            &admin,
            Some(json!({"attributes": {"arc_display_type": "Crate", "weight": "3"}})),
        )
        .await;
        let form = ada.get(&h, "/console/access-policies/new").await;
        assert_eq!(form.status, StatusCode::OK);
        assert!(form.text.contains("<option value=\"Crate\">"), "types suggested: {}", form.text);

        // Another group, then the policy: all types, the integration by name, all attributes,
        // all events; a user by email in the second group, one attribute, no events.
        let first = "display_name=Everything&asset_types=*&groups=1&actors_0=Custom integration";
        let with_two =
            ada.submit(&h, "/console/access-policies", &format!("{first}&intent=add_group")).await;
        assert_eq!(with_two.status, StatusCode::OK);
        assert!(with_two.text.contains("id=\"actors_1\""), "{}", with_two.text);
        let both = "display_name=Everything&asset_types=*&groups=2&actors_0=Custom integration\
                    &attributes_mode_0=all&events_0=all&actors_1=ada@example.com\
                    &attributes_mode_1=some&attributes_1=weight&events_1=none&intent=save";
        let created = ada.submit(&h, "/console/access-policies", both).await;
        assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.text);
        let page = ada.get(&h, created.header("location")).await;
        assert!(page.text.contains("The policy was created."), "{}", page.text);
        assert!(
            page.text.contains("The integration Custom integration may read every attribute of all assets, and sees all their events."),
            "{}", page.text
        );
        assert!(
            page.text.contains("The user ada@example.com may read only the attributes weight of all assets, and sees none of their events."),
            "{}", page.text
        );

        // The integration's token now sees the asset.
        let token =
            h.token(&id, &secret, None).await.body["access_token"].as_str().unwrap().to_owned();
        let seen = h.api(Method::GET, "/v2/assets", &token, None).await;
        assert_eq!(seen.body["assets"].as_array().unwrap().len(), 1, "{}", seen.text);

        // Edited in the console: the integration drops out.
        let policy_path = created.header("location");
        let policy_path = policy_path.split('?').next().unwrap();
        let edit = ada.get(&h, &format!("{policy_path}/edit")).await;
        assert!(edit.text.contains("Custom integration"), "actors shown by name: {}", edit.text);
        let ada_only =
            "display_name=Everything&asset_types=Crate&groups=1&actors_0=ada@example.com&intent=save";
        let saved = ada.submit(&h, policy_path, ada_only).await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text);
        let hidden_now = h.api(Method::GET, "/v2/assets", &token, None).await;
        assert_eq!(hidden_now.body["assets"], json!([]), "{}", hidden_now.text);

        let asks = ada.get(&h, &format!("{policy_path}/delete")).await;
        assert!(asks.text.contains("cannot be undone"));
        let deleted = ada.post(&h, &format!("{policy_path}/delete"), &[]).await;
        assert_eq!(deleted.status, StatusCode::SEE_OTHER);
        let list = ada.get(&h, deleted.header("location")).await;
        assert!(list.text.contains("Everything was deleted."), "{}", list.text);
    }
}

#[tokio::test]
async fn the_policy_form_names_what_is_wrong_next_to_it() {
    let h = Harness::new().await;
    let ada = ConsoleSession::start(&h, &h.a, "ada@example.com", "admin").await;
    console_integration(&h, &ada, "Twin").await;
    console_integration(&h, &ada, "Twin").await;
    let post = |fields: Vec<(&'static str, &'static str)>| {
        let (h, ada) = (&h, &ada);
        async move {
            let mut all = vec![("display_name", "P"), ("groups", "1"), ("intent", "save")];
            all.extend(fields);
            ada.post(h, "/console/access-policies", &all).await
        }
    };
    let nobody = post(vec![("asset_types", "*"), ("actors_0", "Nobody")]).await;
    assert_eq!(nobody.status, StatusCode::BAD_REQUEST);
    assert!(nobody.text.contains("No integration is named “Nobody”"), "{}", nobody.text);
    assert!(nobody.text.contains("id=\"group-0-problem\""));
    let twins = post(vec![("asset_types", "*"), ("actors_0", "Twin")]).await;
    assert!(twins.text.contains("Several integrations are named “Twin”"), "{}", twins.text);
    let no_types = post(vec![("asset_types", ""), ("actors_0", "x@example.com")]).await;
    assert_eq!(no_types.status, StatusCode::BAD_REQUEST);
    assert!(no_types.text.contains("id=\"types-problem\""), "{}", no_types.text);
    let no_name = ada
        .post(
            &h,
            "/console/access-policies",
            &[("display_name", ""), ("asset_types", "*"), ("groups", "1"), ("intent", "save")],
        )
        .await;
    assert_eq!(no_name.status, StatusCode::BAD_REQUEST);
    assert!(no_name.text.contains("id=\"display_name-problem\""), "{}", no_name.text);
    let admin = h.admin_token(&h.a).await;
    let listed = h.api(Method::GET, "/v1/access_policies", &admin, None).await;
    assert_eq!(listed.body["access_policies"], json!([]), "nothing was made");

    // Another tenant's policy is not found, as a page.
    let other = h.add_tenant().await;
    let other_admin = h.admin_token(&other).await;
    let theirs = h
        .api(
            Method::POST,
            "/v1/access_policies",
            &other_admin,
            Some(json!({"display_name": "theirs", "filters": [{"asset_types": ["*"]}],
                        "permissions": []})),
        )
        .await;
    let uuid = theirs.body["identity"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
    for path in [
        format!("/console/access-policies/{uuid}"),
        format!("/console/access-policies/{uuid}/edit"),
        "/console/access-policies/not-a-uuid".to_owned(),
    ] {
        let page = ada.get(&h, &path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert!(is_html(&page));
    }
    let gone = ada.post(&h, &format!("/console/access-policies/{uuid}/delete"), &[]).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let still =
        h.api(Method::GET, &format!("/v1/access_policies/{uuid}"), &other_admin, None).await;
    assert_eq!(still.status, StatusCode::OK);
}

/// The one-time link a page shows once.
fn one_time_link(page: &str) -> String {
    shown(page, "link-url")
}

#[tokio::test]
async fn an_admin_invites_changes_resets_and_removes_users_in_the_console() {
    let h = Harness::new().await;
    let ada = ConsoleSession::start(&h, &h.a, "ada@example.com", "admin").await;
    let invited = ada
        .post(
            &h,
            "/console/users",
            &[("email", "Cy@Example.com"), ("display_name", "Cy"), ("role", "member")],
        )
        .await;
    assert_eq!(invited.status, StatusCode::OK, "{}", invited.text);
    assert!(invited.text.contains("cy@example.com was invited."), "{}", invited.text);
    let link = one_time_link(&invited.text);
    assert!(link.contains("/console/set-password?token="), "{link}");
    assert!(invited.text.contains("invited, not set yet"));
    let again = ada.get(&h, "/console/users").await;
    assert!(!again.text.contains(&link), "the link is shown once");

    let duplicate = ada
        .post(&h, "/console/users", &[("email", "cy@example.com"), ("display_name", "Cy")])
        .await;
    assert_eq!(duplicate.status, StatusCode::BAD_REQUEST);
    assert!(duplicate.text.contains("exists already"), "{}", duplicate.text);
    let bad =
        ada.post(&h, "/console/users", &[("email", "not-an-email"), ("display_name", "X")]).await;
    assert!(bad.text.contains("id=\"email-problem\""), "{}", bad.text);

    let admin = h.admin_token(&h.a).await;
    let users = h.api(Method::GET, "/v1/users", &admin, None).await;
    let cy = users.body["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "cy@example.com")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let promoted = ada.post(&h, &format!("/console/users/{cy}/role"), &[("role", "admin")]).await;
    assert_eq!(promoted.status, StatusCode::SEE_OTHER, "{}", promoted.text);
    let page = ada.get(&h, promoted.header("location")).await;
    assert!(page.text.contains("The role was changed."), "{}", page.text);
    let reset = ada.post(&h, &format!("/console/users/{cy}/password-reset"), &[]).await;
    assert_eq!(reset.status, StatusCode::OK);
    assert!(reset.text.contains("A new invitation link"), "{}", reset.text);
    assert_ne!(one_time_link(&reset.text), link, "a fresh link");

    // Removing asks for a tick first.
    let unticked = ada.post(&h, &format!("/console/users/{cy}/delete"), &[]).await;
    assert_eq!(unticked.status, StatusCode::BAD_REQUEST);
    assert!(unticked.text.contains("Tick the box"));
    let removed = ada.post(&h, &format!("/console/users/{cy}/delete"), &[("confirm", "yes")]).await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER, "{}", removed.text);
    let list = ada.get(&h, removed.header("location")).await;
    assert!(list.text.contains("cy@example.com was removed."), "{}", list.text);

    // Another tenant's user is not found, as a page.
    let other = h.add_tenant().await;
    let theirs = ConsoleSession::start(&h, &other, "zed@example.com", "admin").await;
    for path in [format!("/console/users/{}", theirs.user_id), "/console/users/nope".into()] {
        let page = ada.get(&h, &path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
    }
    let cross = ada
        .post(&h, &format!("/console/users/{}/delete", theirs.user_id), &[("confirm", "yes")])
        .await;
    assert_eq!(cross.status, StatusCode::NOT_FOUND);
    assert_eq!(theirs.get(&h, "/console").await.status, StatusCode::OK, "still there");
}

#[tokio::test]
async fn my_account_lists_and_withdraws_my_consents() {
    let h = Harness::new().await;
    let bob = ConsoleSession::start(&h, &h.a, "bob@example.com", "member").await;
    let admin = h.admin_token(&h.a).await;
    let given = h
        .api(
            Method::POST,
            "/v1/consents",
            &admin,
            Some(json!({"client_id": h.a.client_id, "user": "bob@example.com",
                        "scopes": ["assets:read"]})),
        )
        .await;
    assert_eq!(given.status, StatusCode::CREATED, "{}", given.text);
    let consent = given.body["id"].as_str().unwrap().to_owned();
    let page = bob.get(&h, "/console/account").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("bob@example.com"));
    assert!(page.text.contains("assets:read"), "{}", page.text);

    let withdrawn =
        bob.post(&h, &format!("/console/account/consents/{consent}/withdraw"), &[]).await;
    assert_eq!(withdrawn.status, StatusCode::SEE_OTHER, "{}", withdrawn.text);
    let after = bob.get(&h, withdrawn.header("location")).await;
    assert!(after.text.contains("The consent was withdrawn."));
    let listed = h.api(Method::GET, "/v1/consents", &admin, None).await;
    assert_eq!(listed.body["consents"], json!([]));
    let twice = bob.post(&h, &format!("/console/account/consents/{consent}/withdraw"), &[]).await;
    assert_eq!(twice.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn my_account_changes_my_password_and_signs_me_out_everywhere() {
    let h = Harness::new().await;
    let bob = ConsoleSession::start(&h, &h.a, "bob@example.com", "member").await;
    let wrong = bob
        .post(
            &h,
            "/console/account/password",
            &[
                ("current", "not it"),
                ("password", "a new long password"),
                ("confirm", "a new long password"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(wrong.text.contains("not right"), "{}", wrong.text);
    let short = bob
        .post(
            &h,
            "/console/account/password",
            &[("current", PASSWORD), ("password", "short"), ("confirm", "short")],
        )
        .await;
    assert_eq!(short.status, StatusCode::BAD_REQUEST);
    assert!(short.text.contains("at least 12"), "{}", short.text);
    let changed = bob
        .post(
            &h,
            "/console/account/password",
            &[
                ("current", PASSWORD),
                ("password", "a new long password"),
                ("confirm", "a new long password"),
            ],
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
    assert!(bob.get(&h, "/console").await.status.is_redirection(), "signed out");
    // Sessions begun from the next millisecond on stand (the harness's clock is fixed).
    h.clock.advance_seconds(1);
    let old = sign_in(&h, "bob@example.com", PASSWORD, "/console").await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    let new = sign_in(&h, "bob@example.com", "a new long password", "/console").await;
    assert_eq!(new.status, StatusCode::SEE_OTHER);

    let bob = ConsoleSession {
        cookie: format!("tessera_session={}", set_cookie(&new, "tessera_session").unwrap()),
        csrf: String::new(),
        user_id: bob.user_id,
    };
    let home = bob.get(&h, "/console").await;
    let bob = ConsoleSession { csrf: hidden(&home.text, "csrf"), ..bob };
    let out = bob.post(&h, "/console/account/sign-out-everywhere", &[]).await;
    assert!(out.status.is_redirection());
    assert!(bob.get(&h, "/console/account").await.status.is_redirection());
}

/// An integration of tenant a with five private tokens (`project1`'s `blob` over a megabyte):
/// its id and its token.
async fn stored_entries(h: &Harness) -> (String, String) {
    use crate::private_tokens::{call, entry_path, json_body, store_owner};
    let admin = h.admin_token(&h.a).await;
    let (id, token) = store_owner(h, &admin, "Planner").await;
    let big = "x".repeat(1_100_000);
    for (related, key, value) in [
        ("employee1", "name", "Ada"),
        ("employee1", "email", "ada@example.com"),
        ("employee2", "name", "Bo"),
        ("project1", "name", "Apollo"),
        ("project1", "blob", big.as_str()),
    ] {
        let body = json_body(json!({"value": value}));
        let put = call(h, Method::PUT, &entry_path(related, key), &token, body, &[]).await;
        assert!(put.status.is_success(), "{}", put.text);
    }
    (id, token)
}

#[tokio::test]
async fn the_owner_pages_filters_opens_and_deletes_an_integrations_private_tokens() {
    use crate::private_tokens::call;
    for h in Harness::on_both_backends().await {
        let (id, token) = stored_entries(&h).await;
        let ada = ConsoleSession::start(&h, &h.a, "ada@example.com", "admin").await;
        let base = format!("/console/integrations/{id}/private-tokens");
        let all = ada.get(&h, &base).await;
        assert_eq!(all.status, StatusCode::OK, "{}", all.text);
        for name in ["employee1", "employee2", "project1", "blob"] {
            assert!(all.text.contains(name), "{name}: {}", all.text);
        }
        let employees = ada.get(&h, &format!("{base}?relatedId_prefix=employee")).await;
        assert!(employees.text.contains("employee2") && !employees.text.contains("project1"));
        let names = ada.get(&h, &format!("{base}?key=name")).await;
        assert!(names.text.contains("project1"), "{}", names.text);
        assert!(!names.text.contains("<code>email</code>"), "{}", names.text);

        let opened = ada.get(&h, &format!("{base}/entry?relatedId=employee1&key=email")).await;
        assert_eq!(opened.status, StatusCode::OK, "{}", opened.text);
        assert!(opened.text.contains(">ada@example.com</textarea>"), "{}", opened.text);
        let large = ada.get(&h, &format!("{base}/entry?relatedId=project1&key=blob")).await;
        assert!(large.text.contains("download it"), "{}", large.text);
        assert!(!large.text.contains(&"x".repeat(1000)), "a large value is not put in the page");
        let file = ada.get(&h, &format!("{base}/download?relatedId=project1&key=blob")).await;
        assert_eq!(file.status, StatusCode::OK);
        assert!(file.header("content-disposition").starts_with("attachment"));
        assert_eq!(file.body["value"].as_str().map(str::len), Some(1_100_000));

        let one = ada
            .post(&h, &format!("{base}/delete"), &[("relatedId", "employee2"), ("key", "name")])
            .await;
        assert_eq!(one.status, StatusCode::SEE_OTHER, "{}", one.text);
        assert!(ada.get(&h, one.header("location")).await.text.contains("1 entry was deleted."));
        let related =
            ada.post(&h, &format!("{base}/delete-related"), &[("relatedId", "employee1")]).await;
        let after = ada.get(&h, related.header("location")).await;
        assert!(after.text.contains("2 entries were deleted."), "{}", after.text);
        let left = call(&h, Method::GET, "/v1/private_tokens", &token, None, &[]).await;
        let left: Vec<&Value> = left.body["private_tokens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["relatedId"])
            .collect();
        assert_eq!(left, ["project1", "project1"], "the integration sees what is left");

        // Another tenant's integration, and entries that do not exist, are not found.
        let other = h.add_tenant().await;
        let theirs = format!("/console/integrations/{}/private-tokens", other.client_id);
        assert_eq!(ada.get(&h, &theirs).await.status, StatusCode::NOT_FOUND);
        let gone = ada.get(&h, &format!("{base}/entry?relatedId=employee2&key=name")).await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND);
        let cross = ada.submit(&h, &format!("{theirs}/delete-related"), "relatedId=x").await;
        assert_eq!(cross.status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn the_audit_page_and_api_filter_by_actor_action_and_time_newest_first() {
    let h = Harness::new().await;
    let ada = ConsoleSession::start(&h, &h.a, "ada@example.com", "admin").await;
    console_integration(&h, &ada, "First").await;
    h.clock.advance_seconds(60);
    console_integration(&h, &ada, "Second").await;
    let admin = h.admin_token(&h.a).await;
    // The records are written off the request path: wait for both.
    h.audit_entry(&admin, |e| e["action"] == "integration.created" && e["detail"].is_object())
        .await;
    let mine = format!("user:{}", ada.user_id);
    let api = |query: String| {
        let (h, admin) = (&h, &admin);
        async move { h.api(Method::GET, &format!("/v1/audit?{query}"), admin, None).await }
    };
    for _ in 0..50 {
        let made = api(format!("actor={mine}&action=integration.created")).await;
        if made.body["entries"].as_array().map(Vec::len) == Some(2) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let made = api(format!("actor={mine}&action=integration.created")).await;
    let entries = made.body["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{}", made.text);
    let newest = entries[0]["at"].as_str().unwrap().to_owned();
    let oldest = entries[1]["at"].as_str().unwrap().to_owned();
    assert!(newest > oldest, "newest first");
    let since = api(format!("actor={mine}&action=integration.created&since={newest}")).await;
    assert_eq!(since.body["entries"].as_array().unwrap().len(), 1);
    let until = api(format!("action=integration.created&actor={mine}&until={newest}")).await;
    assert_eq!(until.body["entries"][0]["at"], oldest.as_str());
    let nobody = api("actor=user:nobody".into()).await;
    assert_eq!(nobody.body["entries"], json!([]));
    let bad = api("since=yesterday".into()).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["field"], "since", "{}", bad.text);

    let page =
        ada.get(&h, &format!("/console/audit?action=integration.created&actor={mine}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains("ada@example.com"), "the actor in words: {}", page.text);
    assert_eq!(page.text.matches("<td>integration.created</td>").count(), 2, "{}", page.text);
    assert!(page.text.contains("<option value=\"integration.created\" selected>"));
    let refused = ada.get(&h, "/console/audit?until=soon").await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.text.contains("RFC 3339"), "{}", refused.text);
    let bob = ConsoleSession::start(&h, &h.a, "bob@example.com", "member").await;
    assert_eq!(bob.get(&h, "/console/audit").await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_operator_lists_and_rotates_signing_keys_through_the_api_and_the_console() {
    for h in Harness::on_both_backends().await {
        let platform = h.admin_token(&h.a).await;
        let listed = h.api(Method::GET, "/v1/signing_keys", &platform, None).await;
        assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
        let first = listed.body["keys"][0]["kid"].as_str().unwrap().to_owned();
        assert_eq!(listed.body["keys"][0]["current"], true);
        assert!(listed.body["keys"][0].get("encrypted_pkcs8").is_none());
        let before = h.token(&h.a.client_id, &h.a.secret, None).await.body["access_token"]
            .as_str()
            .unwrap()
            .to_owned();

        let rotated = h.api(Method::POST, "/v1/signing_keys/rotate", &platform, None).await;
        assert_eq!(rotated.status, StatusCode::CREATED, "{}", rotated.text);
        let second = rotated.body["kid"].as_str().unwrap().to_owned();
        assert_ne!(second, first);
        let after = h.token(&h.a.client_id, &h.a.secret, None).await.body["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let kid = |t: &str| {
            let header = t.split('.').next().unwrap();
            let header =
                base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header)
                    .unwrap();
            serde_json::from_slice::<Value>(&header).unwrap()["kid"].as_str().unwrap().to_owned()
        };
        assert_eq!(kid(&after), second, "signs with the new key at once");
        let still = h.introspect((&h.a.client_id, &h.a.secret), &before).await;
        assert_eq!(still.body["active"], true, "the old key still verifies");
        let listed = h.api(Method::GET, "/v1/signing_keys", &platform, None).await;
        let keys = listed.body["keys"].as_array().unwrap();
        assert_eq!(
            (keys[0]["kid"].as_str(), keys[0]["current"].as_bool()),
            (Some(second.as_str()), Some(true))
        );
        assert_eq!(keys[1]["current"], false);
        assert!(keys[1]["verify_until"].is_string());
        let audited = h.audit_entry(&platform, |e| e["action"] == "signing_key.rotated").await;
        assert_eq!(audited["target"], second.as_str());

        // Another tenant's admin is not the operator.
        let other = h.add_tenant().await;
        let theirs = h.admin_token(&other).await;
        for (method, path) in
            [(Method::GET, "/v1/signing_keys"), (Method::POST, "/v1/signing_keys/rotate")]
        {
            let refused = h.api(method, path, &theirs, None).await;
            assert_eq!(refused.status, StatusCode::FORBIDDEN, "{path}: {}", refused.text);
        }

        // The console: the operator's admins see the keys and rotate; others get a 403 page.
        let ops = ConsoleSession::start(&h, &h.a, "keys@example.com", "admin").await;
        let page = ops.get(&h, "/console/keys").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        assert!(page.text.contains(&second) && page.text.contains("verifies only"));
        let done = ops.post(&h, "/console/keys/rotate", &[]).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
        let page = ops.get(&h, done.header("location")).await;
        assert!(page.text.contains("signs new tokens now"), "{}", page.text);
        let zed = ConsoleSession::start(&h, &other, "zed@example.com", "admin").await;
        assert_eq!(zed.get(&h, "/console/keys").await.status, StatusCode::FORBIDDEN);
        let forced = zed.post(&h, "/console/keys/rotate", &[]).await;
        assert_eq!(forced.status, StatusCode::FORBIDDEN);
        assert!(!zed.get(&h, "/console").await.text.contains("/console/keys"));
    }
}

#[tokio::test]
async fn every_console_form_refuses_a_post_without_the_sessions_csrf_token_and_changes_nothing() {
    let h = Harness::new().await;
    let ada = ConsoleSession::start(&h, &h.a, "ada@example.com", "admin").await;
    let (id, secret) = console_integration(&h, &ada, "Kept").await;
    let admin = h.admin_token(&h.a).await;
    // What admins changed (tokens issued are recorded too, off the request path: not counted).
    // The integration's record is written off the request path as well: wait for it first.
    h.audit_entry(&admin, |e| e["action"] == "integration.created").await;
    let changes = || async {
        let log = h.api(Method::GET, "/v1/audit?page_size=1000", &admin, None).await;
        let entries = log.body["entries"].as_array().cloned().unwrap_or_default();
        entries
            .into_iter()
            .filter(|e| e["action"] != "token.issued")
            .map(|e| e["action"].as_str().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
    };
    let audit_before = changes().await;
    let user = ada.user_id.clone();
    let forms = [
        "/console/integrations".to_owned(),
        format!("/console/integrations/{id}"),
        format!("/console/integrations/{id}/secret"),
        format!("/console/integrations/{id}/keys"),
        format!("/console/integrations/{id}/keys/delete"),
        format!("/console/integrations/{id}/jwks-uri"),
        format!("/console/integrations/{id}/delete"),
        format!("/console/integrations/{id}/private-tokens/delete"),
        format!("/console/integrations/{id}/private-tokens/delete-related"),
        "/console/access-policies".to_owned(),
        format!("/console/access-policies/{}", uuid::Uuid::new_v4()),
        format!("/console/access-policies/{}/delete", uuid::Uuid::new_v4()),
        "/console/users".to_owned(),
        format!("/console/users/{user}/role"),
        format!("/console/users/{user}/password-reset"),
        format!("/console/users/{user}/delete"),
        "/console/account/password".to_owned(),
        format!("/console/account/consents/{}/withdraw", uuid::Uuid::new_v4()),
        "/console/account/sign-out-everywhere".to_owned(),
        "/console/keys/rotate".to_owned(),
        "/console/tenants".to_owned(),
        "/console/tenants/state".to_owned(),
        "/console/tenants/delete".to_owned(),
    ];
    for path in &forms {
        for csrf in ["", "forged"] {
            let reply = form_post(
                &h,
                path,
                &ada.cookie,
                &[
                    ("csrf", csrf),
                    ("display_name", "Forged"),
                    ("confirm", "yes"),
                    ("role", "member"),
                    ("grace_seconds", "0"),
                    ("intent", "save"),
                ],
            )
            .await;
            assert_eq!(
                reply.status,
                StatusCode::BAD_REQUEST,
                "{path} with `{csrf}`: {}",
                reply.text
            );
            assert!(is_html(&reply), "{path}");
        }
    }
    // Nothing happened: the secret works, the session stands, no audit record was added.
    assert_eq!(h.token(&id, &secret, None).await.status, StatusCode::OK);
    assert_eq!(ada.get(&h, "/console").await.status, StatusCode::OK);
    assert_eq!(changes().await, audit_before);
}

#[tokio::test]
async fn claim_rows_are_added_and_removed_without_saving_and_enter_saves() {
    let h = Harness::new().await;
    let ada = ConsoleSession::start(&h, &h.a, "ada@example.com", "admin").await;
    let rows = [
        ("display_name", "Rows"),
        ("claim_name", "a"),
        ("claim_value", "1"),
        ("claim_name", "b"),
        ("claim_value", "2"),
    ];
    let mut removing = rows.to_vec();
    removing.push(("intent", "remove_claim_0"));
    let removed = ada.post(&h, "/console/integrations", &removing).await;
    assert_eq!(removed.status, StatusCode::OK);
    assert!(!removed.text.contains("value=\"a\""), "{}", removed.text);
    assert!(removed.text.contains("value=\"b\""));
    // The first submit button of the form, the one Enter presses, saves.
    let form = removed.text.find("action=\"/console/integrations\"").unwrap();
    let first = form + removed.text[form..].find("type=\"submit\"").unwrap();
    assert!(
        removed.text[first..].starts_with("type=\"submit\" name=\"intent\" value=\"save\""),
        "{}",
        &removed.text[first..first + 80]
    );
    let admin = h.admin_token(&h.a).await;
    let listed = h.api(Method::GET, "/v1/integrations", &admin, None).await;
    assert_eq!(listed.body["integrations"].as_array().unwrap().len(), 1, "nothing was made");
}
