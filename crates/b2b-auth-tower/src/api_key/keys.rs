//! API keys stored as SHA-256 digests, each bound to a client id and a usage plan, in a set
//! that can change at runtime.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;
use aws_lc_rs::digest;
use subtle::ConstantTimeEq as _;

use super::plan::UsagePlan;
use crate::ConfigError;

/// A SHA-256 digest.
type Digest = [u8; 32];

fn sha256(data: &[u8]) -> Digest {
    let mut out = [0; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, data).as_ref());
    out
}

/// The hex digits of a SHA-256, as a configuration holds it: `echo -n "$KEY" | sha256sum`.
///
/// ```
/// assert_eq!(
///     b2b_auth_tower::api_key::sha256_hex("abc"),
///     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
/// );
/// ```
pub fn sha256_hex(key: impl AsRef<[u8]>) -> String {
    sha256(key.as_ref()).iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_hex_digest(hex: &str) -> Option<Digest> {
    let hex = hex.as_bytes();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0; 32];
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let digit = |c: &u8| char::from(*c).to_digit(16);
        let (high, low) = (pair.first().and_then(digit)?, pair.get(1).and_then(digit)?);
        *byte = u8::try_from(high * 16 + low).ok()?;
    }
    Some(out)
}

/// A short, non-secret name of a key value: `sha256:` and the first 8 hex digits of its
/// SHA-256, as logs show it.
fn fingerprint(digest: &Digest) -> String {
    let hex: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// One API key: its id, the SHA-256 of its value, the client it belongs to, and its usage
/// plan. Never holds the value itself. Cheap to clone.
///
/// When a request is let through, its `ApiKey` is in the request extensions, for handlers.
///
/// ```
/// use b2b_auth_tower::api_key::{ApiKey, Throttle, UsagePlan};
///
/// let plan = UsagePlan::builder("partners").throttle(Throttle::per_second(10)).build()?;
/// let key = ApiKey::builder("car-orders-2026")
///     .client_id("car-orders")
///     .sha256_hex("5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8")
///     .plan(plan)
///     .build()?;
/// assert_eq!(key.client_id(), "car-orders");
/// assert_eq!(format!("{key:?}"), r#"ApiKey { id: "car-orders-2026", client_id: "car-orders", plan: "partners", fingerprint: "sha256:5e884898" }"#);
/// # Ok::<(), b2b_auth_tower::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct ApiKey(Arc<KeyInner>);

struct KeyInner {
    id: Arc<str>,
    client_id: Box<str>,
    digest: Digest,
    plan: UsagePlan,
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("id", &self.id())
            .field("client_id", &self.client_id())
            .field("plan", &self.plan().name())
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}

impl ApiKey {
    /// Starts configuring a key with this id (shown in logs; never the key's value).
    pub fn builder(id: impl Into<String>) -> ApiKeyBuilder {
        ApiKeyBuilder { id: id.into(), client_id: None, digest: None, plan: None }
    }

    /// The key's id.
    pub fn id(&self) -> &str {
        &self.0.id
    }

    pub(crate) fn shared_id(&self) -> &Arc<str> {
        &self.0.id
    }

    /// The client the key belongs to.
    pub fn client_id(&self) -> &str {
        &self.0.client_id
    }

    /// The key's usage plan.
    pub fn plan(&self) -> &UsagePlan {
        &self.0.plan
    }

    /// `sha256:` and the first 8 hex digits of the SHA-256 of the key's value: enough to
    /// tell keys apart in logs, useless to an attacker.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.0.digest)
    }
}

/// Where the builder's digest came from, to report a bad one by the key's id.
enum DigestInput {
    Hex(String),
    Value(Digest),
    EmptyValue,
}

/// Configures an [`ApiKey`]. The client id, the digest (or value) and the plan are required.
pub struct ApiKeyBuilder {
    id: String,
    client_id: Option<String>,
    digest: Option<DigestInput>,
    plan: Option<UsagePlan>,
}

