//! `--config FILE` and `--print-config`: command settings read from a TOML file, and the
//! effective settings printed back as TOML.
//!
//! The file holds flat `name = value` keys named like the long flags (`data_dir` or
//! `data-dir`). Precedence: flags, then environment variables, then the file, then defaults.
//! Nothing here lists the flags: the command's arguments are looked up in the clap tree. A file
//! value is added to the command line as `--name=value` when neither the command line nor the
//! environment set that argument, and the command line is parsed again, so clap's own parsers
//! check file values as they check flags.

use std::any::TypeId;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command};

/// Argument id of `--config` (the field of [`ConfigFileArgs`]).
const CONFIG: &str = "config";
/// Argument id of `--print-config`.
const PRINT_CONFIG: &str = "print_config";
/// Arguments that ask for an action rather than set a setting: never read from the file, never
/// printed by `--print-config` (`--init` in a file would make every start exit).
const ACTIONS: &[&str] = &[CONFIG, PRINT_CONFIG, "init"];

/// Settings whose value `--print-config` never shows, only that they are set.
const REDACTED: &[&str] = &[];
/// Secrets taken from the environment only: `--print-config` tells whether they are set.
const ENV_SECRETS: &[&str] = &["STRONGBOX_PKCS11_PIN"];

/// The configuration file of a command (flattened into its arguments).
#[derive(clap::Args)]
pub(crate) struct ConfigFileArgs {
    /// Read settings from this TOML file: flat `name = value` keys named like the flags
    /// (`data_dir = "/var/lib/strongbox"`, `listen = ["0.0.0.0:8443"]`). Flags and environment
    /// variables take precedence over it.
    #[arg(long, env = "STRONGBOX_CONFIG", value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Print the effective settings as TOML, each with its source (flag, env, file, default),
    /// and exit without starting the server. Secrets are redacted.
    #[arg(long)]
    pub(crate) print_config: bool,
}

/// The command line as parsed with the configuration file applied.
pub(crate) struct Parsed {
    pub(crate) matches: ArgMatches,
    /// Ids of the arguments whose value came from the file.
    from_file: Vec<String>,
}

/// How a setting is written in TOML, from its clap action and value parser.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A flag without a value: present means `true` (`SetTrue`) or `false` (`SetFalse`).
    Flag(bool),
    /// A flag counted by repetition (at most 255, clap's `u8`).
    Count,
    Integer,
    Float,
    Boolean,
    Text,
}

impl Kind {
    fn of(arg: &Arg) -> Self {
        match arg.get_action() {
            ArgAction::SetTrue => return Self::Flag(true),
            ArgAction::SetFalse => return Self::Flag(false),
            ArgAction::Count => return Self::Count,
            _ => {}
        }
        let t = arg.get_value_parser().type_id();
        let integers = [
            TypeId::of::<i8>(),
            TypeId::of::<i16>(),
            TypeId::of::<i32>(),
            TypeId::of::<i64>(),
            TypeId::of::<isize>(),
            TypeId::of::<u8>(),
            TypeId::of::<u16>(),
            TypeId::of::<u32>(),
            TypeId::of::<u64>(),
            TypeId::of::<usize>(),
        ];
        if integers.iter().any(|i| t == *i) {
            Self::Integer
        } else if t == TypeId::of::<f64>() || t == TypeId::of::<f32>() {
            Self::Float
        } else if t == TypeId::of::<bool>() {
            Self::Boolean
        } else {
            Self::Text
        }
    }

    fn expected(self, repeatable: bool) -> &'static str {
        match (self, repeatable) {
            (Self::Flag(_) | Self::Boolean, false) => "true or false",
            (Self::Flag(_) | Self::Boolean, true) => "true or false, or an array of them",
            (Self::Count, _) => "an integer from 0 to 255",
            (Self::Integer, false) => "an integer",
            (Self::Integer, true) => "an integer or an array of integers",
            (Self::Float, false) => "a number",
            (Self::Float, true) => "a number or an array of numbers",
            (Self::Text, false) => "a string",
            (Self::Text, true) => "a string or an array of strings",
        }
    }
}

/// A repeatable argument takes a TOML array (or one value).
fn repeatable(arg: &Arg) -> bool {
    matches!(arg.get_action(), ArgAction::Append)
}

