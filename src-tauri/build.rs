//! Embeds the console (`frontendDist`) and the icons, and generates one permission per app
//! command so `capabilities/console.json` can allow exactly the four commands the console calls
//! and nothing else.

fn main() {
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(
        tauri_build::AppManifest::new().commands(&[
            "hub_connection",
            "list_monitors",
            "open_projector",
            "hub_restarts",
        ]),
    ))
    .expect("tauri-build failed");
}
