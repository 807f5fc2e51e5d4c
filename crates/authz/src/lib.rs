//! Authorization decisions that need no storage: role-based access control, and the release
//! policies of exportable keys ([`release_policy`]).
//!
//! Role-based access control as Key Vault defines it: role definitions grant data actions
//! (with `*` wildcards, minus `notDataActions`), assignments bind a role to a principal at a
//! scope, and a grant at a scope covers everything below it. Deny assignments win over every
//! grant. Deny by default.
//!
//! Scopes are absolute paths: `/` (the whole deployment), `/vaults/{vault}`,
//! `/vaults/{vault}/{secrets|keys|certificates}`, `/vaults/{vault}/{collection}/{name}`.
//! Names compare case-insensitively, as object names do.
//!
//! The decision is a pure function over an [`Index`]. The index keeps, per principal, the
//! grants and denies that apply to it *including those it gets through its groups*: group
//! membership is expanded when the index changes, never per request, so a decision looks only
//! at one short list (microseconds, whatever the total).
//!
//! Layout: `definitions.rs` holds the records (roles, assignments, deny assignments) and the
//! pattern and scope rules, `index.rs` the [`Index`] and the decision, `builtin.rs` the built-in
//! roles, `release_policy.rs` the key release policy grammar and its evaluation.

mod builtin;
mod definitions;
mod index;
pub mod release_policy;

pub use builtin::{
    DATA_ACCESS_ADMIN_ASSIGNABLE, KEY_VAULT_ADMINISTRATOR, KEY_VAULT_DATA_ACCESS_ADMINISTRATOR, KEY_VAULT_SECRETS_USER,
    builtin_roles,
};
pub use definitions::{Assignment, Decision, DenyAssignment, EVERYONE, RoleDefinition, covers, matches};
pub use index::Index;

#[cfg(test)]
mod tests;
