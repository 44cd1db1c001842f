//! Presets: the issuer URL, JWKS URL and checks of common identity providers.
//!
//! Each preset returns a [`TrustedIssuerBuilder`] to finish: add the audience or client ids
//! your API accepts, adjust anything else, then `build()`.

use crate::alg::Algorithm;
use crate::error::ConfigError;
use crate::issuer::{TrustedIssuer, TrustedIssuerBuilder};

/// Whether `name` is a plain DNS name or label (no scheme, path, port or user info).
fn is_hostname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        && !name.starts_with(['.', '-'])
}

fn with_error(
    mut builder: TrustedIssuerBuilder,
    error: Option<ConfigError>,
) -> TrustedIssuerBuilder {
    if builder.error.is_none() {
        builder.error = error;
    }
    builder
}

fn invalid(name: &'static str, reason: &'static str) -> Option<ConfigError> {
    Some(ConfigError::InvalidSetting { name, reason })
}

impl TrustedIssuer {
    /// An Amazon Cognito user pool: issuer `https://cognito-idp.{region}.amazonaws.com/{pool}`,
    /// keys from `{issuer}/.well-known/jwks.json`, `token_use` must be `access`, scopes from
    /// `scope`, client from `client_id`. Cognito access tokens carry no `aud`: finish with
    /// [`client_ids`](TrustedIssuerBuilder::client_ids) (the app clients allowed to call).
    ///
    /// ```
    /// use b2b_auth_jwt::TrustedIssuer;
    ///
    /// let pool = TrustedIssuer::cognito("eu-west-1", "eu-west-1_AbCdEf123")
    ///     .client_ids(["car-orders"])
    ///     .build()?;
    /// assert_eq!(pool.issuer(), "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123");
    /// # Ok::<(), b2b_auth_jwt::ConfigError>(())
    /// ```
    pub fn cognito(region: &str, user_pool_id: &str) -> TrustedIssuerBuilder {
        let issuer = format!("https://cognito-idp.{region}.amazonaws.com/{user_pool_id}");
        let builder = TrustedIssuer::builder(issuer.clone())
            .jwks_uri(format!("{issuer}/.well-known/jwks.json"))
            .token_use("access")
            .client_id_claim("client_id")
            .scope_claims(["scope"]);
        let valid = is_hostname(region)
            && user_pool_id
                .strip_prefix(region)
                .and_then(|rest| rest.strip_prefix('_'))
                .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric()));
        let error = (!valid).then(|| ConfigError::CognitoPool {
            region: region.to_owned(),
            pool_id: user_pool_id.to_owned(),
        });
        with_error(builder, error)
    }

    /// An Auth0 tenant (or custom) domain, e.g. `example.eu.auth0.com`: issuer
    /// `https://{domain}/` (with the trailing slash Auth0 puts in `iss`), keys from
    /// `https://{domain}/.well-known/jwks.json`, scopes from `scope` and `permissions`
    /// (RBAC), client from `azp`. Finish with [`audience`](TrustedIssuerBuilder::audience)
    /// (your API identifier).
    pub fn auth0(domain: &str) -> TrustedIssuerBuilder {
        let builder = TrustedIssuer::builder(format!("https://{domain}/"))
            .jwks_uri(format!("https://{domain}/.well-known/jwks.json"))
            .client_id_claim("azp")
            .scope_claims(["scope", "permissions"]);
        let error =
            if is_hostname(domain) { None } else { invalid("auth0 domain", "must be a host name") };
        with_error(builder, error)
    }

    /// A Microsoft Entra ID (Azure AD) tenant, v2.0 tokens: issuer
    /// `https://login.microsoftonline.com/{tenant}/v2.0`, keys from
    /// `https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys`, RS256 only, scopes
    /// from `roles` (application permissions, which client-credentials tokens carry) and
    /// `scp` (delegated), client from `azp`. `tenant` is the tenant id (a GUID); the
    /// multi-tenant aliases `common`, `organizations` and `consumers` are refused because
    /// their tokens name the real tenant in `iss`. Finish with
    /// [`audience`](TrustedIssuerBuilder::audience) (your app's client id or App ID URI).
    pub fn entra_id(tenant: &str) -> TrustedIssuerBuilder {
        let base = format!("https://login.microsoftonline.com/{tenant}");
        let builder = TrustedIssuer::builder(format!("{base}/v2.0"))
            .jwks_uri(format!("{base}/discovery/v2.0/keys"))
            .algorithms([Algorithm::RS256])
            .client_id_claim("azp")
            .scope_claims(["roles", "scp"]);
        let error = if !is_hostname(tenant) {
            invalid("entra tenant", "must be a tenant id or domain")
        } else if ["common", "organizations", "consumers"].contains(&tenant) {
            invalid("entra tenant", "multi-tenant aliases name no single issuer")
        } else {
            None
        };
        with_error(builder, error)
    }

    /// A Keycloak realm: issuer `{base_url}/realms/{realm}` (`base_url` without a trailing
    /// slash, e.g. `https://sso.example.com`, or with `/auth` on old versions), keys from
    /// `{issuer}/protocol/openid-connect/certs`, scopes from `scope`, client from `azp`.
    /// Finish with [`audience`](TrustedIssuerBuilder::audience) (with an audience mapper) or
    /// [`client_ids`](TrustedIssuerBuilder::client_ids).
    pub fn keycloak(base_url: &str, realm: &str) -> TrustedIssuerBuilder {
        let issuer = format!("{}/realms/{realm}", base_url.trim_end_matches('/'));
        let builder = TrustedIssuer::builder(issuer.clone())
            .jwks_uri(format!("{issuer}/protocol/openid-connect/certs"))
            .client_id_claim("azp")
            .scope_claims(["scope"]);
        let error = if realm.is_empty() || realm.contains(['/', '?', '#']) {
            invalid("keycloak realm", "must be a realm name")
        } else {
            None
        };
        with_error(builder, error)
    }

    /// An Okta custom authorization server, e.g. domain `example.okta.com` and server id
    /// `default`: issuer `https://{domain}/oauth2/{server_id}`, keys from
    /// `{issuer}/v1/keys`, scopes from `scp`, client from `cid`. Finish with
    /// [`audience`](TrustedIssuerBuilder::audience) (e.g. `api://default`).
    pub fn okta(domain: &str, authorization_server_id: &str) -> TrustedIssuerBuilder {
        let issuer = format!("https://{domain}/oauth2/{authorization_server_id}");
        let builder = TrustedIssuer::builder(issuer.clone())
            .jwks_uri(format!("{issuer}/v1/keys"))
            .client_id_claim("cid")
            .scope_claims(["scp"]);
        let error = if !is_hostname(domain) {
            invalid("okta domain", "must be a host name")
        } else if !is_hostname(authorization_server_id) {
            invalid("okta authorization server id", "must be an id such as `default`")
        } else {
            None
        };
        with_error(builder, error)
    }

    /// Any OpenID Connect provider: keys through discovery
    /// (`{issuer}/.well-known/openid-configuration`, whose `issuer` must match), scopes from
    /// `scope` and `scp`, client from `client_id`, and RFC 9068 `typ: at+jwt` required.
    /// Finish with [`audience`](TrustedIssuerBuilder::audience).
    pub fn oidc(issuer: &str) -> TrustedIssuerBuilder {
        TrustedIssuer::builder(issuer).discovery().require_type("at+jwt")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn built(builder: TrustedIssuerBuilder) -> Result<TrustedIssuer, ConfigError> {
        builder.any_audience().build()
    }

    #[test]
    fn presets_name_the_providers_issuers() {
        let cases = [
            (TrustedIssuer::auth0("example.eu.auth0.com"), "https://example.eu.auth0.com/"),
            (
                TrustedIssuer::entra_id("6e8e4f5a-1111-2222-3333-444455556666"),
                "https://login.microsoftonline.com/6e8e4f5a-1111-2222-3333-444455556666/v2.0",
            ),
            (
                TrustedIssuer::keycloak("https://sso.example.com/", "partners"),
                "https://sso.example.com/realms/partners",
            ),
            (
                TrustedIssuer::okta("example.okta.com", "default"),
                "https://example.okta.com/oauth2/default",
            ),
            (TrustedIssuer::oidc("https://id.example.com"), "https://id.example.com"),
        ];
        for (builder, issuer) in cases {
            assert_eq!(built(builder).unwrap().issuer(), issuer);
        }
    }

    #[test]
    fn presets_refuse_malformed_inputs() {
        assert!(matches!(
            built(TrustedIssuer::cognito("eu-west-1", "us-east-1_abc")),
            Err(ConfigError::CognitoPool { .. })
        ));
        assert!(built(TrustedIssuer::cognito("eu-west-1", "eu-west-1_")).is_err());
        assert!(built(TrustedIssuer::cognito("eu-west-1", "eu-west-1_a/b")).is_err());
        assert!(built(TrustedIssuer::auth0("https://x.auth0.com")).is_err());
        assert!(built(TrustedIssuer::entra_id("common")).is_err());
        assert!(built(TrustedIssuer::okta("x.okta.com", "a/b")).is_err());
        assert!(built(TrustedIssuer::keycloak("https://kc", "")).is_err());
        assert!(built(TrustedIssuer::keycloak("ftp://kc", "r")).is_err());
    }
}
