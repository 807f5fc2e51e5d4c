use std::fmt;

use crate::Error;

/// A Key Vault object name: `^[0-9a-zA-Z-]{1,127}$`. Case is kept for display; comparisons and
/// storage keys use the lower-case form (names are case-insensitive within a vault).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectName(String);

impl ObjectName {
    pub fn parse(s: &str) -> Result<Self, Error> {
        if s.is_empty() || s.len() > 127 || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(Error::bad(format!(
                "The request URI contains an invalid name: '{}'. Names must be 1-127 characters of 0-9, a-z, A-Z and '-'.",
                truncate(s)
            )));
        }
        Ok(Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The case-folded form used in storage keys.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl fmt::Display for ObjectName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A vault name: 3-24 characters of `0-9 a-z A-Z -`, starting with a letter, ending with a
/// letter or digit, no consecutive hyphens. Stored lower-case (it is a DNS label).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VaultName(String);

impl VaultName {
    pub fn parse(s: &str) -> Result<Self, Error> {
        let b = s.as_bytes();
        let ok = (3..=24).contains(&b.len())
            && b.first().is_some_and(u8::is_ascii_alphabetic)
            && b.last().is_some_and(u8::is_ascii_alphanumeric)
            && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
            && !s.contains("--");
        if !ok {
            return Err(Error::bad(format!(
                "The vault name '{}' is invalid. A vault name must be 3-24 characters of 0-9, a-z, A-Z and '-', start with a letter, end with a letter or digit, and not contain consecutive hyphens.",
                truncate(s)
            )));
        }
        Ok(Self(s.to_ascii_lowercase()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for VaultName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An object version: 32 lower-case hex characters (a GUID without dashes). Parsing accepts
/// upper case and folds it, since identifiers compare case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Version(String);

impl Version {
    pub fn parse(s: &str) -> Result<Self, Error> {
        if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::bad(format!(
                "The version '{}' is invalid. A version is 32 hexadecimal characters.",
                truncate(s)
            )));
        }
        Ok(Self(s.to_ascii_lowercase()))
    }
    /// Builds a version from 16 random bytes.
    pub fn from_random(bytes: [u8; 16]) -> Self {
        let mut s = String::with_capacity(32);
        for b in bytes {
            // Each nibble is below 16, so it is a digit (lower-case `a`-`f` above 9).
            s.extend(char::from_digit(u32::from(b >> 4), 16));
            s.extend(char::from_digit(u32::from(b & 0xf), 16));
        }
        Self(s)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Echoing caller input into an error message is useful, but bounded.
fn truncate(s: &str) -> String {
    s.chars().take(140).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names() {
        assert!(ObjectName::parse("My-Secret-1").is_ok());
        assert_eq!(ObjectName::parse("My-Secret").unwrap().key(), "my-secret");
        for bad in ["", "a_b", "a b", "ä", &"x".repeat(128), "a/b", "a.b"] {
            assert!(ObjectName::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(ObjectName::parse(&"x".repeat(127)).is_ok());
    }

    #[test]
    fn vault_names() {
        assert_eq!(VaultName::parse("MyVault-1").unwrap().as_str(), "myvault-1");
        for bad in ["ab", "1abc", "abc-", "a--b", &"a".repeat(25), "ab_c"] {
            assert!(VaultName::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn versions() {
        let v = Version::parse("EE059B2BB5BC48398A53B168C6CDCB10").unwrap();
        assert_eq!(v.as_str(), "ee059b2bb5bc48398a53b168c6cdcb10");
        assert!(Version::parse("xyz").is_err());
        assert!(Version::parse(&"g".repeat(32)).is_err());
        assert_eq!(Version::from_random([0xab; 16]).as_str(), "ab".repeat(16));
    }
}
