//! Key release policies: Azure's grammar (version `1.0.0`), parsed when a policy is set and
//! evaluated against the claims of a verified attestation token when a key is released.
//!
//! A policy is `{"version": "1.0.0", "anyOf": [{"authority": URL, "allOf"|"anyOf": [condition, …]}, …]}`
//! where a condition is `{"claim": NAME, "equals": VALUE}` or a nested `{"anyOf"|"allOf": […]}`.
//! Claim names may be dotted paths into nested objects (`x-ms-isolation-tee.x-ms-attestation-type`
//! is member `x-ms-attestation-type` of the object `x-ms-isolation-tee`); a token that also holds
//! a claim literally named like (part of) such a path is ambiguous and never granted. Other
//! operators of the published grammar (`notEquals`, `less`, `exists`, …) are refused when the
//! policy is parsed, never silently ignored.
//!
//! Pure decisions, like the RBAC index beside it: verifying the token, replay protection and
//! wrapping the key are the keys service's (`strongbox-core`, `keys/release.rs`).

use serde_json::Value;

const MAX_POLICY_BYTES: usize = 16 * 1024;
const MAX_DEPTH: usize = 16;
/// Dotted segments of one claim path: the ambiguity check is quadratic in them.
const MAX_PATH_SEGMENTS: usize = 32;

/// Why a policy document is refused (a sentence for the caller; no document content beyond the
/// first 40 characters of a member name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError(pub String);

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

type Result<T> = std::result::Result<T, PolicyError>;

/// A parsed release policy: per authority, the condition its tokens must meet.
#[derive(Debug, Clone, PartialEq)]
pub struct ReleaseRules {
    rules: Vec<Rule>,
}

/// The outcome of [`ReleaseRules::evaluate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseDecision {
    /// A rule of the token's authority is met.
    Granted,
    /// No rule of the token's authority is met (or the policy names no such authority).
    NotSatisfied,
    /// The token holds this dotted claim path (its first 40 characters) both as a dotted name
    /// and as nested objects.
    Ambiguous(String),
}

