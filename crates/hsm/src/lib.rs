//! HSM-backed keys over PKCS#11: a [`KeyProvider`] whose private and secret keys are generated or
//! imported inside a token as sensitive, non-extractable objects and used there. Storage keeps
//! only the handle id (the objects' `CKA_ID`, hex); the public half is read back from the token.
//!
//! Every operation runs in the token: key generation and import, signing and verification
//! (`CKM_RSA_PKCS` over a DigestInfo, `CKM_RSA_PKCS_PSS` and `CKM_ECDSA` over the digest), RSA
//! encryption and decryption (`CKM_RSA_PKCS`, `CKM_RSA_PKCS_OAEP`; verification and encryption
//! with the public key object), and every AES operation (`CKM_AES_GCM`, `CKM_AES_CBC`,
//! `CKM_AES_CBC_PAD`, and AES key wrap through `C_WrapKey`/`C_UnwrapKey`). The public key is also
//! read once into software, for the JWK the API returns and for input checks (digest and
//! plaintext sizes) that give the same 400s as software keys.
//!
//! RSA-OAEP-256 and tokens that lack it (SoftHSM2 2.6 accepts only SHA-1 in `CKM_RSA_PKCS_OAEP`
//! parameters): the provider asks the token once, per process, whether `C_DecryptInit` accepts
//! OAEP with SHA-256. If not, RSA-OAEP-256 encrypt, decrypt, wrap and unwrap with HSM keys answer
//! `NotImplemented` with a message naming the token's limitation — there is no software fallback,
//! and encryption is refused too so that no ciphertext is produced that the key could not open.
//! Doing raw RSA (`CKM_RSA_X_509`) in the token and OAEP decoding in this process was rejected:
//! the key would have to allow raw private-key exponentiation (a signing and decryption oracle
//! for anyone holding the PIN), and a decoder outside the token that is not constant time turns
//! the API into a Manger-style padding oracle.
//!
//! AES key wrap (A128KW/A192KW/A256KW): SoftHSM2 refuses `CKM_AES_KEY_WRAP` in `C_Encrypt`, so the
//! key to wrap becomes a short-lived session object (not on the token, extractable) that the HSM
//! key wraps with `C_WrapKey`; unwrap is `C_UnwrapKey` into such an object whose value is read
//! and the object destroyed. The HSM key itself never leaves the token.

#![forbid(unsafe_code)]

//!
//! Layout: `token.rs` holds the configuration and the connection (module context, session pool,
//! store lock), `provider.rs` the [`Pkcs11Provider`] (generate, import, open, destroy), and
//! `key.rs` one key version inside the token and its operations.

mod key;
mod provider;
mod token;

pub use provider::Pkcs11Provider;
pub use token::Pkcs11Config;
