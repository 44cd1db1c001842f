//! A trusted issuer: where its keys come from and what its tokens must say.

use std::fmt;
use std::time::Duration;

use crate::alg::{Algorithm, AlgorithmSet};
use crate::claims::{ClaimNames, RawClaims};
use crate::error::{ConfigError, VerifyError, VerifyErrorKind};
use crate::jwks::{Jwks, JwksBuilder};
use crate::jws::Header;
use crate::keyset::JwkSet;

const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);

/// An issuer whose tokens a [`Verifier`](crate::Verifier) accepts, with its key source and
/// the checks its tokens must pass. Built with [`TrustedIssuer::builder`] or a preset
/// ([`TrustedIssuer::cognito`], [`TrustedIssuer::auth0`], [`TrustedIssuer::entra_id`],
/// [`TrustedIssuer::keycloak`], [`TrustedIssuer::okta`], [`TrustedIssuer::oidc`]).
///
/// Every token must have `iss` equal to the issuer, an `exp`, a signature by a key of this
/// issuer's JWKS with an allowed algorithm, and pass the audience / client-id allowlists.
#[derive(Clone)]
pub struct TrustedIssuer {
    pub(crate) issuer: String,
    pub(crate) jwks: Jwks,
    pub(crate) names: ClaimNames,
    pub(crate) algorithms: AlgorithmSet,
    audiences: Vec<String>,
    client_ids: Vec<String>,
    token_use: Option<String>,
    typ: Option<String>,
    leeway: u64,
    max_age: Option<u64>,
}

impl fmt::Debug for TrustedIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustedIssuer")
            .field("issuer", &self.issuer)
            .field("jwks", &self.jwks)
            .field("audiences", &self.audiences)
            .field("client_ids", &self.client_ids)
            .field("token_use", &self.token_use)
            .field("typ", &self.typ)
            .finish_non_exhaustive()
    }
}

impl TrustedIssuer {
    /// Starts configuring the issuer whose tokens carry `iss` exactly equal to `issuer`.
    pub fn builder(issuer: impl Into<String>) -> TrustedIssuerBuilder {
        TrustedIssuerBuilder {
            issuer: issuer.into(),
            jwks: JwksSpec::Builder(Box::new(Jwks::builder())),
            names: ClaimNames::default(),
            algorithms: AlgorithmSet::all(),
            audiences: Vec::new(),
            client_ids: Vec::new(),
            any_audience: false,
            token_use: None,
            typ: None,
            leeway: DEFAULT_LEEWAY,
            max_age: None,
            error: None,
        }
    }

    /// The issuer identifier (`iss`).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The issuer's key source.
    pub fn jwks(&self) -> &Jwks {
        &self.jwks
    }

    /// The claim checks after the signature verified; `now` in Unix seconds.
    pub(crate) fn check(
        &self,
        claims: &RawClaims,
        header: &Header,
        now: u64,
    ) -> Result<(), VerifyError> {
        let fail = |kind| Err(VerifyError::new(kind));
        if claims.iss.as_deref() != Some(self.issuer.as_str()) {
            return fail(VerifyErrorKind::UntrustedIssuer);
        }
        // RFC 7519 §4.1.4: now must be before exp; the leeway absorbs clock skew.
        let Some(exp) = claims.exp else {
            return fail(VerifyErrorKind::InvalidClaim);
        };
        if now >= exp.saturating_add(self.leeway) {
            return fail(VerifyErrorKind::Expired);
        }
        if claims.nbf.is_some_and(|nbf| now.saturating_add(self.leeway) < nbf) {
            return fail(VerifyErrorKind::NotYetValid);
        }
        if claims.iat.is_some_and(|iat| iat > now.saturating_add(self.leeway)) {
            return fail(VerifyErrorKind::NotYetValid);
        }
        if let Some(max_age) = self.max_age {
            let Some(iat) = claims.iat else {
                return fail(VerifyErrorKind::InvalidClaim);
            };
            if now > iat.saturating_add(max_age).saturating_add(self.leeway) {
                return fail(VerifyErrorKind::TooOld);
            }
        }
        if self.token_use.is_some() && claims.token_use != self.token_use {
            return fail(VerifyErrorKind::WrongTokenUse);
        }
        if let Some(required) = &self.typ
            && !header.typ().is_some_and(|typ| media_type_matches(typ, required))
        {
            return fail(VerifyErrorKind::WrongType);
        }
        if !self.audiences.is_empty() && !claims.aud.iter().any(|a| self.audiences.contains(a)) {
            return fail(VerifyErrorKind::WrongAudience);
        }
        if !self.client_ids.is_empty()
            && !claims.client_id.as_ref().is_some_and(|id| self.client_ids.contains(id))
        {
            return fail(VerifyErrorKind::WrongAudience);
        }
        Ok(())
    }
}

