//! The REST API (`docs/api.openapi.yaml`): NAT46 services, backend weights,
//! connection tracking, Maglev slots and counters.
//!
//! It listens on a unix socket, where the socket file's permissions are the
//! access control, and optionally on TCP, where every request needs
//! `Authorization: Bearer TOKEN`.

pub mod client;
mod handlers;
#[cfg(test)]
pub(crate) mod tests;

use std::fs;
use std::future::{Future, IntoFuture as _};
use std::io;
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _, PermissionsExt as _};
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context as _};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse as _, Response};
use axum::routing::{get, put, MethodRouter};
use axum::Router;
use subtle::ConstantTimeEq as _;
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;
use tracing::{info, warn};

use crate::config::{read_token, ApiSettings};
use crate::dataplane::ServiceDataplane;
use crate::store::ServiceStore;
use handlers::ApiError;

pub use handlers::{ErrorBody, SlotCount};
/// Largest request body accepted (413 above).
pub const MAX_BODY: usize = 1 << 20;

/// What every handler needs.
#[derive(Clone)]
struct AppState {
    store: Arc<ServiceStore>,
    dp: Arc<dyn ServiceDataplane>,
}

/// Serves the API on `settings.socket` (and `settings.listen`, if set) until
/// `shutdown` completes; then finishes the requests in flight, removes the
/// socket file and returns. `ready` runs once every listener is bound.
pub async fn serve(
    store: Arc<ServiceStore>,
    dp: Arc<dyn ServiceDataplane>,
    settings: &ApiSettings,
    shutdown: impl Future<Output = ()>,
    ready: impl FnOnce(),
) -> anyhow::Result<()> {
    let app = router(AppState { store, dp });
    let tcp = match (settings.listen, &settings.token_file) {
        (Some(addr), Some(token_file)) => {
            let token = read_token(token_file)
                .map_err(|why| anyhow::anyhow!("api.token_file {}: {why}", token_file.display()))?;
            let listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} (api.listen)"))?;
            Some((listener, token))
        }
        (Some(_), None) => bail!("api.listen needs api.token_file"),
        (None, _) => None,
    };
    let (unix, socket_id) = bind_unix(&settings.socket, settings.socket_mode)?;
    info!(socket = %settings.socket.display(), tcp = ?settings.listen, "API listening");
    ready();

    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        // An error means the sender is gone, which also means stop.
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let unix_server = axum::serve(unix, app.clone())
        .with_graceful_shutdown(stopped(stop_rx.clone()))
        .into_future();
    let tcp_server = async {
        match tcp {
            Some((listener, token)) => {
                let app = app.layer(middleware::from_fn_with_state(
                    Arc::<str>::from(token),
                    require_token,
                ));
                axum::serve(listener, app)
                    .with_graceful_shutdown(stopped(stop_rx))
                    .await
            }
            None => Ok(()),
        }
    };
    let servers = async { tokio::try_join!(unix_server, tcp_server).map(|_| ()) };
    tokio::pin!(servers);
    let result = tokio::select! {
        result = &mut servers => result,
        () = shutdown => {
            let _ = stop_tx.send(true);
            servers.await
        }
    };
    remove_socket(&settings.socket, socket_id);
    result.context("API server")
}

/// The routes, each path with its methods; the OpenAPI test walks these.
fn routes() -> Vec<(&'static str, MethodRouter<AppState>)> {
    use handlers::*;
    vec![
        ("/v1/health", get(health)),
        ("/v1/services", get(list_services).post(create_service)),
        (
            "/v1/services/{name}",
            get(show_service)
                .put(replace_service)
                .delete(delete_service),
        ),
        (
            "/v1/services/{name}/backends/{backend}/weight",
            put(set_weight),
        ),
        ("/v1/services/{name}/slots", get(slot_counts)),
        ("/v1/services/{name}/stats", get(service_stats)),
        ("/v1/conntrack", get(conntrack)),
    ]
}

fn router(state: AppState) -> Router {
    let mut router = Router::new();
    for (path, methods) in routes() {
        router = router.route(path, methods);
    }
    router
        .fallback(handlers::no_such_route)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// Lets a request through only with `Authorization: Bearer TOKEN`.
async fn require_token(State(token): State<Arc<str>>, request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        // Constant-time, so the time taken does not tell how much matched.
        Some(given) if bool::from(given.as_bytes().ct_eq(token.as_bytes())) => {
            next.run(request).await
        }
        _ => {
            let error = if given.is_some() {
                "wrong bearer token"
            } else {
                "this listener needs an Authorization: Bearer TOKEN header"
            };
            let mut response = ApiError::new(StatusCode::UNAUTHORIZED, error).into_response();
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
            response
        }
    }
}

/// Which file a socket is, to remove only our own on shutdown.
type FileId = (u64, u64);

/// Binds the unix socket at `path` with permission bits `mode`: creates
/// the directory, and replaces a socket file only if nothing listens on it.
fn bind_unix(path: &Path, mode: u32) -> anyhow::Result<(UnixListener, FileId)> {
    let shown = path.display();
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    match fs::symlink_metadata(path) {
        Ok(meta) if !meta.file_type().is_socket() => {
            bail!("api.socket {shown}: exists and is not a socket; not removing it")
        }
        Ok(_) => match std::os::unix::net::UnixStream::connect(path) {
            Ok(_) => {
                bail!("api.socket {shown}: something is listening on it already (another sixgate?)")
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                warn!(socket = %shown, "removing a stale API socket");
                fs::remove_file(path).with_context(|| format!("removing stale {shown}"))?;
            }
            Err(e) => bail!("api.socket {shown}: exists and cannot be checked: {e}"),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => bail!("api.socket {shown}: {e}"),
    }
    let listener = UnixListener::bind(path).with_context(|| format!("binding {shown}"))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {mode:04o} {shown}"))?;
    let meta = fs::symlink_metadata(path).with_context(|| format!("stat {shown}"))?;
    Ok((listener, (meta.dev(), meta.ino())))
}

/// Removes the socket file if it is still the one we bound.
fn remove_socket(path: &Path, id: FileId) {
    match fs::symlink_metadata(path) {
        Ok(meta) if (meta.dev(), meta.ino()) == id => {
            if let Err(e) = fs::remove_file(path) {
                warn!(socket = %path.display(), error = %e, "cannot remove the API socket");
            }
        }
        _ => {}
    }
}
