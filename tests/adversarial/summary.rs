//! The results of every check and the per-category summary printed at the end.

use super::*;

#[derive(Default)]
pub(crate) struct Results {
    /// (category, case, driver, error if failed)
    pub(crate) rows: Vec<(Category, String, &'static str, Option<String>)>,
}

impl Results {
    pub(crate) fn record(
        &mut self,
        cat: Category,
        name: &str,
        driver: &'static str,
        r: Result<(), String>,
    ) {
        if let Err(e) = &r {
            println!("FAIL [{}] {name} ({driver}): {e}", cat.label());
        }
        self.rows.push((cat, name.to_owned(), driver, r.err()));
    }

    pub(crate) fn summary(&self) -> (String, usize) {
        let mut per: BTreeMap<Category, (std::collections::BTreeSet<String>, usize, usize)> =
            BTreeMap::new();
        let mut failed = 0;
        for (cat, name, _, err) in &self.rows {
            let entry = per.entry(*cat).or_default();
            entry.0.insert(name.clone());
            entry.1 += 1;
            if err.is_some() {
                entry.2 += 1;
                failed += 1;
            }
        }
        let mut text = String::from(
            "\n== sealed catalogue summary\ncategory            cases  checks  failed\n",
        );
        let (mut cases, mut checks) = (0, 0);
        for (cat, (names, n, f)) in &per {
            text.push_str(&format!(
                "{:<18} {:>6} {:>7} {:>7}\n",
                cat.label(),
                names.len(),
                n,
                f
            ));
            cases += names.len();
            checks += n;
        }
        text.push_str(&format!(
            "{:<18} {:>6} {:>7} {:>7}\n",
            "total", cases, checks, failed
        ));
        (text, failed)
    }
}
