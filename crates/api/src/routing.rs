//! Method + path → the row of the operation table (see `operations.rs` for the route syntax and
//! the rules), with the path's parameters.

use std::sync::OnceLock;

use axum::http::Method;
use strongbox_types::{Error, ErrorKind, Result};

use crate::context::PathParams;
use crate::operations::{Claim, OPERATIONS, Operation, REFUSED};

/// The literals that start the Managed HSM RBAC part of a path (after its `{scope}`).
const RBAC_WINDOW: [&str; 2] = ["providers", "Microsoft.Authorization"];

/// A request's row and parameters.
#[derive(Debug)]
pub struct Resolved {
    pub operation: &'static Operation,
    pub params: PathParams,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Segment {
    Literal(&'static str),
    Param(&'static str),
    /// `{scope}`: what precedes `/providers/Microsoft.Authorization`.
    Scope,
}

#[derive(Debug, Clone, Copy)]
enum Target {
    Operation(&'static Operation),
    Refused,
}

/// One route with its optional parts decided.
#[derive(Debug)]
struct Pattern {
    target: Target,
    methods: &'static str,
    claim: Claim,
    /// Without a leading [`Segment::Scope`].
    segments: Vec<Segment>,
    rbac: bool,
}

impl Pattern {
    fn takes(&self, method: &Method) -> bool {
        method_matches(self.methods, method)
    }

    fn fits(&self, segs: &[&str]) -> bool {
        self.segments.len() == segs.len()
            && self.segments.iter().zip(segs).all(|(p, s)| match p {
                Segment::Literal(l) => l.eq_ignore_ascii_case(s),
                Segment::Param(_) | Segment::Scope => true,
            })
    }

    /// Literal segments beat parameters, from the left.
    fn specificity(&self) -> Vec<bool> {
        self.segments.iter().map(|s| matches!(s, Segment::Literal(_))).collect()
    }
}

/// `*`, `A`, `A|B`, `!A`.
fn method_matches(spec: &str, method: &Method) -> bool {
    let m = method.as_str();
    match spec {
        "*" => true,
        _ => match spec.strip_prefix('!') {
            Some(not) => !not.split('|').any(|x| x == m),
            None => spec.split('|').any(|x| x == m),
        },
    }
}

/// `(method spec, path)` of a route.
fn split_route(route: &'static str) -> (&'static str, &'static str) {
    route.split_once(' ').unwrap_or(("", route))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Segment(&'static str),
    Open,
    Close,
}

fn tokens(path: &'static str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in path.char_indices() {
        if matches!(c, '/' | '[' | ']') {
            if let Some(s) = path.get(start..i).filter(|s| !s.is_empty()) {
                out.push(Token::Segment(s));
            }
            start = i + 1;
            match c {
                '[' => out.push(Token::Open),
                ']' => out.push(Token::Close),
                _ => {}
            }
        }
    }
    if let Some(s) = path.get(start..).filter(|s| !s.is_empty()) {
        out.push(Token::Segment(s));
    }
    out
}

/// Every segment list the optional parts (`[…]`, nested or not) allow.
fn expand(tokens: &[Token]) -> Vec<Vec<&'static str>> {
    let mut out: Vec<Vec<&'static str>> = vec![Vec::new()];
    let mut i = 0;
    while let Some(t) = tokens.get(i) {
        match t {
            Token::Segment(s) => {
                out.iter_mut().for_each(|o| o.push(s));
                i += 1;
            }
            Token::Open => {
                let mut depth = 0usize;
                let mut end = tokens.len();
                for (j, t) in tokens.iter().enumerate().skip(i) {
                    match t {
                        Token::Open => depth += 1,
                        Token::Close => {
                            depth -= 1;
                            if depth == 0 {
                                end = j;
                                break;
                            }
                        }
                        Token::Segment(_) => {}
                    }
                }
                let inner = expand(tokens.get(i + 1..end).unwrap_or_default());
                out = out
                    .into_iter()
                    .flat_map(|o| {
                        let with: Vec<Vec<&'static str>> = inner.iter().map(|x| [o.as_slice(), x].concat()).collect();
                        std::iter::once(o).chain(with)
                    })
                    .collect();
                i = end + 1;
            }
            Token::Close => i += 1,
        }
    }
    out
}

fn segment(s: &'static str) -> Segment {
    match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
        Some("scope") => Segment::Scope,
        Some(name) => Segment::Param(name),
        None => Segment::Literal(s),
    }
}

fn compile(route: &'static str, target: Target, claim: Claim) -> Vec<Pattern> {
    let (methods, path) = split_route(route);
    expand(&tokens(path))
        .into_iter()
        .map(|segs| {
            let mut segments: Vec<Segment> = segs.into_iter().map(segment).collect();
            let rbac = segments.first() == Some(&Segment::Scope);
            if rbac {
                segments.remove(0);
            }
            Pattern { target, methods, claim, segments, rbac }
        })
        .collect()
}

/// The table as patterns, in table order (refusals last).
fn patterns() -> &'static [Pattern] {
    static PATTERNS: OnceLock<Vec<Pattern>> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        let ops = OPERATIONS.iter().flat_map(|op| compile(op.route, Target::Operation(op), op.claim));
        let refused = REFUSED.iter().flat_map(|r| compile(r, Target::Refused, Claim::Method));
        ops.chain(refused).collect()
    })
}

