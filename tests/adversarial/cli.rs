//! The `check` CLI against the sealed lab.

use super::*;

pub(crate) async fn cli_check_cases(lab: &SealedLab, config: &Path, results: &mut Results) {
    type CliRun = (
        Category,
        &'static str,
        &'static str,
        i32,
        &'static str,
        &'static [&'static str],
    );
    let runs: [CliRun; 5] = [
        (
            Category::Redirects,
            "cli-check-relative-redirect",
            "https://good.test/r/relative",
            0,
            "valid",
            &[],
        ),
        (
            Category::Redirects,
            "cli-check-redirect-to-metadata",
            "https://good.test/r/meta",
            1,
            "blocked",
            &["cloud_metadata"],
        ),
        (
            Category::Dns,
            "cli-check-name-to-v6-metadata",
            "https://v6meta.test/",
            1,
            "blocked",
            &["cloud_metadata"],
        ),
        (
            Category::HostileOrigins,
            "cli-check-gzip-bomb",
            "https://good.test/gzip-bomb",
            1,
            "unreachable",
            &["content_encoding_not_allowed"],
        ),
        (
            Category::AddressSpellings,
            "cli-check-decimal-metadata",
            "https://2852039166/",
            1,
            "blocked",
            &["cloud_metadata"],
        ),
    ];
    for (cat, name, url, want_exit, outcome, codes) in runs {
        let (code, out, err) = run_cli(vec![
            "check".into(),
            url.into(),
            "--config".into(),
            config.display().to_string(),
            "--json".into(),
        ])
        .await;
        let r = serde_json::from_str::<serde_json::Value>(out.trim())
            .map_err(|e| format!("exit {code}: {e}: {out}{err}"))
            .and_then(|v| {
                let got = sorted_codes(
                    v["problems"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|p| p["code"].as_str()),
                );
                if code == want_exit && v["outcome"] == outcome && got == want_codes(codes) {
                    Ok(())
                } else {
                    Err(format!("exit {code}, {} {got:?}", v["outcome"]))
                }
            });
        results.record(cat, name, "cli", r);
    }
    let _ = lab;
}
