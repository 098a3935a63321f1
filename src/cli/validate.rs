//! `portcullis validate`: the document validators on a local file or stdin, with no network
//! at all (no resolver, no socket) — for client developers checking a metadata document
//! before publishing it, and for CI pipelines. URLs inside the document are judged by the
//! same egress rules as a served request, which are pure policy checks.
//!
//! Without `--url` the document is judged against itself: a client metadata document
//! against its own `client_id`, protected resource metadata against its own `resource`,
//! authorization server metadata against its own `issuer` (a note on stderr says so).

use std::io::Read as _;
use std::path::Path;

use portcullis::assemble;
use portcullis::documents::{self, Context, Expect};
use portcullis::judge::PolicyUrlRules;
use portcullis::kind::{Kind, Profile};
use portcullis::problem::{Problem, any_error};
use portcullis::verdict::body_sha256;
use serde_json::{Value, json};

use super::check::parse_expect;
use super::{EXIT_NOT_OK, EXIT_OK, usage_error};

/// Stands in for the URL a document was fetched from when there is none (JWKS, plain JSON,
/// or a document judged against itself). Never fetched: `.invalid` cannot resolve (RFC 6761).
const NO_URL: &str = "https://offline.invalid/";

/// What `validate` was asked to do.
pub struct Args<'a> {
    /// A file path, or `-` for stdin.
    pub file: &'a str,
    /// The document kind.
    pub kind: Kind,
    /// The URL the document is (or will be) served from.
    pub url: Option<&'a str>,
    /// `resource=…` / `issuer=…` pairs.
    pub expect: &'a [String],
    /// Profile; absent: the config's `[documents] profile`.
    pub profile: Option<Profile>,
    /// Config file (for rules, limits and the default profile).
    pub config: Option<&'a Path>,
    /// One JSON object instead of a summary.
    pub json: bool,
}

/// Reads at most `cap + 1` bytes, so an oversized file is reported without being held whole.
fn read_input(file: &str, cap: u64) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    if file == "-" {
        std::io::stdin().take(cap + 1).read_to_end(&mut buf)?;
    } else {
        std::fs::File::open(file)?
            .take(cap + 1)
            .read_to_end(&mut buf)?;
    }
    Ok(buf)
}

/// The URL and expectations a document is judged against when no `--url` is given.
fn self_reference(kind: Kind, body: &[u8], expect: &mut Expect) -> Option<String> {
    let doc: Value = serde_json::from_slice(body).ok()?;
    let member = |name: &str| doc.get(name).and_then(Value::as_str).map(str::to_owned);
    match kind {
        Kind::ClientMetadata => member("client_id"),
        Kind::ProtectedResourceMetadata => {
            let resource = member("resource")?;
            if expect.resource.is_none() {
                expect.resource = Some(resource);
            }
            None
        }
        Kind::AuthorizationServerMetadata => {
            let issuer = member("issuer")?;
            if expect.issuer.is_none() {
                expect.issuer = Some(issuer);
            }
            None
        }
        Kind::Json | Kind::Jwks => None,
    }
}

pub fn run(args: &Args<'_>) -> u8 {
    let mut expect = match parse_expect(args.expect) {
        Ok(e) => e,
        Err(e) => return usage_error(e),
    };
    let config = match assemble::load_config(args.config) {
        Ok(c) => c,
        Err(e) => return usage_error(e),
    };
    let policy = match assemble::build_policy(&config, &[]) {
        Ok(p) => p,
        Err(e) => return usage_error(e),
    };
    let cap = config.limits.max_body_bytes.for_kind(args.kind);
    let body = match read_input(args.file, cap) {
        Ok(b) => b,
        Err(e) => return usage_error(format!("cannot read {}: {e}", args.file)),
    };
    let profile = args.profile.unwrap_or(config.documents.profile);
    expect.profile = Some(profile);

    let mut problems: Vec<Problem> = Vec::new();
    let mut document = None;
    if body.len() as u64 > cap {
        problems.push(Problem::error(
            portcullis::fetch::codes::BODY_TOO_LARGE,
            format!(
                "the document is larger than the {cap}-byte cap for {} (the service would refuse it)",
                args.kind
            ),
        ));
    } else {
        let url = match args.url {
            Some(u) => u.to_owned(),
            None => {
                let own = self_reference(args.kind, &body, &mut expect);
                if matches!(
                    args.kind,
                    Kind::ClientMetadata
                        | Kind::ProtectedResourceMetadata
                        | Kind::AuthorizationServerMetadata
                ) {
                    eprintln!(
                        "portcullis: no --url: the document is judged against its own identifier"
                    );
                }
                own.unwrap_or_else(|| NO_URL.to_owned())
            }
        };
        let rules = PolicyUrlRules(&policy);
        let ctx = Context::new(&rules, &config.documents);
        let validated = documents::validate(args.kind, &url, &body, &expect, &ctx);
        problems.extend(validated.problems);
        document = validated.document;
    }
    let outcome = if any_error(&problems) {
        "invalid"
    } else {
        "valid"
    };
    if args.json {
        let mut report = json!({
            "outcome": outcome,
            "kind": args.kind,
            "profile": profile,
            "sha256": body_sha256(&body),
            "problems": problems,
        });
        if let Some(url) = args.url {
            report["url"] = json!(url);
        }
        if let Some(doc) = document {
            report["document"] = doc;
        }
        println!("{report}");
    } else {
        println!("outcome:  {outcome}");
        println!("kind:     {}", args.kind);
        println!("profile:  {profile}");
        if let Some(url) = args.url {
            println!("url:      {url}");
        }
        for problem in &problems {
            let at = problem
                .at
                .as_deref()
                .map(|a| format!(" at {a}"))
                .unwrap_or_default();
            let by = problem
                .profile
                .map(|p| format!(" [{p}]"))
                .unwrap_or_default();
            println!(
                "{:?}: {}{at}{by}: {}",
                problem.severity, problem.code, problem.detail
            );
        }
    }
    if outcome == "valid" {
        EXIT_OK
    } else {
        EXIT_NOT_OK
    }
}