fn not_found() -> Error {
    Error::new(ErrorKind::RouteNotFound, "The requested path does not exist on this vault.")
}

fn method_not_allowed(method: &Method) -> Error {
    Error::new(ErrorKind::MethodNotAllowed, format!("The method {method} is not supported on this path."))
}

/// The row for `method` on the path `segs` (empty segments already dropped).
pub fn resolve(method: &Method, segs: &[&str]) -> Result<Resolved> {
    // A path through `/providers/Microsoft.Authorization/` is an RBAC path: its start is the scope.
    let window = segs.windows(2).position(|w| {
        w.first().is_some_and(|s| s.eq_ignore_ascii_case(RBAC_WINDOW[0]))
            && w.get(1).is_some_and(|s| s.eq_ignore_ascii_case(RBAC_WINDOW[1]))
    });
    let (rbac, scope, rest) = match window {
        Some(i) => (true, Some(format!("/{}", segs.get(..i).unwrap_or_default().join("/"))), segs.get(i..)),
        None => (false, None, Some(segs)),
    };
    let rest = rest.unwrap_or_default();
    let mut other_methods = false;
    // the most specific patterns that fit, in table order
    let mut best: Vec<&Pattern> = Vec::new();
    let mut best_rank: Vec<bool> = Vec::new();
    for p in patterns().iter().filter(|p| p.rbac == rbac && p.fits(rest)) {
        if p.claim == Claim::Method && !p.takes(method) {
            other_methods = true;
            continue;
        }
        let rank = p.specificity();
        if best.is_empty() || rank > best_rank {
            best = vec![p];
            best_rank = rank;
        } else if rank == best_rank {
            best.push(p);
        }
    }
    if best.is_empty() {
        return Err(not_found());
    }
    let Some(p) = best.into_iter().find(|p| p.takes(method)) else {
        return Err(method_not_allowed(method));
    };
    let Target::Operation(operation) = p.target else {
        return Err(method_not_allowed(method));
    };
    let mut values: Vec<(&'static str, String)> = p
        .segments
        .iter()
        .zip(rest)
        .filter_map(|(p, s)| match p {
            Segment::Param(name) => Some((*name, (*s).to_owned())),
            _ => None,
        })
        .collect();
    if let Some(scope) = scope {
        values.push(("scope", scope));
    }
    Ok(Resolved { operation, params: PathParams { values, other_methods } })
}

/// One request per route shape of the table (each optional part with and without), plus the
/// RBAC routes at narrower scopes: for tests that must cover every operation.
pub fn all_route_examples() -> Vec<(Method, String)> {
    let mut v: Vec<(Method, String)> = Vec::new();
    for op in OPERATIONS.iter().filter(|op| op.claim != Claim::Fallback) {
        let (methods, path) = split_route(op.route);
        let method = match methods {
            "*" => Method::GET,
            m => Method::from_bytes(m.as_bytes()).unwrap_or(Method::GET),
        };
        for segs in expand(&tokens(path)) {
            let first = segs.first().map(|s| s.to_ascii_lowercase()).unwrap_or_default();
            let example: Vec<&str> = segs.iter().filter_map(|s| example_value(&first, s)).collect();
            v.push((method.clone(), format!("/{}", example.join("/"))));
        }
    }
    for (m, p) in [
        (Method::GET, "/keys/providers/Microsoft.Authorization/roleAssignments"),
        (
            Method::GET,
            "/secrets/s/providers/Microsoft.Authorization/roleAssignments/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a",
        ),
        (
            Method::PUT,
            "/secrets/s/providers/Microsoft.Authorization/roleAssignments/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a",
        ),
    ] {
        v.push((m, p.to_owned()));
    }
    v
}

/// The example value of one route segment (`None`: the segment is left out, `{scope}` at `/`).
fn example_value(first: &str, seg: &'static str) -> Option<&'static str> {
    const ID: &str = "0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a";
    Some(match segment(seg) {
        Segment::Literal(l) => l,
        Segment::Scope => return None,
        Segment::Param("version") => "0123456789abcdef0123456789abcdef",
        Segment::Param("name") => match first {
            "secrets" | "deletedsecrets" => "a",
            "keys" | "deletedkeys" => "k",
            "certificates" | "deletedcertificates" => "c",
            _ => ID,
        },
        Segment::Param("issuer") => "i",
        Segment::Param("ca") => "ca",
        Segment::Param("vault") => "v",
        Segment::Param("group") => "g",
        Segment::Param(_) => ID,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_parts_expand() {
        let e = |p: &'static str| expand(&tokens(p)).into_iter().map(|s| s.join("/")).collect::<Vec<_>>();
        assert_eq!(e("/keys/{name}[/{version}]/sign"), ["keys/{name}/sign", "keys/{name}/{version}/sign"]);
        assert_eq!(e("/u[/{a}[/{b}]]"), ["u", "u/{a}", "u/{a}/{b}"]);
        assert_eq!(e("/a"), ["a"]);
    }

    #[test]
    fn method_specs() {
        assert!(method_matches("*", &Method::HEAD));
        assert!(method_matches("GET|DELETE", &Method::DELETE));
        assert!(!method_matches("GET|DELETE", &Method::PUT));
        assert!(method_matches("!POST", &Method::GET));
        assert!(!method_matches("!POST", &Method::POST));
    }

    /// Every route is well formed: a known method spec, a path from `/` (or `{scope}`),
    /// balanced brackets, parameters named.
    #[test]
    fn routes_are_well_formed() {
        let known = ["GET", "PUT", "POST", "PATCH", "DELETE", "*", "!POST"];
        for route in OPERATIONS.iter().map(|o| o.route).chain(REFUSED.iter().copied()) {
            let (m, path) = split_route(route);
            assert!(known.contains(&m), "{route}: method");
            assert!(path.starts_with('/') || path.starts_with("{scope}/"), "{route}: path");
            let depth = path.chars().try_fold(0i32, |d, c| match c {
                '[' => Some(d + 1),
                ']' if d > 0 => Some(d - 1),
                ']' => None,
                _ => Some(d),
            });
            assert_eq!(depth, Some(0), "{route}: brackets");
            for t in tokens(path) {
                if let Token::Segment(s) = t {
                    assert!(
                        !s.contains(['{', '}']) || (s.starts_with('{') && s.ends_with('}') && s.len() > 2),
                        "{route}"
                    );
                }
            }
        }
    }
}