/// The settings of a command: its arguments with a long name, less help, version and the
/// [`ACTIONS`].
fn settings(cmd: &Command) -> impl Iterator<Item = (&Arg, &str)> {
    cmd.get_arguments().filter_map(|a| {
        let long = a.get_long()?;
        let builtin =
            matches!(a.get_action(), ArgAction::Help | ArgAction::HelpShort | ArgAction::HelpLong | ArgAction::Version);
        let own = ACTIONS.contains(&a.get_id().as_str());
        (!builtin && !own).then_some((a, long))
    })
}

/// The name of a setting in the file and in `--print-config`: the long flag with `_`.
fn setting_name(long: &str) -> String {
    long.replace('-', "_")
}

fn error(kind: ErrorKind, message: impl std::fmt::Display) -> clap::Error {
    clap::Error::raw(kind, format!("{message}\n"))
}

/// One setting taken from the file.
struct Applied {
    /// The key as written in the file.
    key: String,
    id: String,
    long: String,
    /// What it adds to the command line (empty for a flag set to its off value).
    args: Vec<OsString>,
}

/// Parses `argv` with `cmd`, applying the `--config` file of the subcommand it names (when that
/// subcommand flattens [`ConfigFileArgs`] and a file is given).
pub(crate) fn parse(cmd: &Command, argv: Vec<OsString>) -> Result<Parsed, clap::Error> {
    let (first, pending) = match cmd.clone().try_get_matches_from(&argv) {
        Ok(m) => (m, None),
        // a required argument may be in the file: look for --config without validating
        Err(e) if e.kind() == ErrorKind::MissingRequiredArgument => {
            match cmd.clone().ignore_errors(true).try_get_matches_from(&argv) {
                Ok(m) => (m, Some(e)),
                Err(_) => return Err(e),
            }
        }
        Err(e) => return Err(e),
    };
    let found = first.subcommand().and_then(|(name, m)| {
        let path = m.try_get_one::<PathBuf>(CONFIG).ok().flatten()?.clone();
        Some((cmd.find_subcommand(name)?, m, path))
    });
    let Some((sub, sub_matches, path)) = found else {
        return match pending {
            Some(e) => Err(e),
            None => Ok(Parsed { matches: first, from_file: Vec::new() }),
        };
    };
    let table = read_table(&path)?;
    let applied = plan(sub, sub_matches, &table, &path)?;
    let from_file = applied.iter().map(|a| a.id.clone()).collect();
    let extra: Vec<OsString> = applied.iter().flat_map(|a| a.args.iter().cloned()).collect();
    if extra.is_empty() {
        return match pending {
            Some(e) => Err(e),
            None => Ok(Parsed { matches: first, from_file }),
        };
    }
    let matches = cmd.clone().try_get_matches_from(with_extra(argv, extra)).map_err(|e| blame(e, &applied, &path))?;
    Ok(Parsed { matches, from_file })
}

/// `argv` with `extra` added at its end, or before a `--` that ends the options.
fn with_extra(mut argv: Vec<OsString>, extra: Vec<OsString>) -> Vec<OsString> {
    let at = argv.iter().position(|a| a.as_os_str() == OsStr::new("--")).unwrap_or(argv.len());
    argv.splice(at..at, extra);
    argv
}

fn read_table(path: &Path) -> Result<toml::Table, clap::Error> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        error(ErrorKind::Io, format_args!("cannot read the configuration file {}: {e}", path.display()))
    })?;
    text.parse::<toml::Table>().map_err(|e| {
        let at = e.span().map(|s| line_col(&text, s.start)).map(|(l, c)| format!(" at line {l}, column {c}"));
        let at = at.unwrap_or_default();
        // toml's own rendering quotes the offending line; the message alone keeps values out
        error(
            ErrorKind::InvalidValue,
            format_args!("{} is not valid TOML{at}: {}", path.display(), e.message().trim_end()),
        )
    })
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let bytes = text.as_bytes();
    let before = bytes.get(..offset).unwrap_or(bytes);
    let line_start = before.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let column = String::from_utf8_lossy(before.get(line_start..).unwrap_or_default()).chars().count() + 1;
    (line, column)
}