impl ReleaseRules {
    /// Parses a policy document (the JSON bytes, after base64url decoding).
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        parse_rules(bytes).map(|rules| Self { rules })
    }

    /// The decision for a token issued by `authority` (without a trailing `/`) whose claims are
    /// `claims`: first refused as ambiguous if any claim path of that authority's rules could
    /// be read two ways, then granted when one of its rules holds.
    pub fn evaluate(&self, authority: &str, claims: &Value) -> ReleaseDecision {
        let rules: Vec<&Rule> = self.rules.iter().filter(|r| r.authority == authority).collect();
        if let Some(path) = ambiguous_claim(&rules, claims) {
            return ReleaseDecision::Ambiguous(short(path));
        }
        if rules.iter().any(|r| eval(&r.cond, claims)) {
            ReleaseDecision::Granted
        } else {
            ReleaseDecision::NotSatisfied
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Cond {
    Claim { path: String, equals: Value },
    AnyOf(Vec<Cond>),
    AllOf(Vec<Cond>),
}

#[derive(Debug, Clone, PartialEq)]
struct Rule {
    authority: String,
    cond: Cond,
}

fn invalid(why: impl std::fmt::Display) -> PolicyError {
    PolicyError(why.to_string())
}

/// The one member of `o` named `name` (case-insensitively).
fn member<'a>(o: &'a serde_json::Map<String, Value>, name: &str) -> Option<&'a Value> {
    o.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

fn short(s: &str) -> String {
    s.chars().take(40).collect()
}

const UNSUPPORTED_OPS: &[&str] = &["notequals", "less", "lessorequals", "greater", "greaterorequals", "exists"];

fn parse_list(v: &Value, depth: usize) -> Result<Vec<Cond>> {
    let a = v.as_array().ok_or_else(|| invalid("'anyOf' and 'allOf' take an array of conditions."))?;
    if a.is_empty() {
        return Err(invalid("an 'anyOf' or 'allOf' array is empty."));
    }
    a.iter().map(|c| parse_cond(c, depth + 1)).collect()
}

fn parse_cond(v: &Value, depth: usize) -> Result<Cond> {
    if depth > MAX_DEPTH {
        return Err(invalid(format!("conditions are nested deeper than {MAX_DEPTH} levels.")));
    }
    let o = v.as_object().ok_or_else(|| invalid("each condition must be a JSON object."))?;
    if let Some(claim) = member(o, "claim") {
        let path = claim.as_str().filter(|s| !s.is_empty()).ok_or_else(|| invalid("'claim' must be a claim name."))?;
        if path.split('.').count() > MAX_PATH_SEGMENTS {
            return Err(invalid(format!("a claim path has at most {MAX_PATH_SEGMENTS} dotted segments.")));
        }
        let mut equals = None;
        for (k, val) in o {
            let lk = k.to_ascii_lowercase();
            match lk.as_str() {
                "claim" => {}
                "equals" => equals = Some(val.clone()),
                op if UNSUPPORTED_OPS.contains(&op) => {
                    return Err(invalid(format!(
                        "the operator '{}' is not supported by this server; only 'equals' is.",
                        short(k)
                    )));
                }
                _ => return Err(invalid(format!("unknown member '{}' in a claim condition.", short(k)))),
            }
        }
        let equals = equals.ok_or_else(|| invalid("a claim condition needs 'equals'."))?;
        return Ok(Cond::Claim { path: path.to_owned(), equals });
    }
    if o.len() != 1 {
        return Err(invalid("a condition is a claim condition or exactly one of 'anyOf' and 'allOf'."));
    }
    let (k, val) = o.iter().next().ok_or_else(|| invalid("empty condition."))?;
    match k.to_ascii_lowercase().as_str() {
        "anyof" => Ok(Cond::AnyOf(parse_list(val, depth)?)),
        "allof" => Ok(Cond::AllOf(parse_list(val, depth)?)),
        _ => Err(invalid(format!("unknown condition member '{}'.", short(k)))),
    }
}

fn parse_rule(v: &Value) -> Result<Rule> {
    let o = v.as_object().ok_or_else(|| invalid("each entry of the top-level 'anyOf' must be an object."))?;
    let authority = member(o, "authority")
        .and_then(Value::as_str)
        .filter(|s| s.starts_with("https://") || s.starts_with("http://"))
        .ok_or_else(|| invalid("each entry needs an 'authority' URL."))?;
    let mut cond = None;
    for (k, val) in o {
        match k.to_ascii_lowercase().as_str() {
            "authority" => {}
            "anyof" if cond.is_none() => cond = Some(Cond::AnyOf(parse_list(val, 1)?)),
            "allof" if cond.is_none() => cond = Some(Cond::AllOf(parse_list(val, 1)?)),
            "anyof" | "allof" => return Err(invalid("an authority takes either 'anyOf' or 'allOf', not both.")),
            _ => return Err(invalid(format!("unknown member '{}' next to 'authority'.", short(k)))),
        }
    }
    let cond = cond.ok_or_else(|| invalid("each authority needs 'anyOf' or 'allOf' conditions."))?;
    // the authority as `strongbox_identity::normalize_authority` keeps it: no trailing `/`
    Ok(Rule { authority: authority.trim_end_matches('/').to_owned(), cond })
}

fn parse_rules(bytes: &[u8]) -> Result<Vec<Rule>> {
    if bytes.len() > MAX_POLICY_BYTES {
        return Err(invalid(format!("it is larger than {MAX_POLICY_BYTES} bytes.")));
    }
    let v: Value = serde_json::from_slice(bytes).map_err(|_| invalid("'data' is not base64url of a JSON document."))?;
    let o = v.as_object().ok_or_else(|| invalid("the policy must be a JSON object."))?;
    let mut rules = None;
    for (k, val) in o {
        match k.to_ascii_lowercase().as_str() {
            "version" => {
                let ver = val.as_str().unwrap_or_default();
                if !ver.starts_with("1.0.") {
                    return Err(invalid("'version' must be \"1.0.0\"."));
                }
            }
            "anyof" => {
                let a = val.as_array().filter(|a| !a.is_empty()).ok_or_else(|| {
                    invalid("'anyOf' must be a non-empty array of authorities with their conditions.")
                })?;
                rules = Some(a.iter().map(parse_rule).collect::<Result<Vec<_>>>()?);
            }
            "allof" => return Err(invalid("the top level takes 'anyOf' (a list of authorities), not 'allOf'.")),
            _ => return Err(invalid(format!("unknown member '{}'.", short(k)))),
        }
    }
    if member(o, "version").is_none() {
        return Err(invalid("'version' is required (\"1.0.0\")."));
    }
    rules.ok_or_else(|| invalid("'anyOf' (the authorities) is required."))
}

/// A claim by dotted path into nested objects (`a.b` is member `b` of object `a`), and only that:
/// a claim literally named `a.b` is not it (see `ambiguous_path`).
pub fn claim<'a>(claims: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(claims, |cur, seg| cur.get(seg))
}

