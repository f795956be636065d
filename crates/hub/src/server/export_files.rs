//! The files of one export, for the routes that answer with them: a private temporary folder
//! for the store to write into, and the JSON tables read back from it. Shared by the research
//! export (`rest.rs`, `export_zip.rs`) and a participant's own export (`me.rs`).

use std::collections::BTreeMap;
use std::path::PathBuf;

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

/// A fresh private directory for one export.
pub fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("synchub-export-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
