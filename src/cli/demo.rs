//! `portcullis demo`: placeholder until the demo lands.

use super::usage_error;

pub async fn run() -> u8 {
    usage_error("demo is not built yet")
}