impl fmt::Debug for ApiKeyBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyBuilder")
            .field("id", &self.id)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl ApiKeyBuilder {
    /// The client the key belongs to: requests whose verified token names another client
    /// are refused. Required.
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// The SHA-256 of the key's value, as 64 hex digits (either case) — how a
    /// configuration should hold keys. Required, unless [`ApiKeyBuilder::value`] is given.
    pub fn sha256_hex(mut self, hex: impl Into<String>) -> Self {
        self.digest = Some(DigestInput::Hex(hex.into()));
        self
    }

    /// The key's value itself, hashed here and not kept: for keys that come from a secret
    /// store rather than a configuration file. Replaces [`ApiKeyBuilder::sha256_hex`].
    pub fn value(mut self, value: impl AsRef<[u8]>) -> Self {
        let value = value.as_ref();
        self.digest = Some(if value.is_empty() {
            DigestInput::EmptyValue
        } else {
            DigestInput::Value(sha256(value))
        });
        self
    }

    /// The key's usage plan. Required.
    pub fn plan(mut self, plan: UsagePlan) -> Self {
        self.plan = Some(plan);
        self
    }

    /// Builds the key.
    ///
    /// # Errors
    /// [`ConfigError::EmptyKeyId`], [`ConfigError::EmptyClientId`],
    /// [`ConfigError::MissingKeyDigest`] (or an empty value),
    /// [`ConfigError::InvalidKeyDigest`], [`ConfigError::MissingPlan`].
    pub fn build(self) -> Result<ApiKey, ConfigError> {
        if self.id.is_empty() {
            return Err(ConfigError::EmptyKeyId);
        }
        let client_id = match self.client_id {
            Some(client_id) if !client_id.is_empty() => client_id,
            _ => return Err(ConfigError::EmptyClientId(self.id)),
        };
        let digest = match self.digest {
            Some(DigestInput::Value(digest)) => digest,
            Some(DigestInput::Hex(hex)) => match parse_hex_digest(&hex) {
                Some(digest) => digest,
                None => return Err(ConfigError::InvalidKeyDigest(self.id)),
            },
            Some(DigestInput::EmptyValue) | None => {
                return Err(ConfigError::MissingKeyDigest(self.id));
            }
        };
        let Some(plan) = self.plan else {
            return Err(ConfigError::MissingPlan(self.id));
        };
        Ok(ApiKey(Arc::new(KeyInner {
            id: self.id.into(),
            client_id: client_id.into(),
            digest,
            plan,
        })))
    }
}

/// The keys at one moment: by id, and by the first 8 bytes of their digest for lookups.
#[derive(Clone, Default)]
struct KeyTable {
    by_id: HashMap<Arc<str>, ApiKey>,
    by_prefix: HashMap<u64, Vec<ApiKey>>,
}

fn prefix(digest: &Digest) -> u64 {
    let [b0, b1, b2, b3, b4, b5, b6, b7, ..] = *digest;
    u64::from_le_bytes([b0, b1, b2, b3, b4, b5, b6, b7])
}

impl KeyTable {
    fn from_keys(keys: impl IntoIterator<Item = ApiKey>) -> Result<Self, ConfigError> {
        let mut table = Self::default();
        for key in keys {
            if table.by_id.contains_key(key.id()) {
                return Err(ConfigError::DuplicateKeyId(key.id().to_owned()));
            }
            table.insert(key)?;
        }
        Ok(table)
    }

    /// Adds `key`, replacing the key with the same id. Refuses a value already held by a
    /// key of another id.
    fn insert(&mut self, key: ApiKey) -> Result<Option<ApiKey>, ConfigError> {
        if let Some(other) = self.find(&key.0.digest).filter(|other| other.id() != key.id()) {
            return Err(ConfigError::DuplicateKey {
                existing: other.id().to_owned(),
                added: key.id().to_owned(),
            });
        }
        let replaced = self.remove(key.id());
        self.by_prefix.entry(prefix(&key.0.digest)).or_default().push(key.clone());
        self.by_id.insert(key.shared_id().clone(), key);
        Ok(replaced)
    }

    fn remove(&mut self, id: &str) -> Option<ApiKey> {
        let key = self.by_id.remove(id)?;
        let prefix = prefix(&key.0.digest);
        if let Some(bucket) = self.by_prefix.get_mut(&prefix) {
            bucket.retain(|k| k.id() != id);
            if bucket.is_empty() {
                self.by_prefix.remove(&prefix);
            }
        }
        Some(key)
    }

    /// The key whose digest is `digest`.
    ///
    /// The map lookup takes time that depends on the digest's first 64 bits; it can tell
    /// an attacker at most that some stored key's SHA-256 starts like the SHA-256 of a value
    /// they chose, which brings them no closer to a key (SHA-256 is preimage-resistant). The
    /// whole digest is then compared in constant time.
    fn find(&self, digest: &Digest) -> Option<&ApiKey> {
        let candidates = self.by_prefix.get(&prefix(digest))?;
        let mut found = None;
        for key in candidates {
            if bool::from(key.0.digest.ct_eq(digest)) {
                found = Some(key);
            }
        }
        found
    }
}

