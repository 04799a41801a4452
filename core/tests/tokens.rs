//! API tokens: restrictions checked when created, secrets kept only as hashes, revocation and
//! expiry honoured on the injected clock.

use std::sync::Arc;

use certloop::clock::FixedClock;
use certloop::model::{TokenAction, TokenSpec, Ttl};
use certloop::{Certloop, Error};
use time::macros::datetime;

fn spec(name: &str, profiles: &[&str], actions: &[TokenAction]) -> TokenSpec {
    TokenSpec {
        name: name.to_owned(),
        profiles: profiles.iter().map(|p| p.to_string()).collect(),
        actions: actions.to_vec(),
        ttl: None,
    }
}

#[tokio::test]
async fn a_token_authenticates_until_revoked_or_expired_and_its_secret_is_not_kept() {
    let clock = Arc::new(FixedClock::new(datetime!(2027-01-01 00:00 UTC)));
    let certloop = Certloop::in_memory().await.expect("certloop").with_clock(clock.clone());
    let forever =
        certloop.create_token(spec("ci", &["web"], &[TokenAction::Issue])).await.expect("token");
    let text = forever.token.expose().to_owned();
    assert!(text.starts_with("clt_") && text.len() > 70, "{} characters", text.len());
    assert!(!format!("{forever:?}").contains(&text), "Debug redacts the secret");

    let found = certloop.authenticate_token(&text).await.expect("lookup").expect("valid");
    assert_eq!(found.name, "ci");
    assert!(found.allows(TokenAction::Issue, "some-id", "web"));
    assert!(!found.allows(TokenAction::Issue, "some-id", "other"));
    assert!(!found.allows(TokenAction::Revoke, "some-id", "web"));
    let mut forged = text.clone();
    forged.pop();
    forged.push(if text.ends_with('A') { 'B' } else { 'A' });
    for wrong in [forged.as_str(), "", "clt_", "clt_zz_zz", "Bearer x", &text[..40]] {
        assert!(certloop.authenticate_token(wrong).await.expect("lookup").is_none(), "{wrong:?}");
    }

    let brief =
        TokenSpec { ttl: Some(Ttl::from_days(1)), ..spec("brief", &["*"], &TokenAction::ALL) };
    let brief = certloop.create_token(brief).await.expect("token").token.expose().to_owned();
    assert!(certloop.authenticate_token(&brief).await.expect("lookup").is_some());
    clock.advance(time::Duration::days(1));
    assert!(certloop.authenticate_token(&brief).await.expect("lookup").is_none(), "expired");

    certloop.revoke_token("ci").await.expect("revoke");
    assert!(certloop.authenticate_token(&text).await.expect("lookup").is_none(), "revoked");
    let listed = certloop.list_tokens().await.expect("list");
    assert_eq!(listed.len(), 2);
    let stored = serde_json::to_string(&listed).expect("json");
    let secret = text.rsplit('_').next().expect("secret part");
    assert!(!stored.contains(secret));
}

#[tokio::test]
async fn bad_token_specs_name_the_field_and_save_nothing() {
    let certloop = Certloop::in_memory().await.expect("certloop");
    let cases = [
        (spec("has space", &["web"], &[TokenAction::Read]), "name"),
        (spec("", &["web"], &[TokenAction::Read]), "name"),
        (spec("ci", &[], &[TokenAction::Read]), "profiles"),
        (spec("ci", &["web"], &[]), "actions"),
        (
            TokenSpec {
                ttl: Some(Ttl::from_seconds(0)),
                ..spec("ci", &["web"], &[TokenAction::Read])
            },
            "ttl",
        ),
    ];
    for (bad, field) in cases {
        match certloop.create_token(bad).await {
            Err(Error::InvalidInput { field: named, .. }) => assert_eq!(named, field),
            other => panic!("expected an invalid {field}, got {other:?}"),
        }
    }
    assert!(certloop.list_tokens().await.expect("list").is_empty());
    assert!(
        matches!("sleep".parse::<TokenAction>(), Err(Error::InvalidInput { field, .. }) if field == "actions")
    );

    certloop.create_token(spec("ci", &["web"], &[TokenAction::Read])).await.expect("first");
    let again = certloop.create_token(spec("ci", &["*"], &TokenAction::ALL)).await;
    assert!(matches!(again, Err(Error::AlreadyExists { .. })), "{again:?}");
    let only = certloop.list_tokens().await.expect("list");
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].profiles, ["web"], "the first token is unchanged");
}