/// Checks every key of the file against the settings of `sub` and turns the ones that neither
/// the command line nor the environment set (in `m`) into arguments.
fn plan(sub: &Command, m: &ArgMatches, table: &toml::Table, path: &Path) -> Result<Vec<Applied>, clap::Error> {
    let file = path.display();
    let mut out: Vec<Applied> = Vec::new();
    for (key, value) in table {
        if value.is_table() {
            return Err(error(
                ErrorKind::InvalidValue,
                format_args!(
                    "'{key}' in {file} is a table: the configuration file takes flat `name = value` settings only (no [sections])"
                ),
            ));
        }
        let long = key.replace('_', "-");
        let own =
            sub.get_arguments().any(|a| ACTIONS.contains(&a.get_id().as_str()) && a.get_long() == Some(long.as_str()));
        if own {
            return Err(error(
                ErrorKind::UnknownArgument,
                format_args!("setting '{key}' is not allowed in a configuration file ({file})"),
            ));
        }
        let Some((arg, long)) = settings(sub).find(|(_, l)| *l == long) else {
            let hint = suggest(sub, key).map(|s| format!(" (did you mean '{s}'?)")).unwrap_or_default();
            return Err(error(ErrorKind::UnknownArgument, format_args!("unknown setting '{key}' in {file}{hint}")));
        };
        let id = arg.get_id().as_str();
        if let Some(prev) = out.iter().find(|a| a.id == id) {
            return Err(error(
                ErrorKind::ArgumentConflict,
                format_args!("setting '{key}' is given twice in {file} (also as '{}')", prev.key),
            ));
        }
        let args = file_args(arg, long, value)
            .map_err(|why| error(ErrorKind::InvalidValue, format_args!("setting '{key}' in {file} must be {why}")))?;
        // flags and environment variables win over the file
        if matches!(m.value_source(id), Some(ValueSource::CommandLine | ValueSource::EnvVariable)) {
            continue;
        }
        out.push(Applied { key: key.clone(), id: id.to_owned(), long: long.to_owned(), args });
    }
    Ok(out)
}

/// A setting the unknown `key` probably meant: same name in another case, or the name of an
/// environment variable (`trusted_proxies` for `STRONGBOX_TRUSTED_PROXIES`).
fn suggest(sub: &Command, key: &str) -> Option<String> {
    let wanted = key.replace('-', "_").to_ascii_lowercase();
    settings(sub)
        .find(|(arg, long)| {
            let env = arg.get_env().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
            setting_name(long) == wanted || env == wanted || env.ends_with(&format!("_{wanted}"))
        })
        .map(|(_, long)| setting_name(long))
}

/// The command-line arguments that give `arg` the TOML `value`, or what the value should be.
fn file_args(arg: &Arg, long: &str, value: &toml::Value) -> Result<Vec<OsString>, String> {
    let kind = Kind::of(arg);
    let many = repeatable(arg);
    let wrong = |v: &toml::Value| format!("{}, not {}", kind.expected(many), type_name(v));
    match value {
        toml::Value::Array(items) if many => {
            let mut out = Vec::new();
            for item in items {
                out.extend(scalar_args(kind, long, item).ok_or_else(|| wrong(item))?);
            }
            Ok(out)
        }
        v => scalar_args(kind, long, v).ok_or_else(|| wrong(v)),
    }
}

/// Arguments for one scalar value, or `None` for a value of the wrong type.
fn scalar_args(kind: Kind, long: &str, value: &toml::Value) -> Option<Vec<OsString>> {
    use toml::Value as V;
    let bare = || OsString::from(format!("--{long}"));
    let with = |s: String| Some(vec![OsString::from(format!("--{long}={s}"))]);
    match (kind, value) {
        (Kind::Flag(on), V::Boolean(b)) => Some(if *b == on { vec![bare()] } else { Vec::new() }),
        (Kind::Count, V::Integer(n)) => u8::try_from(*n).ok().map(|n| vec![bare(); usize::from(n)]),
        (Kind::Integer | Kind::Float | Kind::Text, V::Integer(n)) => with(n.to_string()),
        (Kind::Float, V::Float(f)) => with(format!("{f:?}")),
        (Kind::Boolean, V::Boolean(b)) => with(b.to_string()),
        (Kind::Text, V::String(s)) => with(s.clone()),
        _ => None,
    }
}

fn type_name(v: &toml::Value) -> &'static str {
    match v {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a float",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a date-time",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table (the file takes flat settings only)",
    }
}

