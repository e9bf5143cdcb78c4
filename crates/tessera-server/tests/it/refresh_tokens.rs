//! Refresh tokens (SPEC §15, RFC 6749 §6, RFC 9700 §4.14) through the real router, on both
//! backends: a redeemed code gives one, each use rotates it, a replaced one coming back ends the
//! family and its newest access token, lifetimes bound it, `/oauth2/revoke` and a withdrawn
//! consent end it, and a public client refreshes with its `client_id` alone.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::authorize::{authorize_path, client, enc, location, redeem, Client, CALLBACK, VERIFIER};
use crate::console::ConsoleSession;
use crate::harness::*;

async fn refresh(h: &Harness, c: &Client, token: &str, extra: &str) -> Reply {
    let body = format!("grant_type=refresh_token&refresh_token={}{extra}", enc(token));
    let auth = (!c.secret.is_empty()).then_some((c.id.as_str(), c.secret.as_str()));
    h.form("/oauth2/token", body, auth).await
}

/// A code for `person`: from the consent page the first time, at once once remembered.
async fn consented_code(h: &Harness, c: &Client, person: &ConsoleSession) -> String {
    let page = person.get(h, &authorize_path(&c.id, &[])).await;
    if page.status == StatusCode::SEE_OTHER {
        return location(&page).1["code"].clone();
    }
    crate::authorize::consented_code(h, c, person).await
}

fn tokens(reply: &Reply) -> (String, String) {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let text = |name: &str| {
        reply.body[name].as_str().unwrap_or_else(|| panic!("{name}: {}", reply.text)).to_owned()
    };
    (text("access_token"), text("refresh_token"))
}

#[tokio::test]
async fn each_use_rotates_and_a_replaced_token_coming_back_ends_the_family() {
    for h in Harness::on_both_backends().await {
        let c = client(&h).await;
        let pia = ConsoleSession::start(&h, &h.a, "pia@a.example", "member").await;
        let code = consented_code(&h, &c, &pia).await;
        let (first_access, first) = tokens(&redeem(&h, &c, &code, VERIFIER).await);
        assert_ne!(first, first_access);

        // A use gives a new access token and a new refresh token, no more than asked.
        let used = refresh(&h, &c, &first, "&scope=assets:read").await;
        assert_eq!(used.header("cache-control"), "no-store");
        assert_eq!(used.body["scope"], "assets:read", "{}", used.text);
        let (access, second) = tokens(&used);
        assert_ne!(second, first);
        let claims = h.state.keys.load().verify(&access).unwrap();
        assert_eq!(claims.sub.to_string(), pia.user_id);
        assert_eq!(claims.aud, ISSUER);
        assert_eq!(h.introspect((&c.id, &c.secret), &access).await.body["active"], true);
        refresh(&h, &c, &second, "&scope=assets:read%20admin")
            .await
            .refused(&"a scope beyond the authorization", "did not authorize");
        refresh(&h, &c, &second, "&resource=https%3A%2F%2Fother.example")
            .await
            .refused(&"another resource", "not the one the person authorized");

        // The first token came back: someone else holds the family. It ends, and with it
        // the newest access token.
        let reused = refresh(&h, &c, &first, "").await;
        reused.refused(&"a replaced refresh token", "already used and replaced");
        assert_eq!(reused.error(), "invalid_grant");
        refresh(&h, &c, &second, "")
            .await
            .refused(&"the family's newest token", "not one Tessera holds");
        assert_eq!(h.introspect((&c.id, &c.secret), &access).await.body["active"], false);
        let admin = h.admin_token(&h.a).await;
        let entries = h.audit_actions(&admin, "refresh_token.reused").await;
        let issued = entries.iter().filter(|e| e["action"] == "token.issued").count();
        assert!(issued >= 2, "every token, refreshed or not, is audited: {entries:?}");

        // Another client cannot use it, nor can garbage name a family.
        let (_, third) =
            tokens(&redeem(&h, &c, &consented_code(&h, &c, &pia).await, VERIFIER).await);
        let other = client(&h).await;
        refresh(&h, &other, &third, "").await.refused(&"another client's token", "another client");
        refresh(&h, &c, "not-a-token", "").await.refused(&"garbage", "not one Tessera holds");
        // The rightful client still can: a refusal to another changes nothing.
        tokens(&refresh(&h, &c, &third, "").await);
    }
}

