//! Mocked-API tests of `act`: the requests each action sends and what a
//! refusal or a failing API server makes of it. (Actions that speak RESP to
//! nodes are proven against real nodes by the e2e suite.)

use http::{Request, Response, StatusCode};
use k8s_openapi::api::core::v1::Pod;
use kube::client::Body;
use kube::{Api, Client};
use serde_json::{json, Value};

use super::act::{self, Done};
use super::decide::{Action, LabelChange};

type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

fn api() -> (Api<Pod>, Handle) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "ns");
    (Api::namespaced(client, "ns"), handle)
}

/// Answers the next request with `status` and `reply`; returns the method,
/// path and body the client sent.
async fn answer(handle: &mut Handle, status: StatusCode, reply: Value) -> (String, String, Value) {
    let (req, send) = handle.next_request().await.expect("a request");
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let bytes = req.into_body().collect_bytes().await.expect("body");
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    send.send_response(
        Response::builder()
            .status(status)
            .body(Body::from(serde_json::to_vec(&reply).expect("json")))
            .expect("response"),
    );
    (method, path, body)
}

fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
           "reason": reason, "code": code, "message": message})
}

fn pod(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "ns"}})
}

/// Pod 0 loses `primary`, then pod 1 gains it.
fn demote_0_promote_1() -> Vec<LabelChange> {
    let change = |pod: &str, role| LabelChange {
        pod: pod.into(),
        role,
        reader: false,
    };
    vec![
        change("c-shard-0-0", None),
        change("c-shard-0-1", Some("primary")),
    ]
}

#[tokio::test]
async fn labels_are_patched_in_order_demotions_first() {
    let (pods, mut handle) = api();
    let changes = demote_0_promote_1();
    let server = tokio::spawn(async move {
        let first = answer(&mut handle, StatusCode::OK, pod("c-shard-0-0")).await;
        let second = answer(&mut handle, StatusCode::OK, pod("c-shard-0-1")).await;
        (first, second)
    });
    act::labels(&pods, &changes).await.expect("labelled");
    let (first, second) = server.await.expect("server");
    assert_eq!(first.0, "PATCH");
    assert_eq!(first.1, "/api/v1/namespaces/ns/pods/c-shard-0-0");
    // Merge patch: null removes a label.
    assert_eq!(
        first.2,
        json!({"metadata": {"labels": {"kcache.io/role": null, "kcache.io/reader": null}}})
    );
    assert_eq!(second.1, "/api/v1/namespaces/ns/pods/c-shard-0-1");
    assert_eq!(second.2["metadata"]["labels"]["kcache.io/role"], "primary");
}

#[tokio::test]
async fn a_failed_label_patch_stops_before_the_promotion_is_labelled() {
    let (pods, mut handle) = api();
    let changes = demote_0_promote_1();
    let server = tokio::spawn(async move {
        answer(
            &mut handle,
            StatusCode::INTERNAL_SERVER_ERROR,
            status(500, "InternalError", "etcd is down"),
        )
        .await;
        // No second request: a pod never gains `primary` while the old one
        // may still carry it.
        assert!(
            handle.next_request().await.is_none(),
            "a second patch was sent"
        );
    });
    let result = act::labels(&pods, &changes).await;
    assert!(result.is_err(), "{result:?}");
    drop(pods);
    server.await.expect("server");
}

#[tokio::test]
async fn an_eviction_goes_through_the_eviction_api_and_a_budget_refusal_is_a_wait() {
    let (pods, mut handle) = api();
    let evict = Action::Evict {
        pod: "c-shard-0-2".into(),
    };
    let server = tokio::spawn(async move {
        let refused = answer(
            &mut handle,
            StatusCode::TOO_MANY_REQUESTS,
            status(
                429,
                "TooManyRequests",
                "Cannot evict pod as it would violate the pod's disruption budget.",
            ),
        )
        .await;
        let failed = answer(
            &mut handle,
            StatusCode::INTERNAL_SERVER_ERROR,
            status(500, "InternalError", "etcd is down"),
        )
        .await;
        let ok = answer(
            &mut handle,
            StatusCode::CREATED,
            json!({"kind": "Status", "apiVersion": "v1", "status": "Success", "code": 201}),
        )
        .await;
        (refused, failed, ok)
    });
    let first = act::run(&evict, &pods, None)
        .await
        .expect("a refusal is no error");
    assert!(
        matches!(first, Done::EvictionRefused(ref m) if m.contains("disruption budget")),
        "{first:?}"
    );
    let second = act::run(&evict, &pods, None).await;
    assert!(
        second.is_err(),
        "an API failure is an error: the reconcile retries"
    );
    let third = act::run(&evict, &pods, None).await.expect("evicted");
    assert_eq!(third, Done::Ran);
    let (refused, _, ok) = server.await.expect("server");
    assert_eq!(refused.0, "POST");
    assert_eq!(refused.1, "/api/v1/namespaces/ns/pods/c-shard-0-2/eviction");
    assert_eq!(refused.2["metadata"]["name"], "c-shard-0-2");
    assert_eq!(ok.2["metadata"]["name"], "c-shard-0-2");
}

#[tokio::test]
async fn waiting_sends_nothing() {
    let (pods, mut handle) = api();
    let done = act::run(&Action::Wait("x".into()), &pods, None)
        .await
        .expect("nothing to do");
    assert_eq!(done, Done::Ran);
    drop(pods);
    assert!(handle.next_request().await.is_none());
}
