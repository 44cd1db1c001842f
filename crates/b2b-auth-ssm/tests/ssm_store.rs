//! `SsmStore` through the official AWS SDK against moto's SSM on loopback, and the
//! scheduled-refresher pattern it serves.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // test code: a panic is the failure report

use std::time::{Duration, SystemTime};

use aws_sdk_ssm::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_ssm::types::{ParameterStringFilter, ParameterTier, ParameterType};
use b2b_auth_issuer::{AppClient, Issuer, IssuerServer, PoolConfig, ResourceServer};
use b2b_auth_ssm::{SsmStore, Tier};
use b2b_auth_testkit::{MotoServer, start_issuer};
use b2b_auth_token::{
    AccessToken, ClientCredentials, RefreshOutcome, Refresher, SourceKey, TokenEnvelope,
    TokenErrorKind, TokenProvider, TokenStore,
};
use secrecy::ExposeSecret as _;

const NAME: &str = "/car-orders/tires-token";

fn client(moto: &MotoServer) -> aws_sdk_ssm::Client {
    let config = aws_sdk_ssm::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(MotoServer::REGION))
        .endpoint_url(moto.endpoint_url())
        .credentials_provider(Credentials::new(
            MotoServer::ACCESS_KEY_ID,
            MotoServer::SECRET_ACCESS_KEY,
            None,
            None,
            "testkit",
        ))
        .build();
    aws_sdk_ssm::Client::from_conf(config)
}

fn envelope(generation: u64, token_bytes: usize) -> TokenEnvelope {
    let now = SystemTime::now();
    let value = format!("{generation}.{}", "x".repeat(token_bytes));
    let token =
        AccessToken::new(value, Some("tires/orders.write".into()), now + Duration::from_secs(3600))
            .unwrap();
    let key = SourceKey::new("https://idp/t", "car-orders", ["tires/orders.write"], None, []);
    TokenEnvelope::new(&token, now, &key, generation, "test")
}

#[tokio::test]
async fn envelopes_are_secure_strings_overwritten_in_place() {
    let moto = MotoServer::start();
    let sdk = client(&moto);
    let store =
        SsmStore::builder(sdk.clone(), NAME).kms_key_id("alias/car-orders").build().unwrap();
    assert!(store.load().await.unwrap().is_none(), "no parameter yet");

    store.save(&envelope(1, 1000)).await.unwrap();
    assert_eq!(store.load().await.unwrap().unwrap().generation(), 1);
    store.save(&envelope(2, 1000)).await.unwrap();
    let loaded = store.load().await.unwrap().unwrap();
    assert_eq!(loaded.generation(), 2, "overwritten in place");
    assert_eq!(loaded.scope(), Some("tires/orders.write"));

    // Stored encrypted: without decryption SSM does not hand out the plaintext.
    let raw = sdk
        .get_parameter()
        .name(NAME)
        .with_decryption(false)
        .send()
        .await
        .unwrap()
        .parameter
        .unwrap();
    assert_eq!(raw.r#type, Some(ParameterType::SecureString));
    assert_eq!(raw.version, 2);
    assert_ne!(raw.value.as_deref(), Some(envelope(2, 1000).to_json().expose_secret()));
    let described = sdk
        .describe_parameters()
        .parameter_filters(
            ParameterStringFilter::builder().key("Name").values(NAME).build().unwrap(),
        )
        .send()
        .await
        .unwrap();
    let metadata = &described.parameters.unwrap()[0];
    assert_eq!(metadata.key_id.as_deref(), Some("alias/car-orders"));
    assert_eq!(metadata.tier, Some(ParameterTier::Standard));
}

#[tokio::test]
async fn oversized_envelopes_are_refused_before_reaching_ssm() {
    let moto = MotoServer::start();
    let sdk = client(&moto);
    let standard = SsmStore::builder(sdk.clone(), NAME).build().unwrap();
    standard.save(&envelope(1, 1000)).await.unwrap();
    let error = standard.save(&envelope(2, 4500)).await.unwrap_err();
    assert_eq!(error.kind(), TokenErrorKind::Store);
    assert!(std::error::Error::source(&error).unwrap().to_string().contains("4096"), "{error:?}");
    assert_eq!(standard.load().await.unwrap().unwrap().generation(), 1, "left untouched");

    let advanced = SsmStore::builder(sdk, NAME).tier(Tier::Advanced).build().unwrap();
    advanced.save(&envelope(3, 4500)).await.unwrap();
    assert_eq!(advanced.load().await.unwrap().unwrap().generation(), 3);
    assert_eq!(advanced.save(&envelope(4, 9000)).await.unwrap_err().kind(), TokenErrorKind::Store);
}

async fn issuer() -> IssuerServer {
    let pool = PoolConfig::new()
        .resource_server(ResourceServer::new("tires", "").scope("orders.write", ""))
        .client(AppClient::new("car-orders", "ssm-secret").allowed_scope("tires/orders.write"));
    start_issuer(Issuer::builder(pool)).await
}

fn source(issuer: &Issuer) -> ClientCredentials {
    ClientCredentials::builder()
        .token_url(issuer.token_endpoint())
        .client_id("car-orders")
        .client_secret("ssm-secret")
        .scope("tires/orders.write")
        .allow_http_loopback(true)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_scheduled_refresher_writes_and_readers_only_read() {
    let moto = MotoServer::start();
    let server = issuer().await;
    let issuer = server.issuer();
    let store = SsmStore::builder(client(&moto), NAME).build().unwrap();
    let refresher =
        Refresher::builder(source(issuer), store.clone()).writer_id("cron").build().unwrap();

    let first = refresher.refresh_if_needed().await.unwrap();
    assert!(matches!(first, RefreshOutcome::Refreshed { generation: 1, .. }), "{first:?}");
    let second = refresher.refresh_if_needed().await.unwrap();
    assert!(matches!(second, RefreshOutcome::StillFresh { generation: 1, .. }), "{second:?}");

    let readers: Vec<TokenProvider> = (0..3)
        .map(|_| TokenProvider::builder(source(issuer)).store(store.clone()).build().unwrap())
        .collect();
    let shared = store.load().await.unwrap().unwrap().token().unwrap();
    for reader in &readers {
        for _ in 0..5 {
            assert_eq!(reader.token().await.unwrap().expose_secret(), shared.expose_secret());
        }
    }
    assert_eq!(issuer.stats().token_requests, 1, "only the refresher asked the identity provider");
}

#[tokio::test]
async fn with_ssm_unreachable_providers_refresh_in_process() {
    let moto = MotoServer::start();
    let server = issuer().await;
    let issuer = server.issuer();
    let store = SsmStore::builder(client(&moto), NAME).build().unwrap();
    drop(moto);
    let provider = TokenProvider::builder(source(issuer)).store(store.clone()).build().unwrap();
    assert!(provider.token().await.is_ok(), "the provider fetched its own token");
    assert_eq!(store.load().await.unwrap_err().kind(), TokenErrorKind::Store);
    let refresher = Refresher::builder(source(issuer), store).build().unwrap();
    assert_eq!(
        refresher.refresh_if_needed().await.unwrap_err().kind(),
        TokenErrorKind::Store,
        "a cron run fails loudly"
    );
}
