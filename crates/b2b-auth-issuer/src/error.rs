//! Errors of configuration, keys and start-up. Errors of the token endpoint itself are
//! [`OAuthError`](crate::OAuthError)s, sent to the client as RFC 6749 §5.2 responses.

use std::io;
use std::path::PathBuf;

/// A mistake in the pool configuration, naming the entry at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The configuration file could not be read.
    #[error("cannot read pool config {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The TOML is malformed or has unknown or mistyped fields.
    #[error("invalid pool config{}: {message}", line.map(|l| format!(" at line {l}")).unwrap_or_default())]
    Parse {
        /// The 1-based line of the mistake, when known.
        line: Option<usize>,
        /// What is wrong (never a quote of the line, which may hold a secret).
        message: String,
    },
    /// The issuer URL is unusable as an `iss` value.
    #[error("invalid issuer url {url:?}: {reason}")]
    InvalidIssuer {
        /// The URL as configured.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A resource server identifier is empty, too long or has forbidden characters.
    #[error("invalid resource server identifier {identifier:?}: {reason}")]
    InvalidResourceServer {
        /// The identifier.
        identifier: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Two resource servers share an identifier.
    #[error("duplicate resource server {identifier:?}")]
    DuplicateResourceServer {
        /// The identifier.
        identifier: String,
    },
    /// A scope name is empty, too long or has forbidden characters.
    #[error("invalid scope {scope:?} on resource server {identifier:?}: {reason}")]
    InvalidScope {
        /// The resource server.
        identifier: String,
        /// The scope's short name.
        scope: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A scope is defined twice.
    #[error("duplicate scope {scope:?}")]
    DuplicateScope {
        /// The full scope name.
        scope: String,
    },
    /// A client id is empty, too long or has forbidden characters.
    #[error("invalid client id {client_id:?}: {reason}")]
    InvalidClientId {
        /// The client id.
        client_id: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Two clients share an id.
    #[error("duplicate client id {client_id:?}")]
    DuplicateClient {
        /// The client id.
        client_id: String,
    },
    /// A client has an empty secret.
    #[error("client {client_id:?} has an empty secret")]
    EmptySecret {
        /// The client id.
        client_id: String,
    },
    /// A client has neither a secret nor a public key: it could never authenticate.
    #[error("client {client_id:?} has neither a client secret nor a public jwk")]
    NoCredentials {
        /// The client id.
        client_id: String,
    },
    /// A client's public JWK cannot verify `private_key_jwt` assertions.
    #[error("client {client_id:?} has an unusable public jwk: {reason}")]
    InvalidPublicKey {
        /// The client id.
        client_id: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A client is allowed no scope; the client-credentials grant needs at least one.
    #[error("client {client_id:?} has no allowed scopes")]
    NoScopes {
        /// The client id.
        client_id: String,
    },
    /// A client is allowed a scope that no resource server defines.
    #[error("client {client_id:?} is allowed undefined scope {scope:?}")]
    UnknownScope {
        /// The client id.
        client_id: String,
        /// The undefined scope.
        scope: String,
    },
    /// A client's access-token validity is out of bounds.
    #[error("client {client_id:?}: access token validity {secs}s is outside 1..=86400")]
    InvalidValidity {
        /// The client id.
        client_id: String,
        /// The configured validity.
        secs: u64,
    },
    /// The admin token is too short to guard anything.
    #[error("admin token must have at least {min_len} characters")]
    WeakAdminToken {
        /// The minimum length.
        min_len: usize,
    },
}

/// A failed key operation: loading, generating, rotating or retiring a signing key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key could not be parsed as an RSA private key (PKCS#1 or PKCS#8 PEM).
    #[error("invalid RSA private key")]
    Invalid,
    /// The RSA modulus is shorter than 2048 bits.
    #[error("RSA key too short; 2048 bits at least")]
    TooShort,
    /// The random number generator failed while generating a key.
    #[error("key generation failed")]
    Generation,
    /// A key with this id is already published.
    #[error("key id {kid:?} is already published")]
    DuplicateKid {
        /// The key id.
        kid: String,
    },
    /// No published key has this id.
    #[error("no published key has id {kid:?}")]
    UnknownKid {
        /// The key id.
        kid: String,
    },
    /// The signing key cannot be retired; rotate first.
    #[error("key {kid:?} is the signing key; rotate before retiring it")]
    ActiveKey {
        /// The key id.
        kid: String,
    },
}

/// The issuer could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A signing key is invalid.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// Why.
        source: io::Error,
    },
}
