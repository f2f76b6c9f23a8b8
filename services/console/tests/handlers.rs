//! The console's own guarantees, without services behind it: who gets a
//! page, which forms are refused, which headers every answer carries. The
//! services are never reached here (their endpoints are lazy channels to
//! ports nothing listens on): each refusal happens before any call.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use secrecy::SecretString;
use switchyard_console::security::CONTENT_SECURITY_POLICY;
use switchyard_console::session::{COOKIE, Session, Sessions};
use switchyard_console::{ConsoleState, backend::Backend, router};
use switchyard_core::console::ConsoleConfig;
use tower::ServiceExt;

fn console() -> (Router, Sessions) {
    let config = ConsoleConfig {
        registry_endpoint: "http://127.0.0.1:9".to_string(),
        ingest_endpoint: "http://127.0.0.1:9".to_string(),
        router_endpoint: "http://127.0.0.1:9".to_string(),
        delivery_endpoint: "http://127.0.0.1:9".to_string(),
        ..ConsoleConfig::default()
    };
    let sessions = Sessions::new(Duration::from_secs(60));
    let state = ConsoleState {
        backend: Backend::connect(&config, &Default::default()).expect("backend"),
        sessions: sessions.clone(),
        secure_cookie: false,
    };
    (router(state), sessions)
}

fn signed_in(sessions: &Sessions, admin: bool) -> Session {
    sessions.create(Session {
        id: String::new(),
        credential: SecretString::from("sy_test_not_a_real_key"),
        csrf: String::new(),
        workspace_id: "ws_test".to_string(),
        workspace_slug: "acme".to_string(),
        actor: "sy_test_not".to_string(),
        admin,
    })
}

async fn send(app: &Router, request: Request<Body>) -> (StatusCode, header::HeaderMap, String) {
    let response = app.clone().oneshot(request).await.expect("answer");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

fn post(uri: &str, cookie: Option<&str>, form: &str) -> Request<Body> {
    let mut request =
        Request::post(uri).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    request.body(Body::from(form.to_string())).expect("request")
}

#[tokio::test]
async fn pages_need_a_session_and_unknown_sessions_are_sent_to_sign_in() {
    let (app, _) = console();
    for cookie in [None, Some(format!("{COOKIE}=forged"))] {
        let mut request = Request::get("/events");
        if let Some(cookie) = &cookie {
            request = request.header(header::COOKIE, cookie);
        }
        let (status, headers, _) = send(&app, request.body(Body::empty()).expect("request")).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{cookie:?}");
        assert_eq!(headers[header::LOCATION], "/signin");
    }
}

#[tokio::test]
async fn every_answer_carries_the_csp_and_pages_are_not_cached() {
    let (app, _) = console();
    let (status, headers, body) = send(
        &app,
        Request::get("/signin")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers[header::CONTENT_SECURITY_POLICY],
        CONTENT_SECURITY_POLICY
    );
    assert!(CONTENT_SECURITY_POLICY.contains("script-src 'self'"));
    assert!(CONTENT_SECURITY_POLICY.contains("frame-ancestors 'none'"));
    assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert!(body.contains("name=\"credential\""));
    // The sign-in nonce cookie is HttpOnly and SameSite=Strict.
    let cookie = headers[header::SET_COOKIE].to_str().expect("ascii");
    assert!(cookie.starts_with("sy_signin="));
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    // A redirect and an asset carry it too.
    let (_, headers, _) = send(
        &app,
        Request::get("/").body(Body::empty()).expect("request"),
    )
    .await;
    assert_eq!(
        headers[header::CONTENT_SECURITY_POLICY],
        CONTENT_SECURITY_POLICY
    );
    let (status, headers, body) = send(
        &app,
        Request::get("/assets/console.js")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers[header::CONTENT_SECURITY_POLICY],
        CONTENT_SECURITY_POLICY
    );
    assert!(body.contains("data-live") || body.contains("dataset.live"));
}

#[tokio::test]
async fn sign_in_without_the_forms_nonce_is_refused() {
    let (app, _) = console();
    // No nonce cookie (a cross-site form), then a nonce that does not match.
    let (status, _, body) = send(&app, post("/signin", None, "credential=sy_x&nonce=abc")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("load it again"), "{body}");
    let (status, _, _) = send(
        &app,
        post(
            "/signin",
            Some("sy_signin=def"),
            "credential=sy_x&nonce=abc",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn state_changing_forms_without_the_sessions_csrf_token_are_refused() {
    let (app, sessions) = console();
    let session = signed_in(&sessions, true);
    let cookie = format!("{COOKIE}={}", session.id);
    let forms = [
        ("/dead-letters/replay", "connection=con_x".to_string()),
        ("/deliveries/dlv_x/retry", String::new()),
        ("/connections/con_x/pause", String::new()),
        ("/connections/con_x/resume", String::new()),
        (
            "/rules/rul_x/test",
            "event_type=a.b&payload=%7B%7D".to_string(),
        ),
        ("/signout", String::new()),
    ];
    for (uri, fields) in forms {
        for csrf in ["", "&csrf=wrong"] {
            let body = format!("{fields}{csrf}");
            let (status, _, page) = send(&app, post(uri, Some(&cookie), &body)).await;
            // A missing token fails to parse the form (422); a wrong one
            // is refused by the check (403). Neither reaches a service.
            assert!(
                status == StatusCode::FORBIDDEN || status == StatusCode::UNPROCESSABLE_ENTITY,
                "{uri} {csrf:?}: {status} {page}"
            );
            if !csrf.is_empty() {
                assert_eq!(status, StatusCode::FORBIDDEN, "{uri}");
                assert!(page.contains("CSRF token"), "{page}");
            }
        }
    }
    // The session survived every refused sign-out.
    assert!(sessions.get(&session.id).is_some());
    // With the right token, sign-out ends the session and clears the cookie.
    let body = format!("csrf={}", session.csrf);
    let (status, headers, _) = send(&app, post("/signout", Some(&cookie), &body)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(
        headers[header::SET_COOKIE]
            .to_str()
            .expect("ascii")
            .contains("Max-Age=0")
    );
    assert!(sessions.get(&session.id).is_none());
}
