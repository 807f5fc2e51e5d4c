//! `strongbox`: run the server, manage secrets, keys and vaults (modelled on `az keyvault`).
//!
//! Layout: this file holds the command tree and dispatch; `server.rs` runs the server,
//! `args.rs` has the argument groups vault commands share, `output.rs` what they print,
//! `objects.rs` the commands secrets, keys and certificates share plus the secret commands,
//! `vaults.rs` the vault commands, and `keys.rs`, `certificates.rs`, `ad.rs`, `role.rs`,
//! `agent.rs`, `login.rs` one command family each (`client.rs` talks HTTP).
#![allow(clippy::print_stdout, reason = "a command-line tool: its output is stdout")]

mod ad;
mod agent;
mod args;
mod certificates;
mod client;
mod config;
mod dev;
mod keys;
mod login;
mod objects;
mod output;
mod role;
mod seed;
mod server;
mod status;
mod vaults;

use clap::{Parser, Subcommand};
use serde_json::json;

pub(crate) use crate::args::{Change, Conn, InVault, Named, Props, Versioned, connect};
use crate::objects::SecretCmd;
pub(crate) use crate::objects::{ObjectCmd, object};
pub(crate) use crate::output::{members, obj, print, read_json, read_text, write_file};
use crate::server::ServerArgs;
use crate::vaults::VaultCmd;

#[derive(Parser)]
#[command(name = "strongbox", version, about = "A self-hosted key vault that speaks the Azure Key Vault API")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

/// The command tree as run: the derived one (kept in one place so the help-text test sees
/// exactly what users see).
fn cli_command() -> clap::Command {
    use clap::CommandFactory;
    Cli::command().mut_subcommands(|c| {
        let kind = match c.get_name() {
            k @ ("secret" | "key" | "certificate") => k.to_owned(),
            _ => return c,
        };
        c.mut_subcommands(|s| match s.get_about().map(ToString::to_string) {
            Some(a) if a.contains("{kind}") => s.about(a.replace("{kind}", &kind)),
            _ => s,
        })
    })
}

