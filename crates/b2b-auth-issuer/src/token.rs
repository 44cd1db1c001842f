//! The client-credentials grant: parsing the token request (RFC 6749 §4.4.2), authenticating
//! the client (§2.3.1), granting scopes (§3.3) and minting the Cognito-shaped access token.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, header};
use secrecy::ExposeSecret;
use serde::Serialize;
use subtle::ConstantTimeEq;

use crate::assertion::AssertionKey;
use crate::config::{BasicAuthEncoding, PoolConfig, is_scope_char};
use crate::keys::SigningKey;
use crate::oauth::{ErrorCode, OAuthError};
use crate::urls::IssuerUrls;
use b2b_auth_core::unix_secs;

/// Largest token request body accepted; a client-credentials request needs a few hundred bytes.
pub(crate) const MAX_BODY_BYTES: usize = 16 * 1024;

type Digest = [u8; 32];

fn sha256(bytes: &[u8]) -> Digest {
    let mut out = [0; 32];
    out.copy_from_slice(digest(&SHA256, bytes).as_ref());
    out
}

/// Constant-time comparison of a presented secret with a stored digest. Comparing digests
/// rather than the secrets also hides the stored secret's length.
pub(crate) fn secret_matches(presented: &[u8], stored: &Digest) -> bool {
    sha256(presented).ct_eq(stored).into()
}

pub(crate) fn digest_secret(secret: &str) -> Digest {
    sha256(secret.as_bytes())
}

/// A client as the token endpoint needs it: the secret only as a digest.
#[derive(Debug)]
pub(crate) struct Client {
    pub(crate) id: String,
    secret: Option<Digest>,
    assertion_key: Option<AssertionKey>,
    pub(crate) allowed_scopes: BTreeSet<String>,
    pub(crate) validity: Duration,
}

/// The validated pool: clients by id, and every defined scope.
#[derive(Debug)]
pub(crate) struct Pool {
    clients: HashMap<String, Client>,
    pub(crate) scopes: Vec<String>,
    encoding: BasicAuthEncoding,
    /// Compared against when the client id is unknown, so that an unknown id and a wrong
    /// secret take the same time.
    decoy: Digest,
    /// What a client assertion's `aud` may name: the token endpoint or the issuer.
    audiences: Vec<String>,
    /// `jti`s of accepted assertions, by client, until they expire: each is usable once.
    seen_assertions: Mutex<HashMap<(String, String), u64>>,
}

impl Pool {
    /// Builds the runtime pool from a configuration that has passed `validate()`.
    pub(crate) fn new(config: &PoolConfig, urls: &IssuerUrls) -> Self {
        let clients = config
            .clients
            .iter()
            .map(|c| {
                let client = Client {
                    id: c.client_id.clone(),
                    secret: c.client_secret.as_ref().map(|s| digest_secret(s.expose_secret())),
                    assertion_key: c
                        .public_jwk
                        .as_ref()
                        .and_then(|jwk| AssertionKey::from_jwk(jwk).ok()),
                    allowed_scopes: c.allowed_scopes.clone(),
                    validity: c.token_validity(),
                };
                (c.client_id.clone(), client)
            })
            .collect();
        let scopes = config.resource_servers.iter().flat_map(|s| s.scope_names()).collect();
        Self {
            clients,
            scopes,
            encoding: config.basic_auth_encoding,
            decoy: sha256(b"decoy"),
            audiences: vec![urls.token_endpoint(), urls.issuer.clone()],
            seen_assertions: Mutex::default(),
        }
    }

    pub(crate) fn client(&self, id: &str) -> Option<&Client> {
        self.clients.get(id)
    }

    fn authenticate(&self, id: &str, secret: &[u8]) -> Result<&Client, OAuthError> {
        let client = self.clients.get(id);
        // An unknown id (or a client without a secret) is compared against the decoy, so
        // every failure costs one digest.
        let stored = client.and_then(|c| c.secret.as_ref()).unwrap_or(&self.decoy);
        let matches = secret_matches(secret, stored);
        match client {
            Some(client) if matches && client.secret.is_some() => Ok(client),
            _ => Err(OAuthError::invalid_client("client authentication failed")),
        }
    }

