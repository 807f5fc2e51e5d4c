//! `strongbox dev`: commands for a server started with `--dev`.

use clap::Subcommand;
use serde_json::json;

use crate::args::{Conn, connect};
use crate::output::print;

#[derive(Subcommand)]
pub(crate) enum DevCmd {
    /// Move the dev server's clock forward (seconds, or a number with s, m, h or d: 30d), then
    /// run its scheduled jobs once (purge, key rotation, certificate renewal, ended role
    /// activations). Refused by servers not started with --dev. Tokens issued before the
    /// shift may have expired: clients get new ones.
    TimeShift {
        /// How far: 3600, 90m, 12h, 30d.
        amount: String,
        #[command(flatten)]
        c: Conn,
    },
}

/// `30d` → seconds.
fn seconds(s: &str) -> anyhow::Result<i64> {
    let t = s.trim();
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: i64 = num.parse().map_err(|_| anyhow::anyhow!("'{s}' is not an amount such as 3600, 90m, 12h or 30d"))?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => anyhow::bail!("'{s}' is not an amount such as 3600, 90m, 12h or 30d (units: s, m, h, d)"),
    };
    n.checked_mul(mult).ok_or_else(|| anyhow::anyhow!("'{s}' is too large"))
}

pub(crate) async fn run(cmd: DevCmd) -> anyhow::Result<()> {
    match cmd {
        DevCmd::TimeShift { amount, c } => {
            let secs = seconds(&amount)?;
            let cl = connect(&c, None).await?;
            print(c.output, &cl.call("POST", "/_strongbox/dev/time-shift", Some(json!({ "seconds": secs }))).await?);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn amounts_take_units() {
        assert_eq!(super::seconds("30d").unwrap(), 30 * 86_400);
        assert_eq!(super::seconds("90m").unwrap(), 5400);
        assert_eq!(super::seconds("15").unwrap(), 15);
        for bad in ["", "d", "3w", "-1d", "1h30m", "99999999999999999999"] {
            assert!(super::seconds(bad).is_err(), "{bad}");
        }
    }
}
