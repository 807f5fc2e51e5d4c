//! Key types and what each vault kind takes, curves, operations, and the stored payloads.

use strongbox_crypto::keys::{Curve, KeyKind, KeyMaterial};
use strongbox_types::{Error, ErrorKind, Result, SecretBytes, SecretString};

use super::KeyPayload;
use crate::vaults::VaultRecord;

const ALL_OPS: &[&str] = &["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey", "import", "export"];

pub(super) fn check_ops(ops: &[String]) -> Result<()> {
    for op in ops {
        if !ALL_OPS.contains(&op.as_str()) {
            return Err(Error::bad(format!(
                "Invalid key operation '{}'. Valid operations are: {}.",
                op.chars().take(32).collect::<String>(),
                ALL_OPS.join(", ")
            )));
        }
    }
    Ok(())
}

pub(super) fn default_ops(kind: KeyKind) -> Vec<String> {
    let ops: &[&str] = match kind {
        KeyKind::Rsa => &["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"],
        KeyKind::Ec(_) => &["sign", "verify"],
        KeyKind::Oct => &["encrypt", "decrypt", "wrapKey", "unwrapKey"],
    };
    ops.iter().map(|s| (*s).to_owned()).collect()
}

/// A vault key type: its name as created (`RSA-HSM`), its family and whether it lives in the HSM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Kty {
    pub name: &'static str,
    pub family: KeyFamily,
    pub hsm: bool,
}

/// The algorithm family of a key type, whether it lives in software or in the HSM: RSA, EC
/// or symmetric (`oct`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyFamily {
    Rsa,
    Ec,
    Oct,
}

/// Azure's rules for which vault takes which `kty` (see the module documentation).
pub(super) fn key_type(v: &VaultRecord, kty: &str) -> Result<Kty> {
    use crate::Sku;
    let t = match kty {
        "RSA" => Kty { name: "RSA", family: KeyFamily::Rsa, hsm: false },
        "EC" => Kty { name: "EC", family: KeyFamily::Ec, hsm: false },
        "oct" => Kty { name: "oct", family: KeyFamily::Oct, hsm: false },
        "RSA-HSM" => Kty { name: "RSA-HSM", family: KeyFamily::Rsa, hsm: true },
        "EC-HSM" => Kty { name: "EC-HSM", family: KeyFamily::Ec, hsm: true },
        "oct-HSM" => Kty { name: "oct-HSM", family: KeyFamily::Oct, hsm: true },
        other => {
            return Err(Error::bad(format!(
                "Invalid key type '{}'. Supported key types are RSA, EC, RSA-HSM, EC-HSM and (managed HSM pools) oct-HSM.",
                other.chars().take(32).collect::<String>()
            )));
        }
    };
    // Azure's answer to a key type the vault kind does not hold: 400 BadParameter with the inner
    // code KeyTypeNotSupported and "Invalid kty value: …" (plus why, here).
    let unsupported =
        |why: &str| Err(Error::new(ErrorKind::KeyTypeNotSupported, format!("Invalid kty value: {}. {why}", t.name)));
    match v.sku {
        Sku::ManagedHsm if !t.hsm => {
            unsupported("A managed HSM pool holds only HSM-protected keys (RSA-HSM, EC-HSM, oct-HSM).")
        }
        Sku::Standard | Sku::Premium if t.family == KeyFamily::Oct => {
            unsupported("Symmetric (oct) keys are only supported in managed HSM pools.")
        }
        Sku::Standard if t.hsm => {
            unsupported(&format!("HSM-protected keys require a premium vault; vault '{}' is standard.", v.name))
        }
        _ => Ok(t),
    }
}

pub(super) fn parse_curve(crv: Option<&str>) -> Result<Curve> {
    match crv.unwrap_or("P-256") {
        "P-256" => Ok(Curve::P256),
        "P-384" => Ok(Curve::P384),
        "P-521" => Ok(Curve::P521),
        "P-256K" | "SECP256K1" => Ok(Curve::P256K),
        other => Err(Error::bad(format!(
            "Invalid curve name '{}'. Supported curves are P-256, P-384, P-521 and P-256K.",
            other.chars().take(32).collect::<String>()
        ))),
    }
}

pub(crate) fn material_of(p: &KeyPayload) -> Result<KeyMaterial> {
    let bytes = strongbox_crypto::unhex(p.material.expose())
        .ok_or_else(|| Error::internal("stored key material is corrupt"))?;
    KeyMaterial::from_storage(SecretBytes::new(bytes).expose())
}

pub(crate) fn payload(kty: &str, key_ops: Vec<String>, m: &KeyMaterial) -> KeyPayload {
    KeyPayload {
        kty: kty.to_owned(),
        key_ops,
        material: SecretString::new(strongbox_crypto::hex(m.to_storage().expose())),
        hsm: None,
        exportable: false,
        release_policy: None,
    }
}

pub(super) fn hsm_payload(kty: &str, key_ops: Vec<String>, id: String) -> KeyPayload {
    KeyPayload {
        kty: kty.to_owned(),
        key_ops,
        material: SecretString::default(),
        hsm: Some(id),
        exportable: false,
        release_policy: None,
    }
}
