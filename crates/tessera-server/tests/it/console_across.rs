//! The console across tenants (SPEC §9, issue 18): the Connections pages of both sides, the
//! connection-URL maker and the integration form's application fields, through the real router.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::connections::{accepted, delivered, get_page, scene, webhooks_to, Answer, FakeApp};
use crate::console::ConsoleSession;
use crate::harness::*;

fn is_html(reply: &Reply) -> bool {
    reply.header("content-type").starts_with("text/html")
}

/// Tenant a's application connected to the owner's tenant (its webhooks delivered: one so
/// far), and the connection's id.
async fn connected(h: &Harness) -> (FakeApp, crate::connections::Scene, String) {
    let app = FakeApp::start(Answer::Bearer).await;
    let s = scene(h, &app.url).await;
    webhooks_to(h, &s, &app).await;
    let granted = accepted(h, &s, &app).await;
    let id = granted["connection_id"].as_str().unwrap().to_owned();
    let pump = json!({"attributes": {"arc_display_type": "pump"}});
    let asset = h.api(Method::POST, "/v2/assets", &s.owner_admin, Some(pump)).await;
    assert_eq!(asset.status, StatusCode::CREATED, "{}", asset.text);
    delivered(h, &app, 1).await;
    (app, s, id)
}

#[tokio::test]
async fn both_sides_see_a_connection_in_words_and_no_one_else_sees_it() {
    for h in Harness::on_both_backends_configured(|c| c.webhook_retry_base_ms = 50).await {
        let (_app, s, id) = connected(&h).await;
        // The data owner's side: the application, who registered it, its scopes in words.
        let owner = ConsoleSession::start(&h, &s.owner, "owen@owner.example", "admin").await;
        let list = owner.get(&h, "/console/connections").await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.text);
        for words in [
            "Applications connected to",
            "Fleet Planner",
            "read assets",
            "read events of assets",
            "Revoke…",
        ] {
            assert!(list.text.contains(words), "{words}: {}", list.text);
        }
        // The developer's side: the owner's organization, and each delivery attempt.
        let developer = ConsoleSession::start(&h, &h.a, "dana@dev.example", "admin").await;
        let theirs = developer.get(&h, "/console/connections").await;
        assert!(theirs.text.contains("Our applications' connections"), "{}", theirs.text);
        let page = developer.get(&h, &format!("/console/connections/{id}")).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        for words in ["Delivery attempts", "asset.created", "HTTP 204 (delivered)"] {
            assert!(page.text.contains(words), "{words}: {}", page.text);
        }

        // Anyone else: the not-found page, and nothing revoked.
        let third = h.add_tenant().await;
        let stranger = ConsoleSession::start(&h, &third, "sam@third.example", "admin").await;
        for path in
            [format!("/console/connections/{id}"), format!("/console/connections/{id}/revoke")]
        {
            let seen = stranger.get(&h, &path).await;
            assert_eq!(seen.status, StatusCode::NOT_FOUND, "{path}");
            assert!(is_html(&seen));
        }
        let forced = stranger.post(&h, &format!("/console/connections/{id}/revoke"), &[]).await;
        assert_eq!(forced.status, StatusCode::NOT_FOUND);
        let still =
            h.api(Method::GET, &format!("/v1/connections/{id}"), &s.owner_admin, None).await;
        assert_eq!(still.body["status"], "active");
    }
}

