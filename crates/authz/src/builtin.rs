//! The built-in Key Vault data roles and the ids other code refers to.

use crate::definitions::{RoleDefinition, root_scopes};

fn role(id: &str, name: &str, description: &str, data_actions: &[&str]) -> RoleDefinition {
    RoleDefinition {
        id: id.into(),
        name: name.into(),
        description: description.into(),
        built_in: true,
        actions: Vec::new(),
        not_actions: Vec::new(),
        data_actions: data_actions.iter().map(|a| format!("Microsoft.KeyVault/{a}")).collect(),
        not_data_actions: Vec::new(),
        assignable_scopes: root_scopes(),
        assignable_roles: None,
    }
}

/// Role id of Key Vault Administrator (all data plane operations).
pub const KEY_VAULT_ADMINISTRATOR: &str = "00482a5a-887f-4fb3-b363-3b7fe8e74483";
/// Role id of Key Vault Secrets User (read secret contents).
pub const KEY_VAULT_SECRETS_USER: &str = "4633458b-17de-408a-b874-0445c86b69e6";
/// Role id of Key Vault Data Access Administrator (manages assignments of
/// [`DATA_ACCESS_ADMIN_ASSIGNABLE`]).
pub const KEY_VAULT_DATA_ACCESS_ADMINISTRATOR: &str = "8b54135c-b56d-4d72-a534-26097cfdc8d8";

/// The roles Key Vault Data Access Administrator may assign and unassign (Azure's ABAC
/// condition on that role lists exactly these eight).
pub const DATA_ACCESS_ADMIN_ASSIGNABLE: [&str; 8] = [
    KEY_VAULT_ADMINISTRATOR,
    "a4417e6f-fecd-4de8-b567-7b0420556985", // Certificates Officer
    "14b46e9e-c2b7-41b4-b07b-48a6ebf60603", // Crypto Officer
    "e147488a-f6f5-4113-8e2d-b22465e65bf6", // Crypto Service Encryption User
    "12338af0-0e69-4776-bea7-57ae8d297424", // Crypto User
    "21090545-7ca7-4776-b22c-e363652d74d2", // Reader
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7", // Secrets Officer
    KEY_VAULT_SECRETS_USER,
];

/// The built-in Key Vault data roles (Azure's names, ids and data actions).
pub fn builtin_roles() -> Vec<RoleDefinition> {
    vec![
        role(
            KEY_VAULT_ADMINISTRATOR,
            "Key Vault Administrator",
            "Perform all data plane operations on a key vault and all objects in it.",
            &["vaults/*"],
        ),
        role(
            "a4417e6f-fecd-4de8-b567-7b0420556985",
            "Key Vault Certificates Officer",
            "Perform any action on the certificates of a key vault.",
            &["vaults/certificatecas/*", "vaults/certificates/*", "vaults/certificatecontacts/write"],
        ),
        role(
            "db79e9a7-68ee-4b58-9aeb-b90e7c24fcba",
            "Key Vault Certificate User",
            "Read entire certificate contents including secret and key portion.",
            &[
                "vaults/certificates/read",
                "vaults/secrets/getSecret/action",
                "vaults/secrets/readMetadata/action",
                "vaults/keys/read",
            ],
        ),
        role(
            "14b46e9e-c2b7-41b4-b07b-48a6ebf60603",
            "Key Vault Crypto Officer",
            "Perform any action on the keys of a key vault.",
            &["vaults/keys/*", "vaults/keyrotationpolicies/*"],
        ),
        role(
            "e147488a-f6f5-4113-8e2d-b22465e65bf6",
            "Key Vault Crypto Service Encryption User",
            "Read metadata of keys and perform wrap/unwrap operations.",
            &["vaults/keys/read", "vaults/keys/wrap/action", "vaults/keys/unwrap/action"],
        ),
        role(
            "08bbd89e-9f13-488c-ac41-acfcb10c90ab",
            "Key Vault Crypto Service Release User",
            "Release keys.",
            &["vaults/keys/release/action"],
        ),
        role(
            "12338af0-0e69-4776-bea7-57ae8d297424",
            "Key Vault Crypto User",
            "Perform cryptographic operations using keys.",
            &[
                "vaults/keys/read",
                "vaults/keys/update/action",
                "vaults/keys/backup/action",
                "vaults/keys/encrypt/action",
                "vaults/keys/decrypt/action",
                "vaults/keys/wrap/action",
                "vaults/keys/unwrap/action",
                "vaults/keys/sign/action",
                "vaults/keys/verify/action",
            ],
        ),
        role(
            "21090545-7ca7-4776-b22c-e363652d74d2",
            "Key Vault Reader",
            "Read metadata of key vaults and its certificates, keys, and secrets.",
            &["vaults/*/read", "vaults/secrets/readMetadata/action"],
        ),
        role(
            "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
            "Key Vault Secrets Officer",
            "Perform any action on the secrets of a key vault.",
            &["vaults/secrets/*"],
        ),
        role(
            KEY_VAULT_SECRETS_USER,
            "Key Vault Secrets User",
            "Read secret contents.",
            &["vaults/secrets/getSecret/action", "vaults/secrets/readMetadata/action"],
        ),
        RoleDefinition {
            assignable_roles: Some(DATA_ACCESS_ADMIN_ASSIGNABLE.iter().map(|s| (*s).to_owned()).collect()),
            ..role(
                KEY_VAULT_DATA_ACCESS_ADMINISTRATOR,
                "Key Vault Data Access Administrator",
                "Manage access to Key Vault by adding or removing role assignments for the Key Vault data roles.",
                // Strongbox serves role assignments on the vault data plane (Managed HSM style),
                // so the role's assignment rights are data actions, limited by the condition.
                &[
                    "vaults/roleAssignments/read/action",
                    "vaults/roleAssignments/write/action",
                    "vaults/roleAssignments/delete/action",
                    "vaults/roleDefinitions/read/action",
                ],
            )
        },
    ]
}
