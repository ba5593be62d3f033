//! The `easel-image:` URI scheme the window loads images through, in place
//! of Tauri's asset protocol: that one's run-time scope can allow folders
//! but not kinds of file, while this serves only what `ImageScope` allows
//! (image files directly in the thumbnail cache and the dated library
//! folders), never a symlink, read off the UI thread.

use crate::image_scope::{content_type, ImageScope};
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use tauri::http::{header, Request, Response, StatusCode};
use tauri::{Manager, Runtime, UriSchemeContext, UriSchemeResponder};

pub const SCHEME: &str = "easel-image";

/// The protocol handler, for `Builder::register_asynchronous_uri_scheme_protocol`.
pub fn handle<R: Runtime>(
    ctx: UriSchemeContext<'_, R>,
    request: Request<Vec<u8>>,
    responder: UriSchemeResponder,
) {
    let path = requested_path(&request);
    let allowed = ctx.app_handle().state::<ImageScope>().allows(&path);
    tauri::async_runtime::spawn(async move {
        responder.respond(if allowed {
            serve(&path).await
        } else {
            tracing::warn!(path = %path.display(), "the window asked for a file outside its image scope");
            status(StatusCode::FORBIDDEN)
        });
    });
}

/// `easel-image://localhost/<percent-encoded absolute path>` (on Windows
/// `http://easel-image.localhost/<…>`), as `convertFileSrc(path,
/// 'easel-image')` builds it.
fn requested_path(request: &Request<Vec<u8>>) -> PathBuf {
    let raw = request.uri().path();
    let raw = raw.strip_prefix('/').unwrap_or(raw);
    PathBuf::from(
        percent_encoding::percent_decode_str(raw)
            .decode_utf8_lossy()
            .as_ref(),
    )
}

async fn serve(path: &Path) -> Response<Cow<'static, [u8]>> {
    // A regular file only: a symlink planted in an allowed folder could
    // point anywhere.
    match tokio::fs::symlink_metadata(path).await {
        Ok(meta) if meta.is_file() => {}
        Ok(_) => return status(StatusCode::FORBIDDEN),
        Err(_) => return status(StatusCode::NOT_FOUND),
    }
    let Ok(bytes) = tokio::fs::read(path).await else {
        return status(StatusCode::NOT_FOUND);
    };
    let kind = content_type(path).unwrap_or("application/octet-stream");
    Response::builder()
        .header(header::CONTENT_TYPE, kind)
        // Names carry the job, lease epoch and output: a file never
        // changes under its name, so the web view may keep it.
        .header(header::CACHE_CONTROL, "max-age=31536000, immutable")
        .body(Cow::Owned(bytes))
        .unwrap_or_else(|_| status(StatusCode::INTERNAL_SERVER_ERROR))
}

fn status(code: StatusCode) -> Response<Cow<'static, [u8]>> {
    let mut response = Response::new(Cow::Borrowed(&[][..]));
    *response.status_mut() = code;
    response
}
