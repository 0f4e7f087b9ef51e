//! A minimal HTTP/1 client for the API: one request per connection, over
//! the unix socket (the CLI) or any stream (tests over TCP).

use std::path::Path;

use anyhow::Context as _;
use axum::body::Bytes;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::UnixStream;

/// An answer from the API.
#[derive(Debug)]
pub struct Reply {
    /// The HTTP status.
    pub status: StatusCode,
    /// The response headers.
    // Only the API tests look at headers (Location, Allow, WWW-Authenticate).
    #[cfg_attr(not(test), allow(dead_code))]
    pub headers: HeaderMap,
    /// The body (JSON, or empty).
    pub body: Bytes,
}

/// Characters a path segment keeps as they are (RFC 3986 "unreserved").
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `text` percent-encoded for one path segment: `[2001:db8::1]:80` becomes
/// `%5B2001%3Adb8%3A%3A1%5D%3A80`.
pub fn segment(text: &str) -> String {
    utf8_percent_encode(text, SEGMENT).to_string()
}

/// Sends one request to the API on the unix socket `socket`.
pub async fn unix_request(
    socket: &Path,
    method: Method,
    path: &str,
    body: Option<Vec<u8>>,
) -> anyhow::Result<Reply> {
    let stream = UnixStream::connect(socket).await.with_context(|| {
        format!(
            "cannot connect to the API socket {} (is the daemon running? see --socket)",
            socket.display()
        )
    })?;
    request(stream, method, path, body, None).await
}

/// Sends one request over `io`, with `token` as a bearer token if given.
pub async fn request<IO>(
    io: IO,
    method: Method,
    path: &str,
    body: Option<Vec<u8>>,
    token: Option<&str>,
) -> anyhow::Result<Reply>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .context("HTTP handshake with the API")?;
    let connection = tokio::spawn(connection);
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "sixgate");
    if body.is_some() {
        builder = builder.header(header::CONTENT_TYPE, "application/json");
    }
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = builder
        .body(Full::new(Bytes::from(body.unwrap_or_default())))
        .context("building the request")?;
    let response = sender
        .send_request(request)
        .await
        .context("sending the request to the API")?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .context("reading the API's answer")?
        .to_bytes();
    drop(sender);
    connection.abort();
    Ok(Reply {
        status,
        headers,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded() {
        assert_eq!(
            segment("[2001:db8::1]:8080"),
            "%5B2001%3Adb8%3A%3A1%5D%3A8080"
        );
        assert_eq!(segment("web-1"), "web-1");
        assert_eq!(segment("a/b c"), "a%2Fb%20c");
    }
}
