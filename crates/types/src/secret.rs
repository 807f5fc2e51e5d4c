use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

/// Secret bytes (keys, plaintext values): zeroed on drop, never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes([REDACTED; {}])", self.0.len())
    }
}

/// A secret string (secret values, client secrets, tokens): zeroed on drop, never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq, Default)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(s: String) -> Self {
        Self(s)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString([REDACTED])")
    }
}

impl serde::Serialize for SecretString {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for SecretString {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self)
    }
}

/// A URL with a password in its user info (`postgres://u:pw@h/db`) or in a `password=` query
/// parameter with the password as `***`; anything else unchanged. For log lines, errors and
/// printed settings that name a connection URL.
pub fn redact_url_password(s: &str) -> String {
    let redacted = || {
        let scheme_end = s.find("://")?;
        let scheme = s.get(..scheme_end)?;
        let valid_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if !valid_scheme {
            return None;
        }
        let (head, rest) = s.split_at_checked(scheme_end + 3)?;
        let authority = rest.split(['/', '?', '#']).next()?;
        let (userinfo, _) = authority.rsplit_once('@')?;
        let (user, password) = userinfo.split_once(':')?;
        if password.is_empty() {
            return None;
        }
        let after = rest.get(userinfo.len()..)?;
        Some(format!("{head}{user}:***{after}"))
    };
    let s = redacted().unwrap_or_else(|| s.to_owned());
    // libpq-style `?password=…` (or `&password=…`)
    match s.split_once('?') {
        Some((base, query)) if query.split('&').any(|p| p.starts_with("password=")) => {
            let q: Vec<&str> =
                query.split('&').map(|p| if p.starts_with("password=") { "password=***" } else { p }).collect();
            format!("{base}?{}", q.join("&"))
        }
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_contents() {
        let b = SecretBytes::new(b"hunter2-bytes".to_vec());
        let s = SecretString::new("hunter2-string".into());
        assert!(!format!("{b:?}").contains("hunter2"));
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!format!("{:#?}", (&b, &s)).contains("hunter2"));
    }

    #[test]
    fn url_passwords_are_redacted() {
        use super::redact_url_password as r;
        assert_eq!(r("postgres://u:pw@db:5432/x?sslmode=require"), "postgres://u:***@db:5432/x?sslmode=require");
        assert_eq!(
            r("postgres://u@db/x?password=pw&sslmode=disable"),
            "postgres://u@db/x?password=***&sslmode=disable"
        );
        assert_eq!(r("postgres://u:p%40ss@db/x"), "postgres://u:***@db/x");
        assert_eq!(r("postgres://db/x"), "postgres://db/x");
        assert_eq!(r("sqlite:/var/lib/strongbox/strongbox.db"), "sqlite:/var/lib/strongbox/strongbox.db");
    }
}