/// The set of valid API keys, shared by the layer and your code: add, replace and revoke
/// keys at runtime, effective for the next request. Cheap to clone; clones share the set.
///
/// Reads are lock-free (an atomic pointer to an immutable table); updates copy the table,
/// so they are meant for configuration changes, not per-request work.
///
/// ```
/// use b2b_auth_tower::api_key::{ApiKey, ApiKeys, UsagePlan};
///
/// let plan = UsagePlan::builder("partners").build()?;
/// let keys = ApiKeys::new();
/// keys.insert(ApiKey::builder("k1").client_id("car-orders").value("s3cr3t-value").plan(plan).build()?)?;
/// assert_eq!(keys.len(), 1);
/// assert!(keys.revoke("k1").is_some());
/// assert!(keys.is_empty());
/// # Ok::<(), b2b_auth_tower::ConfigError>(())
/// ```
#[derive(Clone, Default)]
pub struct ApiKeys(Arc<Shared>);

#[derive(Default)]
struct Shared {
    table: ArcSwap<KeyTable>,
    /// Serialises updates, so that none is lost between the copy and the swap.
    update: Mutex<()>,
}

impl fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let table = self.0.table.load();
        let mut ids: Vec<&str> = table.by_id.keys().map(|id| &**id).collect();
        ids.sort_unstable();
        f.debug_struct("ApiKeys").field("ids", &ids).finish()
    }
}

impl ApiKeys {
    /// An empty set: every request is refused until keys are added.
    pub fn new() -> Self {
        Self::default()
    }

    /// A set holding `keys`.
    ///
    /// # Errors
    /// [`ConfigError::DuplicateKeyId`], or [`ConfigError::DuplicateKey`] when one value is
    /// configured under two ids.
    pub fn from_keys(keys: impl IntoIterator<Item = ApiKey>) -> Result<Self, ConfigError> {
        let set = Self::new();
        set.0.table.store(Arc::new(KeyTable::from_keys(keys)?));
        Ok(set)
    }

    fn update<T>(
        &self,
        change: impl FnOnce(&mut KeyTable) -> Result<T, ConfigError>,
    ) -> Result<T, ConfigError> {
        let _guard = self.0.update.lock().unwrap_or_else(PoisonError::into_inner);
        let mut table = KeyTable::clone(&self.0.table.load());
        let out = change(&mut table)?;
        self.0.table.store(Arc::new(table));
        Ok(out)
    }

    /// Adds `key`, or replaces the key with the same id (e.g. to move it to another plan);
    /// returns the key replaced.
    ///
    /// # Errors
    /// [`ConfigError::DuplicateKey`] when another id holds the same value.
    pub fn insert(&self, key: ApiKey) -> Result<Option<ApiKey>, ConfigError> {
        self.update(|table| table.insert(key))
    }

    /// Revokes the key with this id: from the next request on, it is refused as unknown.
    /// Returns the key revoked, `None` if there was none.
    pub fn revoke(&self, id: &str) -> Option<ApiKey> {
        self.update(|table| Ok(table.remove(id))).ok().flatten()
    }

    /// Replaces every key at once (e.g. after re-reading the configuration): requests see
    /// either the old set or the new one, never a mix.
    ///
    /// # Errors
    /// As [`ApiKeys::from_keys`]; the set is then left unchanged.
    pub fn replace_all(&self, keys: impl IntoIterator<Item = ApiKey>) -> Result<(), ConfigError> {
        let table = KeyTable::from_keys(keys)?;
        self.update(|current| {
            *current = table;
            Ok(())
        })
    }

