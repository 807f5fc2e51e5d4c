//! The development seal: the key-encryption key lives in a local file readable only by the
//! server's user (mode 0600). It protects against a copied database, not against someone who can
//! read the data folder: whoever holds both the file and the database holds the vault.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use strongbox_types::{Error, Result, SecretBytes};

#[derive(Debug, Clone)]
pub struct KeyFileSeal {
    path: PathBuf,
}

impl KeyFileSeal {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn exists(&self) -> bool {
        self.path.exists()
    }

    /// Creates a new random KEK file (mode 0600). Refuses to overwrite an existing file.
    pub fn create(&self) -> Result<SecretBytes> {
        let key = strongbox_crypto::random_key()?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&self.path)
            .map_err(|e| Error::internal(format!("cannot create seal key file {}: {e}", self.path.display())))?;
        let mut text = strongbox_crypto::hex(key.expose());
        text.push('\n');
        let res = f.write_all(text.as_bytes()).and_then(|_| f.sync_all());
        zeroize::Zeroize::zeroize(&mut text);
        res.map_err(|e| Error::internal(format!("cannot write seal key file: {e}")))?;
        Ok(key)
    }

    /// Reads the KEK. Refuses a file that others can read.
    pub fn load(&self) -> Result<SecretBytes> {
        let meta = std::fs::metadata(&self.path)
            .map_err(|e| Error::internal(format!("cannot read seal key file {}: {e}", self.path.display())))?;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(Error::internal(format!(
                "seal key file {} is readable by group or others; run: chmod 600 {}",
                self.path.display(),
                self.path.display()
            )));
        }
        let mut text = std::fs::read_to_string(&self.path)
            .map_err(|e| Error::internal(format!("cannot read seal key file: {e}")))?;
        let bytes = strongbox_crypto::unhex(text.trim());
        zeroize::Zeroize::zeroize(&mut text);
        match bytes {
            Some(b) if b.len() == 32 => Ok(SecretBytes::new(b)),
            _ => Err(Error::internal("seal key file does not hold a 32-byte hex key")),
        }
    }
}
