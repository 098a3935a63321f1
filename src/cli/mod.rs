//! Command-line interface. Exit codes are a contract: 0 valid/allow, 1 any other outcome
//! or block, 2 usage or configuration error.

mod check;
mod demo;
mod explain;
mod keygen;
mod serve;
mod validate;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use portcullis::kind::{Kind, Profile};

/// Exit code for `valid` / `allow`.
pub const EXIT_OK: u8 = 0;
/// Exit code for any other outcome / `block`.
pub const EXIT_NOT_OK: u8 = 1;
/// Exit code for usage and configuration errors.
pub const EXIT_USAGE: u8 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "portcullis",
    version,
    about = "Hardened egress fetcher and metadata validator for OAuth/MCP authorization servers"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
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
    },
    /// Apply the URL, host and address rules to a URL, host name or IP address, without fetching.
    Explain {
        /// URL, host name or IP address.
        target: String,
        /// Config file (TOML).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Run the verdict service (default: 127.0.0.1:8787, embedded config).
    Serve {
        /// Config file (TOML).
        #[arg(long)]
        config: Option<PathBuf>,
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

/// Runs a command and returns its exit code.
pub async fn run(cli: Cli) -> u8 {
    match cli.command {
        Command::Check {
            url,
            kind,
            expect,
            profile,
            config,
            json,
        } => check::run(&url, kind, &expect, profile, config.as_deref(), json).await,
        Command::Validate {
            file,
            kind,
            url,
            expect,
            profile,
            config,
            json,
        } => validate::run(&validate::Args {
            file: &file,
            kind,
            url: url.as_deref(),
            expect: &expect,
            profile,
            config: config.as_deref(),
            json,
        }),
        Command::Explain {
            target,
            config,
            json,
        } => explain::run(&target, config.as_deref(), json).await,
        Command::Serve { config } => serve::run(config.as_deref()).await,
        Command::Keygen { out, alg } => keygen::run(&out, &alg),
        Command::Demo => demo::run().await,
    }
}

/// Prints a usage/config error and returns the usage exit code.
pub fn usage_error(message: impl std::fmt::Display) -> u8 {
    eprintln!("portcullis: {message}");
    EXIT_USAGE
}
