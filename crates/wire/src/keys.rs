//! Key shapes (wire §5): bundles, list items, create/import/update parameters, and the
//! parameters and results of key operations.

use serde::{Deserialize, Serialize};
use strongbox_crypto::keys::JsonWebKey;
use strongbox_types::UnixTime;

use crate::Tags;

pub type KeyAttributes = crate::Attributes;

/// `KeyBundle` (with `key`) / `KeyItem` (with `kid`), plus the deleted fields when deleted.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyBundle {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<JsonWebKey>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    pub attributes: KeyAttributes,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Tags>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub managed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_purge_date: Option<UnixTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_date: Option<UnixTime>,
    /// snake_case on the wire, as Azure's.
    #[serde(rename = "release_policy", skip_serializing_if = "Option::is_none")]
    pub release_policy: Option<KeyReleasePolicy>,
}

/// `KeyReleasePolicy`: `data` is base64url of the policy JSON; `immutable` forbids later changes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyReleasePolicy {
    #[serde(default)]
    pub content_type: Option<String>,
    #[serde(default)]
    pub immutable: Option<bool>,
    #[serde(default)]
    pub data: Option<String>,
}

/// Body of `POST /keys/{name}/{version}/release`: `target` is the attestation token.
/// `Debug` shows only the token's length.
#[derive(Deserialize)]
pub struct KeyReleaseParameters {
    pub target: Option<String>,
    #[serde(default)]
    pub nonce: Option<String>,
    #[serde(default)]
    pub enc: Option<String>,
}

impl std::fmt::Debug for KeyReleaseParameters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyReleaseParameters")
            .field("target_len", &self.target.as_ref().map(String::len))
            .field("enc", &self.enc)
            .finish_non_exhaustive()
    }
}

/// `KeyReleaseResult`: a JWS whose payload carries the released (wrapped) key.
#[derive(Debug, Serialize)]
pub struct KeyReleaseResult {
    pub value: String,
}

/// Body of `POST /keys/{name}/create` (snake_case members, as Azure's).
#[derive(Debug, Deserialize)]
pub struct KeyCreateParameters {
    pub kty: Option<String>,
    #[serde(default)]
    pub key_size: Option<usize>,
    #[serde(default)]
    pub public_exponent: Option<u64>,
    #[serde(default)]
    pub key_ops: Option<Vec<String>>,
    #[serde(default)]
    pub attributes: Option<KeyAttributes>,
    #[serde(default)]
    pub tags: Option<Tags>,
    #[serde(default)]
    pub crv: Option<String>,
    #[serde(default)]
    pub release_policy: Option<KeyReleasePolicy>,
}

/// Body of `PUT /keys/{name}` (import). `Hsm` is capitalised on the wire.
#[derive(Debug, Deserialize)]
pub struct KeyImportParameters {
    #[serde(rename = "Hsm", default)]
    pub hsm: Option<bool>,
    pub key: Option<JsonWebKey>,
    #[serde(default)]
    pub attributes: Option<KeyAttributes>,
    #[serde(default)]
    pub tags: Option<Tags>,
    #[serde(default)]
    pub release_policy: Option<KeyReleasePolicy>,
}

/// Body of `PATCH /keys/{name}/{version}`.
#[derive(Debug, Default, Deserialize)]
pub struct KeyUpdateParameters {
    #[serde(default)]
    pub key_ops: Option<Vec<String>>,
    #[serde(default)]
    pub attributes: Option<KeyAttributes>,
    #[serde(default)]
    pub tags: Option<Tags>,
    #[serde(default)]
    pub release_policy: Option<KeyReleasePolicy>,
}

/// encrypt / decrypt / wrapkey / unwrapkey / sign body (`value` is base64url; for sign it is the digest).
/// `value` may be a plaintext or a key to wrap: `Debug` shows only its length.
#[derive(Deserialize)]
pub struct KeyOperationsParameters {
    pub alg: Option<String>,
    pub value: Option<String>,
    #[serde(default)]
    pub iv: Option<String>,
    #[serde(default)]
    pub aad: Option<String>,
    #[serde(default)]
    pub tag: Option<String>,
}

/// verify body.
#[derive(Debug, Deserialize)]
pub struct KeyVerifyParameters {
    pub alg: Option<String>,
    pub digest: Option<String>,
    pub value: Option<String>,
}

/// `KeyOperationResult`: `iv`, `tag` (AES-GCM and AES-CBC encryption) and `aad` (echoed for
/// AES-GCM) are present only when they apply. `value` may be a plaintext or an unwrapped key:
/// `Debug` shows only its length.
#[derive(Serialize)]
pub struct KeyOperationResult {
    pub kid: String,
    pub value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iv: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aad: Option<String>,
}

impl std::fmt::Debug for KeyOperationsParameters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyOperationsParameters")
            .field("alg", &self.alg)
            .field("value_len", &self.value.as_ref().map(String::len))
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for KeyOperationResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyOperationResult")
            .field("kid", &self.kid)
            .field("value_len", &self.value.len())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Serialize)]
pub struct KeyVerifyResult {
    pub value: bool,
}

#[derive(Debug, Deserialize)]
pub struct RandomBytesRequest {
    pub count: Option<usize>,
}

/// `KeyRotationPolicy` (camelCase members).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyRotationPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default)]
    pub lifetime_actions: Option<Vec<LifetimeActionWire>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<RotationPolicyAttributes>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LifetimeActionWire {
    #[serde(default)]
    pub trigger: Option<TriggerWire>,
    #[serde(default)]
    pub action: Option<ActionWire>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerWire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_after_create: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_before_expiry: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ActionWire {
    #[serde(rename = "type")]
    pub type_: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RotationPolicyAttributes {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<UnixTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<UnixTime>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn key_operation_debug_hides_values() {
        let p: KeyOperationsParameters =
            serde_json::from_str(r#"{"alg":"A256KW","value":"c2VjcmV0LWtleS1tYXRlcmlhbA"}"#).unwrap();
        let r = KeyOperationResult {
            kid: "https://v/keys/k/1".into(),
            value: "cGxhaW50ZXh0LXZhbHVl".into(),
            iv: None,
            tag: None,
            aad: None,
        };
        let shown = format!("{p:?} {r:?}");
        assert!(!shown.contains("c2VjcmV0") && !shown.contains("cGxhaW50"), "{shown}");
        assert!(shown.contains("A256KW") && shown.contains("value_len"));
    }
}
