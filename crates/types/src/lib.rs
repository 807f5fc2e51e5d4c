//! Domain types shared by every layer: validated names, secret wrappers that never print their
//! contents, the injected clock, and the error kinds that the API layer maps to HTTP.

mod clock;
mod error;
mod names;
mod secret;

pub use clock::{Clock, FakeClock, ShiftedClock, SystemClock, UnixTime};
pub use error::{Error, ErrorKind, Result};
pub use names::{ObjectName, VaultName, Version};
pub use secret::{SecretBytes, SecretString, redact_url_password};