    /// `private_key_jwt`: verifies the assertion with the client's registered key and
    /// refuses a `jti` seen before.
    fn authenticate_assertion(
        &self,
        id: &str,
        assertion: &str,
        now: SystemTime,
    ) -> Result<&Client, OAuthError> {
        let refused = |reason: &'static str| {
            tracing::debug!(client_id = ?id, reason, "client assertion refused");
            OAuthError::invalid_client("client authentication failed")
        };
        let client = self.clients.get(id).ok_or_else(|| refused("unknown client"))?;
        let key = client.assertion_key.as_ref().ok_or_else(|| refused("no registered key"))?;
        let verified = key.verify(assertion, id, &self.audiences, now).map_err(refused)?;
        let now_secs = unix_secs(now);
        let mut seen = self.seen_assertions.lock().unwrap_or_else(PoisonError::into_inner);
        seen.retain(|_, exp| *exp + 60 > now_secs);
        if seen.insert((id.to_owned(), verified.jti), verified.exp).is_some() {
            return Err(refused("assertion replayed"));
        }
        Ok(client)
    }
}

/// The parameters of a token request that the client-credentials grant uses.
#[derive(Default)]
pub(crate) struct TokenRequest {
    grant_type: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_assertion: Option<String>,
    client_assertion_type: Option<String>,
}

impl fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRequest")
            .field("grant_type", &self.grant_type)
            .field("scope", &self.scope)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "[redacted]"))
            .field("client_assertion", &self.client_assertion.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl TokenRequest {
    /// Parses an `application/x-www-form-urlencoded` body. RFC 6749 §3.2: parameters must not
    /// be repeated; unknown parameters are ignored.
    pub(crate) fn parse(body: &[u8]) -> Result<Self, OAuthError> {
        let mut request = Self::default();
        let mut seen = HashSet::new();
        for (name, value) in form_urlencoded::parse(body) {
            if !seen.insert(name.clone()) {
                return Err(OAuthError::invalid_request("repeated request parameter"));
            }
            let slot = match name.as_ref() {
                "grant_type" => &mut request.grant_type,
                "scope" => &mut request.scope,
                "client_id" => &mut request.client_id,
                "client_secret" => &mut request.client_secret,
                "client_assertion" => &mut request.client_assertion,
                "client_assertion_type" => &mut request.client_assertion_type,
                _ => continue,
            };
            *slot = Some(value.into_owned());
        }
        Ok(request)
    }
}

/// Checks that the request body is a form, before reading it.
pub(crate) fn check_content_type(headers: &HeaderMap) -> Result<(), OAuthError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"));
    if is_form {
        Ok(())
    } else {
        Err(OAuthError::invalid_request("content type must be application/x-www-form-urlencoded"))
    }
}

/// The client assertion type of `private_key_jwt` (RFC 7523 §2.2).
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Authenticates the client by `client_secret_basic`, `client_secret_post` or
/// `private_key_jwt` — exactly one of them (RFC 6749 §2.3: one method per request).
pub(crate) fn authenticate<'p>(
    pool: &'p Pool,
    headers: &HeaderMap,
    request: &TokenRequest,
    now: SystemTime,
) -> Result<&'p Client, OAuthError> {
    let mut authorization = headers.get_all(header::AUTHORIZATION).iter();
    let first = authorization.next();
    if authorization.next().is_some() {
        return Err(OAuthError::invalid_request("more than one Authorization header"));
    }
    let assertion = request.client_assertion.is_some() || request.client_assertion_type.is_some();
    let methods = [first.is_some(), request.client_secret.is_some(), assertion];
    if methods.iter().filter(|used| **used).count() > 1 {
        return Err(OAuthError::invalid_request("more than one client authentication method"));
    }
    if let Some(value) = first {
        let (id, secret) = parse_basic(value.as_bytes(), pool.encoding)?;
        if request.client_id.as_ref().is_some_and(|body_id| *body_id != id) {
            return Err(OAuthError::invalid_request("client_id differs from the credentials"));
        }
        return pool.authenticate(&id, secret.as_bytes());
    }
    if let Some(secret) = &request.client_secret {
        let id = request
            .client_id
            .as_deref()
            .ok_or_else(|| OAuthError::invalid_request("client_secret without client_id"))?;
        return pool.authenticate(id, secret.as_bytes());
    }
    if assertion {
        if request.client_assertion_type.as_deref() != Some(ASSERTION_TYPE) {
            return Err(OAuthError::invalid_client("unsupported client assertion type"));
        }
        let assertion = request.client_assertion.as_deref().ok_or_else(|| {
            OAuthError::invalid_request("client_assertion_type without client_assertion")
        })?;
        // The client is named by client_id, or else by the assertion's own subject.
        let id = match &request.client_id {
            Some(id) => id.clone(),
            None => assertion_subject(assertion)
                .ok_or_else(|| OAuthError::invalid_client("malformed client assertion"))?,
        };
        return pool.authenticate_assertion(&id, assertion, now);
    }
    Err(OAuthError::invalid_client("client authentication required"))
}

