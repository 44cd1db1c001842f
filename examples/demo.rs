//! The b2b-auth demo, on this machine, no cloud account: `cargo run --example demo`.
//!
//! Starts the local Cognito-shaped issuer with the reference scenario's pool
//! (`config/sample-pool.toml`), then walks through what the services of the scenario do with
//! it: car-orders gets a token for the tire-orders API (`client_secret_basic`), tire-orders
//! gets one for the car-orders callback (`client_secret_post`), each token is verified against
//! the issuer's JWKS, a wrong secret is refused, and the signing key is rotated.
//!
//! `--serve` keeps the issuer running afterwards so that you can paste the printed `curl`.
use std::error::Error;
use std::io::Write;
use std::net::SocketAddr;

use b2b_auth_issuer::{Issuer, IssuerServer, PoolConfig};
use clap::Parser;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use secrecy::ExposeSecret as _;
use serde::Deserialize;
use serde_json::Value;

const SAMPLE_POOL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config/sample-pool.toml");

#[derive(Debug, Parser)]
#[command(about = "The b2b-auth demo: a local issuer and the reference scenario's token flows")]
struct Args {
    /// Where the issuer listens; a free port is used if this one is taken.
    #[arg(long, default_value = "127.0.0.1:9000")]
    listen: SocketAddr,
    /// Keep serving after the walkthrough, until Ctrl-C.
    #[arg(long)]
    serve: bool,
}

type Result<T> = std::result::Result<T, Box<dyn Error>>;

#[tokio::main]
async fn main() -> Result<()> {
    run(Args::parse(), &mut std::io::stdout()).await
}

