//! What commands print (`--output json` or `table`) and the files they read and write.

use std::path::Path;

use anyhow::{Context, bail};
use clap::ValueEnum;
use serde_json::{Map, Value};

/// The `--output` format.
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Output {
    Json,
    Table,
}

/// Prints a reply: JSON as is, or for `--output table` objects (and lists of them) as rows of
/// id, enabled, updated and type (content type or key type); other replies as `field  value` lines.
pub(crate) fn print(out: Output, v: &Value) {
    if v.is_null() {
        return;
    }
    match out {
        Output::Json => println!("{}", serde_json::to_string_pretty(v).unwrap_or_default()),
        Output::Table => {
            let rows: Vec<&Value> = match v.get("value").and_then(Value::as_array) {
                Some(items) if v.get("id").is_none() => items.iter().collect(),
                _ if v.get("attributes").is_some_and(|a| a.get("enabled").is_some()) => vec![v],
                _ => return print_fields("", v),
            };
            println!("{:<70} {:<8} {:<12} Type", "Id", "Enabled", "Updated");
            for r in rows {
                let text = |p: &str| r.pointer(p).and_then(Value::as_str);
                println!(
                    "{:<70} {:<8} {:<12} {}",
                    text("/id").or_else(|| text("/kid")).or_else(|| text("/key/kid")).unwrap_or(""),
                    r.pointer("/attributes/enabled").map(ToString::to_string).unwrap_or_default(),
                    r.pointer("/attributes/updated").map(ToString::to_string).unwrap_or_default(),
                    text("/contentType").or_else(|| text("/key/kty")).unwrap_or("")
                );
            }
        }
    }
}

/// `path  value` for every leaf of `v`.
fn print_fields(prefix: &str, v: &Value) {
    match v {
        Value::Object(m) => m.iter().for_each(|(k, x)| print_fields(&format!("{prefix}/{k}"), x)),
        Value::Array(a) => a.iter().enumerate().for_each(|(i, x)| print_fields(&format!("{prefix}/{i}"), x)),
        Value::String(s) => println!("{:<44} {s}", prefix.trim_start_matches('/')),
        other => println!("{:<44} {other}", prefix.trim_start_matches('/')),
    }
}

/// A text file; the error names the file.
pub(crate) fn read_text(f: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))
}

/// A JSON file (any value); the error names the file, not its content.
pub(crate) fn read_json(f: &Path) -> anyhow::Result<Value> {
    serde_json::from_str(&read_text(f)?).with_context(|| format!("{} is not JSON", f.display()))
}

/// Writes `data` to a file (default permissions); the error names the file.
pub(crate) fn write_file(f: &Path, data: impl AsRef<[u8]>) -> anyhow::Result<()> {
    std::fs::write(f, data).with_context(|| format!("cannot write {}", f.display()))
}

/// A JSON object of these members, in this order (more are added with `insert`).
pub(crate) fn obj<const N: usize>(members: [(&str, Value); N]) -> Map<String, Value> {
    members.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// The members of the JSON object `v`, to add to: `null` becomes `{}` (as `v[key] = …` does);
/// anything else that is not an object is an error naming `what`.
pub(crate) fn members<'a>(v: &'a mut Value, what: &str) -> anyhow::Result<&'a mut Map<String, Value>> {
    if v.is_null() {
        *v = Value::Object(Map::new());
    }
    match v {
        Value::Object(m) => Ok(m),
        _ => bail!("{what} is not a JSON object"),
    }
}
