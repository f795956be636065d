//! The committed JSON Schemas under `docs/protocol/schema/` are exactly what the types
//! generate. Refresh them with `SYNCHUB_UPDATE_SCHEMA=1 cargo test -p synchub-protocol`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use synchub_protocol::schema::schema_files;

fn schema_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/protocol/schema")
}

#[test]
fn committed_schemas_are_current() {
    let dir = schema_dir();
    let files = schema_files();
    if std::env::var_os("SYNCHUB_UPDATE_SCHEMA").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for file in &files {
            std::fs::write(dir.join(&file.file_name), file.contents()).unwrap();
        }
        let generated: BTreeSet<&str> = files.iter().map(|file| file.file_name.as_str()).collect();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            if name.ends_with(".json") && !generated.contains(name.as_str()) {
                std::fs::remove_file(dir.join(&name)).unwrap();
            }
        }
        eprintln!("rewrote {} schemas in {}", files.len(), dir.display());
    }
    let refresh = "refresh with: SYNCHUB_UPDATE_SCHEMA=1 cargo test -p synchub-protocol";
    let mut stale = Vec::new();
    for file in &files {
        let committed = std::fs::read_to_string(dir.join(&file.file_name)).unwrap_or_default();
        if committed != file.contents() {
            stale.push(file.file_name.clone());
        }
    }
    let generated: BTreeSet<String> = files.iter().map(|file| file.file_name.clone()).collect();
    let extra: Vec<String> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok())
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .filter(|name| name.ends_with(".json") && !generated.contains(name))
                .collect()
        })
        .unwrap_or_default();
    assert!(
        stale.is_empty() && extra.is_empty(),
        "docs/protocol/schema is stale: changed or missing {stale:?}, no longer generated {extra:?}; {refresh}"
    );
}

#[test]
fn schemas_describe_the_wire_names() {
    let files = schema_files();
    let text = |name: &str| {
        files
            .iter()
            .find(|file| file.file_name == name)
            .unwrap_or_else(|| panic!("no schema {name}"))
            .contents()
    };
    let joined = text("hub.session_joined.json");
    for field in [
        "sessionId",
        "startedAt",
        "groupMetrics",
        "audioTrack",
        "resumeToken",
        "phaseEndsAt",
    ] {
        assert!(
            joined.contains(&format!("\"{field}\"")),
            "session_joined schema lacks {field}"
        );
    }
    let rr = text("client.rr_intervals.json");
    assert!(
        rr.contains("\"maxItems\": 300"),
        "rr_intervals schema states the 300-beat limit"
    );
    let join = text("client.join_session.json");
    assert!(
        join.contains("\"anyOf\""),
        "join_session schema accepts both intention shapes"
    );
}