async fn run(args: Args, out: &mut impl Write) -> Result<()> {
    let pool = PoolConfig::from_file(SAMPLE_POOL)?;
    let server = start(pool.clone(), args.listen).await?;
    let issuer = server.issuer();
    let http = reqwest::Client::new();
    let secret = |id: &str| -> Result<String> {
        let client = pool.clients().iter().find(|c| c.client_id() == id).ok_or("no such client")?;
        Ok(client.client_secret().ok_or("no secret")?.expose_secret().to_owned())
    };

    writeln!(out, "b2b-auth demo — a Cognito-shaped issuer on this machine, no cloud account\n")?;
    writeln!(out, "issuer     {}   (pool: config/sample-pool.toml)", issuer.url())?;
    writeln!(out, "token      {}", issuer.token_endpoint())?;
    writeln!(out, "jwks       {}\n", issuer.jwks_uri())?;

    writeln!(out, "1. car-orders asks for a token for the tire-orders API (client_secret_basic)")?;
    let response = http
        .post(issuer.token_endpoint())
        .basic_auth("car-orders", Some(secret("car-orders")?))
        .form(&[("grant_type", "client_credentials"), ("scope", "tires/orders.write")])
        .send()
        .await?;
    let car_token = show_token(out, response).await?;
    verify(out, &http, issuer, &car_token).await?;

    writeln!(
        out,
        "\n2. tire-orders asks for a token for the car-orders callback (client_secret_post, no scope = all allowed)"
    )?;
    let tire_secret = secret("tire-orders")?;
    let response = http
        .post(issuer.token_endpoint())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "tire-orders"),
            ("client_secret", tire_secret.as_str()),
        ])
        .send()
        .await?;
    let tire_token = show_token(out, response).await?;
    verify(out, &http, issuer, &tire_token).await?;

    writeln!(out, "\n3. a caller with a wrong secret")?;
    let response = http
        .post(issuer.token_endpoint())
        .basic_auth("car-orders", Some("not-the-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await?;
    let status = response.status();
    let challenge = response.headers().get("www-authenticate").cloned();
    let challenge = challenge.as_ref().and_then(|v| v.to_str().ok()).unwrap_or("(none)");
    writeln!(out, "   -> {status} {}", response.text().await?)?;
    writeln!(out, "      WWW-Authenticate: {challenge}")?;

    writeln!(
        out,
        "\n4. key rotation: new tokens get the new key; the old one stays published for the grace period"
    )?;
    let old = issuer.signing_kid();
    let new = issuer.rotate_key()?;
    writeln!(out, "   signing kid {old} -> {new}; JWKS now holds {:?}", issuer.published_kids())?;
    verify(out, &http, issuer, &car_token).await?;

    writeln!(out, "\nTry it yourself (demo credentials from config/sample-pool.toml):")?;
    writeln!(
        out,
        "  curl -s -u car-orders:{} -d grant_type=client_credentials -d scope=tires/orders.write {}",
        secret("car-orders")?,
        issuer.token_endpoint()
    )?;
    if args.serve {
        writeln!(out, "\nServing until Ctrl-C.")?;
        tokio::signal::ctrl_c().await?;
    } else {
        writeln!(
            out,
            "\n(`cargo run --example demo -- --serve` keeps the issuer running for that.)"
        )?;
    }
    server.shutdown().await;
    Ok(())
}

async fn start(pool: PoolConfig, listen: SocketAddr) -> Result<IssuerServer> {
    match Issuer::builder(pool.clone()).start(listen).await {
        Ok(server) => Ok(server),
        // Port taken (another demo running?): any free port will do.
        Err(_) => Ok(Issuer::builder(pool).start(SocketAddr::new(listen.ip(), 0)).await?),
    }
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    token_type: String,
    expires_in: u64,
    scope: String,
}

/// Prints a token response (never the token itself) and returns the token.
async fn show_token(out: &mut impl Write, response: reqwest::Response) -> Result<String> {
    let status = response.status();
    if !status.is_success() {
        return Err(format!("{status}: {}", response.text().await?).into());
    }
    let body: TokenResponse = response.json().await?;
    writeln!(
        out,
        "   -> {status}, {} token, expires in {} s, scope {:?}",
        body.token_type, body.expires_in, body.scope
    )?;
    let token = body.access_token;
    let header = jsonwebtoken::decode_header(&token)?;
    writeln!(out, "   header  alg={:?} kid={}", header.alg, header.kid.unwrap_or_default())?;
    let claims = jsonwebtoken::dangerous::insecure_decode::<Value>(&token)?.claims;
    writeln!(out, "   claims  {claims}")?;
    Ok(token)
}

/// Verifies a token against the issuer's JWKS, as a resource server does.
async fn verify(
    out: &mut impl Write,
    http: &reqwest::Client,
    issuer: &Issuer,
    token: &str,
) -> Result<()> {
    let jwks: JwkSet = http.get(issuer.jwks_uri()).send().await?.json().await?;
    let kid = jsonwebtoken::decode_header(token)?.kid.ok_or("token without kid")?;
    let jwk = jwks.find(&kid).ok_or("kid not in the JWKS")?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[issuer.url()]);
    jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk)?, &validation)?;
    writeln!(out, "   verified against the JWKS (kid {kid}): signature, exp, iss ok")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_demo_walks_through_the_token_flows() {
        // Port 0: never collide with a demo a developer has running on 9000.
        let args = Args { listen: SocketAddr::from(([127, 0, 0, 1], 0)), serve: false };
        let mut out = Vec::new();
        run(args, &mut out).await.unwrap();
        let out = String::from_utf8(out).unwrap();
        for step in [
            "1. car-orders asks for a token",
            "2. tire-orders asks for a token",
            "3. a caller with a wrong secret",
            "-> 401 Unauthorized",
            "4. key rotation",
            "curl -s -u car-orders:",
        ] {
            assert!(out.contains(step), "missing {step:?} in:\n{out}");
        }
        assert_eq!(out.matches("verified against the JWKS").count(), 3, "{out}");
        assert!(out.contains(r#"scope "tires/orders.write""#), "{out}");
        assert!(out.contains(r#"scope "cars/orders.complete""#), "{out}");
        // The demo shows claims, never a token.
        assert!(!out.contains("eyJ"), "a token was printed:\n{out}");
    }
}
