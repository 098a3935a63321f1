//! Catalogue bookkeeping: categories, the expected outcome of a case, and checking a fetch report against it.

use super::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Category {
    AddressSpellings,
    UrlConfusion,
    Dns,
    Redirects,
    HostileOrigins,
    Callers,
}

impl Category {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Category::AddressSpellings => "address spellings",
            Category::UrlConfusion => "url confusion",
            Category::Dns => "dns",
            Category::Redirects => "redirects",
            Category::HostileOrigins => "hostile origins",
            Category::Callers => "callers",
        }
    }
}

/// Expected outcome of a fetch case: status and the exact set of problem codes.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Want {
    /// Fetched from the allowed public address.
    Fetched,
    /// Refused by policy before any byte went to that target.
    Blocked(&'static [&'static str]),
    /// Stopped by DNS, TLS, HTTP, a cap or a deadline.
    Unreachable(&'static [&'static str]),
    /// Fetched, then refused by the document validator (judge, kind `json`).
    Invalid(&'static [&'static str]),
}

pub(crate) struct FetchCase {
    pub(crate) cat: Category,
    pub(crate) name: String,
    pub(crate) url: String,
    pub(crate) want: Want,
    pub(crate) max_body: u64,
    pub(crate) follow: bool,
    /// Cross-check with `portcullis explain` (policy-only cases).
    pub(crate) explain: bool,
}

pub(crate) fn case(cat: Category, name: &str, url: impl Into<String>, want: Want) -> FetchCase {
    let url = url.into();
    // (A NUL byte cannot be passed as a command-line argument.)
    let explain = matches!(
        cat,
        Category::AddressSpellings | Category::UrlConfusion | Category::Dns
    ) && !matches!(want, Want::Unreachable(_) | Want::Invalid(_))
        && !url.contains('\0');
    FetchCase {
        cat,
        name: name.to_owned(),
        url,
        want,
        max_body: 64 * 1024,
        follow: true,
        explain,
    }
}

pub(crate) fn sorted_codes<'a>(codes: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut v: Vec<String> = codes.into_iter().map(str::to_owned).collect();
    v.sort();
    v.dedup();
    v
}

pub(crate) fn want_codes(codes: &[&str]) -> Vec<String> {
    sorted_codes(codes.iter().copied())
}

pub(crate) fn report_codes(report: &FetchReport) -> Vec<String> {
    sorted_codes(report.problems.iter().map(|p| p.code.as_str()))
}

/// Longest any single case may take: the total fetch deadline plus slack.
pub(crate) const CASE_BOUND: Duration = Duration::from_millis(4_500);

pub(crate) fn check_report(
    want: Want,
    report: &FetchReport,
    elapsed: Duration,
) -> Result<(), String> {
    if elapsed > CASE_BOUND {
        return Err(format!("took {elapsed:?}, beyond {CASE_BOUND:?}"));
    }
    let got = report_codes(report);
    match want {
        Want::Fetched => {
            if report.status != FetchStatus::Fetched {
                return Err(format!("want fetched, got {:?} {got:?}", report.status));
            }
            let public = SocketAddr::new(PUBLIC, 0).ip();
            match report.facts.address.as_deref() {
                Some(a) if a.parse::<SocketAddr>().is_ok_and(|s| s.ip() == public) => Ok(()),
                other => Err(format!("fetched from {other:?}, not {PUBLIC}")),
            }
        }
        Want::Blocked(codes) | Want::Unreachable(codes) => {
            let status = if matches!(want, Want::Blocked(_)) {
                FetchStatus::Blocked
            } else {
                FetchStatus::Unreachable
            };
            if report.status != status || got != want_codes(codes) {
                return Err(format!(
                    "want {status:?} {:?}, got {:?} {got:?} ({:?})",
                    want_codes(codes),
                    report.status,
                    report
                        .problems
                        .iter()
                        .map(|p| &p.detail)
                        .collect::<Vec<_>>()
                ));
            }
            // Only earlier redirect hops connected, and only to the public origin; the
            // refused target never was.
            let public = format!("{PUBLIC}:");
            if let Some(hop) = report.hops.iter().find(|h| {
                h.connected
                    .as_ref()
                    .is_some_and(|a| !a.starts_with(&public))
            }) {
                return Err(format!("connected to a non-public address: {hop:?}"));
            }
            if status == FetchStatus::Blocked
                && report.hops.len() > report.facts.redirects.len()
                && report.hops.last().is_some_and(|h| h.connected.is_some())
            {
                return Err(format!("blocked, yet connected: {:?}", report.hops.last()));
            }
            Ok(())
        }
        Want::Invalid(_) => Err("invalid cases go through the judge".into()),
    }
}

// ------------------------------------------------------------------ the lab