/// Names the file and the setting in an error of the second parse.
fn blame(e: clap::Error, applied: &[Applied], path: &Path) -> clap::Error {
    if !e.use_stderr() {
        return e;
    }
    let named: Vec<&str> = [ContextKind::InvalidArg, ContextKind::PriorArg]
        .into_iter()
        .filter_map(|k| e.get(k))
        .flat_map(|v| match v {
            ContextValue::String(s) => vec![s.as_str()],
            ContextValue::Strings(v) => v.iter().map(String::as_str).collect(),
            _ => Vec::new(),
        })
        .collect();
    let rendered = e.render().to_string();
    let text = rendered.strip_prefix("error: ").unwrap_or(&rendered);
    let text = text.split("\n\n").next().unwrap_or_default().trim_end();
    let culprit = applied.iter().find(|a| !a.args.is_empty() && named.iter().any(|n| names_flag(n, &a.long)));
    match culprit {
        Some(a) => error(e.kind(), format_args!("setting '{}' in {}: {text}", a.key, path.display())),
        None => {
            let keys: Vec<&str> = applied.iter().map(|a| a.key.as_str()).collect();
            error(e.kind(), format_args!("{text}\n(with settings from {}: {})", path.display(), keys.join(", ")))
        }
    }
}

/// Whether clap's rendering of an argument (`--token-lifetime <TOKEN_LIFETIME>`) is `--long`.
fn names_flag(rendered: &str, long: &str) -> bool {
    rendered
        .strip_prefix("--")
        .and_then(|r| r.strip_prefix(long))
        .is_some_and(|r| r.is_empty() || r.starts_with([' ', '=']))
}

/// `--print-config`: the effective settings of the subcommand `parsed` ran, as TOML.
pub(crate) fn print_config(cmd: &Command, parsed: &Parsed, file: Option<&Path>) -> String {
    let env: Vec<(&str, bool)> = ENV_SECRETS.iter().map(|n| (*n, std::env::var_os(n).is_some())).collect();
    render(cmd, parsed, file, REDACTED, &env)
}

/// One line per setting: `name = value  # source`, `# name: not set`, or for a name in
/// `redacted` `# name: set (redacted)`; then whether each of `env_secrets` is set.
fn render(
    cmd: &Command,
    parsed: &Parsed,
    file: Option<&Path>,
    redacted: &[&str],
    env_secrets: &[(&str, bool)],
) -> String {
    let mut out = String::new();
    let Some((name, m)) = parsed.matches.subcommand() else { return out };
    let Some(sub) = cmd.find_subcommand(name) else { return out };
    out.push_str(&format!("# {} {name}: effective settings (flags > environment > file > defaults)\n", cmd.get_name()));
    match file {
        Some(f) => out.push_str(&format!("# configuration file: {}\n", f.display())),
        None => out.push_str("# no configuration file\n"),
    }
    for (arg, long) in settings(sub) {
        let id = arg.get_id().as_str();
        let key = setting_name(long);
        let from_file = parsed.from_file.iter().any(|f| f == id);
        let source = if from_file {
            "file".to_owned()
        } else {
            match m.value_source(id) {
                Some(ValueSource::CommandLine) => "flag".to_owned(),
                Some(ValueSource::EnvVariable) => {
                    format!("env {}", arg.get_env().map(OsStr::to_string_lossy).unwrap_or_default())
                }
                _ => "default".to_owned(),
            }
        };
        let value = value_literal(arg, m, id).or_else(|| (from_file && repeatable(arg)).then(|| "[]".to_owned()));
        match value {
            None => out.push_str(&format!("# {key}: not set\n")),
            Some(_) if redacted.contains(&key.as_str()) => {
                out.push_str(&format!("# {key}: set (redacted)  # {source}\n"));
            }
            Some(v) => out.push_str(&format!("{} = {v}  # {source}\n", toml_key(&key))),
        }
    }
    for (name, set) in env_secrets {
        out.push_str(&format!("# {name}: {}\n", if *set { "set (redacted)" } else { "not set" }));
    }
    out
}

