//! Mocked-API tests: a reconcile against a scripted API server that checks each
//! request (method, path, field manager) in order and answers it.

use std::sync::Arc;

use http::{Request, Response, StatusCode};
use kube::client::Body;
use kube::runtime::events::{Recorder, Reporter};
use kube::Client;
use serde_json::{json, Value};

use super::{reconcile, Context};
use crate::builders::fixtures::{cluster, IMAGE};
use crate::constants::FIELD_MANAGER;
use crate::crd::CacheCluster;
use crate::error::Category;
use crate::metrics::Metrics;

type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

/// How the scripted server answers one request.
enum Reply {
    /// Returns the request body, as an apply or a create does.
    Echo,
    NotFound,
    /// A 500 from the API server.
    ServerError,
    Json(Value),
}

struct Expect {
    method: &'static str,
    path: String,
    reply: Reply,
}

fn expect(method: &'static str, path: &str, reply: Reply) -> Expect {
    Expect {
        method,
        path: path.into(),
        reply,
    }
}

/// One request the server saw.
#[derive(Debug)]
struct Seen {
    path: String,
    query: String,
    body: Value,
}

fn context() -> (Arc<Context>, Handle) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "default");
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: FIELD_MANAGER.into(),
            instance: None,
        },
    );
    let ctx = Context {
        client,
        recorder,
        metrics: Arc::new(Metrics::default()),
        node_image: IMAGE.into(),
        volatile_writes: Default::default(),
        written: Default::default(),
    };
    (Arc::new(ctx), handle)
}

/// Serves `script` in order, then fails on any further request until the
/// client is dropped. Returns what it saw.
async fn serve(mut handle: Handle, script: Vec<Expect>) -> Vec<Seen> {
    let mut seen = Vec::new();
    for step in script {
        let (req, send) = handle
            .next_request()
            .await
            .unwrap_or_else(|| panic!("client closed; expected {} {}", step.method, step.path));
        let path = req.uri().path().to_string();
        let query = req.uri().query().unwrap_or_default().to_string();
        assert_eq!(
            (req.method().as_str(), path.as_str()),
            (step.method, step.path.as_str()),
            "request out of order (query {query})"
        );
        let bytes = req.into_body().collect_bytes().await.expect("request body");
        let body: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("JSON request body")
        };
        let (status, reply) = match step.reply {
            Reply::Echo => (StatusCode::OK, echo(&body)),
            Reply::Json(v) => (StatusCode::OK, v),
            Reply::ServerError => (
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                       "reason": "InternalError", "code": 500, "message": "etcd is down"}),
            ),
            Reply::NotFound => (
                StatusCode::NOT_FOUND,
                json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                       "reason": "NotFound", "code": 404, "message": "not found"}),
            ),
        };
        let response = Response::builder()
            .status(status)
            .body(Body::from(
                serde_json::to_vec(&reply).expect("reply serializes"),
            ))
            .expect("response");
        send.send_response(response);
        seen.push(Seen { path, query, body });
    }
    if let Some((req, _)) = handle.next_request().await {
        panic!("unexpected request {} {}", req.method(), req.uri());
    }
    seen
}

/// The object an apply returns: the applied body, with the metadata and spec a
/// status-only apply leaves out.
fn echo(body: &Value) -> Value {
    let mut reply = body.clone();
    if reply.get("metadata").is_none() {
        reply["metadata"] = json!({"name": "demo", "namespace": "shop", "uid": "0b7c-uid"});
        reply["spec"] = json!({});
    }
    reply
}

fn empty_list(kind: &str) -> Reply {
    Reply::Json(json!({"kind": kind, "apiVersion": "v1", "metadata": {}, "items": []}))
}

const NS: &str = "/api/v1/namespaces/shop";
const APPS: &str = "/apis/apps/v1/namespaces/shop";
const EVENTS: &str = "/apis/events.k8s.io/v1/namespaces/shop/events";
const STATUS: &str = "/apis/kcache.io/v1alpha1/namespaces/shop/cacheclusters/demo/status";

/// The reconciler's first reads: the password Secret `secret` (answered
/// `reply`), then the cluster's StatefulSets (none).
fn lookups(secret: &str, reply: Reply) -> Vec<Expect> {
    vec![
        expect("GET", &format!("{NS}/secrets/{secret}"), reply),
        expect(
            "GET",
            &format!("{APPS}/statefulsets"),
            empty_list("StatefulSetList"),
        ),
    ]
}

