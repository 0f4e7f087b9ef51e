//! The API served on a unix socket (and TCP) in a temporary directory, with
//! the fake data path, driven by a real HTTP client.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, Method, StatusCode};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::client::{self, Reply};
use super::*;
use crate::dataplane::fake::FakeDataplane;
use crate::dataplane::{CtEntry, CtState, ServiceStats};
use crate::service::tests::{settings, web};
use crate::service::{Protocol, Service};

const TOKEN: &str = "correct horse battery staple";

/// A running API and everything behind it.
pub(crate) struct TestApi {
    pub dir: tempfile::TempDir,
    pub settings: ApiSettings,
    pub state_path: PathBuf,
    pub dp: Arc<FakeDataplane>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TestApi {
    /// Serves the API with `config` services, on TCP too if `tcp`.
    pub async fn start(config: Vec<Service>, tcp: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = ApiSettings {
            socket: dir.path().join("run/api.sock"),
            ..ApiSettings::default()
        };
        if tcp {
            let token_file = dir.path().join("token");
            std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            settings.listen = Some(([127, 0, 0, 1], port).into());
            settings.token_file = Some(token_file);
        }
        Self::start_with(dir, settings, config).await
    }

    pub async fn start_with(
        dir: tempfile::TempDir,
        settings: ApiSettings,
        config: Vec<Service>,
    ) -> Self {
        let state_path = dir.path().join("lib/state.json");
        let store = Arc::new(
            ServiceStore::load(config, &state_path, crate::service::tests::settings()).unwrap(),
        );
        let dp = Arc::new(FakeDataplane::new(&crate::service::tests::settings()));
        store.program_all(&*dp).unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = {
            let (store, dp, settings) = (store.clone(), dp.clone(), settings.clone());
            tokio::spawn(async move {
                serve(
                    store,
                    dp,
                    &settings,
                    async {
                        let _ = stopped.await;
                    },
                    || {},
                )
                .await
            })
        };
        let api = TestApi {
            dir,
            settings,
            state_path,
            dp,
            stop: Some(stop),
            task: Some(task),
        };
        api.wait_ready().await;
        api
    }

    async fn wait_ready(&self) {
        for _ in 0..500 {
            if tokio::net::UnixStream::connect(&self.settings.socket)
                .await
                .is_ok()
            {
                let tcp_ready = match self.settings.listen {
                    Some(addr) => tokio::net::TcpStream::connect(addr).await.is_ok(),
                    None => true,
                };
                if tcp_ready {
                    return;
                }
            }
            if self.task.as_ref().is_some_and(|t| t.is_finished()) {
                panic!("serve stopped early");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("the API did not come up");
    }

    /// Stops the server and returns what `serve` returned.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap()
    }

    pub async fn raw(&self, method: Method, path: &str, body: Option<&str>) -> Reply {
        client::unix_request(
            &self.settings.socket,
            method,
            path,
            body.map(|b| b.as_bytes().to_vec()),
        )
        .await
        .unwrap()
    }

    /// A request with a JSON body (or none); the JSON answer (Null if empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let body = body.map(|b| b.to_string());
        let reply = self.raw(method, path, body.as_deref()).await;
        (reply.status, json_of(&reply))
    }

    async fn tcp(&self, method: Method, path: &str, token: Option<&str>) -> Reply {
        let stream = tokio::net::TcpStream::connect(self.settings.listen.unwrap())
            .await
            .unwrap();
        client::request(stream, method, path, None, token)
            .await
            .unwrap()
    }

    fn state_bytes(&self) -> Option<Vec<u8>> {
        std::fs::read(&self.state_path).ok()
    }
}

fn json_of(reply: &Reply) -> Value {
    if reply.body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&reply.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", reply.body))
    }
}

fn web_json(name: &str, port: u16) -> Value {
    serde_json::to_value(web(name, port)).unwrap()
}

