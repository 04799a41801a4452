//! The webhook notifier against a real HTTP server (hyper) on 127.0.0.1: the exact JSON body
//! and headers, retries on 5xx, no retry on 4xx, a clear error for a closed port, and the
//! header secret in no error or `Debug` output.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use certloop::crypto::SecretString;
use certloop::lifecycle::notify::{Notification, NotificationKind, Notifier, WebhookNotifier};
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use time::macros::datetime;

const TOKEN: &str = "Bearer s3cr3t-webhook-token";

#[derive(Clone, Debug)]
struct Received {
    method: String,
    path: String,
    content_type: String,
    authorization: String,
    body: serde_json::Value,
}

/// A server answering `statuses` in turn (the last one from then on); returns its URL and
/// what it received.
async fn server(statuses: Vec<u16>) -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/hooks/certloop", listener.local_addr().expect("addr"));
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = received.clone();
    tokio::spawn(async move {
        // Bounded: a test sends at most a few requests.
        for _ in 0..16 {
            let Ok((stream, _)) = listener.accept().await else { return };
            let (log, statuses) = (log.clone(), statuses.clone());
            let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                let (log, statuses) = (log.clone(), statuses.clone());
                async move {
                    let header = |name: &str| {
                        request
                            .headers()
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned()
                    };
                    let (method, path) =
                        (request.method().to_string(), request.uri().path().to_owned());
                    let (content_type, authorization) =
                        (header("content-type"), header("authorization"));
                    let body = request.into_body().collect().await.map(|b| b.to_bytes());
                    let body = serde_json::from_slice(&body.unwrap_or_default())
                        .unwrap_or(serde_json::Value::Null);
                    let mut log = log.lock().expect("log");
                    log.push(Received { method, path, content_type, authorization, body });
                    let status = statuses[(log.len() - 1).min(statuses.len() - 1)];
                    let response = Response::builder()
                        .status(StatusCode::from_u16(status).expect("status"))
                        .body(Full::new(Bytes::from_static(b"{}")))
                        .expect("response");
                    Ok::<_, Infallible>(response)
                }
            });
            tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
        }
    });
    (url, received)
}

fn notification() -> Notification {
    Notification {
        kind: NotificationKind::DeployFailed,
        at: datetime!(2027-03-01 02:15 UTC),
        managed_id: "m-1".into(),
        name: "web.example.test".into(),
        certificate_id: Some("c-2".into()),
        not_after: None,
        message: "t1: reload failed; rolled back".into(),
    }
}

fn notifier(url: &str) -> WebhookNotifier {
    WebhookNotifier::new(url)
        .expect("url")
        .with_timeout(Duration::from_secs(5))
        .with_retry(3, Duration::from_millis(10))
        .with_header("Authorization", SecretString::new(TOKEN.to_owned()))
        .expect("header")
}

#[tokio::test]
async fn posts_the_notification_as_json_with_its_headers() {
    let (url, received) = server(vec![204]).await;
    notifier(&url).notify(&notification()).await.expect("delivered");
    let received = received.lock().expect("log").clone();
    assert_eq!(received.len(), 1);
    let r = &received[0];
    assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/hooks/certloop"));
    assert_eq!(r.content_type, "application/json");
    assert_eq!(r.authorization, TOKEN);
    assert_eq!(
        r.body,
        serde_json::json!({
            "kind": "deployFailed", "at": "2027-03-01T02:15:00Z", "managedId": "m-1",
            "name": "web.example.test", "certificateId": "c-2",
            "message": "t1: reload failed; rolled back",
        })
    );
}

#[tokio::test]
async fn server_errors_are_retried_and_client_errors_are_not() {
    let (url, received) = server(vec![500, 503, 200]).await;
    notifier(&url).notify(&notification()).await.expect("delivered on the third attempt");
    assert_eq!(received.lock().expect("log").len(), 3);

    let (url, received) = server(vec![400]).await;
    let err = notifier(&url).notify(&notification()).await.expect_err("400");
    assert_eq!(received.lock().expect("log").len(), 1, "a 400 is not retried");
    assert!(err.to_string().contains("400"), "{err}");
    assert!(!err.to_string().contains("s3cr3t"), "{err}");
}

#[tokio::test]
async fn a_closed_port_is_a_clear_error_without_the_secret() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let url = format!("http://user:pw@127.0.0.1:{port}/hook?token=abc");
    let hook = notifier(&url);
    let err = hook.notify(&notification()).await.expect_err("closed");
    let text = err.to_string();
    assert!(text.contains(&format!("http://127.0.0.1:{port}/hook")), "{text}");
    for shown in [text, format!("{err:?}"), format!("{hook:?}")] {
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(!shown.contains("token=abc") && !shown.contains("user:pw"), "{shown}");
    }
    let bad = WebhookNotifier::new("ftp://127.0.0.1/x").expect_err("scheme");
    assert!(bad.to_string().contains("webhook.url"), "{bad}");
}