/// The TOML literal of an argument's value in `m`, or `None` when it has none.
fn value_literal(arg: &Arg, m: &ArgMatches, id: &str) -> Option<String> {
    let kind = Kind::of(arg);
    match kind {
        Kind::Flag(_) => return m.try_get_one::<bool>(id).ok().flatten().map(ToString::to_string),
        Kind::Count => return m.try_get_one::<u8>(id).ok().flatten().map(ToString::to_string),
        _ => {}
    }
    let raw = m.try_get_raw(id).ok().flatten()?;
    let items: Vec<String> = raw.map(|v| scalar_literal(kind, &v.to_string_lossy())).collect();
    match items.as_slice() {
        [] if !repeatable(arg) => None,
        [one] if !repeatable(arg) => Some(one.clone()),
        _ => Some(format!("[{}]", items.join(", "))),
    }
}

fn scalar_literal(kind: Kind, raw: &str) -> String {
    match kind {
        Kind::Integer | Kind::Count => match raw.parse::<i64>() {
            Ok(n) => n.to_string(),
            Err(_) => toml_string(raw),
        },
        Kind::Float => match raw.parse::<f64>() {
            Ok(f) if f.is_finite() => format!("{f:?}"),
            _ => toml_string(raw),
        },
        Kind::Flag(_) | Kind::Boolean => match raw {
            "true" | "false" => raw.to_owned(),
            _ => toml_string(raw),
        },
        Kind::Text => toml_string(&strongbox_types::redact_url_password(raw)),
    }
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A TOML key: bare when it can be.
fn toml_key(k: &str) -> String {
    if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        k.to_owned()
    } else {
        toml_string(k)
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;
    use std::path::{Path, PathBuf};

    use clap::{Arg, ArgAction, Args, Command};

    use super::{Parsed, parse, render};

    /// A small command tree with one argument of each kind.
    fn tool() -> Command {
        let run = super::ConfigFileArgs::augment_args(Command::new("run"))
            .arg(Arg::new("name").long("name").default_value("n"))
            .arg(Arg::new("count").long("count").value_parser(clap::value_parser!(u16).range(1..)))
            .arg(Arg::new("search_path").long("search-path").env("PATH"))
            .arg(Arg::new("fast").long("fast").action(ArgAction::SetTrue))
            .arg(Arg::new("dry_run").long("dry-run").action(ArgAction::SetTrue))
            .arg(Arg::new("item").long("item").action(ArgAction::Append))
            .arg(Arg::new("verbose").short('v').long("verbose").action(ArgAction::Count))
            .arg(Arg::new("url").long("url"));
        let strict = super::ConfigFileArgs::augment_args(Command::new("strict"))
            .arg(Arg::new("must").long("must").required(true))
            .arg(Arg::new("cert").long("cert").requires("key"))
            .arg(Arg::new("key").long("key"));
        Command::new("tool").subcommand(run).subcommand(strict).subcommand(Command::new("other"))
    }

    fn write(dir: &Path, text: &str) -> PathBuf {
        let f = dir.join("tool.toml");
        std::fs::write(&f, text).unwrap();
        f
    }

    fn argv(sub: &str, file: Option<&Path>, args: &[&str]) -> Vec<OsString> {
        let mut v: Vec<OsString> = vec!["tool".into(), sub.into()];
        if let Some(f) = file {
            v.push("--config".into());
            v.push(f.into());
        }
        v.extend(args.iter().map(OsString::from));
        v
    }

    /// Parses `tool run --config FILE ARGS` with `text` as the file.
    fn run(text: &str, args: &[&str]) -> Result<Parsed, String> {
        let dir = tempfile::tempdir().unwrap();
        let f = write(dir.path(), text);
        parse(&tool(), argv("run", Some(&f), args)).map_err(|e| e.to_string())
    }

    fn sub(p: &Parsed) -> &clap::ArgMatches {
        p.matches.subcommand_matches("run").unwrap()
    }

    fn from_file(p: &Parsed) -> Vec<&str> {
        p.from_file.iter().map(String::as_str).collect()
    }

    #[test]
    fn file_values_fill_what_flags_do_not_set() {
        let text = "name = \"file\"\ncount = 7\nfast = true\nitem = [\"a\", \"b\"]\nverbose = 2\n";
        let p = run(text, &["--name", "cli"]).unwrap();
        let m = sub(&p);
        assert_eq!(m.get_one::<String>("name").unwrap(), "cli");
        assert_eq!(m.get_one::<u16>("count"), Some(&7));
        assert!(m.get_flag("fast"));
        let items: Vec<&String> = m.get_many::<String>("item").unwrap().collect();
        assert_eq!(items, ["a", "b"]);
        assert_eq!(m.get_count("verbose"), 2);
        assert_eq!(from_file(&p), ["count", "fast", "item", "verbose"]);
        // a single value for a repeatable setting
        let p = run("item = \"only\"", &[]).unwrap();
        let items: Vec<&String> = sub(&p).get_many::<String>("item").unwrap().collect();
        assert_eq!(items, ["only"]);
    }

    #[test]
    fn the_environment_wins_over_the_file() {
        let Some(path) = std::env::var_os("PATH") else { return };
        let p = run("search_path = \"/from/the/file\"", &[]).unwrap();
        let got = sub(&p).get_one::<String>("search_path").unwrap();
        assert_eq!(OsString::from(got), path);
        assert!(p.from_file.is_empty());
        let p = run("search_path = \"/from/the/file\"", &["--search-path", "/flag"]).unwrap();
        assert_eq!(sub(&p).get_one::<String>("search_path").unwrap(), "/flag");
    }

    #[test]
    fn keys_take_underscores_or_dashes() {
        assert!(sub(&run("dry_run = true", &[]).unwrap()).get_flag("dry_run"));
        assert!(sub(&run("dry-run = true", &[]).unwrap()).get_flag("dry_run"));
        let err = run("dry_run = true\ndry-run = false", &[]).err().unwrap();
        assert!(err.contains("given twice") && err.contains("dry_run"), "{err}");
    }

    #[test]
    fn false_adds_no_flag_and_a_given_flag_stays() {
        let p = run("fast = false", &[]).unwrap();
        assert!(!sub(&p).get_flag("fast"));
        assert_eq!(from_file(&p), ["fast"]);
        let p = run("fast = false", &["--fast"]).unwrap();
        assert!(sub(&p).get_flag("fast"));
        assert!(p.from_file.is_empty());
    }

    #[test]
    fn errors_name_the_file_and_the_setting() {
        let dir = tempfile::tempdir().unwrap();
        let f = write(dir.path(), "");
        let file = f.display().to_string();
        let cases: &[(&str, &[&str])] = &[
            ("foo = 1", &["unknown setting 'foo' in", "tool.toml"]),
            ("Search_Path = \"x\"", &["unknown setting 'Search_Path'", "did you mean 'search_path'?"]),
            ("PATH = \"x\"", &["did you mean 'search_path'?"]),
            ("count = \"7\"", &["setting 'count' in", "must be an integer, not a string"]),
            ("name = true", &["setting 'name'", "must be a string, not a boolean"]),
            ("name = [\"a\"]", &["setting 'name'", "must be a string, not an array"]),
            ("item = [1.5]", &["setting 'item'", "must be a string or an array of strings, not a float"]),
            ("fast = \"yes\"", &["setting 'fast'", "must be true or false, not a string"]),
            ("verbose = 300", &["setting 'verbose'", "an integer from 0 to 255"]),
            ("count = 0", &["setting 'count' in", "invalid value '0' for '--count <count>'", "1..=65535"]),
            ("[section]\nname = \"a\"", &["'section' in", "is a table", "flat `name = value` settings only"]),
            ("item = [{ a = 1 }]", &["setting 'item'", "not a table"]),
            ("config = \"other.toml\"", &["setting 'config' is not allowed in a configuration file"]),
            ("print_config = true", &["setting 'print_config' is not allowed"]),
            ("name = \"a\"\ncount = = 1\n", &["is not valid TOML at line 2, column"]),
        ];
        for (text, wanted) in cases {
            std::fs::write(&f, text).unwrap();
            let err = match parse(&tool(), argv("run", Some(&f), &[])) {
                Ok(_) => panic!("{text:?} was accepted"),
                Err(e) => e,
            };
            assert_ne!(err.exit_code(), 0);
            let msg = err.to_string();
            assert!(msg.contains(&file), "{text:?}: the file is not named: {msg}");
            for w in *wanted {
                assert!(msg.contains(w), "{text:?}: {w:?} missing from: {msg}");
            }
        }
        let missing = dir.path().join("missing.toml");
        let msg = parse(&tool(), argv("run", Some(&missing), &[])).err().unwrap().to_string();
        assert!(msg.contains("cannot read the configuration file") && msg.contains("missing.toml"), "{msg}");
    }

    #[test]
    fn a_bad_toml_error_does_not_quote_the_file() {
        let err = run("url = \"postgres://u:hunter2@h/db\"\nname = \n", &[]).err().unwrap();
        assert!(err.contains("line 2, column 8"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn a_required_argument_may_come_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = write(dir.path(), "must = \"x\"\nkey = \"k.pem\"\n");
        let p = parse(&tool(), argv("strict", Some(&f), &["--cert", "c.pem"])).unwrap();
        let m = p.matches.subcommand_matches("strict").unwrap();
        assert_eq!(m.get_one::<String>("must").unwrap(), "x");
        assert_eq!(m.get_one::<String>("key").unwrap(), "k.pem");
        // still required without the file, and named as clap names it
        let err = parse(&tool(), argv("strict", None, &[])).err().unwrap();
        assert_eq!(err.kind(), clap::error::ErrorKind::MissingRequiredArgument);
        // and with a file that does not have it, the error says which file was read
        let f = write(dir.path(), "cert = \"c.pem\"\nmust = \"x\"\n");
        let msg = parse(&tool(), argv("strict", Some(&f), &[])).err().unwrap().to_string();
        assert!(msg.contains("--key") && msg.contains("tool.toml"), "{msg}");
    }

    #[test]
    fn commands_without_a_file_parse_as_before() {
        let p = parse(&tool(), argv("other", None, &[])).unwrap();
        assert_eq!(p.matches.subcommand_name(), Some("other"));
        let p = parse(&tool(), argv("run", None, &["--count", "3"])).unwrap();
        assert_eq!(sub(&p).get_one::<u16>("count"), Some(&3));
        assert!(parse(&tool(), argv("run", None, &["--count", "0"])).is_err());
        let help = parse(&tool(), argv("run", None, &["--help"])).err().unwrap();
        assert_eq!(help.exit_code(), 0);
    }

    #[test]
    fn file_arguments_go_before_a_double_dash() {
        let v = |s: &[&str]| s.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(super::with_extra(v(&["t", "run"]), v(&["--a=1"])), v(&["t", "run", "--a=1"]));
        assert_eq!(super::with_extra(v(&["t", "run", "--", "x"]), v(&["--a=1"])), v(&["t", "run", "--a=1", "--", "x"]));
    }

    fn render_of(p: &Parsed, redacted: &[&str], secrets: &[(&str, bool)]) -> String {
        render(&tool(), p, Some(Path::new("/etc/tool.toml")), redacted, secrets)
    }

    #[test]
    fn print_config_gives_values_and_sources() {
        let p = run("count = 7\nitem = [\"a\", \"b \\\"q\\\"\"]\n", &["--fast", "-vv"]).unwrap();
        let out = render_of(&p, &[], &[("TOOL_PIN", true), ("TOOL_OTHER", false)]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "# tool run: effective settings (flags > environment > file > defaults)");
        assert_eq!(lines[1], "# configuration file: /etc/tool.toml");
        for want in [
            "name = \"n\"  # default",
            "count = 7  # file",
            "fast = true  # flag",
            "dry_run = false  # default",
            r#"item = ["a", "b \"q\""]  # file"#,
            "verbose = 2  # flag",
            "# url: not set",
            "# TOOL_PIN: set (redacted)",
            "# TOOL_OTHER: not set",
        ] {
            assert!(lines.contains(&want), "{want:?} missing from:\n{out}");
        }
        if std::env::var_os("PATH").is_some() {
            assert!(out.lines().any(|l| l.starts_with("search_path = ") && l.ends_with("  # env PATH")), "{out}");
        }
        assert!(!out.contains("\nconfig") && !out.contains("print_config"), "{out}");
        let table: toml::Table = out.parse().unwrap();
        assert_eq!(table["count"].as_integer(), Some(7));
        assert_eq!(table["item"].as_array().unwrap()[1].as_str(), Some("b \"q\""));
    }

    #[test]
    fn print_config_redacts() {
        let p = run("url = \"postgres://u:pw@db.example:5432/vault?x=1\"\nname = \"secret-name\"\n", &[]).unwrap();
        let out = render_of(&p, &["name"], &[]);
        assert!(out.contains("url = \"postgres://u:***@db.example:5432/vault?x=1\"  # file"), "{out}");
        assert!(out.contains("# name: set (redacted)  # file"), "{out}");
        assert!(!out.contains("pw@") && !out.contains("secret-name"), "{out}");
    }

    #[test]
    fn printed_settings_read_back_the_same() {
        let text = "count = 9\nfast = true\nitem = [\"x\\ty\", \"\\u0001é\"]\nverbose = 1\nurl = \"a\\\\b\"\n";
        let first = run(text, &["--name", "a \"b\""]).unwrap();
        let out = render_of(&first, &[], &[]);
        let again = run(&out, &[]).unwrap();
        let out2 = render_of(&again, &[], &[]);
        let values = |s: &str| -> Vec<String> {
            s.lines().skip(2).map(|l| l.rsplit_once("  # ").map_or(l, |(v, _)| v).to_owned()).collect()
        };
        assert_eq!(values(&out), values(&out2), "{out}\n---\n{out2}");
        let mut values_lines = out2.lines().filter(|l| !l.starts_with('#') && !l.starts_with("search_path"));
        assert!(values_lines.clone().count() == 7 && values_lines.all(|l| l.ends_with("  # file")), "{out2}");
    }

    #[test]
    fn url_passwords_are_masked() {
        let r = strongbox_types::redact_url_password;
        assert_eq!(r("postgres://u:pw@h/db"), "postgres://u:***@h/db");
        assert_eq!(r("https://u:p:w@h"), "https://u:***@h");
        assert_eq!(r("https://u:p@w@h/x"), "https://u:***@h/x");
        assert_eq!(r("https://u@h/x"), "https://u@h/x");
        assert_eq!(r("https://u:@h/x"), "https://u:@h/x");
        assert_eq!(r("https://h/a:b@c"), "https://h/a:b@c");
        assert_eq!(r("info,a::b=off"), "info,a::b=off");
        assert_eq!(r("://u:p@h"), "://u:p@h");
        assert_eq!(r("é://u:p@h"), "é://u:p@h");
    }

    #[test]
    fn toml_strings_and_keys_parse_back() {
        for s in ["", "plain", "q\"uote", "back\\slash", "tab\tnew\nline\r", "\u{1}\u{7f}\u{9f}", "é✓ 🙂"] {
            let doc = format!("{} = {}", super::toml_key("k"), super::toml_string(s));
            let t: toml::Table = doc.parse().unwrap();
            assert_eq!(t["k"].as_str(), Some(s), "{doc}");
        }
        assert_eq!(super::toml_key("a_b-c"), "a_b-c");
        assert_eq!(super::toml_key("a.b"), "\"a.b\"");
    }

    #[test]
    fn line_and_column_count_characters() {
        assert_eq!(super::line_col("abc", 0), (1, 1));
        assert_eq!(super::line_col("a\nbc", 3), (2, 2));
        assert_eq!(super::line_col("é\néé = x", 7), (2, 3));
        assert_eq!(super::line_col("ab", 99), (1, 3));
    }

    /// Every setting of the real `strongbox server` prints as TOML that reads back the same.
    #[test]
    fn the_server_settings_round_trip() {
        let cmd = crate::cli_command();
        let first = parse(&cmd, vec!["strongbox".into(), "server".into()]).unwrap();
        let out = super::print_config(&cmd, &first, None);
        assert!(out.contains("\ndata_dir = ") && out.contains("\ntoken_lifetime = "), "{out}");
        assert!(!out.contains("print_config") && !out.contains("\nconfig"), "{out}");
        let dir = tempfile::tempdir().unwrap();
        let f = write(dir.path(), &out);
        let argv = vec!["strongbox".into(), "server".into(), "--config".into(), f.clone().into_os_string()];
        let again = parse(&cmd, argv).unwrap();
        let out2 = super::print_config(&cmd, &again, Some(&f));
        let values = |s: &str| -> Vec<String> {
            s.lines().skip(2).map(|l| l.rsplit_once("  # ").map_or(l, |(v, _)| v).to_owned()).collect()
        };
        assert_eq!(values(&out), values(&out2), "{out}\n---\n{out2}");
    }
}
