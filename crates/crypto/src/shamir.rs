//! Shamir secret sharing over GF(2^128), for the unseal shares of the root of trust.
//!
//! The field is GF(2)[x] / (x^128 + x^7 + x^2 + x + 1); an element is a `u128` whose least
//! significant bit is the constant coefficient, and a 16-byte block is read big-endian. These are
//! the conventions of PyCryptodome's `Crypto.Protocol.SecretSharing.Shamir`, which the tests use
//! as the independent implementation: shares made here combine there and the other way round.
//!
//! A secret of several 16-byte blocks is split block by block, each with its own random
//! polynomial of degree `threshold - 1` whose constant term is the block; a share is the index
//! `x` (1..=255) and the polynomials' values at `x`, concatenated. Any `threshold` shares give
//! the secret back by Lagrange interpolation at 0; fewer give no information about it.
//! Arithmetic runs in constant time (no branch or index depends on a value).
//!
//! Shares carry no integrity here: a wrong share combines into a wrong secret. Callers check the
//! result (the seal opens the root key with it, which authenticates) and frame each share with a
//! checksum of their own.

use strongbox_types::{Error, Result, SecretBytes};

/// One share: its index (never 0) and value (as long as the secret).
pub struct Share {
    pub index: u8,
    pub value: SecretBytes,
}

impl std::fmt::Debug for Share {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Share").field("index", &self.index).field("value", &"[redacted]").finish()
    }
}

/// x^128 = x^7 + x^2 + x + 1 in the field.
const REDUCTION: u128 = 0x87;

fn mul(mut a: u128, b: u128) -> u128 {
    let mut r = 0u128;
    for i in 0..128 {
        let bit = (b >> i) & 1;
        r ^= a & 0u128.wrapping_sub(bit);
        let carry = a >> 127;
        a = (a << 1) ^ (REDUCTION & 0u128.wrapping_sub(carry));
    }
    r
}

/// a^(2^128 - 2) = a^-1 for a != 0 (0 for 0), by a fixed square-and-multiply chain.
fn inv(a: u128) -> u128 {
    // 2^128 - 2 = 0b111…110: square, and multiply for every bit but the last
    let mut r = 1u128;
    let mut base = a;
    for i in 0..128 {
        if i > 0 {
            r = mul(r, base);
        }
        base = mul(base, base);
    }
    r
}

fn block(bytes: &[u8]) -> u128 {
    let mut b = [0u8; 16];
    b.copy_from_slice(bytes);
    u128::from_be_bytes(b)
}

/// Splits `secret` (a non-empty multiple of 16 bytes) into `shares` shares, any `threshold` of
/// which recover it (1 <= threshold <= shares <= 255).
pub fn split(secret: &[u8], threshold: u8, shares: u8) -> Result<Vec<Share>> {
    if secret.is_empty() || !secret.len().is_multiple_of(16) {
        return Err(Error::bad("The secret to split must be a non-empty multiple of 16 bytes."));
    }
    if threshold == 0 || threshold > shares {
        return Err(Error::bad(format!(
            "The threshold must be between 1 and the number of shares ({shares}); it is {threshold}."
        )));
    }
    let mut out: Vec<Vec<u8>> = (0..shares).map(|_| Vec::with_capacity(secret.len())).collect();
    for chunk in secret.chunks_exact(16) {
        // coefficients: the block, then threshold - 1 random ones
        let mut coeffs = vec![block(chunk)];
        for _ in 1..threshold {
            coeffs.push(u128::from_be_bytes(crate::random_array::<16>()?));
        }
        for (i, share) in out.iter_mut().enumerate() {
            let x = (i + 1) as u128;
            // Horner: ((c_{k-1} x + c_{k-2}) x + …) x + c_0
            let y = coeffs.iter().rev().fold(0u128, |acc, c| mul(acc, x) ^ c);
            share.extend_from_slice(&y.to_be_bytes());
        }
        zeroize::Zeroize::zeroize(&mut coeffs);
    }
    Ok(out
        .into_iter()
        .enumerate()
        .map(|(i, v)| Share { index: u8::try_from(i + 1).unwrap_or(u8::MAX), value: SecretBytes::new(v) })
        .collect())
}