/// RFC 7515 §4.1.9: `typ` compares case-insensitively, `application/` may be left out.
fn media_type_matches(typ: &str, required: &str) -> bool {
    fn strip(t: &str) -> &str {
        match t.get(..12) {
            Some(prefix) if prefix.eq_ignore_ascii_case("application/") => t.get(12..).unwrap_or(t),
            _ => t,
        }
    }
    strip(typ).eq_ignore_ascii_case(strip(required))
}

#[derive(Debug)]
enum JwksSpec {
    Builder(Box<JwksBuilder>),
    Built(Jwks),
}

/// Configures a [`TrustedIssuer`]. Without a key source setting, keys are found through OIDC
/// discovery of the issuer.
#[derive(Debug)]
pub struct TrustedIssuerBuilder {
    pub(crate) issuer: String,
    jwks: JwksSpec,
    names: ClaimNames,
    algorithms: AlgorithmSet,
    audiences: Vec<String>,
    client_ids: Vec<String>,
    any_audience: bool,
    token_use: Option<String>,
    typ: Option<String>,
    leeway: Duration,
    max_age: Option<Duration>,
    pub(crate) error: Option<ConfigError>,
}

impl TrustedIssuerBuilder {
    /// Fetch keys from this JWKS URL (configured apart from the issuer, e.g. a mirror).
    /// Default: OIDC discovery of the issuer, or the preset's URL.
    pub fn jwks_uri(self, url: impl Into<String>) -> Self {
        self.jwks_with(|jwks| jwks.uri(url))
    }

    /// Find the JWKS URL through OIDC discovery of the issuer. The default for
    /// [`TrustedIssuer::builder`].
    pub fn discovery(self) -> Self {
        let issuer = self.issuer.clone();
        self.jwks_with(|jwks| jwks.discovery(issuer))
    }

    /// Use a fixed key set; nothing is fetched.
    pub fn static_keys(self, keys: JwkSet) -> Self {
        self.jwks_with(|jwks| jwks.static_keys(keys))
    }

    /// Tunes the key source (TTL, cool-down, limits) keeping its URL, e.g.
    /// `.jwks_with(|j| j.ttl(Duration::from_secs(300)))`.
    pub fn jwks_with(mut self, configure: impl FnOnce(JwksBuilder) -> JwksBuilder) -> Self {
        let builder = match self.jwks {
            JwksSpec::Builder(builder) => *builder,
            JwksSpec::Built(_) => Jwks::builder(),
        };
        self.jwks = JwksSpec::Builder(Box::new(configure(builder)));
        self
    }

    /// Use a key source built elsewhere (e.g. shared, or hydrated already).
    pub fn jwks(mut self, jwks: Jwks) -> Self {
        self.jwks = JwksSpec::Built(jwks);
        self
    }

    /// Accept tokens whose `aud` contains this value (adds to the allowlist). Default: no
    /// audience check — then a client-id allowlist or [`any_audience`](Self::any_audience)
    /// is required.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Accept tokens of these clients only (adds to the allowlist; the client id is read
    /// from the [`client_id_claim`](Self::client_id_claim)). Default: no client check.
    pub fn client_ids<S: Into<String>>(mut self, ids: impl IntoIterator<Item = S>) -> Self {
        self.client_ids.extend(ids.into_iter().map(Into::into));
        self
    }