#[tokio::test]
async fn the_owner_revokes_a_connection_after_confirming_and_a_forged_form_does_nothing() {
    for h in Harness::on_both_backends_configured(|c| c.webhook_retry_base_ms = 50).await {
        let (_app, s, id) = connected(&h).await;
        let owner = ConsoleSession::start(&h, &s.owner, "owen@owner.example", "admin").await;
        let member = ConsoleSession::start(&h, &s.owner, "mia@owner.example", "member").await;
        assert_eq!(member.get(&h, "/console/connections").await.status, StatusCode::FORBIDDEN);

        // The owner confirms, and a forged form does nothing.
        let confirm = owner.get(&h, &format!("/console/connections/{id}/revoke")).await;
        assert!(confirm.text.contains("Revoke Fleet Planner's access?"), "{}", confirm.text);
        let forged = crate::connections::form_post(
            &h,
            &format!("/console/connections/{id}/revoke"),
            &owner.cookie,
            &[("csrf", "forged")],
        )
        .await;
        assert_eq!(forged.status, StatusCode::BAD_REQUEST);
        let still =
            h.api(Method::GET, &format!("/v1/connections/{id}"), &s.owner_admin, None).await;
        assert_eq!(still.body["status"], "active");
        let done = owner.post(&h, &format!("/console/connections/{id}/revoke"), &[]).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
        assert_eq!(done.header("location"), "/console/connections?revoked=Fleet+Planner");
        let told = owner.get(&h, done.header("location")).await;
        assert!(told.text.contains("Revoked: Fleet Planner can no longer reach"), "{}", told.text);
        let gone = h.api(Method::GET, &format!("/v1/connections/{id}"), &s.owner_admin, None).await;
        assert_eq!(gone.body["status"], "revoked");
        let token = h
            .form(
                "/oauth2/token",
                format!("grant_type=client_credentials&tenant_id={}", s.owner.tenant),
                Some((&s.app_id, &s.app_secret)),
            )
            .await;
        assert_eq!(token.error(), "invalid_grant");
        let audit = h.audit_entry(&s.owner_admin, |e| e["action"] == "connection.revoked").await;
        assert_eq!(audit["actor"], format!("user:{}", owner.user_id));
    }
}