/// Whether the token could be read two ways for `path`: along the nested walk, some object holds
/// a member whose name is several of the remaining segments joined by dots (`{"a.b": …}` next to
/// `{"a": {"b": …}}`).
fn ambiguous_path(claims: &Value, path: &str) -> bool {
    let segs: Vec<&str> = path.split('.').collect();
    let mut cur = claims;
    let mut rest = segs.as_slice();
    while let Some((&seg, tail)) = rest.split_first() {
        let Some(o) = cur.as_object() else { return false };
        // A member named by two or more of the remaining segments, joined.
        if (2..=rest.len()).filter_map(|k| rest.get(..k)).any(|p| o.contains_key(&p.join("."))) {
            return true;
        }
        match o.get(seg) {
            Some(next) => cur = next,
            None => return false,
        }
        rest = tail;
    }
    false
}

fn claim_paths<'a>(c: &'a Cond, out: &mut Vec<&'a str>) {
    match c {
        Cond::Claim { path, .. } => out.push(path),
        Cond::AnyOf(l) | Cond::AllOf(l) => l.iter().for_each(|c| claim_paths(c, out)),
    }
}

/// The first dotted claim path of `rules` the token holds in both forms.
fn ambiguous_claim<'a>(rules: &[&'a Rule], claims: &Value) -> Option<&'a str> {
    let mut paths = Vec::new();
    for r in rules {
        claim_paths(&r.cond, &mut paths);
    }
    paths.into_iter().find(|p| p.contains('.') && ambiguous_path(claims, p))
}

/// JSON equality, except that `3` equals `3.0`. Integers compare exactly (not through `f64`,
/// which would make 2^53 + 1 equal 2^53); an integer equals a float only when it is exactly
/// representable (|i| <= 2^53). Types never mix: `true` is not `"true"`, `1` is not `"1"`.
fn values_equal(a: &Value, b: &Value) -> bool {
    const EXACT: u64 = 1 << 53;
    let float_of = |n: &serde_json::Number| -> Option<f64> {
        if n.is_f64() {
            return n.as_f64();
        }
        let small = n.as_i64().map(i64::unsigned_abs).or_else(|| n.as_u64()).is_some_and(|m| m <= EXACT);
        if small { n.as_f64() } else { None }
    };
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if !x.is_f64() && !y.is_f64() => {
            x.as_i64() == y.as_i64() && x.as_u64() == y.as_u64()
        }
        (Value::Number(x), Value::Number(y)) => float_of(x).is_some_and(|f| float_of(y) == Some(f)),
        _ => a == b,
    }
}

