//! Command-line interface. Exit codes are a contract: 0 valid/allow, 1 any other outcome
//! or block, 2 usage or configuration error.

mod check;
mod config_check;
#[cfg(feature = "lab")]
mod demo;
mod explain;
mod keygen;
mod serve;
mod token;
mod validate;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use portcullis::config::LogFormat;
use portcullis::kind::{Kind, Profile};

/// `--version`: the crate version, the commit it was built from, and the hash of the rules
/// compiled in, so an operator can tell which default rules a binary enforces.
pub fn version_line() -> String {
    format!(
        "{} (commit {}, embedded rules sha256 {})",
        env!("CARGO_PKG_VERSION"),
        portcullis::assemble::BUILD_COMMIT,
        portcullis::policy::RulesFile::embedded_hash()
    )
}

/// Exit code for `valid` / `allow`.
pub const EXIT_OK: u8 = 0;
/// Exit code for any other outcome / `block`.
pub const EXIT_NOT_OK: u8 = 1;
/// Exit code for usage and configuration errors.
pub const EXIT_USAGE: u8 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "portcullis",
    version = version_line(),
    about = "Hardened egress fetcher and metadata validator for OAuth/MCP authorization servers"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// How `check` and `validate` judge a document and print the result.
#[derive(clap::Args, Debug)]
struct Judging {
    /// Expectations: resource=URL or issuer=URL (repeatable).
    #[arg(long = "expect", value_name = "KEY=VALUE")]
    expect: Vec<String>,
    /// Rule book: oauth, mcp or atproto (default: the config's [documents] profile).
    #[arg(long)]
    profile: Option<Profile>,
    /// Config file (TOML); default: the embedded defaults.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Print one JSON object instead of a summary.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Fetch one URL under every rule, validate it, and print the verdict claims.
    Check {
        /// The https URL to fetch.
        url: String,
        /// What the document should be.
        #[arg(long, default_value = "json")]
        kind: Kind,
        #[command(flatten)]
        judging: Judging,
    },
    /// Validate a local document (file or `-` for stdin) without any network access.
    Validate {
        /// The document file, or `-` for stdin.
        file: String,
        /// What the document should be.
        #[arg(long)]
        kind: Kind,
        /// The URL it is (or will be) served from; default: its own client_id/resource/issuer.
        #[arg(long)]
        url: Option<String>,
        #[command(flatten)]
        judging: Judging,
    },
    /// Apply the URL, host and address rules to a URL, host name or IP address, without fetching.
    Explain {
        /// URL, host name or IP address.
        target: String,
        /// Config file (TOML).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Also resolve a host name with the configured resolver and judge its addresses
        /// (DNS only; nothing is fetched).
        #[arg(long)]
        resolve: bool,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Run the verdict service (default: 127.0.0.1:8787, embedded config). SIGHUP reloads
    /// the config file; SIGTERM stops gracefully.
    Serve {
        /// Config file (TOML).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Service log format: text or json (default: $PORTCULLIS_LOG_FORMAT, then
        /// [log] format, then text). RUST_LOG filters, e.g. RUST_LOG=portcullis=debug.
        #[arg(long, value_name = "FORMAT")]
        log_format: Option<LogFormat>,
    },
    /// Configuration commands.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Mint a caller bearer token and print it with its token_sha256 for the config.
    Token {
        /// Caller name for the printed [[server.callers]] entry.
        #[arg(long, default_value = "my-auth-server")]
        name: String,
    },
    /// Write a new signing key (PKCS#8 PEM, mode 0600).
    Keygen {
        /// Where to write it (must not exist).
        #[arg(long)]
        out: PathBuf,
        /// ES256 (the default), Ed25519 (RFC 9864 name) or EdDSA (RFC 8037 name).
        #[arg(long, default_value = "ES256")]
        alg: String,
    },
    /// Start a local DNS responder and TLS origin and show what Portcullis stops.
    Demo,
}

#[derive(Subcommand, Debug)]
enum ConfigCommand {
    /// Load everything `serve` would (config, rules layers, key files, trust roots, listen
    /// address, callers) and print a summary; exit 2 naming the file and line on any error.
    Check {
        /// Config file (TOML); default: the embedded defaults.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

/// Runs a command and returns its exit code.
pub async fn run(cli: Cli) -> u8 {
    match cli.command {
        Command::Check { url, kind, judging } => {
            let Judging {
                expect,
                profile,
                config,
                json,
            } = judging;
            check::run(&url, kind, &expect, profile, config.as_deref(), json).await
        }
        Command::Validate {
            file,
            kind,
            url,
            judging,
        } => validate::run(&validate::Args {
            file: &file,
            kind,
            url: url.as_deref(),
            expect: &judging.expect,
            profile: judging.profile,
            config: judging.config.as_deref(),
            json: judging.json,
        }),
        Command::Explain {
            target,
            config,
            resolve,
            json,
        } => explain::run(&target, config.as_deref(), resolve, json).await,
        Command::Serve { config, log_format } => serve::run(config.as_deref(), log_format).await,
        Command::Config {
            command: ConfigCommand::Check { config },
        } => config_check::run(config.as_deref()),
        Command::Token { name } => token::run(&name),
        Command::Keygen { out, alg } => keygen::run(&out, &alg),
        #[cfg(feature = "lab")]
        Command::Demo => demo::run().await,
        #[cfg(not(feature = "lab"))]
        Command::Demo => usage_error(
            "demo is not built in: this binary was built without the `lab` feature \
             (a deployment build); build with default features to run it",
        ),
    }
}

/// Prints a usage/config error and returns the usage exit code.
pub fn usage_error(message: impl std::fmt::Display) -> u8 {
    eprintln!("portcullis: {message}");
    EXIT_USAGE
}