#[tokio::test]
async fn a_family_ends_when_idle_or_old_and_with_a_code_used_twice() {
    for h in Harness::on_both_backends().await {
        let admin = h.admin_token(&h.a).await;
        let c = client(&h).await;
        let shortened = h
            .api(
                Method::PATCH,
                &format!("/v1/integrations/{}", c.id),
                &admin,
                Some(json!({"refresh_token_idle_seconds": 600, "refresh_token_absolute_seconds": 1000})),
            )
            .await;
        assert_eq!(shortened.status, StatusCode::OK, "{}", shortened.text);
        assert_eq!(
            (
                shortened.body["refresh_token_idle_seconds"].as_u64(),
                shortened.body["refresh_token_absolute_seconds"].as_u64()
            ),
            (Some(600), Some(1000))
        );
        let pia = ConsoleSession::start(&h, &h.a, "pia@a.example", "member").await;
        let (_, token) =
            tokens(&redeem(&h, &c, &consented_code(&h, &c, &pia).await, VERIFIER).await);
        h.clock.advance_seconds(500);
        let (_, token) = tokens(&refresh(&h, &c, &token, "").await);
        h.clock.advance_seconds(450);
        let (_, token) = tokens(&refresh(&h, &c, &token, "").await);
        // Used every 500 seconds, it still ends 1000 seconds after the person authorized.
        h.clock.advance_seconds(60);
        refresh(&h, &c, &token, "").await.refused(&"an old family", "older than");

        let (_, token) =
            tokens(&redeem(&h, &c, &consented_code(&h, &c, &pia).await, VERIFIER).await);
        h.clock.advance_seconds(601);
        refresh(&h, &c, &token, "").await.refused(&"an idle family", "idle lifetime");

        // A code used twice ends what its first use got, the refresh token too.
        let code = consented_code(&h, &c, &pia).await;
        let (_, token) = tokens(&redeem(&h, &c, &code, VERIFIER).await);
        redeem(&h, &c, &code, VERIFIER).await.refused(&"a code used twice", "used already");
        refresh(&h, &c, &token, "")
            .await
            .refused(&"the twice-used code's family", "not one Tessera holds");

        for (body, field) in [
            (
                json!({"refresh_token_idle_seconds": 2000, "refresh_token_absolute_seconds": 1000}),
                "`refresh_token_idle_seconds`",
            ),
            (
                json!({"refresh_token_absolute_seconds": 40_000_000}),
                "`refresh_token_absolute_seconds`",
            ),
            (json!({"refresh_token_idle_seconds": 10}), "`refresh_token_idle_seconds`"),
        ] {
            h.api(Method::PATCH, &format!("/v1/integrations/{}", c.id), &admin, Some(body.clone()))
                .await
                .refused(&body, field);
        }
        let kept = h.api(Method::GET, &format!("/v1/integrations/{}", c.id), &admin, None).await;
        assert_eq!(
            kept.body["refresh_token_idle_seconds"], 600,
            "nothing stored is lost: {}",
            kept.text
        );
    }
}

#[tokio::test]
async fn revocation_and_a_withdrawn_consent_end_the_family() {
    for h in Harness::on_both_backends().await {
        let c = client(&h).await;
        let pia = ConsoleSession::start(&h, &h.a, "pia@a.example", "member").await;
        let (_, token) =
            tokens(&redeem(&h, &c, &consented_code(&h, &c, &pia).await, VERIFIER).await);

        // Only its client revokes it; another gets `unauthorized_client` and it keeps working.
        let other = client(&h).await;
        let refused = h
            .form(
                "/oauth2/revoke",
                format!("token={}", enc(&token)),
                Some((&other.id, &other.secret)),
            )
            .await;
        assert_eq!(refused.error(), "unauthorized_client", "{}", refused.text);
        let (access, token) = tokens(&refresh(&h, &c, &token, "").await);
        let revoked = h
            .form(
                "/oauth2/revoke",
                format!("token={}&token_type_hint=refresh_token", enc(&token)),
                Some((&c.id, &c.secret)),
            )
            .await;
        assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text);
        refresh(&h, &c, &token, "")
            .await
            .refused(&"a revoked refresh token", "not one Tessera holds");
        assert_eq!(h.introspect((&c.id, &c.secret), &access).await.body["active"], false);
        // Again: RFC 7009 §2.2, a token that no longer works is no error.
        let again = h
            .form("/oauth2/revoke", format!("token={}", enc(&token)), Some((&c.id, &c.secret)))
            .await;
        assert_eq!(again.status, StatusCode::OK, "{}", again.text);
        let admin = h.admin_token(&h.a).await;
        h.audit_actions(&admin, "refresh_token.revoked").await;

        // Withdrawn and given again, a consent does not bring the old refresh token back.
        let (_, token) =
            tokens(&redeem(&h, &c, &consented_code(&h, &c, &pia).await, VERIFIER).await);
        let consents = h.api(Method::GET, "/v1/consents", &admin, None).await;
        let id = consents.body["consents"][0]["id"].as_str().unwrap().to_owned();
        let gone = h.api(Method::DELETE, &format!("/v1/consents/{id}"), &admin, None).await;
        assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.text);
        refresh(&h, &c, &token, "").await.refused(&"after the withdrawal", "Tessera");
        let _ = consented_code(&h, &c, &pia).await;
        refresh(&h, &c, &token, "")
            .await
            .refused(&"after consenting again", "not one Tessera holds");
    }
}

