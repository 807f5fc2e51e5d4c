//! X.509 for vault certificates: self-signed and CA-signed issuance, CSRs, inspection of
//! certificates given to us (import, merge), and PEM text.
//!
//! Keys are [`KeyMaterial`] (the same software keys the keys API holds); rcgen signs with them
//! through their PKCS#8 encoding. Every rejection of caller input is `BadParameter` with a
//! message that names the problem and never key material.

//!
//! The module is split by concern; everything public is re-exported here, so callers name
//! `strongbox_crypto::certs::X` whatever file `X` lives in:
//! - `issue.rs`: [`X509Spec`] and building certificates and CSRs from it;
//! - `signer.rs`: the keys that sign ([`CertKey`]: software or HSM handle) and PKCS#8 helpers;
//! - `inspect.rs`: parsing certificates given to us ([`CertInfo`]), chains, signature checks;
//! - `pem.rs`: PEM and standard base64.

mod inspect;
mod issue;
mod pem;
mod signer;

pub use inspect::{CertInfo, MAX_CERT_BYTES, MAX_CHAIN, check_chain, inspect, order_chain, sha1, signed_by};
pub use issue::{
    KEY_USAGES, X509Spec, add_months, csr, csr_by, issue, issue_by, parse_subject, self_signed, self_signed_by,
};
pub use pem::{PemBlock, b64_std, b64_std_decode, parse_pem, to_pem};
pub use signer::{CertKey, key_from_pkcs8, pkcs8_of, spki_by, spki_of};

#[cfg(test)]
mod tests;
