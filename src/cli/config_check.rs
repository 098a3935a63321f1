//! `portcullis config check`: everything `serve` would load, checked, then a summary. Run it
//! before a reload (SIGHUP) or a deploy; a reload refuses the same errors.

use std::path::Path;

use portcullis::assemble;

use super::{EXIT_OK, usage_error};

pub fn run(config: Option<&Path>) -> u8 {
    match assemble::load(config, None) {
        Ok(loaded) => {
            for line in loaded.summary() {
                println!("{line}");
            }
            println!("ok");
            EXIT_OK
        }
        Err(e) => usage_error(e),
    }
}