#[tokio::test]
async fn the_connection_url_maker_stays_within_the_integrations_scopes() {
    let h = Harness::new().await;
    let developer = ConsoleSession::start(&h, &h.a, "dana@dev.example", "admin").await;
    let token = h.admin_token(&h.a).await;
    let (app_id, _, _) = h
        .create_integration(
            &token,
            json!({"display_name": "Fleet Planner", "scopes": ["assets:read", "events:read"],
                   "authentication_url": "http://127.0.0.1:9/auth"}),
        )
        .await;
    let (plain_id, _, _) = h
        .create_integration(&token, json!({"display_name": "Plain", "scopes": ["assets:read"]}))
        .await;
    let detail = developer.get(&h, &format!("/console/integrations/{app_id}")).await;
    assert!(detail.text.contains("Make a connection URL"), "{}", detail.text);
    let plain = developer.get(&h, &format!("/console/integrations/{plain_id}")).await;
    assert!(!plain.text.contains("Make a connection URL"));
    assert!(plain.text.contains("it cannot ask other organizations for access"));

    let maker = format!("/console/integrations/{app_id}/connection-url");
    let form = developer.get(&h, &maker).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.text);
    let made = developer.post(&h, &maker, &[("scope", "assets:read"), ("state", "acct-9")]).await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.text);
    let start = made.text.find("http://tessera.test/connect?").expect("a URL");
    let url = made.text[start..].split('<').next().unwrap().replace("&#38;", "&");
    // It is a link the consent screen takes (a signed-out owner is sent to sign in first).
    let opened = get_page(&h, url.trim_start_matches("http://tessera.test")).await;
    assert!(opened.status.is_redirection(), "{}: {}", opened.status, opened.text);

    for (fields, says) in [
        (vec![("scope", "admin"), ("state", "x")], "beyond what this integration may request"),
        (vec![("state", "x")], "at least one scope"),
        (vec![("scope", "assets:read"), ("state", "")], "state"),
    ] {
        let refused = developer.post(&h, &maker, &fields).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{fields:?}");
        assert!(
            refused.text.contains("No URL was made") && refused.text.contains(says),
            "{says}: {}",
            refused.text
        );
    }
    let not_set = developer
        .post(
            &h,
            &format!("/console/integrations/{plain_id}/connection-url"),
            &[("scope", "assets:read"), ("state", "x")],
        )
        .await;
    assert_eq!(not_set.status, StatusCode::BAD_REQUEST);
    assert!(not_set.text.contains("authentication_url"), "{}", not_set.text);
    let forged = crate::connections::form_post(
        &h,
        &maker,
        &developer.cookie,
        &[("csrf", "forged"), ("scope", "assets:read"), ("state", "x")],
    )
    .await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST);
    // Another tenant's admin cannot make one for this integration.
    let other = h.add_tenant().await;
    let stranger = ConsoleSession::start(&h, &other, "sam@other.example", "admin").await;
    let theirs = stranger.post(&h, &maker, &[("scope", "assets:read"), ("state", "x")]).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    assert_eq!(stranger.get(&h, &maker).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_integration_form_sets_and_clears_the_application_fields() {
    let h = Harness::new().await;
    let admin = ConsoleSession::start(&h, &h.a, "dana@dev.example", "admin").await;
    let token = h.admin_token(&h.a).await;
    let bad = admin
        .post(
            &h,
            "/console/integrations",
            &[
                ("display_name", "Fleet"),
                ("scope", "assets:read"),
                ("token_ttl_seconds", "3600"),
                ("authentication_url", "ftp://example.com/auth"),
                ("intent", "save"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text);
    assert!(bad.text.contains("id=\"authentication_url-problem\""), "{}", bad.text);
    let made = admin
        .post(
            &h,
            "/console/integrations",
            &[
                ("display_name", "Fleet"),
                ("scope", "assets:read"),
                ("token_ttl_seconds", "3600"),
                ("description", "Plans fleets"),
                ("homepage_url", "https://fleet.example"),
                ("authentication_url", "http://127.0.0.1:9/auth"),
                ("webhook_url", "http://127.0.0.1:9/hooks"),
                ("multi_tenant", "on"),
                ("app_name", "fleet"),
                ("app_version", "1.0"),
                ("intent", "save"),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.text);
    let list = h.api(Method::GET, "/v1/integrations", &token, None).await;
    let fleet = list.body["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["display_name"] == "Fleet")
        .unwrap()
        .clone();
    assert_eq!(fleet["description"], "Plans fleets");
    assert_eq!(fleet["webhook_url"], "http://127.0.0.1:9/hooks");
    assert_eq!(fleet["app_name"], "fleet");
    assert_eq!(fleet["stage"], "development");
    let id = fleet["client_id"].as_str().unwrap();
    let edit = admin.get(&h, &format!("/console/integrations/{id}/edit")).await;
    assert!(edit.text.contains("value=\"http://127.0.0.1:9/hooks\""), "{}", edit.text);
    let saved = admin
        .post(
            &h,
            &format!("/console/integrations/{id}"),
            &[
                ("display_name", "Fleet"),
                ("scope", "assets:read"),
                ("token_ttl_seconds", "3600"),
                ("description", "Plans fleets"),
                ("authentication_url", "http://127.0.0.1:9/auth"),
                ("webhook_url", ""),
                ("intent", "save"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text);
    let after = h.api(Method::GET, &format!("/v1/integrations/{id}"), &token, None).await;
    assert!(after.body.get("webhook_url").is_none(), "{}", after.text);
    assert!(after.body.get("homepage_url").is_none(), "{}", after.text);
    assert_eq!(after.body["authentication_url"], "http://127.0.0.1:9/auth");
}

/// The page a `consent_required` error sends to, as its description says.
fn consent_page_of(refused: &Reply) -> String {
    let description = refused.description();
    let start = description.find("send them to ").expect("a consent URL") + "send them to ".len();
    let url = description[start..].split(" to consent").next().unwrap();
    url.trim_start_matches(ISSUER).to_owned()
}

#[tokio::test]
async fn a_connectors_user_consents_in_the_console_and_the_jwt_bearer_grant_follows() {
    use crate::delegation::{assertion, grant, setup};
    let h = Harness::new().await;
    let s = setup(&h, tessera_core::token::SigningAlg::EdDsa).await;
    let carol = ConsoleSession::start(&h, &h.a, "carol@example.com", "member").await;
    let as_carol = || assertion(&h, &s.key, &s.client_id, "carol@example.com", |_| {});
    let refused = grant(&h, &as_carol(), Some("assets:read")).await;
    assert_eq!(refused.error(), "consent_required", "{}", refused.text);
    let page = consent_page_of(&refused);
    assert_eq!(page, format!("/console/consent?client_id={}&scope=assets:read", s.client_id));

    // Signed out, the page asks to sign in first and comes back.
    let signed_out = get_page(&h, &page).await;
    assert!(signed_out.status.is_redirection());
    assert!(
        signed_out.header("location").starts_with("/console/sign-in"),
        "{}",
        signed_out.header("location")
    );
    let shown = carol.get(&h, &page).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.text);
    for words in ["connector asks to act for you", "read assets", "carol@example.com"] {
        assert!(shown.text.contains(words), "{words}: {}", shown.text);
    }
    assert!(!shown.text.contains("Every user of"), "a member consents for themself only");
    let fields = [("client_id", s.client_id.as_str()), ("scope", "assets:read")];
    let for_all = carol.post(&h, "/console/consent", &[fields[0], fields[1], ("for", "all")]).await;
    assert_eq!(for_all.status, StatusCode::FORBIDDEN);
    let forged = crate::connections::form_post(
        &h,
        "/console/consent",
        &carol.cookie,
        &[("csrf", "forged"), fields[0], fields[1]],
    )
    .await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST);
    assert_eq!(grant(&h, &as_carol(), None).await.error(), "consent_required");

    let given = carol.post(&h, "/console/consent", &fields).await;
    assert_eq!(given.status, StatusCode::OK, "{}", given.text);
    assert!(given.text.contains("connector may now act for you, to read assets"), "{}", given.text);
    let token = grant(&h, &as_carol(), None).await;
    assert_eq!(token.status, StatusCode::OK, "{}", token.text);
    assert_eq!(token.body["scope"], "assets:read");
    // Listed in My account, and withdrawn there: the grant is refused again.
    let account = carol.get(&h, "/console/account").await;
    let id_at = account.text.find("/console/account/consents/").expect("the consent is listed");
    let withdraw = account.text[id_at..].split('"').next().unwrap().to_owned();
    let withdrawn = carol.post(&h, &withdraw, &[]).await;
    assert_eq!(withdrawn.status, StatusCode::SEE_OTHER);
    assert_eq!(grant(&h, &as_carol(), None).await.error(), "consent_required");
}

#[tokio::test]
async fn an_admin_consents_for_every_user_and_a_consent_link_that_does_not_work_says_why() {
    use crate::delegation::{assertion, create_user, grant, setup};
    let h = Harness::new().await;
    let s = setup(&h, tessera_core::token::SigningAlg::EdDsa).await;
    // An admin consents for every user of the organization.
    let admin = ConsoleSession::start(&h, &h.a, "ada@example.com", "admin").await;
    let offered = admin.get(&h, &format!("/console/consent?client_id={}", s.client_id)).await;
    assert!(offered.text.contains("Every user of"), "{}", offered.text);
    assert!(
        offered.text.contains("read events of assets"),
        "no scope asked: the integration's own"
    );
    let everyone = admin
        .post(&h, "/console/consent", &[("client_id", &s.client_id), ("scope", ""), ("for", "all")])
        .await;
    assert!(
        everyone.text.contains("may now act for every user of your organization"),
        "{}",
        everyone.text
    );
    create_user(&h, &s.admin, "dave@example.com").await;
    let dave =
        grant(&h, &assertion(&h, &s.key, &s.client_id, "dave@example.com", |_| {}), None).await;
    assert_eq!(dave.status, StatusCode::OK, "{}", dave.text);
    let mine = admin.get(&h, "/console/account").await;
    assert!(mine.text.contains("(for every user of the organization)"), "{}", mine.text);

    // Links that do not work say why.
    for (link, status, says) in [
        ("/console/consent".to_owned(), StatusCode::NOT_FOUND, "No such application"),
        (
            format!("/console/consent?client_id={}&scope=admin", s.client_id),
            StatusCode::BAD_REQUEST,
            "It asks for `admin`",
        ),
        (
            format!("/console/consent?client_id={}&scope=nonsense", s.client_id),
            StatusCode::BAD_REQUEST,
            "It asks for `nonsense`",
        ),
    ] {
        let broken = admin.get(&h, &link).await;
        assert_eq!(broken.status, status, "{link}");
        assert!(broken.text.contains(says), "{says}: {}", broken.text);
    }
}

/// Tenant a's application `kpi` 1.0 in development (its cockpit open to `dev`) and a customer
/// organization whose admin `cust` is signed in.
struct Cockpit {
    vendor: String,
    id: String,
    dev_secret: String,
    dev: ConsoleSession,
    customer: TenantAdmin,
    cust: ConsoleSession,
    tenant: String,
}

async fn cockpit(h: &Harness) -> Cockpit {
    let vendor = h.admin_token(&h.a).await;
    let (id, dev_secret, _) = crate::tms::app_version(h, &vendor, "kpi", "1.0", false).await;
    let described = Some(json!({"description": "Key figures for fleets"}));
    h.api(Method::PATCH, &format!("/v1/integrations/{id}"), &vendor, described).await;
    let dev = ConsoleSession::start(h, &h.a, "dana@dev.example", "admin").await;
    let customer = h.add_tenant().await;
    let cust = ConsoleSession::start(h, &customer, "carl@cust.example", "admin").await;
    let tenant = customer.tenant.to_string();
    Cockpit { vendor, id, dev_secret, dev, customer, cust, tenant }
}

#[tokio::test]
async fn a_version_is_switched_on_and_promoted_in_the_developer_cockpit() {
    for h in Harness::on_both_backends().await {
        let Cockpit { vendor, id, dev_secret, dev, cust, .. } = cockpit(&h).await;
        // In development it is nobody else's to see.
        let catalogue = cust.get(&h, "/console/applications").await;
        assert!(!catalogue.text.contains("Key figures"), "{}", catalogue.text);
        assert_eq!(cust.get(&h, "/console/applications/kpi").await.status, StatusCode::NOT_FOUND);

        // The developer cockpit: the version, its stage, TMS off; switched on.
        let cockpit = dev.get(&h, "/console/applications/kpi").await;
        assert_eq!(cockpit.status, StatusCode::OK, "{}", cockpit.text);
        for words in ["development", "Switch TMS on", "Promote…"] {
            assert!(cockpit.text.contains(words), "{words}: {}", cockpit.text);
        }
        let tms_path = format!("/console/applications/versions/{id}/tms");
        let switched = dev.post(&h, &tms_path, &[("tms", "on")]).await;
        assert_eq!(switched.status, StatusCode::SEE_OTHER, "{}", switched.text);
        assert_eq!(switched.header("location"), "/console/applications/kpi?done=tms");
        let stored = h.api(Method::GET, &format!("/v1/integrations/{id}"), &vendor, None).await;
        assert_eq!(stored.body["tms_enabled"], true);
        // Another organization cannot switch or promote it.
        assert_eq!(cust.post(&h, &tms_path, &[("tms", "off")]).await.status, StatusCode::NOT_FOUND);
        let promote_path = format!("/console/applications/versions/{id}/promote");
        assert_eq!(cust.post(&h, &promote_path, &[]).await.status, StatusCode::NOT_FOUND);
        let forged =
            crate::connections::form_post(&h, &promote_path, &dev.cookie, &[("csrf", "forged")])
                .await;
        assert_eq!(forged.status, StatusCode::BAD_REQUEST);

        // Promoted: the new credentials once, the development ones stop.
        let confirm = dev.get(&h, &promote_path).await;
        assert!(confirm.text.contains("Promote kpi 1.0 to production?"), "{}", confirm.text);
        let promoted = dev.post(&h, &promote_path, &[]).await;
        assert_eq!(promoted.status, StatusCode::OK, "{}", promoted.text);
        let secret = crate::console::shown(&promoted.text, "client_secret");
        assert_ne!(secret, dev_secret);
        assert_eq!(h.token(&id, &dev_secret, None).await.error(), "invalid_client");
    }
}

#[tokio::test]
async fn a_customer_authorizes_a_promoted_version_from_the_catalogue_and_revokes_it() {
    use crate::tms::{error_for, tms_for, token_for};
    for h in Harness::on_both_backends().await {
        let Cockpit { id, dev, customer, cust, tenant, .. } = cockpit(&h).await;
        let version = format!("/console/applications/versions/{id}");
        let switched = dev.submit(&h, &format!("{version}/tms"), "tms=on").await;
        assert_eq!(switched.status, StatusCode::SEE_OTHER);
        let promoted = dev.post(&h, &format!("{version}/promote"), &[]).await;
        let secret = crate::console::shown(&promoted.text, "client_secret");
        // The catalogue: publisher, description, versions; authorized with `limited`.
        let catalogue = cust.get(&h, "/console/applications").await;
        for words in ["Key figures for fleets", "1.0", "Authorize kpi"] {
            assert!(catalogue.text.contains(words), "{words}: {}", catalogue.text);
        }
        let page = cust.get(&h, "/console/applications/kpi").await;
        for words in ["Read and write", "Limited", "but not record events", "Custom"] {
            assert!(page.text.contains(words), "{words}: {}", page.text);
        }
        let authorize = "/console/applications/kpi/authorize";
        let no_scopes = cust.post(&h, authorize, &[("access", "custom")]).await;
        assert_eq!(no_scopes.status, StatusCode::BAD_REQUEST);
        assert!(no_scopes.text.contains("Nothing was changed"), "{}", no_scopes.text);
        let member = ConsoleSession::start(&h, &customer, "mo@cust.example", "member").await;
        assert_eq!(
            member.post(&h, authorize, &[("access", "limited")]).await.status,
            StatusCode::FORBIDDEN
        );
        let given = cust.post(&h, authorize, &[("access", "limited")]).await;
        assert_eq!(given.status, StatusCode::SEE_OTHER, "{}", given.text);
        let shown = cust.get(&h, given.header("location")).await;
        assert!(
            shown.text.contains("Limited (assets:read assets:write events:read)"),
            "{}",
            shown.text
        );
        let answer = tms_for(&h, &id, &secret, std::slice::from_ref(&tenant)).await;
        assert_eq!(token_for(&answer, &tenant)["scope"], "assets:read assets:write events:read");
        // The developer sees who authorized it, by name and access.
        let listed = dev.get(&h, "/console/applications/kpi").await;
        assert!(
            listed.text.contains(&tenant) && listed.text.contains("limited"),
            "{}",
            listed.text
        );

        // Revoked: the next TMS call lists the tenant in `errors`.
        let revoked = cust.post(&h, "/console/applications/kpi/revoke", &[]).await;
        assert_eq!(revoked.status, StatusCode::SEE_OTHER, "{}", revoked.text);
        h.clock.advance_seconds(1);
        let after = tms_for(&h, &id, &secret, std::slice::from_ref(&tenant)).await;
        assert!(error_for(&after, &tenant)["error"].is_string(), "{}", after.text);
        let twice = cust.post(&h, "/console/applications/kpi/revoke", &[]).await;
        assert_eq!(twice.status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn an_email_in_two_organizations_chooses_one_on_the_way_to_the_consent_page() {
    use crate::connections::{
        choose_organization, form_post, hidden, set_cookie, sign_in, with_cookie,
    };
    let h = Harness::new().await;
    let vendor = h.admin_token(&h.a).await;
    let (client_id, _, _) = h
        .create_integration(
            &vendor,
            json!({"display_name": "connector", "scopes": ["assets:read", "impersonation"]}),
        )
        .await;
    let mut tenants = Vec::new();
    for _ in 0..2 {
        let t = h.add_tenant().await;
        let admin = h.admin_token(&t).await;
        h.api(Method::POST, "/v1/users", &admin, Some(json!({"email": "sam@example.com", "display_name": "Sam", "password": "correct horse battery staple"})))
            .await;
        tenants.push(t);
    }
    let page = format!("/console/consent?client_id={client_id}&scope=assets:read");
    let asked = sign_in(&h, "sam@example.com", "correct horse battery staple", &page).await;
    assert!(asked.text.contains("Choose the organization"), "{}", asked.text);
    let second = tenants[1].tenant.to_string();
    let chosen = choose_organization(&h, &asked, "sam@example.com", &page, &second).await;
    assert_eq!(chosen.status, StatusCode::SEE_OTHER, "{}", chosen.text);
    assert_eq!(chosen.header("location"), page);
    let session = format!("tessera_session={}", set_cookie(&chosen, "tessera_session").unwrap());
    let shown = with_cookie(&h, &page, &session).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.text);
    assert!(shown.text.contains("connector asks to act for you"), "{}", shown.text);
    // The consent is the chosen organization's: its admin sees it, the other's does not.
    let given = form_post(
        &h,
        "/console/consent",
        &session,
        &[
            ("csrf", &hidden(&shown.text, "csrf")),
            ("client_id", &client_id),
            ("scope", "assets:read"),
        ],
    )
    .await;
    assert_eq!(given.status, StatusCode::OK, "{}", given.text);
    for (n, t) in tenants.iter().enumerate() {
        let admin = h.admin_token(t).await;
        let listed = h.api(Method::GET, "/v1/consents", &admin, None).await;
        let count = listed.body["consents"].as_array().unwrap().len();
        assert_eq!(count, n, "{}", listed.text);
    }
}
