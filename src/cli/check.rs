//! `portcullis check`: one judgement, printed as verdict claims (unsigned).

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use portcullis::assemble;
use portcullis::documents::Expect;
use portcullis::judge::{self, JudgeRequest};
use portcullis::kind::{Kind, Outcome, Profile};
use portcullis::verdict::{Claims, VerdictInput, new_jti};

use super::{EXIT_NOT_OK, EXIT_OK, usage_error};

/// `aud` of claims printed by the CLI.
const CLI_AUDIENCE: &str = "cli";

/// Parses `--expect resource=URL` / `issuer=URL` pairs (shared with `validate`).
pub(super) fn parse_expect(pairs: &[String]) -> Result<Expect, String> {
    let mut expect = Expect::default();
    for pair in pairs {
        match pair.split_once('=') {
            Some(("resource", v)) => expect.resource = Some(v.to_owned()),
            Some(("issuer", v)) => expect.issuer = Some(v.to_owned()),
            _ => {
                return Err(format!(
                    "--expect takes resource=URL or issuer=URL, not {pair:?}"
                ));
            }
        }
    }
    Ok(expect)
}

pub async fn run(
    url: &str,
    kind: Kind,
    expect: &[String],
    profile: Option<Profile>,
    config: Option<&Path>,
    json: bool,
) -> u8 {
    if let Err(e) = url::Url::parse(url) {
        let hint = if e == url::ParseError::RelativeUrlWithoutBase {
            format!(" (did you mean https://{url}/ ?)")
        } else {
            String::new()
        };
        return usage_error(format!("check takes a URL; {url:?} is not one: {e}{hint}"));
    }
    let expect = match parse_expect(expect) {
        Ok(e) => e,
        Err(e) => return usage_error(e),
    };
    let (config, fetcher) = match assemble::load_fetcher(config) {
        Ok(loaded) => loaded,
        Err(e) => return usage_error(e),
    };
    let request = JudgeRequest {
        kind,
        url: url.to_owned(),
        expect: Expect { profile, ..expect },
    };
    let judgement = judge::judge(&fetcher, &config, &request).await;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let lifetime = config.signing.trust_s;
    let claims = Claims::build(
        VerdictInput {
            issuer: &config.signing.issuer,
            audience: CLI_AUDIENCE,
            url,
            kind,
            profile: Some(profile.unwrap_or(config.documents.profile)),
            outcome: judgement.outcome,
            problems: judgement.problems.clone(),
            fetch: Some(judgement.facts.clone()),
            body: judgement.body.as_deref(),
            document: judgement.document.clone(),
        },
        now,
        lifetime,
        new_jti(&mut rand::rngs::OsRng),
    );
    if json {
        match serde_json::to_string(&claims) {
            Ok(text) => println!("{text}"),
            Err(e) => return usage_error(format!("cannot print claims: {e}")),
        }
    } else {
        print_summary(&claims);
    }
    if judgement.outcome == Outcome::Valid {
        EXIT_OK
    } else {
        EXIT_NOT_OK
    }
}

/// Prints claims for people (shared with `validate`).
pub(super) fn print_summary(claims: &Claims) {
    println!("outcome:  {}", claims.outcome);
    println!("url:      {}", claims.url);
    println!("kind:     {}", claims.kind);
    if let Some(fetch) = &claims.fetch {
        if fetch.final_url != claims.url {
            println!("final:    {}", fetch.final_url);
        }
        if let Some(address) = &fetch.address {
            println!("address:  {address}");
        }
        if let Some(status) = fetch.status {
            println!(
                "status:   {status} ({} bytes, {} ms)",
                fetch.bytes, fetch.elapsed_ms
            );
        }
        for hop in &fetch.redirects {
            println!("redirect: {} {} -> {}", hop.status, hop.from, hop.to);
        }
    }
    for problem in &claims.problems {
        let at = problem
            .at
            .as_deref()
            .map(|a| format!(" at {a}"))
            .unwrap_or_default();
        println!(
            "{:?}: {}{at}: {}",
            problem.severity, problem.code, problem.detail
        );
    }
}