#[tokio::test]
async fn a_public_client_refreshes_and_revokes_with_its_client_id_alone() {
    for h in Harness::on_both_backends().await {
        let admin = h.admin_token(&h.a).await;
        let made = h
            .api(Method::POST, "/v1/integrations", &admin, Some(json!({"display_name": "CLI agent", "scopes": ["assets:read"], "redirect_uris": [CALLBACK], "token_endpoint_auth_method": "none"})))
            .await;
        let c = Client {
            id: made.body["client_id"].as_str().unwrap().to_owned(),
            secret: String::new(),
        };
        let pia = ConsoleSession::start(&h, &h.a, "pia@a.example", "member").await;
        let code = consented_code(&h, &c, &pia).await;
        let redeemed = h
            .form("/oauth2/token", format!("grant_type=authorization_code&client_id={}&code={}&redirect_uri={}&code_verifier={VERIFIER}", c.id, enc(&code), enc(CALLBACK)), None)
            .await;
        let (_, token) = tokens(&redeemed);
        let (_, token) = tokens(&refresh(&h, &c, &token, &format!("&client_id={}", c.id)).await);
        // Naming no client at all is not enough.
        let anonymous = refresh(&h, &c, &token, "").await;
        assert_eq!(
            (anonymous.status, anonymous.error()),
            (StatusCode::UNAUTHORIZED, "invalid_client"),
            "{}",
            anonymous.text
        );
        let revoked = h
            .form("/oauth2/revoke", format!("token={}&client_id={}", enc(&token), c.id), None)
            .await;
        assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text);
        refresh(&h, &c, &token, &format!("&client_id={}", c.id))
            .await
            .refused(&"revoked", "not one Tessera holds");

        let discovery =
            crate::authorize::signed_out(&h, "/.well-known/oauth-authorization-server").await;
        assert!(
            discovery.body["grant_types_supported"]
                .as_array()
                .unwrap()
                .contains(&json!("refresh_token")),
            "{}",
            discovery.text
        );
    }
}

#[tokio::test]
async fn the_console_sets_refresh_lifetimes_and_names_a_bad_one_next_to_its_field() {
    let h = Harness::new().await;
    let admin = ConsoleSession::start(&h, &h.a, "dana@a.example", "admin").await;
    let form = |idle: &'static str, absolute: &'static str| {
        [
            ("display_name", "Agent"),
            ("scope", "assets:read"),
            ("token_ttl_seconds", "3600"),
            ("refresh_token_idle_seconds", idle),
            ("refresh_token_absolute_seconds", absolute),
            ("intent", "save"),
        ]
    };
    let bad = admin.post(&h, "/console/integrations", &form("86400", "3600")).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text);
    assert!(bad.text.contains("id=\"refresh_token_idle_seconds-problem\""), "{}", bad.text);
    assert!(bad.text.contains("at most the absolute one"), "{}", bad.text);
    let typo = admin.post(&h, "/console/integrations", &form("a week", "")).await;
    assert!(typo.text.contains("is `a week`; give a whole number of seconds"), "{}", typo.text);
    let made = admin.post(&h, "/console/integrations", &form("3600", "86400")).await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.text);
    let token = h.admin_token(&h.a).await;
    let list = h.api(Method::GET, "/v1/integrations", &token, None).await;
    let agent = list.body["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["display_name"] == "Agent")
        .unwrap()
        .clone();
    assert_eq!(
        (
            agent["refresh_token_idle_seconds"].as_u64(),
            agent["refresh_token_absolute_seconds"].as_u64()
        ),
        (Some(3600), Some(86400))
    );
    let id = agent["client_id"].as_str().unwrap();
    let page = admin.get(&h, &format!("/console/integrations/{id}")).await;
    assert!(page.text.contains("end unused after 3600 seconds"), "{}", page.text);
}