/// A script in parts.
fn join<const N: usize>(parts: [Vec<Expect>; N]) -> Vec<Expect> {
    parts.into_iter().flatten().collect()
}

/// A reconcile that stops after its reads: the lookups (the password Secret
/// `secret` missing), a Warning event, the status.
fn refused(secret: &str) -> Vec<Expect> {
    join([
        lookups(secret, Reply::NotFound),
        vec![
            expect("POST", EVENTS, Reply::Echo),
            expect("PATCH", STATUS, Reply::Echo),
        ],
    ])
}

/// The applies of a one-shard cluster "demo", in the reconciler's order: the
/// password Secret, the ConfigMap, the Services, the StatefulSet.
fn applies() -> Vec<Expect> {
    [
        format!("{NS}/secrets/demo-auth"),
        format!("{NS}/configmaps/demo-config"),
        format!("{NS}/services/demo-shard-0"),
        format!("{NS}/services/demo-primary"),
        format!("{NS}/services/demo-reader"),
        format!("{NS}/services/demo"),
        format!("{APPS}/statefulsets/demo-shard-0"),
    ]
    .iter()
    .map(|path| expect("PATCH", path, Reply::Echo))
    .collect()
}

async fn run(cc: CacheCluster, script: Vec<Expect>) -> (crate::error::Result<()>, Vec<Seen>) {
    let (ctx, handle) = context();
    let server = tokio::spawn(serve(handle, script));
    let result = reconcile(Arc::new(cc), ctx).await.map(|_| ());
    // Dropping the context drops the client: the server sees the end.
    let seen = server.await.expect("server task");
    (result, seen)
}

fn assert_applied(seen: &[Seen]) {
    for s in seen.iter().filter(|s| s.query.contains("fieldManager")) {
        assert!(
            s.query.contains(&format!("fieldManager={FIELD_MANAGER}"))
                && s.query.contains("force=true"),
            "apply of {} must use the one field manager, forced: {}",
            s.path,
            s.query
        );
    }
}

#[tokio::test]
async fn first_reconcile_applies_every_object_in_order_then_status() {
    let script = join([
        lookups("demo-auth", Reply::NotFound),
        applies(),
        vec![
            expect(
                "PATCH",
                "/apis/policy/v1/namespaces/shop/poddisruptionbudgets/demo-shard-0",
                Reply::Echo,
            ),
            expect("POST", EVENTS, Reply::Echo),
            expect("POST", EVENTS, Reply::Echo),
            expect("GET", &format!("{NS}/pods"), empty_list("PodList")),
            expect("PATCH", STATUS, Reply::Echo),
        ],
    ]);
    let (result, seen) = run(cluster(""), script).await;
    result.expect("reconcile succeeds");
    assert_applied(&seen);

    assert!(
        seen[1].query.contains("labelSelector="),
        "StatefulSets are listed by label"
    );
    let secret = &seen[2].body;
    assert_eq!(secret["kind"], "Secret");
    assert_eq!(
        secret["metadata"]["ownerReferences"][0]["kind"],
        "CacheCluster"
    );
    let sts = &seen[8].body;
    assert_eq!(sts["apiVersion"], "apps/v1");
    assert_eq!(sts["spec"]["updateStrategy"]["type"], "OnDelete");
    assert_eq!(seen[10].body["reason"], "PasswordGenerated");
    assert_eq!(seen[11].body["reason"], "ShardCreated");

    let status = &seen[13];
    assert!(status
        .query
        .contains(&format!("fieldManager={FIELD_MANAGER}")));
    assert_eq!(status.body["apiVersion"], "kcache.io/v1alpha1");
    assert_eq!(status.body["kind"], "CacheCluster");
    assert_eq!(status.body["status"]["phase"], "Creating");
    assert_eq!(status.body["status"]["observedGeneration"], 1);
    assert_eq!(status.body["status"]["ready"], "0/2");
    let conditions = status.body["status"]["conditions"]
        .as_array()
        .expect("conditions");
    let types: Vec<&str> = conditions
        .iter()
        .filter_map(|c| c["type"].as_str())
        .collect();
    assert_eq!(types, ["Ready", "Progressing", "Degraded"]);
}