/// The `sub` of a compact JWT, unverified: only used to pick the key that verifies it.
fn assertion_subject(assertion: &str) -> Option<String> {
    let claims =
        jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(assertion).ok()?.claims;
    claims.get("sub")?.as_str().map(str::to_owned)
}

/// Parses `Basic base64(id:secret)`, decoding id and secret as configured.
fn parse_basic(value: &[u8], encoding: BasicAuthEncoding) -> Result<(String, String), OAuthError> {
    let malformed = || OAuthError::invalid_client("malformed Basic credentials");
    let (scheme, credentials) =
        value.iter().position(|b| *b == b' ').map(|i| value.split_at(i)).ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return Err(OAuthError::invalid_client("unsupported authentication scheme"));
    }
    let credentials = credentials.trim_ascii();
    let decoded = STANDARD.decode(credentials).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    match encoding {
        BasicAuthEncoding::FormUrlEncoded => {
            Ok((form_decode(id).ok_or_else(malformed)?, form_decode(secret).ok_or_else(malformed)?))
        }
        BasicAuthEncoding::Raw => Ok((id.to_owned(), secret.to_owned())),
    }
}

/// Decodes one `application/x-www-form-urlencoded` component: `+` is a space, `%XX` a byte.
fn form_decode(component: &str) -> Option<String> {
    let plus_as_space = component.replace('+', " ");
    percent_encoding::percent_decode_str(&plus_as_space).decode_utf8().ok().map(Into::into)
}

/// Checks the grant type.
pub(crate) fn check_grant_type(request: &TokenRequest) -> Result<(), OAuthError> {
    match request.grant_type.as_deref() {
        Some("client_credentials") => Ok(()),
        Some(_) => Err(OAuthError::new(
            ErrorCode::UnsupportedGrantType,
            "only the client_credentials grant is supported",
        )),
        None => Err(OAuthError::invalid_request("missing grant_type")),
    }
}

/// The requested scope of a token request, if any.
pub(crate) fn requested_scope(request: &TokenRequest) -> Option<&str> {
    request.scope.as_deref()
}

/// Grants scopes: all the client's allowed scopes when none is requested (as Cognito does),
/// else exactly the requested ones, each of which must be allowed. RFC 6749 §3.3 grammar:
/// scope tokens separated by single spaces.
pub(crate) fn grant_scopes(client: &Client, requested: Option<&str>) -> Result<String, OAuthError> {
    let Some(requested) = requested else {
        return Ok(client.allowed_scopes.iter().map(String::as_str).collect::<Vec<_>>().join(" "));
    };
    let mut granted: Vec<&str> = Vec::new();
    for scope in requested.split(' ') {
        if scope.is_empty() || !scope.bytes().all(is_scope_char) {
            return Err(OAuthError::invalid_scope("malformed scope"));
        }
        if !client.allowed_scopes.contains(scope) {
            return Err(OAuthError::invalid_scope("scope not allowed for this client"));
        }
        if !granted.contains(&scope) {
            granted.push(scope);
        }
    }
    Ok(granted.join(" "))
}

/// The claims of an access token, as Cognito puts them in a client-credentials token.
#[derive(Serialize)]
struct AccessTokenClaims<'a> {
    sub: &'a str,
    token_use: &'static str,
    scope: &'a str,
    auth_time: u64,
    iss: &'a str,
    exp: u64,
    iat: u64,
    version: u8,
    jti: String,
    client_id: &'a str,
}

/// A successful token response (RFC 6749 §5.1). `Debug` does not show the token.
#[derive(Clone, Serialize)]
pub struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    scope: String,
}

impl TokenResponse {
    /// The signed access token (a JWT).
    pub fn access_token(&self) -> &str {
        &self.access_token
    }

    /// Always `Bearer`.
    pub fn token_type(&self) -> &str {
        self.token_type
    }

    /// Seconds until the token expires.
    pub fn expires_in(&self) -> u64 {
        self.expires_in
    }

    /// The granted scopes, space-separated.
    pub fn scope(&self) -> &str {
        &self.scope
    }
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"[redacted]")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish()
    }
}