impl Cli {
    /// Parses the command line, with the `--config` file of `strongbox server` applied; for
    /// `--print-config` prints the effective settings and exits.
    fn parse_from_command() -> Self {
        use clap::FromArgMatches;
        let cmd = cli_command();
        let parsed = config::parse(&cmd, std::env::args_os().collect()).unwrap_or_else(|e| e.exit());
        let cli = Self::from_arg_matches(&parsed.matches).unwrap_or_else(|e| e.exit());
        if let Cmd::Server(a) = &cli.cmd
            && a.config_file.print_config
        {
            use std::io::Write;
            let text = config::print_config(&cmd, &parsed, a.config_file.config.as_deref());
            let mut out = std::io::stdout().lock();
            let written = out.write_all(text.as_bytes()).and_then(|()| out.flush());
            std::process::exit(if written.is_ok() { 0 } else { 1 });
        }
        cli
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the server (first start creates the data folder, CA, seal key, default vault and bootstrap admin).
    Server(Box<ServerArgs>),
    /// Manage secrets.
    Secret {
        #[command(subcommand)]
        cmd: SecretCmd,
    },
    /// Manage certificates (create, import, CSR + merge, renewal policy, contacts, issuers).
    Certificate {
        #[command(subcommand)]
        cmd: certificates::CertCmd,
    },
    /// The vault's built-in private certificate authorities.
    Ca {
        #[command(subcommand)]
        cmd: certificates::CaCmd,
    },
    /// Manage keys and use them for cryptography.
    Key {
        #[command(subcommand)]
        cmd: keys::KeyCmd,
    },
    /// Commands for a server started with --dev (move its clock).
    Dev {
        #[command(subcommand)]
        cmd: dev::DevCmd,
    },
    /// Manage vaults.
    Vault {
        #[command(subcommand)]
        cmd: VaultCmd,
    },
    /// Manage identities (the directory).
    Ad {
        #[command(subcommand)]
        cmd: AdCmd,
    },
    /// Run beside a workload: serve a managed identity's tokens (App Service protocol).
    Agent(agent::AgentArgs),
    /// Sign in as a user with the device code flow (password + TOTP in the browser).
    Login(login::LoginArgs),
    /// Forget the saved sign-in of `strongbox login` (deletes the token file).
    Logout(login::LogoutArgs),
    /// Role definitions and assignments, deny assignments, just-in-time activation.
    Role {
        #[command(subcommand)]
        cmd: role::RoleCmd,
    },
    /// The deployment's root of trust: keyring rotation and status.
    Operator {
        #[command(subcommand)]
        cmd: OperatorCmd,
    },
    /// Each node's health: seal, role, storage, the leases it holds, replication lag (no credential).
    Status(status::StatusArgs),
    /// Work on a deployment's storage directly (servers stopped).
    Storage {
        #[command(subcommand)]
        cmd: StorageCmd,
    },
}

#[derive(Subcommand)]
enum OperatorCmd {
    /// Start a new keyring term: new values are encrypted under it, older ones stay readable
    /// under theirs; every node picks it up. Deployment administrators only.
    Rotate {
        #[command(flatten)]
        c: Conn,
    },
    /// The keyring's terms (when each was made), the active term and how many values it has
    /// encrypted, and when it rotates by itself.
    KeyStatus {
        #[command(flatten)]
        c: Conn,
    },
}

#[derive(Subcommand)]
enum StorageCmd {
    /// Copy a whole deployment's storage into an empty database, as stored (still encrypted; the
    /// same seal key opens the copy), and check the copy: e.g. from SQLite to PostgreSQL. Stop the
    /// servers of the source first.
    Copy {
        /// The source: sqlite:PATH (e.g. sqlite:./strongbox-data/strongbox.db) or postgres://…
        #[arg(long)]
        from: String,
        /// The destination, empty: sqlite:PATH (created) or postgres://… (its table is created).
        #[arg(long)]
        to: String,
    },
}

#[derive(Subcommand)]
enum AdCmd {
    /// Service principals.
    Sp {
        #[command(subcommand)]
        cmd: SpCmd,
    },
    #[command(flatten)]
    More(ad::AdMore),
    /// Groups: role assignments, deny assignments and access policies made to a group apply to its members.
    Group {
        #[command(subcommand)]
        cmd: role::GroupCmd,
    },
}

#[derive(Subcommand)]
enum SpCmd {
    /// Create a service principal with a client secret (printed once), like `az ad sp create-for-rbac`.
    /// It has no role until one is assigned.
    CreateForRbac {
        #[arg(long)]
        name: String,
        /// Register it as a public client (`isFallbackPublicClient`): it may start device-code sign-ins.
        #[arg(long)]
        public_client: bool,
        #[command(flatten)]
        c: Conn,
    },
    #[command(flatten)]
    More(ad::SpMore),
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse_from_command();
    let (format, level) = match &cli.cmd {
        Cmd::Server(a) => (a.log_format, a.log_level.clone()),
        _ => (server::LogFormat::Text, None),
    };
    let log_guard = match server::init_logging(format, level.as_deref()) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(2);
        }
    };
    let result = run(cli).await;
    drop(log_guard); // the queued log lines go out before the error line and the exit
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.cmd {
        Cmd::Server(a) => server::run(*a).await,
        Cmd::Secret { cmd } => objects::secret(cmd).await,
        Cmd::Key { cmd } => keys::run(cmd).await,
        Cmd::Certificate { cmd } => certificates::run(cmd).await,
        Cmd::Ca { cmd } => certificates::run_ca(cmd).await,
        Cmd::Vault { cmd } => vaults::run(cmd).await,
        Cmd::Dev { cmd } => dev::run(cmd).await,
        Cmd::Ad { cmd: AdCmd::Sp { cmd: SpCmd::CreateForRbac { name, public_client, c } } } => {
            let cl = connect(&c, None).await?;
            let body = json!({ "displayName": name, "isFallbackPublicClient": public_client });
            print(c.output, &cl.call("POST", "/_strongbox/serviceprincipals", Some(body)).await?);
            Ok(())
        }
        Cmd::Ad { cmd: AdCmd::Sp { cmd: SpCmd::More(m) } } => ad::run_sp(m).await,
        Cmd::Ad { cmd: AdCmd::More(m) } => ad::run_more(m).await,
        Cmd::Agent(a) => agent::run(a).await,
        Cmd::Login(a) => login::run(a).await,
        Cmd::Logout(a) => login::logout(a),
        Cmd::Ad { cmd: AdCmd::Group { cmd } } => role::group(cmd).await,
        Cmd::Role { cmd } => role::run(cmd).await,
        Cmd::Status(a) => status::run(a).await,
        Cmd::Operator { cmd: OperatorCmd::Rotate { c } } => {
            let cl = connect(&c, None).await?;
            print(c.output, &cl.call("POST", "/_strongbox/sys/keyring/rotate", None).await?);
            Ok(())
        }
        Cmd::Operator { cmd: OperatorCmd::KeyStatus { c } } => {
            let cl = connect(&c, None).await?;
            print(c.output, &cl.call("GET", "/_strongbox/sys/keyring", None).await?);
            Ok(())
        }
        Cmd::Storage { cmd: StorageCmd::Copy { from, to } } => {
            let (from, to) = (
                strongbox_server::StorageSpec::parse_flag("--from", &from)?,
                strongbox_server::StorageSpec::parse_flag("--to", &to)?,
            );
            let started = std::time::Instant::now();
            let r = strongbox_server::copy_storage(&from, &to).await?;
            #[allow(clippy::print_stdout, reason = "the command's result")]
            {
                println!(
                    "copied {} entries ({} bytes) from {} to {} in {} ms; read back, the copy matches (SHA-256 {})",
                    r.entries,
                    r.bytes,
                    from.describe(),
                    to.describe(),
                    started.elapsed().as_millis(),
                    r.digest
                );
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;
    use serde_json::json;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }

    /// Every command of the tree (but clap's own `help`) has an about text of its own: copy-pasted
    /// descriptions make `--help` useless for telling commands apart.
    #[test]
    fn every_command_has_its_own_help_text() {
        fn walk(c: &clap::Command, path: &str, seen: &mut Vec<(String, String)>, bad: &mut Vec<String>) {
            for sub in c.get_subcommands().filter(|s| s.get_name() != "help") {
                let p = format!("{path} {}", sub.get_name());
                match sub.get_about().map(|a| a.to_string()).filter(|a| !a.trim().is_empty()) {
                    None => bad.push(format!("`{p}` has no help text")),
                    Some(a) if a.contains("{kind}") => bad.push(format!("`{p}` has a placeholder left: \"{a}\"")),
                    Some(a) => {
                        let key = a.trim().trim_end_matches('.').to_lowercase();
                        if let Some((other, _)) = seen.iter().find(|(_, k)| *k == key) {
                            bad.push(format!("`{p}` and `{other}` share the help text \"{a}\""));
                        }
                        seen.push((p.clone(), key));
                    }
                }
                walk(sub, &p, seen, bad);
            }
        }
        let (mut seen, mut bad) = (Vec::new(), Vec::new());
        walk(&super::cli_command(), "strongbox", &mut seen, &mut bad);
        assert!(seen.len() > 100, "only {} commands found", seen.len());
        assert!(bad.is_empty(), "{} problems:\n{}", bad.len(), bad.join("\n"));
    }

    #[test]
    fn read_json_names_the_file_not_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("jwks.json");
        std::fs::write(&f, "{\"keys\": [\"fragment-xyz\"]").unwrap();
        let err = format!("{:#}", super::read_json(&f).unwrap_err());
        assert!(err.contains("jwks.json is not JSON") && !err.contains("fragment-xyz"), "{err}");
        std::fs::write(&f, "{\"keys\": []}").unwrap();
        assert_eq!(super::read_json(&f).unwrap(), serde_json::json!({"keys": []}));
    }

    /// Adding members to JSON read from a file or a reply: an error, not a panic, for a non-object.
    #[test]
    fn members_of_null_object_and_other() {
        let mut v = serde_json::Value::Null;
        super::members(&mut v, "the policy").unwrap().insert("a".to_owned(), json!(1));
        assert_eq!(v, json!({"a": 1}));
        super::members(&mut v, "the policy").unwrap().insert("b".to_owned(), json!(2));
        assert_eq!(v, json!({"a": 1, "b": 2}));
        let mut list = json!([1]);
        let err = super::members(&mut list, "the policy").unwrap_err().to_string();
        assert_eq!(err, "the policy is not a JSON object");
    }
}
