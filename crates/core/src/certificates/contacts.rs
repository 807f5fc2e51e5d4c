//! Certificate contacts (`/certificates/contacts`): one list per vault, the people the
//! `EmailContacts` lifetime actions are meant for.

use serde::{Deserialize, Serialize};
use strongbox_barrier::{BTxn, Change};
use strongbox_types::{Error, ErrorKind, Result};

use super::{CERTS, Certificates, policy};

/// Most contacts a vault may hold.
const MAX_CONTACTS: usize = 25;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct Contact {
    pub email: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
}

fn contacts_not_found() -> Error {
    Error::new(ErrorKind::ContactsNotFound, "Contacts not found")
}

impl Certificates {
    pub async fn get_contacts(&self, vault: &str) -> Result<Vec<Contact>> {
        let v = self.vault(vault).await?;
        self.contacts.get::<Vec<Contact>>(&v.name).await?.ok_or_else(contacts_not_found)
    }

    pub async fn set_contacts(&self, vault: &str, contacts: Vec<Contact>) -> Result<Vec<Contact>> {
        let v = self.vault(vault).await?;
        if contacts.len() > MAX_CONTACTS {
            return Err(Error::bad(format!("At most {MAX_CONTACTS} certificate contacts are allowed.")));
        }
        for c in &contacts {
            match &c.email {
                Some(e) if policy::valid_email(e) => {}
                _ => return Err(Error::bad("Every certificate contact needs a valid 'email'.")),
            }
        }
        let store = &self.contacts;
        store.commit(store.put(BTxn::new(), &v.name, &contacts)?).await?;
        Ok(contacts)
    }

    pub async fn delete_contacts(&self, vault: &str) -> Result<Vec<Contact>> {
        let v = self.vault(vault).await?;
        self.contacts
            .update(
                &v.name,
                || CERTS.busy(),
                |c: Option<Vec<Contact>>| c.map(Change::Delete).ok_or_else(contacts_not_found),
            )
            .await
    }
}