    /// The key with this id.
    pub fn get(&self, id: &str) -> Option<ApiKey> {
        self.0.table.load().by_id.get(id).cloned()
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.0.table.load().by_id.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The key whose value is `presented` (the `x-api-key` header's bytes).
    pub(crate) fn find(&self, presented: &[u8]) -> Option<ApiKey> {
        self.0.table.load().find(&sha256(presented)).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> UsagePlan {
        UsagePlan::builder("p").build().unwrap()
    }

    fn key(id: &str, value: &str) -> ApiKey {
        ApiKey::builder(id).client_id("c").value(value).plan(plan()).build().unwrap()
    }

    #[test]
    fn keys_are_found_by_value_only() {
        let keys = ApiKeys::from_keys([key("a", "value-a"), key("b", "value-b")]).unwrap();
        assert_eq!(keys.find(b"value-a").unwrap().id(), "a");
        assert_eq!(keys.find(b"value-b").unwrap().id(), "b");
        for wrong in [
            &b"value-c"[..],
            b"",
            b"value-",
            b"Value-a",
            b"value-a ",
            "v\u{e9}".as_bytes(),
            b"\xff\x00",
        ] {
            assert!(keys.find(wrong).is_none());
        }
    }

    #[test]
    fn a_digest_sharing_the_lookup_prefix_is_not_a_match() {
        // The same first 8 bytes (the map's key), another last byte.
        let mut decoy = sha256_hex("value-a");
        decoy.replace_range(62.., if decoy.ends_with("00") { "01" } else { "00" });
        let configured =
            ApiKey::builder("decoy").client_id("c").sha256_hex(decoy).plan(plan()).build().unwrap();
        let keys = ApiKeys::from_keys([configured, key("b", "value-b")]).unwrap();
        assert!(keys.find(b"value-a").is_none());
        assert_eq!(keys.find(b"value-b").unwrap().id(), "b");
    }

    #[test]
    fn a_hex_digest_is_the_sha256_of_the_value() {
        let hex = sha256_hex("value-a");
        let upper = hex.to_uppercase();
        for digest in [hex, upper] {
            let configured = ApiKey::builder("a")
                .client_id("c")
                .sha256_hex(digest)
                .plan(plan())
                .build()
                .unwrap();
            let keys = ApiKeys::from_keys([configured]).unwrap();
            assert_eq!(keys.find(b"value-a").unwrap().id(), "a");
        }
        for bad in ["", "abc", &"g".repeat(64), &"0".repeat(63), &"0".repeat(65), &"é".repeat(32)]
        {
            let built = ApiKey::builder("a").client_id("c").sha256_hex(bad).plan(plan()).build();
            assert_eq!(built.unwrap_err(), ConfigError::InvalidKeyDigest("a".into()), "{bad:?}");
        }
    }

    #[test]
    fn builders_name_what_is_missing() {
        let base = || ApiKey::builder("a").client_id("c").value("v").plan(plan());
        assert!(base().build().is_ok());
        assert_eq!(
            ApiKey::builder("").client_id("c").value("v").plan(plan()).build().unwrap_err(),
            ConfigError::EmptyKeyId
        );
        assert_eq!(
            base().client_id("").build().unwrap_err(),
            ConfigError::EmptyClientId("a".into())
        );
        assert_eq!(
            ApiKey::builder("a").value("v").plan(plan()).build().unwrap_err(),
            ConfigError::EmptyClientId("a".into())
        );
        assert_eq!(
            base().value("").build().unwrap_err(),
            ConfigError::MissingKeyDigest("a".into())
        );
        assert_eq!(
            ApiKey::builder("a").client_id("c").plan(plan()).build().unwrap_err(),
            ConfigError::MissingKeyDigest("a".into())
        );
        assert_eq!(
            ApiKey::builder("a").client_id("c").value("v").build().unwrap_err(),
            ConfigError::MissingPlan("a".into())
        );
    }

    #[test]
    fn one_value_under_two_ids_is_refused() {
        let keys = ApiKeys::from_keys([key("a", "same")]).unwrap();
        assert_eq!(
            keys.insert(key("b", "same")).unwrap_err(),
            ConfigError::DuplicateKey { existing: "a".into(), added: "b".into() }
        );
        assert_eq!(
            ApiKeys::from_keys([key("a", "x"), key("a", "y")]).unwrap_err(),
            ConfigError::DuplicateKeyId("a".into())
        );
        // Replacing a key by id (a new value, or the same value on another plan) is fine.
        assert!(keys.insert(key("a", "same")).unwrap().is_some());
        assert!(keys.insert(key("a", "new")).unwrap().is_some());
        assert!(keys.find(b"same").is_none(), "the old value went with the replaced key");
        assert_eq!(keys.find(b"new").unwrap().id(), "a");
    }

    #[test]
    fn updates_take_effect_at_once_and_failed_ones_change_nothing() {
        let keys = ApiKeys::from_keys([key("a", "value-a")]).unwrap();
        let layer_view = keys.clone();
        keys.insert(key("b", "value-b")).unwrap();
        assert!(layer_view.find(b"value-b").is_some());
        assert_eq!(keys.revoke("a").unwrap().id(), "a");
        assert!(layer_view.find(b"value-a").is_none());
        assert!(keys.revoke("a").is_none());
        assert!(keys.replace_all([key("c", "1"), key("d", "1")]).is_err());
        assert_eq!(keys.len(), 1, "a failed replacement leaves the set as it was");
        keys.replace_all([key("c", "value-c")]).unwrap();
        assert!(layer_view.find(b"value-b").is_none());
        assert_eq!(layer_view.get("c").unwrap().id(), "c");
    }

    #[test]
    fn debug_shows_ids_and_fingerprints_never_values() {
        let secret = "super-secret-key-value";
        let keys = ApiKeys::from_keys([key("k1", secret)]).unwrap();
        let shown = format!(
            "{keys:?} {:?} {:?}",
            keys.get("k1").unwrap(),
            ApiKey::builder("k1").value(secret)
        );
        assert!(!shown.contains(secret), "{shown}");
        assert!(!shown.contains(&sha256_hex(secret)), "{shown}");
        assert!(shown.contains(&format!("sha256:{}", &sha256_hex(secret)[..8])), "{shown}");
    }
}