/// Asserts an error answer: status, and the message contains `contains`,
/// and `field` is as given.
fn assert_error(
    got: &(StatusCode, Value),
    status: StatusCode,
    field: Option<&str>,
    contains: &str,
) {
    let (s, body) = got;
    assert_eq!(*s, status, "{body}");
    let error = body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error in {body}"));
    assert!(error.contains(contains), "{error:?} lacks {contains:?}");
    assert_eq!(body.get("field").and_then(Value::as_str), field, "{body}");
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert!(
        keys.iter().all(|k| *k == "error" || *k == "field"),
        "{body}"
    );
}

#[tokio::test]
async fn every_endpoint_happy_path() {
    let api = TestApi::start(vec![web("cfg", 443)], false).await;

    let (s, health) = api.call(Method::GET, "/v1/health", None).await;
    assert_eq!(
        (s, health),
        (StatusCode::OK, json!({"status": "ok", "services": 1}))
    );

    // Create.
    let reply = api
        .raw(
            Method::POST,
            "/v1/services",
            Some(&web_json("web", 80).to_string()),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(reply.headers[header::LOCATION], "/v1/services/web");
    assert_eq!(
        json_of(&reply),
        json!({"origin": "api", "service": web_json("web", 80)})
    );
    assert_eq!(api.dp.programmed()["web"], web("web", 80));

    // List and show.
    let (s, list) = api.call(Method::GET, "/v1/services", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        list,
        json!([
            {"origin": "config", "service": web_json("cfg", 443)},
            {"origin": "api", "service": web_json("web", 80)},
        ])
    );
    let (s, shown) = api.call(Method::GET, "/v1/services/web", None).await;
    assert_eq!(
        (s, &shown["service"]),
        (StatusCode::OK, &web_json("web", 80))
    );

    // Replace: the name may be left out of the body.
    let mut v2 = web_json("web", 8080);
    v2.as_object_mut().unwrap().remove("name");
    v2["backends"][1]["weight"] = json!(3);
    let (s, replaced) = api.call(Method::PUT, "/v1/services/web", Some(v2)).await;
    assert_eq!(s, StatusCode::OK, "{replaced}");
    assert_eq!(replaced["service"]["port"], 8080);
    assert_eq!(api.dp.programmed()["web"].port, 8080);
    assert_eq!(api.dp.programmed()["web"].backends[1].weight, 3);

    // Weight of one backend, addressed as [ADDRESS]:PORT, URL-encoded.
    let path = format!(
        "/v1/services/web/backends/{}/weight",
        client::segment("[2001:db8:a::10]:8080")
    );
    let (s, weighted) = api
        .call(Method::PUT, &path, Some(json!({"weight": 0})))
        .await;
    assert_eq!(s, StatusCode::OK, "{weighted}");
    assert_eq!(weighted["service"]["backends"][0]["weight"], 0);
    assert_eq!(api.dp.programmed()["web"].backends[0].weight, 0);

    // Slots: the drained backend has none, the other all 65537.
    let (s, slots) = api.call(Method::GET, "/v1/services/web/slots", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        slots,
        json!([
            {"address": "2001:db8:a::10", "port": 8080, "weight": 0, "slots": 0},
            {"address": "2001:db8:b::10", "port": 8080, "weight": 3, "slots": 65537},
        ])
    );
    let (_, cfg_slots) = api.call(Method::GET, "/v1/services/cfg/slots", None).await;
    let counts: Vec<u64> = cfg_slots
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["slots"].as_u64().unwrap())
        .collect();
    assert_eq!(counts.iter().sum::<u64>(), 65537);
    assert!(counts[1] > counts[0] * 19 / 10, "weights 1:2 → {counts:?}");

    // Stats.
    let stats = ServiceStats {
        packets_in: 10,
        bytes_in: 1000,
        packets_out: 8,
        bytes_out: 900,
        new_flows: 2,
        drops: [("no_backend".to_string(), 1)].into(),
    };
    api.dp.set_stats("web", stats.clone());
    let (s, got) = api.call(Method::GET, "/v1/services/web/stats", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(serde_json::from_value::<ServiceStats>(got).unwrap(), stats);

    // Connection tracking, all or one service's, with a limit.
    let entry = |vip: &str, client_port: u16| CtEntry {
        protocol: Protocol::Tcp,
        client: format!("192.0.2.7:{client_port}").parse().unwrap(),
        vip: vip.parse().unwrap(),
        backend: "[2001:db8:b::10]:8080".parse().unwrap(),
        source: "[2001:db8:ff::1]:40000".parse().unwrap(),
        state: CtState::Established,
        idle_secs: 1,
        expires_in_secs: 7439,
    };
    let entries = vec![
        entry("198.51.100.80:8080", 1000),
        entry("198.51.100.80:443", 1001),
        entry("198.51.100.80:8080", 1002),
    ];
    api.dp.set_conntrack(entries.clone());
    let ct = |v: Value| serde_json::from_value::<Vec<CtEntry>>(v).unwrap();
    let (s, all) = api.call(Method::GET, "/v1/conntrack", None).await;
    assert_eq!((s, ct(all)), (StatusCode::OK, entries.clone()));
    let (_, web_only) = api
        .call(Method::GET, "/v1/conntrack?service=web", None)
        .await;
    assert_eq!(ct(web_only), vec![entries[0].clone(), entries[2].clone()]);
    let (_, one) = api
        .call(Method::GET, "/v1/conntrack?service=web&limit=1", None)
        .await;
    assert_eq!(ct(one), vec![entries[0].clone()]);

    // Delete.
    let reply = api.raw(Method::DELETE, "/v1/services/web", None).await;
    assert_eq!(
        (reply.status, reply.body.len()),
        (StatusCode::NO_CONTENT, 0)
    );
    assert!(!api.dp.programmed().contains_key("web"));
    let (s, _) = api.call(Method::GET, "/v1/services/web", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    api.stop().await.unwrap();
}

#[tokio::test]
async fn malformed_json_is_400() {
    let api = TestApi::start(vec![], false).await;
    for body in ["{", "{\"name\": \"web\",}", "", "nope"] {
        let reply = api.raw(Method::POST, "/v1/services", Some(body)).await;
        let got = (reply.status, json_of(&reply));
        assert_error(&got, StatusCode::BAD_REQUEST, None, "malformed JSON: ");
    }
    let got = api.raw(Method::PUT, "/v1/services/web", Some("[1,")).await;
    assert_error(
        &(got.status, json_of(&got)),
        StatusCode::BAD_REQUEST,
        None,
        "malformed JSON",
    );
}

#[tokio::test]
async fn invalid_values_are_422_naming_field_and_value() {
    let api = TestApi::start(vec![], false).await;
    let post = |v: Value| api.call(Method::POST, "/v1/services", Some(v));

    let mut v = web_json("web", 80);
    v["vip"] = json!("2001:db8::80");
    assert_error(
        &post(v).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("vip"),
        "vip = \"2001:db8::80\": \"2001:db8::80\" is an IPv6 address; an IPv4 address is required",
    );
    let mut v = web_json("web", 80);
    v["backends"][1]["address"] = json!("192.0.2.10");
    assert_error(
        &post(v).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("backends[1].address"),
        "backends[1].address = \"192.0.2.10\": \"192.0.2.10\" is an IPv4 address",
    );
    // Parsed, but not allowed.
    let mut v = web_json("web", 80);
    v["backends"][0]["address"] = json!("::1");
    assert_error(
        &post(v).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("backends[0].address"),
        "backends[0].address = \"::1\": is the loopback address",
    );
    let mut v = web_json("web", 80);
    v["vip"] = json!("127.0.0.1");
    assert_error(
        &post(v).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("vip"),
        "vip = \"127.0.0.1\"",
    );
    let mut v = web_json("web", 80);
    v["port"] = json!(70000);
    assert_error(
        &post(v).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("port"),
        "port = 70000: invalid value",
    );
    let mut v = web_json("web", 80);
    v["backends"][0].as_object_mut().unwrap().remove("port");
    assert_error(
        &post(v).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("backends[0].port"),
        "missing field `port`",
    );
    let mut v = web_json("web", 80);
    v.as_object_mut().unwrap().remove("protocol");
    assert_error(
        &post(v).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("protocol"),
        "missing field `protocol`",
    );
    let mut v = web_json("web", 80);
    v["colour"] = json!("blue");
    assert_error(
        &post(v).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("colour"),
        "unknown field `colour`",
    );
    let mut v = web_json("web", 80);
    v["protocol"] = json!("sctp");
    assert_error(
        &post(v).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("protocol"),
        "protocol = \"sctp\": unknown variant `sctp`",
    );
    assert_error(
        &post(json!([])).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        None,
        "the body must be a JSON object, not []",
    );
    assert_error(
        &post(json!([
            "web",
            "198.51.100.80",
            80,
            "tcp",
            "gateway",
            [],
            []
        ]))
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        None,
        "must be a JSON object",
    );

    // Renaming through PUT is refused.
    api.call(Method::POST, "/v1/services", Some(web_json("web", 80)))
        .await;
    assert_error(
        &api.call(Method::PUT, "/v1/services/web", Some(web_json("other", 80)))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("name"),
        "name = \"other\": does not match the service in the URL",
    );
    // A weight out of range, and a backend that is not [IPv6]:port.
    let path = |b: &str| format!("/v1/services/web/backends/{}/weight", client::segment(b));
    assert_error(
        &api.call(
            Method::PUT,
            &path("[2001:db8:a::10]:8080"),
            Some(json!({"weight": 65536})),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("weight"),
        "weight = 65536: must be 0 (drain) to 65535",
    );
    assert_error(
        &api.call(
            Method::PUT,
            &path("[2001:db8:a::10]:8080"),
            Some(json!({"weight": "1"})),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("weight"),
        "weight = \"1\": invalid type",
    );
    assert_error(
        &api.call(
            Method::PUT,
            &path("192.0.2.10:8080"),
            Some(json!({"weight": 1})),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("backend"),
        "backend = \"192.0.2.10:8080\": must be [IPV6-ADDRESS]:PORT",
    );
    // Conntrack limits.
    for limit in ["0", "100001"] {
        assert_error(
            &api.call(Method::GET, &format!("/v1/conntrack?limit={limit}"), None)
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("limit"),
            "must be 1 to 100000",
        );
    }
    let got = api
        .call(Method::GET, "/v1/conntrack?limit=many", None)
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, None, "limit");
    let got = api
        .call(Method::GET, "/v1/conntrack?srvice=web", None)
        .await;
    assert_error(
        &got,
        StatusCode::BAD_REQUEST,
        None,
        "unknown field `srvice`",
    );
}

#[tokio::test]
async fn conflicts_are_409_naming_the_other_service() {
    let api = TestApi::start(vec![web("cfg", 443)], false).await;
    let (s, _) = api
        .call(Method::POST, "/v1/services", Some(web_json("web", 80)))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_error(
        &api.call(Method::POST, "/v1/services", Some(web_json("web2", 80)))
            .await,
        StatusCode::CONFLICT,
        None,
        "198.51.100.80:80/tcp is already served by service \"web\"",
    );
    assert_error(
        &api.call(Method::POST, "/v1/services", Some(web_json("other", 443)))
            .await,
        StatusCode::CONFLICT,
        None,
        "198.51.100.80:443/tcp is already served by service \"cfg\"",
    );
    assert_error(
        &api.call(Method::POST, "/v1/services", Some(web_json("web", 81)))
            .await,
        StatusCode::CONFLICT,
        None,
        "a service named \"web\" already exists",
    );
    // Config services are read-only.
    let edit =
        "is declared in the configuration file and is read-only through the API; edit the file";
    assert_error(
        &api.call(Method::PUT, "/v1/services/cfg", Some(web_json("cfg", 444)))
            .await,
        StatusCode::CONFLICT,
        None,
        edit,
    );
    assert_error(
        &api.call(Method::DELETE, "/v1/services/cfg", None).await,
        StatusCode::CONFLICT,
        None,
        edit,
    );
    let path = format!(
        "/v1/services/cfg/backends/{}/weight",
        client::segment("[2001:db8:a::10]:8080")
    );
    assert_error(
        &api.call(Method::PUT, &path, Some(json!({"weight": 0})))
            .await,
        StatusCode::CONFLICT,
        None,
        edit,
    );
}

#[tokio::test]
async fn unknown_services_and_routes_are_404() {
    let api = TestApi::start(vec![], false).await;
    let weight = format!(
        "/v1/services/nope/backends/{}/weight",
        client::segment("[2001:db8:a::10]:8080")
    );
    for (method, path, body) in [
        (Method::GET, "/v1/services/nope", None),
        (Method::PUT, "/v1/services/nope", Some(web_json("nope", 80))),
        (Method::DELETE, "/v1/services/nope", None),
        (Method::PUT, weight.as_str(), Some(json!({"weight": 1}))),
        (Method::GET, "/v1/services/nope/slots", None),
        (Method::GET, "/v1/services/nope/stats", None),
        (Method::GET, "/v1/conntrack?service=nope", None),
    ] {
        let got = api.call(method.clone(), path, body).await;
        assert_error(
            &got,
            StatusCode::NOT_FOUND,
            None,
            "no service named \"nope\"",
        );
    }
    api.call(Method::POST, "/v1/services", Some(web_json("web", 80)))
        .await;
    let weight = format!(
        "/v1/services/web/backends/{}/weight",
        client::segment("[2001:db8:a::99]:8080")
    );
    assert_error(
        &api.call(Method::PUT, &weight, Some(json!({"weight": 1})))
            .await,
        StatusCode::NOT_FOUND,
        None,
        "service \"web\" has no backend [2001:db8:a::99]:8080",
    );
    assert_error(
        &api.call(Method::GET, "/v2/services", None).await,
        StatusCode::NOT_FOUND,
        None,
        "no such endpoint: GET /v2/services",
    );
    let reply = api.raw(Method::PATCH, "/v1/services/web", Some("{}")).await;
    assert_eq!(reply.headers[header::ALLOW], "GET,HEAD,PUT,DELETE");
    assert_error(
        &(reply.status, json_of(&reply)),
        StatusCode::METHOD_NOT_ALLOWED,
        None,
        "PATCH is not allowed on /v1/services/web",
    );
}

#[tokio::test]
async fn bad_requests_change_nothing() {
    let api = TestApi::start(vec![web("cfg", 443)], false).await;
    api.call(Method::POST, "/v1/services", Some(web_json("web", 80)))
        .await;
    let (_, list_before) = api.call(Method::GET, "/v1/services", None).await;
    let state_before = api.state_bytes();
    assert!(state_before.is_some());
    let programmed_before = api.dp.programmed();

    let mut ipv6_vip = web_json("web", 81);
    ipv6_vip["vip"] = json!("2001:db8::80");
    let weight = format!(
        "/v1/services/web/backends/{}/weight",
        client::segment("[2001:db8:a::10]:8080")
    );
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(MAX_BODY));
    let requests: Vec<(Method, &str, Option<String>, StatusCode)> = vec![
        (
            Method::POST,
            "/v1/services",
            Some("{".into()),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::PUT,
            "/v1/services/web",
            Some(ipv6_vip.to_string()),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            "/v1/services",
            Some(web_json("web", 99).to_string()),
            StatusCode::CONFLICT,
        ),
        (
            Method::POST,
            "/v1/services",
            Some(web_json("again", 80).to_string()),
            StatusCode::CONFLICT,
        ),
        (
            Method::DELETE,
            "/v1/services/cfg",
            None,
            StatusCode::CONFLICT,
        ),
        (
            Method::DELETE,
            "/v1/services/nope",
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            Method::PUT,
            &weight,
            Some("{\"weight\": -1}".into()),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::POST,
            "/v1/services",
            Some(big),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ];
    for (method, path, body, status) in requests {
        let reply = api.raw(method.clone(), path, body.as_deref()).await;
        assert_eq!(reply.status, status, "{method} {path}: {:?}", reply.body);
        assert!(json_of(&reply)["error"].is_string(), "{:?}", reply.body);
        let (_, list_after) = api.call(Method::GET, "/v1/services", None).await;
        assert_eq!(list_after, list_before, "{method} {path}");
        assert_eq!(api.state_bytes(), state_before, "{method} {path}");
        assert_eq!(api.dp.programmed(), programmed_before, "{method} {path}");
    }
}

#[tokio::test]
async fn failures_behind_the_api_are_5xx_and_change_nothing() {
    let api = TestApi::start(vec![], false).await;
    api.call(Method::POST, "/v1/services", Some(web_json("web", 80)))
        .await;
    let (_, list_before) = api.call(Method::GET, "/v1/services", None).await;
    let state_before = api.state_bytes();

    api.dp.fail_with(Some("BPF map update: no space left"));
    assert_error(
        &api.call(Method::POST, "/v1/services", Some(web_json("new", 81)))
            .await,
        StatusCode::SERVICE_UNAVAILABLE,
        None,
        "the data path refused the change, nothing was changed: BPF map update: no space left",
    );
    assert_error(
        &api.call(Method::PUT, "/v1/services/web", Some(web_json("web", 82)))
            .await,
        StatusCode::SERVICE_UNAVAILABLE,
        None,
        "no space left",
    );
    api.dp.fail_with(None);
    assert_eq!(
        api.call(Method::GET, "/v1/services", None).await.1,
        list_before
    );
    assert_eq!(api.state_bytes(), state_before);

    // The state file cannot be replaced: 500, and the data path is put back.
    std::fs::remove_file(&api.state_path).unwrap();
    std::fs::create_dir(&api.state_path).unwrap();
    std::fs::write(api.state_path.join("x"), "").unwrap();
    assert_error(
        &api.call(Method::PUT, "/v1/services/web", Some(web_json("web", 82)))
            .await,
        StatusCode::INTERNAL_SERVER_ERROR,
        None,
        "cannot write",
    );
    assert_eq!(api.dp.programmed()["web"], web("web", 80));
    assert_eq!(
        api.call(Method::GET, "/v1/services", None).await.1,
        list_before
    );
}

#[tokio::test]
async fn tcp_needs_the_bearer_token() {
    let api = TestApi::start(vec![], true).await;
    let reply = api.tcp(Method::GET, "/v1/services", None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.headers[header::WWW_AUTHENTICATE], "Bearer");
    assert_eq!(
        json_of(&reply)["error"],
        "this listener needs an Authorization: Bearer TOKEN header"
    );
    let reply = api
        .tcp(Method::GET, "/v1/services", Some("correct horse"))
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(json_of(&reply)["error"], "wrong bearer token");
    // Unknown routes too are hidden behind the token.
    let reply = api.tcp(Method::GET, "/nope", None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);

    let reply = api.tcp(Method::GET, "/v1/services", Some(TOKEN)).await;
    assert_eq!((reply.status, json_of(&reply)), (StatusCode::OK, json!([])));
    let reply = api.tcp(Method::GET, "/v1/health", Some(TOKEN)).await;
    assert_eq!(reply.status, StatusCode::OK);
    // The unix socket needs none.
    let (s, _) = api.call(Method::GET, "/v1/services", None).await;
    assert_eq!(s, StatusCode::OK);
    api.stop().await.unwrap();
}

#[tokio::test]
async fn socket_file_mode_stale_socket_and_cleanup() {
    // The socket lives outside the servers' directories, which go with them.
    let outer = tempfile::tempdir().unwrap();
    let socket = outer.path().join("sub/api.sock");
    let first_settings = ApiSettings {
        socket: socket.clone(),
        ..ApiSettings::default()
    };
    let api =
        TestApi::start_with(tempfile::tempdir().unwrap(), first_settings.clone(), vec![]).await;
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");

    // A second server on the same socket is refused: something listens.
    let dir2 = tempfile::tempdir().unwrap();
    let store =
        Arc::new(ServiceStore::load(vec![], &dir2.path().join("s.json"), settings()).unwrap());
    let dp = Arc::new(FakeDataplane::new(&settings()));
    let e = serve(store.clone(), dp.clone(), &first_settings, async {}, || {})
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("something is listening on it already"),
        "{e:#}"
    );
    assert!(socket.exists(), "the live socket was removed");

    // Stopping removes the socket file.
    api.stop().await.unwrap();
    assert!(!socket.exists());

    // A stale socket (nothing listening) is replaced; another mode is honoured.
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    assert!(socket.exists());
    let dir = tempfile::tempdir().unwrap();
    let settings = ApiSettings {
        socket: socket.clone(),
        socket_mode: 0o660,
        ..ApiSettings::default()
    };
    let api2 = TestApi::start_with(dir, settings, vec![]).await;
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o660, "{mode:o}");
    assert_eq!(
        api2.call(Method::GET, "/v1/health", None).await.0,
        StatusCode::OK
    );
    api2.stop().await.unwrap();

    // A file that is not a socket is left alone.
    std::fs::write(&socket, "precious").unwrap();
    let e = serve(store, dp, &first_settings, async {}, || {})
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("exists and is not a socket"),
        "{e:#}"
    );
    assert_eq!(std::fs::read_to_string(&socket).unwrap(), "precious");
}

#[tokio::test]
async fn services_survive_a_restart() {
    let api = TestApi::start(vec![web("cfg", 443)], false).await;
    api.call(Method::POST, "/v1/services", Some(web_json("web", 80)))
        .await;
    let (_, before) = api.call(Method::GET, "/v1/services", None).await;
    let TestApi { dir, settings, .. } = api;
    // (The old server is still running on its socket; use a new one.)
    let settings = ApiSettings {
        socket: dir.path().join("run/api2.sock"),
        ..settings
    };
    let api2 = TestApi::start_with(dir, settings, vec![web("cfg", 443)]).await;
    let (_, after) = api2.call(Method::GET, "/v1/services", None).await;
    assert_eq!(after, before);
    assert_eq!(
        api2.dp.programmed().keys().collect::<Vec<_>>(),
        ["cfg", "web"]
    );
}

/// Every route the router serves is in docs/api.openapi.yaml with the same
/// methods, and the document has no other.
#[tokio::test]
async fn openapi_document_matches_the_router() {
    let text = include_str!("../../../../docs/api.openapi.yaml");
    let doc: serde_yaml::Value = serde_yaml::from_str(text).unwrap();
    assert_eq!(doc["openapi"].as_str().map(|v| &v[..2]), Some("3."));
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_mapping().unwrap() {
        for (method, _) in item.as_mapping().unwrap() {
            let method = method.as_str().unwrap();
            if method != "parameters" {
                documented.insert((path.as_str().unwrap().to_string(), method.to_uppercase()));
            }
        }
    }

    // What the router serves: for each path, the methods a 405 allows.
    let api = TestApi::start(vec![], false).await;
    let mut served = BTreeSet::new();
    for (path, _) in routes() {
        let concrete = path.replace("{name}", "web").replace("{backend}", "x");
        let reply = api.raw(Method::PATCH, &concrete, None).await;
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{path}");
        let allow = reply.headers[header::ALLOW].to_str().unwrap();
        for method in allow.split(',').filter(|m| *m != "HEAD") {
            served.insert((path.to_string(), method.to_string()));
        }
    }
    assert!(served.len() >= 10, "{served:?}");
    assert_eq!(served, documented);
}