/// Recovers the secret from `shares` (at least the threshold used to split it; distinct,
/// non-zero indices; equal lengths, a multiple of 16 bytes). With fewer shares than the
/// threshold, or a wrong one, the result is a wrong secret: the caller authenticates it.
pub fn combine(shares: &[Share]) -> Result<SecretBytes> {
    let Some(first) = shares.first() else {
        return Err(Error::bad("No shares were given."));
    };
    let len = first.value.expose().len();
    if len == 0 || !len.is_multiple_of(16) || shares.iter().any(|s| s.value.expose().len() != len) {
        return Err(Error::bad("The shares are of different lengths, or not whole 16-byte blocks."));
    }
    for (i, s) in shares.iter().enumerate() {
        if s.index == 0 {
            return Err(Error::bad("A share has index 0, which no share has."));
        }
        if shares.iter().skip(i + 1).any(|t| t.index == s.index) {
            return Err(Error::bad(format!("Share {} was given twice.", s.index)));
        }
    }
    // Lagrange basis at 0: l_j = prod_{m != j} x_m / (x_m - x_j); minus is xor in GF(2^n)
    let xs: Vec<u128> = shares.iter().map(|s| u128::from(s.index)).collect();
    let basis: Vec<u128> = xs
        .iter()
        .enumerate()
        .map(|(j, xj)| {
            let (num, den) = xs
                .iter()
                .enumerate()
                .filter(|(m, _)| *m != j)
                .fold((1u128, 1u128), |(n, d), (_, xm)| (mul(n, *xm), mul(d, xm ^ xj)));
            mul(num, inv(den))
        })
        .collect();
    let mut out = Vec::with_capacity(len);
    for b in 0..len / 16 {
        let range = b * 16..(b + 1) * 16;
        let mut acc = 0u128;
        for (s, l) in shares.iter().zip(&basis) {
            let y = s.value.expose().get(range.clone()).map(block).unwrap_or(0);
            acc ^= mul(y, *l);
        }
        out.extend_from_slice(&acc.to_be_bytes());
    }
    Ok(SecretBytes::new(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_arithmetic() {
        assert_eq!(mul(3, 3), 5, "(x + 1)^2 = x^2 + 1");
        assert_eq!(mul(1 << 127, 2), REDUCTION, "x^128 reduces");
        for a in [1u128, 2, 3, 0x87, u128::MAX, 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210] {
            assert_eq!(mul(a, inv(a)), 1, "a * a^-1 for {a:#x}");
        }
    }

    #[test]
    fn any_threshold_of_shares_recovers_the_secret() {
        let secret = crate::random_array::<32>().unwrap();
        let shares = split(&secret, 3, 5).unwrap();
        assert_eq!(shares.len(), 5);
        let pick = |idx: &[usize]| -> Vec<Share> {
            idx.iter()
                .map(|i| Share { index: shares[*i].index, value: SecretBytes::new(shares[*i].value.expose().to_vec()) })
                .collect()
        };
        for set in [[0, 1, 2], [0, 2, 4], [4, 3, 1], [1, 2, 3]] {
            assert_eq!(combine(&pick(&set)).unwrap().expose(), &secret, "{set:?}");
        }
        assert_eq!(combine(&pick(&[0, 1, 2, 3, 4])).unwrap().expose(), &secret, "more than the threshold");
        assert_ne!(combine(&pick(&[0, 1])).unwrap().expose(), &secret, "two of three");
        // a changed share gives a different secret (the caller's authentication catches it)
        let mut bad = pick(&[0, 1, 2]);
        bad[1] = Share { index: bad[1].index, value: SecretBytes::new(vec![0; 32]) };
        assert_ne!(combine(&bad).unwrap().expose(), &secret);
        assert!(combine(&[]).is_err());
        assert!(combine(&pick(&[0, 0, 1])).is_err(), "a share twice");
        assert!(split(&secret, 0, 3).is_err() && split(&secret, 4, 3).is_err() && split(&[1; 15], 2, 3).is_err());
        assert!(!format!("{:?}", shares[0]).contains(&format!("{:?}", shares[0].value.expose())));
    }
}
