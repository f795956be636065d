//! The facilitator console at `/`, the join page at `/join` and their assets at `/assets/…`:
//! the Vite build in `ui/dist`, embedded in the binary at build time so a room needs no Node
//! (and no internet) at run time.
//!
//! Release builds carry the files inside the binary; debug builds read them from `ui/dist` on
//! each request (rust-embed's development mode), so `npm run build` shows up without
//! recompiling the hub. `SYNCHUB_UI_DIR` points a release binary at another build of the UI,
//! for working on the UI against a hub that was built earlier.

use std::borrow::Cow;
use std::path::{Component, Path, PathBuf};

use axum::body::Body;
use axum::extract::Path as UrlPath;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

use super::error::AppError;
use synchub_protocol::ErrorCode;

/// `ui/dist`, as built by `npm run --prefix ui build` and committed (so `cargo run` needs only
/// Rust). Missing only in a checkout where someone deleted it; the pages then say how to build it.
#[derive(RustEmbed)]
#[folder = "../../ui/dist"]
#[allow_missing = true]
struct Embedded;

/// Where the UI comes from for this process.
#[derive(Debug, Clone)]
enum Source {
    Embedded,
    Dir(PathBuf),
}

/// Read once: the environment does not change while the hub runs.
static SOURCE: std::sync::LazyLock<Source> =
    std::sync::LazyLock::new(|| match std::env::var_os("SYNCHUB_UI_DIR") {
        Some(dir) if !dir.is_empty() => Source::Dir(PathBuf::from(dir)),
        _ => Source::Embedded,
    });

/// One file of the UI build: its bytes and content type.
struct Asset {
    bytes: Cow<'static, [u8]>,
    content_type: String,
}

/// Looks up `relative` (e.g. `assets/console-1a2b.js`) in the UI build. Paths that try to leave
/// the build folder find nothing.
async fn asset(relative: &str) -> Option<Asset> {
    let relative = Path::new(relative);
    if !relative
        .components()
        .all(|component| matches!(component, Component::Normal(_)))
    {
        return None;
    }
    let content_type = mime_type(relative);
    match &*SOURCE {
        Source::Embedded => {
            let file = Embedded::get(relative.to_str()?)?;
            Some(Asset {
                bytes: file.data,
                content_type,
            })
        }
        Source::Dir(dir) => {
            let path = dir.join(relative);
            let bytes = tokio::task::spawn_blocking(move || std::fs::read(path))
                .await
                .ok()?
                .ok()?;
            Some(Asset {
                bytes: Cow::Owned(bytes),
                content_type,
            })
        }
    }
}

fn mime_type(path: &Path) -> String {
    match path.extension().and_then(|extension| extension.to_str()) {
        Some("html") => "text/html; charset=utf-8".to_owned(),
        Some("js" | "mjs") => "text/javascript; charset=utf-8".to_owned(),
        Some("css") => "text/css; charset=utf-8".to_owned(),
        Some("svg") => "image/svg+xml".to_owned(),
        Some("png") => "image/png".to_owned(),
        Some("ico") => "image/x-icon".to_owned(),
        Some("json" | "webmanifest") => "application/json".to_owned(),
        Some("woff2") => "font/woff2".to_owned(),
        _ => "application/octet-stream".to_owned(),
    }
}

/// The console.
pub async fn index() -> Response {
    page("index.html").await
}

/// The join page (`?room=CODE` is read by the page itself).
pub async fn join() -> Response {
    page("join.html").await
}

/// `/assets/{*file}`: content-hashed names, so browsers may keep them forever.
pub async fn assets(UrlPath(file): UrlPath<String>) -> Response {
    match asset(&format!("assets/{file}")).await {
        Some(found) => respond(found, "public, max-age=31536000, immutable"),
        None => AppError::api(
            ErrorCode::NotFound,
            "no such file in the web console's build",
        )
        .into_response(),
    }
}

/// Other files at the root of the build (the favicon, the manifest).
pub async fn root_file(UrlPath(file): UrlPath<String>) -> Response {
    match asset(&file).await {
        Some(found) => respond(found, "no-cache"),
        None => AppError::api(ErrorCode::NotFound, "no such route").into_response(),
    }
}

async fn page(name: &str) -> Response {
    match asset(name).await {
        // Pages are small and name the current asset hashes: always revalidate.
        Some(found) => respond(found, "no-cache"),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!(
                "This hub was built without its web console ({name} is missing from ui/dist). \
                 Build it with `npm ci --prefix ui && npm run --prefix ui build`, then rebuild the hub, \
                 or start the hub with SYNCHUB_UI_DIR pointing at a built ui/dist.\n"
            ),
        )
            .into_response(),
    }
}

fn respond(asset: Asset, cache_control: &'static str) -> Response {
    let mut response = Response::new(Body::from(asset.bytes));
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&asset.content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn paths_that_leave_the_build_folder_find_nothing() {
        for path in [
            "../Cargo.toml",
            "/etc/passwd",
            "assets/../../Cargo.toml",
            "",
        ] {
            assert!(asset(path).await.is_none(), "{path}");
        }
    }

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(
            mime_type(Path::new("assets/console-1a2b.js")),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            mime_type(Path::new("join.html")),
            "text/html; charset=utf-8"
        );
        assert_eq!(
            mime_type(Path::new("assets/x.bin")),
            "application/octet-stream"
        );
    }
}