    /// Explicitly accept any audience and any client. Default: `false`; without an audience
    /// or client-id allowlist, [`build`](Self::build) refuses the configuration.
    pub fn any_audience(mut self) -> Self {
        self.any_audience = true;
        self
    }

    /// The claim that names the client. Default: `client_id` (RFC 9068 §2.2).
    pub fn client_id_claim(mut self, name: impl Into<String>) -> Self {
        self.names.client_id = name.into().into_boxed_str();
        self
    }

    /// The claims the scopes are read from, each a space-separated string or an array of
    /// strings; their union is [`Claims::scopes`](crate::Claims::scopes). Default:
    /// `["scope", "scp"]`.
    pub fn scope_claims<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.names.scopes = names.into_iter().map(|n| n.into().into_boxed_str()).collect();
        self
    }

    /// Require Cognito's `token_use` claim to be this value. Default: not checked
    /// (the Cognito preset requires `access`).
    pub fn token_use(mut self, token_use: impl Into<String>) -> Self {
        self.token_use = Some(token_use.into());
        self
    }

    /// Require the header `typ`, compared as a media type (`at+jwt` matches
    /// `application/at+jwt`, RFC 9068 §2.1). Default: not checked.
    pub fn require_type(mut self, typ: impl Into<String>) -> Self {
        self.typ = Some(typ.into());
        self
    }

    /// The accepted algorithms. Default: every supported asymmetric one
    /// ([`Algorithm::ALL`]).
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// Clock skew tolerated on `exp`, `nbf` and `iat`. Default: 60 seconds.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Refuse tokens issued longer ago than this (`iat` becomes required). Default: no limit.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// Checks the configuration and builds the trusted issuer. Nothing is fetched yet.
    ///
    /// # Errors
    /// [`ConfigError::NoAudience`] without audience or client-id allowlist (or
    /// `any_audience()`), [`ConfigError::NoAlgorithms`], [`ConfigError::InvalidUrl`], a
    /// preset's error, or the key source's [`JwksBuilder::build`] errors.
    pub fn build(self) -> Result<TrustedIssuer, ConfigError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        if self.issuer.is_empty() {
            return Err(ConfigError::InvalidSetting {
                name: "issuer",
                reason: "must not be empty",
            });
        }
        if self.audiences.is_empty() && self.client_ids.is_empty() && !self.any_audience {
            return Err(ConfigError::NoAudience(self.issuer));
        }
        if self.algorithms.is_empty() {
            return Err(ConfigError::NoAlgorithms(self.issuer));
        }
        let jwks = match self.jwks {
            JwksSpec::Built(jwks) => jwks,
            JwksSpec::Builder(builder) if builder.has_source() => builder.build()?,
            JwksSpec::Builder(builder) => builder.discovery(self.issuer.clone()).build()?,
        };
        Ok(TrustedIssuer {
            issuer: self.issuer,
            jwks,
            names: self.names,
            algorithms: self.algorithms,
            audiences: self.audiences,
            client_ids: self.client_ids,
            token_use: self.token_use,
            typ: self.typ,
            leeway: self.leeway.as_secs(),
            max_age: self.max_age.map(|d| d.as_secs()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typ_compares_as_a_media_type() {
        assert!(media_type_matches("at+jwt", "at+jwt"));
        assert!(media_type_matches("application/at+JWT", "at+jwt"));
        assert!(media_type_matches("AT+JWT", "application/at+jwt"));
        assert!(!media_type_matches("JWT", "at+jwt"));
        assert!(!media_type_matches("application/", "at+jwt"));
    }

    #[test]
    fn an_audience_decision_is_required() {
        let base = || {
            TrustedIssuer::builder("https://issuer.example").jwks_uri("https://issuer.example/jwks")
        };
        assert!(matches!(base().build(), Err(ConfigError::NoAudience(_))));
        assert!(base().audience("api").build().is_ok());
        assert!(base().client_ids(["a"]).build().is_ok());
        assert!(base().any_audience().build().is_ok());
        assert!(matches!(
            base().any_audience().algorithms([]).build(),
            Err(ConfigError::NoAlgorithms(_))
        ));
    }
}
