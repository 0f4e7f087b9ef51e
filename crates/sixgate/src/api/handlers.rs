//! The API's handlers, and its JSON errors.

use std::net::SocketAddrV6;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::AppState;
use crate::dataplane::{CtEntry, ServiceStats};
use crate::service::{FieldError, Service};
use crate::store::{StoreError, StoredService};

/// Entries `GET /v1/conntrack` returns unless `limit` says otherwise.
pub const DEFAULT_CT_LIMIT: usize = 1000;
/// Most entries `GET /v1/conntrack` returns.
pub const MAX_CT_LIMIT: usize = 100_000;

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: String,
    /// The field it concerns (`backends[2].address`), if one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// An error response: a status and an [`ErrorBody`].
#[derive(Debug)]
pub(super) struct ApiError {
    status: StatusCode,
    body: ErrorBody,
}

impl ApiError {
    pub(super) fn new(status: StatusCode, error: impl Into<String>) -> Self {
        ApiError {
            status,
            body: ErrorBody {
                error: error.into(),
                field: None,
            },
        }
    }

    fn field(status: StatusCode, e: &FieldError) -> Self {
        ApiError {
            status,
            body: ErrorBody {
                error: e.to_string(),
                field: Some(e.field.clone()),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let status = match &e {
            StoreError::Invalid(fe) => {
                return ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, fe)
            }
            StoreError::NotFound(_) | StoreError::NoSuchBackend { .. } => StatusCode::NOT_FOUND,
            StoreError::NameTaken(_) | StoreError::KeyTaken { .. } | StoreError::ReadOnly(_) => {
                StatusCode::CONFLICT
            }
            StoreError::Dataplane(_) => StatusCode::SERVICE_UNAVAILABLE,
            StoreError::State(_)
            | StoreError::RollbackFailed { .. }
            | StoreError::StateService { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

fn bad_request(why: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, why)
}

impl From<BytesRejection> for ApiError {
    fn from(r: BytesRejection) -> Self {
        ApiError::new(r.status(), r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::new(r.status(), r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        bad_request(r.body_text())
    }
}

/// Runs blocking store or data-path work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("internal error: {e}"),
        )
    })
}

/// A data-path read that failed.
fn dataplane_error(e: anyhow::Error) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("cannot read the data path: {e:#}"),
    )
}

/// A JSON body: 400 if it is not JSON, 422 naming the field if it is JSON
/// of the wrong shape.
fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| bad_request(format!("malformed JSON: {e}")))?;
    from_value(&value)
}

fn from_value<T: DeserializeOwned>(value: &Value) -> Result<T, ApiError> {
    // serde would also take a struct from an array of its fields, in order.
    if !value.is_object() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("the body must be a JSON object, not {value}"),
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let why = e.inner().to_string();
        let path = e.path();
        let mut field = match path.to_string() {
            root if root == "." => String::new(),
            p => p,
        };
        // A missing field is reported at its parent: name the field itself.
        if let Some(missing) = why
            .strip_prefix("missing field `")
            .and_then(|r| r.split('`').next())
        {
            field = if field.is_empty() {
                missing.to_string()
            } else {
                format!("{field}.{missing}")
            };
        }
        let written = path.iter().try_fold(value, |v, segment| match segment {
            serde_path_to_error::Segment::Seq { index } => v.get(index),
            serde_path_to_error::Segment::Map { key } => v.get(key),
            _ => None,
        });
        let error = match written {
            _ if field.is_empty() => why,
            Some(v) if !v.is_object() && !v.is_array() => format!("{field} = {v}: {why}"),
            _ => format!("{field}: {why}"),
        };
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            body: ErrorBody {
                error,
                field: (!field.is_empty()).then_some(field),
            },
        }
    })
}

/// `GET /v1/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Always `"ok"`.
    pub status: String,
    /// Number of services in force.
    pub services: usize,
}

pub(super) async fn health(State(app): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        services: app.store.list().len(),
    })
}

pub(super) async fn list_services(State(app): State<AppState>) -> Json<Vec<StoredService>> {
    Json(app.store.list())
}

pub(super) async fn create_service(
    State(app): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let svc: Service = parse_json(&body?)?;
    let location = format!("/v1/services/{}", svc.name);
    let created = blocking(move || app.store.create(svc, &*app.dp)).await??;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(created),
    )
        .into_response())
}

pub(super) async fn show_service(
    State(app): State<AppState>,
    name: Result<Path<String>, PathRejection>,
) -> Result<Json<StoredService>, ApiError> {
    Ok(Json(app.store.get(&name?.0)?))
}