fn eval(c: &Cond, claims: &Value) -> bool {
    match c {
        Cond::Claim { path, equals } => claim(claims, path).is_some_and(|v| values_equal(v, equals)),
        Cond::AnyOf(l) => l.iter().any(|c| eval(c, claims)),
        Cond::AllOf(l) => l.iter().all(|c| eval(c, claims)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    const A: &str = "https://attest.example";

    fn policy(v: Value) -> Result<Vec<Rule>> {
        parse_rules(&serde_json::to_vec(&v).unwrap())
    }

    #[test]
    fn grammar_and_evaluation() {
        let doc = json!({"version": "1.0.0", "anyOf": [{"authority": format!("{A}/"), "allOf": [
            {"claim": "x-ms-isolation-tee.x-ms-attestation-type", "equals": "sevsnpvm"},
            {"anyOf": [{"claim": "debuggable", "equals": false}, {"claim": "svn", "equals": 3}]}
        ]}]});
        let rules = policy(doc.clone()).unwrap();
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].authority, A);
        let ok = json!({"x-ms-isolation-tee": {"x-ms-attestation-type": "sevsnpvm"}, "debuggable": true, "svn": 3.0});
        assert!(eval(&rules[0].cond, &ok));
        let wrong = json!({"x-ms-isolation-tee": {"x-ms-attestation-type": "tdxvm"}, "debuggable": false});
        assert!(!eval(&rules[0].cond, &wrong));
        let missing = json!({"debuggable": false});
        assert!(!eval(&rules[0].cond, &missing));
        // dotted names are paths into nested objects only: a flat claim of that name is not it
        let flat = json!({"x-ms-isolation-tee.x-ms-attestation-type": "sevsnpvm", "debuggable": false});
        assert!(!eval(&rules[0].cond, &flat));
        // the public decision: per authority, ambiguity before satisfaction
        let parsed = ReleaseRules::parse(&serde_json::to_vec(&doc).unwrap()).unwrap();
        assert_eq!(parsed.evaluate(A, &ok), ReleaseDecision::Granted);
        assert_eq!(parsed.evaluate("https://other.example", &ok), ReleaseDecision::NotSatisfied);
        assert_eq!(parsed.evaluate(A, &wrong), ReleaseDecision::NotSatisfied);
        let mut both = ok.clone();
        both["x-ms-isolation-tee.x-ms-attestation-type"] = json!("sevsnpvm");
        assert_eq!(
            parsed.evaluate(A, &both),
            ReleaseDecision::Ambiguous("x-ms-isolation-tee.x-ms-attestation-type".into())
        );
    }

    #[test]
    fn dotted_paths_are_nested_only_and_both_forms_are_ambiguous() {
        let p = "x-ms-isolation-tee.x-ms-attestation-type";
        let nested = json!({"x-ms-isolation-tee": {"x-ms-attestation-type": "tdxvm"}});
        assert_eq!(claim(&nested, p), Some(&json!("tdxvm")));
        assert!(!ambiguous_path(&nested, p));
        // the token: nested tdxvm, and a flat key saying sevsnpvm
        let both = json!({
            "x-ms-isolation-tee": {"x-ms-attestation-type": "tdxvm"},
            "x-ms-isolation-tee.x-ms-attestation-type": "sevsnpvm"
        });
        assert_eq!(claim(&both, p), Some(&json!("tdxvm")), "the nested claim, never the flat one");
        assert!(ambiguous_path(&both, p));
        let flat = json!({"x-ms-isolation-tee.x-ms-attestation-type": "sevsnpvm"});
        assert_eq!(claim(&flat, p), None);
        assert!(ambiguous_path(&flat, p));
        // deeper: a flat name for the rest of the path inside a nested object
        let deep = json!({"a": {"b.c": 1, "b": {"c": 2}}});
        assert!(ambiguous_path(&deep, "a.b.c"));
        assert_eq!(claim(&deep, "a.b.c"), Some(&json!(2)));
        assert!(!ambiguous_path(&json!({"a": {"b": {"c": 2}}, "x.y": 1}), "a.b.c"), "unrelated dotted claims are fine");
        let rules = policy(json!({"version": "1.0.0", "anyOf": [{"authority": A, "anyOf": [
            {"claim": "plain", "equals": 1},
            {"allOf": [{"claim": p, "equals": "sevsnpvm"}]}
        ]}]}))
        .unwrap();
        let refs: Vec<&Rule> = rules.iter().collect();
        assert_eq!(ambiguous_claim(&refs, &both), Some(p));
        assert_eq!(ambiguous_claim(&refs, &nested), None);
    }

    #[test]
    fn equality_does_not_mix_types_or_round_numbers() {
        let cases = [
            (json!(true), json!("true"), false),
            (json!(false), json!(null), false),
            (json!(1), json!("1"), false),
            (json!(1), json!(true), false),
            (json!(3), json!(3.0), true),
            (json!(-3), json!(-3.0), true),
            (json!(9_007_199_254_740_993_u64), json!(9_007_199_254_740_992_u64), false),
            (json!(9_007_199_254_740_993_u64), json!(9_007_199_254_740_992.0), false),
            (json!(u64::MAX), json!(u64::MAX), true),
            (json!(-1), json!(u64::MAX), false),
            (json!("sevsnpvm"), json!("SEVSNPVM"), false),
            (json!({"a": 1}), json!({"a": 1}), true),
        ];
        for (a, b, want) in cases {
            assert_eq!(values_equal(&a, &b), want, "{a} vs {b}");
            assert_eq!(values_equal(&b, &a), want, "{b} vs {a}");
        }
        // a policy cannot be made to grant by its shape: empty lists are refused when set
        for empty in [json!({"anyOf": []}), json!({"allOf": []})] {
            let doc = json!({"version": "1.0.0", "anyOf": [{"authority": A, "allOf": [empty]}]});
            assert!(policy(doc).is_err());
        }
        let rules = policy(
            json!({"version": "1.0.0", "anyOf": [{"authority": A, "anyOf": [{"claim": "dbg", "equals": false}]}]}),
        )
        .unwrap();
        assert!(!eval(&rules[0].cond, &json!({"dbg": "false"})));
        assert!(!eval(&rules[0].cond, &json!({"dbg": 0})));
        assert!(!eval(&rules[0].cond, &json!({})));
        assert!(eval(&rules[0].cond, &json!({"dbg": false})));
    }

    #[test]
    fn bad_policies_are_refused_clearly() {
        let cases = [
            (json!({"anyOf": [{"authority": A, "allOf": [{"claim": "c", "equals": 1}]}]}), "version"),
            (json!({"version": "1.0.0", "anyOf": []}), "anyOf"),
            (json!({"version": "1.0.0", "anyOf": [{"allOf": [{"claim": "c", "equals": 1}]}]}), "authority"),
            (
                json!({"version": "1.0.0", "anyOf": [{"authority": A, "allOf": [{"claim": "c", "notEquals": 1}]}]}),
                "notEquals",
            ),
            (json!({"version": "1.0.0", "anyOf": [{"authority": A, "allOf": [{"claim": "c"}]}]}), "equals"),
            (json!({"version": "1.0.0", "anyOf": [{"authority": A, "allOf": [{"nope": []}]}]}), "nope"),
            (json!({"version": "1.0.0", "anyOf": [{"authority": A}]}), "anyOf"),
            (
                json!({"version": "1.0.0", "anyOf": [{"authority": A, "allOf": [{"claim": "a.".repeat(40) + "b", "equals": 1}]}]}),
                "segments",
            ),
        ];
        for (p, word) in cases {
            let e = policy(p.clone()).unwrap_err();
            assert!(e.0.contains(word), "{p}: {e}");
        }
    }
}