#[tokio::test]
async fn of_two_uses_at_once_one_wins_and_a_forged_token_ends_nothing() {
    for h in Harness::on_both_backends().await {
        let c = client(&h).await;
        let pia = ConsoleSession::start(&h, &h.a, "pia@a.example", "member").await;
        let (access, token) =
            tokens(&redeem(&h, &c, &consented_code(&h, &c, &pia).await, VERIFIER).await);

        // The family id is the first access token's `jti`, which resource servers see: a token
        // made up around it is unknown, and the family goes on.
        let jti = h.state.keys.load().verify(&access).unwrap().jti;
        let forged = format!("{jti}.0.{}.{}", "A".repeat(43), "B".repeat(43));
        refresh(&h, &c, &forged, "").await.refused(&"a forged token", "not one Tessera holds");
        let revoke = h
            .form("/oauth2/revoke", format!("token={}", enc(&forged)), Some((&c.id, &c.secret)))
            .await;
        assert_eq!(revoke.status, StatusCode::OK, "{}", revoke.text);
        let (_, token) = tokens(&refresh(&h, &c, &token, "").await);

        // Two uses of the same token at once: exactly one gets the next token.
        let (one, two) = tokio::join!(refresh(&h, &c, &token, ""), refresh(&h, &c, &token, ""));
        let won: Vec<&Reply> =
            [&one, &two].into_iter().filter(|r| r.status == StatusCode::OK).collect();
        assert_eq!(won.len(), 1, "{} / {}", one.text, two.text);
        let lost = if one.status == StatusCode::OK { &two } else { &one };
        assert_eq!(lost.error(), "invalid_grant", "{}", lost.text);
        // Whoever lost, the family is in two hands and ends: the winner's token is dead too.
        let (_, winner) = tokens(won[0]);
        refresh(&h, &c, &winner, "").await.refused(&"the winner's token after the race", "");
    }
}

#[tokio::test]
async fn my_account_and_the_users_page_say_when_an_app_last_used_its_access() {
    use tessera_core::model::rfc3339;
    use tessera_core::world::Clock;
    for h in Harness::on_both_backends().await {
        let c = client(&h).await;
        let pia = ConsoleSession::start(&h, &h.a, "pia@a.example", "member").await;
        let code = consented_code(&h, &c, &pia).await;
        let row = |text: &str| -> String {
            let at = text.find("Research agent").unwrap_or_else(|| panic!("no row: {text}"));
            text[at..].split("</tr>").next().unwrap_or_default().to_owned()
        };
        // Allowed but no token taken yet.
        assert!(row(&pia.get(&h, "/console/account").await.text).contains("Not yet"));

        let redeemed_at = h.clock.now_seconds() * 1000;
        let (_, first) = tokens(&redeem(&h, &c, &code, VERIFIER).await);
        let account = row(&pia.get(&h, "/console/account").await.text);
        assert!(account.contains(&rfc3339(redeemed_at)), "{account}");

        // A refresh five minutes later is the new last use, on the person's page and the admin's.
        h.clock.advance_seconds(300);
        let refreshed_at = h.clock.now_seconds() * 1000;
        tokens(&refresh(&h, &c, &first, "").await);
        let account = row(&pia.get(&h, "/console/account").await.text);
        assert!(account.contains(&rfc3339(refreshed_at)), "{account}");
        assert!(!account.contains("Not yet"), "{account}");
        let dana = ConsoleSession::start(&h, &h.a, "dana@a.example", "admin").await;
        let users_page = row(&dana.get(&h, &format!("/console/users/{}", pia.user_id)).await.text);
        assert!(users_page.contains(&rfc3339(refreshed_at)), "{users_page}");
    }
}