pub(super) async fn replace_service(
    State(app): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<StoredService>, ApiError> {
    let Path(name) = name?;
    let mut value: Value =
        serde_json::from_slice(&body?).map_err(|e| bad_request(format!("malformed JSON: {e}")))?;
    // The name comes from the URL; the body may repeat it, not change it.
    if let Some(object) = value.as_object_mut() {
        match object.get("name") {
            None => {
                object.insert("name".into(), Value::String(name.clone()));
            }
            Some(Value::String(n)) if *n == name => {}
            Some(other) => {
                return Err(ApiError::field(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &FieldError::new(
                        "name",
                        other,
                        format!(
                            "does not match the service in the URL ({name:?}); \
                             a service cannot be renamed, create a new one"
                        ),
                    ),
                ));
            }
        }
    }
    let svc: Service = from_value(&value)?;
    Ok(Json(
        blocking(move || app.store.replace(svc, &*app.dp)).await??,
    ))
}

pub(super) async fn delete_service(
    State(app): State<AppState>,
    name: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(name) = name?;
    blocking(move || app.store.delete(&name, &*app.dp)).await??;
    Ok(StatusCode::NO_CONTENT)
}

/// The body of `PUT /v1/services/{name}/backends/{backend}/weight`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightBody {
    /// The new weight, 0 (drain) to 65535.
    pub weight: u32,
}

pub(super) async fn set_weight(
    State(app): State<AppState>,
    params: Result<Path<(String, String)>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<StoredService>, ApiError> {
    let Path((name, backend_text)) = params?;
    let backend: SocketAddrV6 = backend_text.parse().map_err(|_| {
        ApiError::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            &FieldError::new(
                "backend",
                format!("{backend_text:?}"),
                "must be [IPV6-ADDRESS]:PORT, URL-encoded (e.g. %5B2001%3Adb8%3A%3A10%5D%3A8080)",
            ),
        )
    })?;
    let WeightBody { weight } = parse_json(&body?)?;
    Ok(Json(
        blocking(move || app.store.set_weight(&name, backend, weight, &*app.dp)).await??,
    ))
}

/// One entry of `GET /v1/services/{name}/slots`: a backend and its Maglev slots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotCount {
    /// The backend's address.
    pub address: std::net::Ipv6Addr,
    /// The backend's port.
    pub port: u16,
    /// Its weight.
    pub weight: u32,
    /// Slots of the Maglev table that point to it.
    pub slots: u32,
}

pub(super) async fn slot_counts(
    State(app): State<AppState>,
    name: Result<Path<String>, PathRejection>,
) -> Result<Json<Vec<SlotCount>>, ApiError> {
    let svc = app.store.get(&name?.0)?.service;
    let counts = blocking({
        let svc = svc.clone();
        move || app.dp.slot_counts(&svc)
    })
    .await?
    .map_err(dataplane_error)?;
    if counts.len() != svc.backends.len() {
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!(
                "the data path reported {} slot counts for {} backends",
                counts.len(),
                svc.backends.len()
            ),
        ));
    }
    Ok(Json(
        svc.backends
            .iter()
            .zip(counts)
            .map(|(b, slots)| SlotCount {
                address: b.address,
                port: b.port,
                weight: b.weight,
                slots,
            })
            .collect(),
    ))
}

pub(super) async fn service_stats(
    State(app): State<AppState>,
    name: Result<Path<String>, PathRejection>,
) -> Result<Json<ServiceStats>, ApiError> {
    let svc = app.store.get(&name?.0)?.service;
    let stats = blocking(move || app.dp.service_stats(&svc))
        .await?
        .map_err(dataplane_error)?;
    Ok(Json(stats))
}

/// The query of `GET /v1/conntrack`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CtQuery {
    service: Option<String>,
    limit: Option<usize>,
}

pub(super) async fn conntrack(
    State(app): State<AppState>,
    query: Result<Query<CtQuery>, QueryRejection>,
) -> Result<Json<Vec<CtEntry>>, ApiError> {
    let Query(query) = query?;
    let limit = query.limit.unwrap_or(DEFAULT_CT_LIMIT);
    if !(1..=MAX_CT_LIMIT).contains(&limit) {
        return Err(ApiError::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            &FieldError::new("limit", limit, format!("must be 1 to {MAX_CT_LIMIT}")),
        ));
    }
    let key = match &query.service {
        Some(name) => Some(app.store.get(name)?.service.key()),
        None => None,
    };
    let entries = blocking(move || app.dp.conntrack(key, limit))
        .await?
        .map_err(dataplane_error)?;
    Ok(Json(entries))
}

pub(super) async fn no_such_route(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!(
            "no such endpoint: {method} {}; see docs/api.openapi.yaml",
            uri.path()
        ),
    )
}

pub(super) async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{method} is not allowed on {}", uri.path()),
    )
}