#[tokio::test]
async fn disabling_disruption_budgets_deletes_them() {
    let existing = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "demo-auth", "namespace": "shop"}, "data": {"password": "c2VjcmV0"}});
    let script = join([
        lookups("demo-auth", Reply::Json(existing)),
        applies(),
        vec![
            expect(
                "DELETE",
                "/apis/policy/v1/namespaces/shop/poddisruptionbudgets",
                empty_list("PodDisruptionBudgetList"),
            ),
            expect("POST", EVENTS, Reply::Echo),
            expect("GET", &format!("{NS}/pods"), empty_list("PodList")),
            expect("PATCH", STATUS, Reply::Echo),
        ],
    ]);
    let (result, seen) = run(cluster("disruption: {enabled: false}"), script).await;
    result.expect("reconcile succeeds");
    assert!(
        seen[9].query.contains("labelSelector="),
        "only this cluster's budgets"
    );
    let secret = &seen[2].body["data"]["password"];
    assert_eq!(secret, "c2VjcmV0", "an existing generated password is kept");
    assert_eq!(seen[10].body["reason"], "ShardCreated");
}

#[tokio::test]
async fn invalid_spec_reports_in_status_and_event_and_applies_nothing() {
    let spec = "resources: {limits: {memory: 1Gi}}\nmaxMemory: 2Gi";
    let script = refused("demo-auth");
    let (result, seen) = run(cluster(spec), script).await;
    let err = result.expect_err("invalid spec fails the reconcile");
    assert_eq!(err.category(), Category::InvalidSpec);
    assert_eq!(seen[2].body["type"], "Warning");
    assert_eq!(seen[2].body["reason"], "InvalidSpec");
    assert!(seen[2].body["note"]
        .as_str()
        .is_some_and(|n| n.contains("maxMemory")));
    assert_eq!(seen[3].body["status"]["phase"], "Invalid");
    assert_eq!(
        seen[3].body["status"]["conditions"][0]["reason"],
        "InvalidSpec"
    );
}

#[tokio::test]
async fn missing_user_secret_is_a_dependency_error() {
    let spec = "auth: {passwordSecret: {name: app-pass}}";
    let script = refused("app-pass");
    let (result, seen) = run(cluster(spec), script).await;
    assert_eq!(
        result.expect_err("missing secret").category(),
        Category::Dependency
    );
    assert_eq!(seen[2].body["reason"], "SecretNotFound");
    assert_eq!(seen[3].body["status"]["phase"], "Pending");
}

#[tokio::test]
async fn paused_cluster_only_reports() {
    let script = vec![
        expect("POST", EVENTS, Reply::Echo),
        expect("PATCH", STATUS, Reply::Echo),
    ];
    let (result, seen) = run(cluster("paused: true"), script).await;
    result.expect("paused reconcile succeeds");
    assert_eq!(seen[0].body["reason"], "Paused");
    assert_eq!(seen[1].body["status"]["phase"], "Paused");
}

#[tokio::test]
async fn api_errors_are_kube_api_errors() {
    let script = vec![expect(
        "GET",
        &format!("{NS}/secrets/demo-auth"),
        Reply::ServerError,
    )];
    let (result, _) = run(cluster(""), script).await;
    assert_eq!(
        result.expect_err("server error").category(),
        Category::KubeApi
    );
}

#[tokio::test]
async fn a_cluster_being_deleted_is_left_to_garbage_collection() {
    let mut cc = cluster("");
    cc.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        k8s_openapi::jiff::Timestamp::now(),
    ));
    // No request at all: nothing applied, no status written.
    let (result, seen) = run(cc, vec![]).await;
    result.expect("reconcile succeeds");
    assert!(seen.is_empty());
}

#[tokio::test]
async fn a_status_write_after_deletion_is_not_an_error() {
    let mut cc = cluster("");
    cc.spec.paused = true;
    cc.status = Some(crate::crd::CacheClusterStatus {
        phase: Some(crate::crd::Phase::Paused),
        ..Default::default()
    });
    let script = vec![expect("PATCH", STATUS, Reply::NotFound)];
    let (result, seen) = run(cc, script).await;
    result.expect("a 404 on the status write means the cluster is gone");
    assert_eq!(seen.len(), 1);
}