/// Signs an access token for `client` with `scope`, issued at `now`.
pub(crate) fn mint(
    key: &SigningKey,
    issuer: &str,
    client: &Client,
    scope: String,
    now: SystemTime,
) -> Result<(TokenResponse, String), OAuthError> {
    let iat = unix_secs(now);
    let expires_in = client.validity.as_secs();
    let jti = uuid::Uuid::new_v4().to_string();
    let claims = AccessTokenClaims {
        sub: &client.id,
        token_use: "access",
        scope: &scope,
        auth_time: iat,
        iss: issuer,
        exp: iat + expires_in,
        iat,
        version: 2,
        jti: jti.clone(),
        client_id: &client.id,
    };
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(key.kid().to_owned());
    // Cognito's access tokens carry no `typ`; keep the header to `kid` and `alg`.
    header.typ = None;
    let access_token =
        jsonwebtoken::encode(&header, &claims, key.encoding_key()).map_err(|error| {
            tracing::error!(%error, kid = key.kid(), "signing an access token failed");
            OAuthError::new(ErrorCode::ServerError, "could not sign the access token")
        })?;
    Ok((TokenResponse { access_token, token_type: "Bearer", expires_in, scope }, jti))
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;
    use crate::config::{AppClient, ResourceServer};

    const SECRET: &str = "s3cr+t:%/ x";

    fn pool(encoding: BasicAuthEncoding) -> Pool {
        let config = PoolConfig::new()
            .resource_server(
                ResourceServer::new("tires", "")
                    .scope("orders.write", "")
                    .scope("orders.read", "")
                    .scope("admin", ""),
            )
            .client(
                AppClient::new("car-orders", SECRET)
                    .allowed_scope("tires/orders.write")
                    .allowed_scope("tires/orders.read"),
            )
            .basic_auth_encoding(encoding);
        config.validate().unwrap();
        Pool::new(&config, &IssuerUrls::parse("http://127.0.0.1:9000").unwrap())
    }

    fn basic(id: &str, secret: &str) -> HeaderMap {
        let value = format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")));
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(&value).unwrap());
        headers
    }

    fn form_encode(s: &str) -> String {
        form_urlencoded::byte_serialize(s.as_bytes()).collect()
    }

    fn code(result: Result<&Client, OAuthError>) -> ErrorCode {
        result.unwrap_err().code()
    }

    #[test]
    fn basic_credentials_are_form_decoded_by_default() {
        let pool = pool(BasicAuthEncoding::FormUrlEncoded);
        let request = TokenRequest::default();
        let headers = basic(&form_encode("car-orders"), &form_encode(SECRET));
        assert_eq!(
            authenticate(&pool, &headers, &request, SystemTime::now()).unwrap().id,
            "car-orders"
        );
        // The raw secret holds '+' and '%': decoding it changes it, so it must fail.
        let raw = basic("car-orders", SECRET);
        assert_eq!(
            code(authenticate(&pool, &raw, &request, SystemTime::now())),
            ErrorCode::InvalidClient
        );
    }

    #[test]
    fn basic_credentials_can_be_taken_raw() {
        let pool = pool(BasicAuthEncoding::Raw);
        let request = TokenRequest::default();
        assert!(
            authenticate(&pool, &basic("car-orders", SECRET), &request, SystemTime::now()).is_ok()
        );
        let encoded = basic("car-orders", &form_encode(SECRET));
        assert_eq!(
            code(authenticate(&pool, &encoded, &request, SystemTime::now())),
            ErrorCode::InvalidClient
        );
    }

    #[test]
    fn post_credentials_authenticate() {
        let pool = pool(BasicAuthEncoding::FormUrlEncoded);
        let body = format!("client_id=car-orders&client_secret={}", form_encode(SECRET));
        let request = TokenRequest::parse(body.as_bytes()).unwrap();
        assert!(authenticate(&pool, &HeaderMap::new(), &request, SystemTime::now()).is_ok());
    }

    #[test]
    fn authentication_failures_are_typed() {
        let pool = pool(BasicAuthEncoding::FormUrlEncoded);
        let none = TokenRequest::default();
        let post = TokenRequest::parse(b"client_id=car-orders&client_secret=wrong").unwrap();
        let id_only = TokenRequest::parse(b"client_secret=x").unwrap();
        let other_id = TokenRequest::parse(b"client_id=someone-else").unwrap();
        let good = basic("car-orders", &form_encode(SECRET));
        let mut bearer = HeaderMap::new();
        bearer.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        let mut garbage = HeaderMap::new();
        garbage.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic !!!"));
        let mut two = good.clone();
        two.append(header::AUTHORIZATION, HeaderValue::from_static("Basic eDp5"));

        let none_headers = HeaderMap::new();
        let cases = [
            (&none_headers, &none, ErrorCode::InvalidClient),
            (&none_headers, &post, ErrorCode::InvalidClient),
            (&none_headers, &id_only, ErrorCode::InvalidRequest),
            (&good, &post, ErrorCode::InvalidRequest),
            (&good, &other_id, ErrorCode::InvalidRequest),
            (&two, &none, ErrorCode::InvalidRequest),
            (&bearer, &none, ErrorCode::InvalidClient),
            (&garbage, &none, ErrorCode::InvalidClient),
            (&basic("nobody", "x"), &none, ErrorCode::InvalidClient),
            (&basic("car-orders", ""), &none, ErrorCode::InvalidClient),
        ];
        for (headers, request, expected) in cases {
            assert_eq!(
                code(authenticate(&pool, headers, request, SystemTime::now())),
                expected,
                "{request:?}"
            );
        }
    }

    #[test]
    fn repeated_parameters_are_refused_and_unknown_ones_ignored() {
        let err = TokenRequest::parse(b"grant_type=a&grant_type=b").unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidRequest);
        let request = TokenRequest::parse(b"grant_type=client_credentials&foo=bar").unwrap();
        assert!(check_grant_type(&request).is_ok());
    }

    #[test]
    fn grant_type_must_be_client_credentials() {
        let missing = TokenRequest::parse(b"scope=x").unwrap();
        assert_eq!(check_grant_type(&missing).unwrap_err().code(), ErrorCode::InvalidRequest);
        let password = TokenRequest::parse(b"grant_type=password").unwrap();
        assert_eq!(
            check_grant_type(&password).unwrap_err().code(),
            ErrorCode::UnsupportedGrantType
        );
    }

    #[test]
    fn scopes_default_to_all_allowed_and_are_checked_when_requested() {
        let pool = pool(BasicAuthEncoding::FormUrlEncoded);
        let client = pool.client("car-orders").unwrap();
        assert_eq!(grant_scopes(client, None).unwrap(), "tires/orders.read tires/orders.write");
        assert_eq!(
            grant_scopes(client, Some("tires/orders.write tires/orders.write")).unwrap(),
            "tires/orders.write"
        );
        for bad in ["", " ", "tires/orders.write  tires/orders.read", "tires/\"x", "tires/admin"] {
            let err = grant_scopes(client, Some(bad)).unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidScope, "{bad:?}");
        }
    }

    #[test]
    fn debug_output_hides_secrets_and_tokens() {
        let request = TokenRequest::parse(b"client_id=a&client_secret=hunter2").unwrap();
        assert!(!format!("{request:?}").contains("hunter2"));
        let response = TokenResponse {
            access_token: "eyJhbGciOi.secret.token".into(),
            token_type: "Bearer",
            expires_in: 60,
            scope: String::new(),
        };
        assert!(!format!("{response:?}").contains("eyJ"));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_requests_only_get_typed_client_errors(
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..512),
            authorization in proptest::option::of(proptest::collection::vec(proptest::num::u8::ANY, 0..160)),
        ) {
            let pool = pool(BasicAuthEncoding::FormUrlEncoded);
            let mut headers = HeaderMap::new();
            if let Some(value) = authorization.and_then(|a| HeaderValue::from_bytes(&a).ok()) {
                headers.insert(header::AUTHORIZATION, value);
            }
            let outcome = TokenRequest::parse(&body).and_then(|request| {
                let client = authenticate(&pool, &headers, &request, SystemTime::now())?;
                check_grant_type(&request)?;
                grant_scopes(client, requested_scope(&request))
            });
            if let Err(error) = outcome {
                proptest::prop_assert!(error.status().is_client_error(), "{error:?}");
            }
        }

        #[test]
        fn form_encoded_basic_credentials_round_trip(id in "\\PC{1,40}", secret in "\\PC{0,60}") {
            let header = basic(&form_encode(&id), &form_encode(&secret));
            let value = header.get(header::AUTHORIZATION).unwrap().as_bytes();
            let decoded = parse_basic(value, BasicAuthEncoding::FormUrlEncoded).unwrap();
            proptest::prop_assert_eq!(decoded, (id, secret));
        }
    }
}
