//! The files of one export, for the routes that answer with them: a private temporary folder
//! for the store to write into, and the JSON tables read back from it. Shared by the research
//! export (`rest.rs`, `export_zip.rs`) and a participant's own export (`me.rs`).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

/// The tables of a JSON export, by name.
pub fn read_json_tables(
    report: &synchub_store::ExportReport,
) -> anyhow::Result<BTreeMap<String, Value>> {
    let mut tables = BTreeMap::new();
    for file in &report.files {
        if file
            .extension()
            .is_some_and(|extension| extension == "json")
            && let Some(name) = file.file_stem().and_then(|stem| stem.to_str())
        {
            let text = std::fs::read_to_string(file)?;
            tables.insert(name.to_owned(), serde_json::from_str::<Value>(&text)?);
        }
    }
    Ok(tables)
}

/// Runs `work` with a fresh temporary directory that only this user can open (mode 0700 on
/// Unix: an export holds heart data), and removes the directory and everything in it when
/// `work` returns, fails or panics.
pub fn in_private_temp_dir<T>(work: impl FnOnce(&Path) -> anyhow::Result<T>) -> anyhow::Result<T> {
    let mut builder = tempfile::Builder::new();
    builder.prefix("synchub-export-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        builder.permissions(std::fs::Permissions::from_mode(0o700));
    }
    let dir = builder.tempdir()?;
    // `dir` is removed when dropped, also while unwinding from a panic in `work`.
    work(dir.path())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_directory_is_private_and_gone_afterwards_even_after_a_failure_or_a_panic() {
        let mut seen = Vec::new();
        let answer = in_private_temp_dir(|dir| {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                let mode = std::fs::metadata(dir)?.permissions().mode() & 0o777;
                assert_eq!(mode, 0o700, "private from its creation");
            }
            std::fs::write(dir.join("beats.json"), "[]")?;
            seen.push(dir.to_path_buf());
            Ok(42)
        })
        .expect("the work succeeds");
        assert_eq!(answer, 42);

        let failed = in_private_temp_dir(|dir| -> anyhow::Result<()> {
            std::fs::write(dir.join("beats.csv"), "half a table")?;
            seen.push(dir.to_path_buf());
            anyhow::bail!("the export failed half-way")
        });
        assert!(failed.is_err());

        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            in_private_temp_dir(|dir| -> anyhow::Result<()> {
                std::fs::write(dir.join("beats.parquet"), "x")?;
                seen.push(dir.to_path_buf());
                panic!("a bug in the export")
            })
        }));
        assert!(panicked.is_err());

        assert_eq!(seen.len(), 3);
        for dir in &seen {
            assert!(!dir.exists(), "{} was removed", dir.display());
        }
    }
}
