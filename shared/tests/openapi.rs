//! The OpenAPI document (`GET /openapi.json`, `todo-local openapi`): every route a function
//! serves is in its document and nothing else is, the document holds together as OpenAPI
//! 3.1 (references resolve, path parameters are declared, operation ids are unique, links
//! lead somewhere), and the docs page serves the whole API's.
//!
//! The routes are read from the axum routers themselves (`routes_of`), not from the
//! declarations the document is made from, so a route added any other way than with its
//! operation fails here. (scripts/contract-test.sh also checks the document against the
//! OpenAPI 3.1 schema and the running server against it.)

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use common::TestApp;
use serde_json::Value;
use shared::events::publisher::NoPublisher;
use shared::handlers;
use shared::http::Function;

/// (method, path) pairs, methods upper case.
type Routes = BTreeSet<(String, String)>;

/// The routes `router` answers, read from its `Debug` form (axum has no other way to list
/// them): each path of its path router with the methods of its `Allow` header. `*` stands
/// for a route that takes any method. `HEAD` is left out where `GET` is there (axum answers
/// it with the `GET` handler).
fn routes_of<S>(router: &Router<S>) -> Routes {
    let debug = format!("{router:?}");
    let path_router = section(&debug, "path_router: PathRouter {", "fallback_router:");
    let endpoints = section(path_router, "routes: {", ", node: Node {");
    let paths = section(path_router, "node: Node { paths: {", "} }");
    let path_of: BTreeMap<&str, &str> = entries(paths)
        .map(|(id, rest)| (id, rest.split('"').nth(1).expect("a quoted path")))
        .collect();
    let mut routes = Routes::new();
    for (id, endpoint) in entries(endpoints) {
        let path = path_of[id];
        let methods: Vec<String> = if endpoint.starts_with("MethodRouter(") {
            let allow = endpoint
                .split("allow_header: ")
                .nth(1)
                .expect("a method router names its Allow header");
            if allow.starts_with("Skip") {
                vec!["*".into()]
            } else if let Some(bytes) = allow.strip_prefix("Bytes(b\"") {
                bytes
                    .split('"')
                    .next()
                    .unwrap()
                    .split(',')
                    .map(str::to_owned)
                    .collect()
            } else {
                panic!("{path}: no methods? {allow:.40}")
            }
        } else {
            vec!["*".into()]
        };
        let get = methods.iter().any(|m| m == "GET");
        for method in methods {
            if !(get && method == "HEAD") {
                routes.insert((method, path.to_owned()));
            }
        }
    }
    assert!(
        debug.contains("path_router"),
        "axum's Debug form changed: update routes_of"
    );
    routes
}

/// The text of `text` after `start`, up to the first `end` after it.
fn section<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text.find(start).unwrap_or_else(|| panic!("no {start:?}")) + start.len();
    let to = text[from..].find(end).map_or(text.len(), |i| from + i);
    &text[from..to]
}

/// The `RouteId(n): <value>` entries of a map's Debug text: (n, the text up to the next).
fn entries(map: &str) -> impl Iterator<Item = (&str, &str)> {
    map.split("RouteId(").skip(1).map(|entry| {
        let (id, rest) = entry.split_once("): ").expect("RouteId(n): value");
        (id, rest)
    })
}

/// The (method, path) pairs of a document's operations.
fn documented(doc: &Value) -> Routes {
    let mut routes = Routes::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().unwrap().keys() {
            if method != "parameters" && method != "summary" && method != "description" {
                routes.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    routes
}

async fn get_json(app: &TestApp, path: &str) -> Value {
    let (status, _, body) = app
        .send(Request::get(path).body(Body::empty()).unwrap())
        .await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body
}

/// A function binary's app, as `harness::run` builds it.
async fn function_app(function: &'static Function) -> TestApp {
    TestApp::with_state(
        common::Db::open(1).await,
        Arc::new(NoPublisher),
        &[function],
        |_| {},
    )
}

/// Every function, and `todo-local`'s development sign-in.
fn every_function() -> Vec<&'static Function> {
    handlers::ALL
        .iter()
        .copied()
        .chain([&handlers::dev_sign_in::FUNCTION])
        .collect()
}

#[tokio::test]
async fn each_function_documents_exactly_the_routes_it_serves() {
    for function in every_function() {
        let app = function_app(function).await;
        let served = routes_of(&app.router);
        let doc = get_json(&app, "/openapi.json").await;
        let mut undocumented: Routes = routes_of(&(function.sidecar)());
        undocumented.insert(("GET".into(), "/dapr/subscribe".into()));
        // For the Prometheus scrape, behind the app token like the sidecar's routes.
        undocumented.insert(("GET".into(), "/metrics".into()));
        undocumented.extend(routes_of(&(function.pages)()));
        let api: Routes = served.difference(&undocumented).cloned().collect();
        assert_eq!(
            api,
            documented(&doc),
            "{}: the routes it serves (left) and its /openapi.json (right)",
            function.name
        );
        for (method, path) in routes_of(&(function.api)().split_for_parts().0) {
            assert!(
                api.contains(&(method.clone(), path.clone())),
                "{}: {method} {path} is declared but not served",
                function.name
            );
        }
        // Its own operations, and the probes and document every function serves.
        for (path, item) in doc["paths"].as_object().unwrap() {
            for operation in item.as_object().unwrap().values() {
                let tags = operation["tags"].as_array().unwrap();
                assert!(
                    tags == &[function.name] || tags == &["operations"],
                    "{}: {path} is tagged {tags:?}",
                    function.name
                );
            }
        }
    }
}

#[tokio::test]
async fn todo_local_documents_exactly_the_routes_it_serves() {
    let app = TestApp::local(|_| {}).await;
    let served = routes_of(&app.router);
    let doc = get_json(&app, "/openapi.json").await;
    let local = handlers::local();
    let pages: Routes = local.iter().flat_map(|f| routes_of(&(f.pages)())).collect();
    let api: Routes = served.difference(&pages).cloned().collect();
    assert_eq!(api, documented(&doc));
    // Every function it hosts is in it; the sidecar's routes are not.
    let paths = documented(&doc);
    for function in &local {
        let (routes, _) = (function.api)().split_for_parts();
        assert!(routes_of(&routes).is_subset(&paths), "{}", function.name);
    }
    for (_, path) in &paths {
        for internal in ["/events/", "/job/", "/reminder-cron", "/dapr/"] {
            assert!(!path.starts_with(internal), "{path} is the sidecar's");
        }
    }
    // The same document as `todo-local openapi` prints.
    let printed: Value = serde_json::from_str(&shared::http::openapi::to_json(
        &shared::http::document(&local),
        true,
    ))
    .unwrap();
    assert_eq!(doc, printed);
}

/// Every `$ref` in `value` (`#/components/...` pointers).
fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r),
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_document_holds_together_as_openapi_3_1() {
    let doc: Value = serde_json::from_str(&shared::http::openapi::to_json(
        &shared::http::document(&handlers::local()),
        false,
    ))
    .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert_eq!(doc["security"], serde_json::json!([{"bearer": []}]));

    let mut pointers = Vec::new();
    refs(&doc, &mut pointers);
    assert!(!pointers.is_empty());
    for pointer in pointers {
        let target = pointer
            .strip_prefix('#')
            .and_then(|p| doc.pointer(p))
            .unwrap_or_else(|| panic!("{pointer} resolves to nothing"));
        assert!(target.is_object(), "{pointer}");
    }

    let mut ids = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let templated: BTreeSet<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        for (method, operation) in item.as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap_or_else(|| {
                panic!("{method} {path} has no operationId");
            });
            let params: Vec<&Value> = operation["parameters"]
                .as_array()
                .map(|p| p.iter().collect())
                .unwrap_or_default();
            let in_path: BTreeSet<&str> = params
                .iter()
                .filter(|p| p["in"] == "path")
                .map(|p| {
                    assert_eq!(p["required"], true, "{id}: path parameters are required");
                    p["name"].as_str().unwrap()
                })
                .collect();
            assert_eq!(in_path, templated, "{id}: its path parameters");
            let names: Vec<(&str, &str)> = params
                .iter()
                .map(|p| (p["name"].as_str().unwrap(), p["in"].as_str().unwrap()))
                .collect();
            let unique: BTreeSet<_> = names.iter().collect();
            assert_eq!(unique.len(), names.len(), "{id}: a parameter twice");
            assert!(
                ids.insert(id.to_owned(), (path.clone(), method.clone()))
                    .is_none(),
                "operationId {id} twice"
            );
            let responses = operation["responses"].as_object().unwrap();
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{id}: a success answer"
            );
            // An API route needs the token; the public ones say so.
            let public = operation["security"] == serde_json::json!([]);
            assert_eq!(
                public,
                !path.starts_with("/api/") && path != "/mcp",
                "{id}: public or not"
            );
            if !public {
                assert!(responses.contains_key("401"), "{id}: 401");
            }
        }
    }

    // Links name operations that exist, with parameters those operations take.
    let mut links = 0;
    for item in doc["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            for response in operation["responses"].as_object().unwrap().values() {
                for (name, link) in response["links"].as_object().into_iter().flatten() {
                    links += 1;
                    let target = link["operationId"]
                        .as_str()
                        .unwrap_or_else(|| panic!("link {name}: {link}"));
                    let (path, method) = &ids[target];
                    let parameters = doc["paths"][path][method]["parameters"].as_array().unwrap();
                    for key in link["parameters"].as_object().unwrap().keys() {
                        assert!(
                            parameters.iter().any(|p| p["name"] == key.as_str()),
                            "link {name}: {target} takes no {key}"
                        );
                    }
                }
            }
        }
    }
    assert!(links >= 5, "create's links to the task's operations");
}

/// Every error answer documented is the error JSON, and its example is what `ApiError`
/// writes for that status.
#[tokio::test]
async fn every_error_answer_is_the_error_json() {
    let doc: Value = serde_json::from_str(&shared::http::openapi::to_json(
        &shared::http::document(&handlers::local()),
        false,
    ))
    .unwrap();
    let resolve = |response: &Value| -> Value {
        match response["$ref"].as_str() {
            Some(pointer) => doc.pointer(&pointer[1..]).unwrap().clone(),
            None => response.clone(),
        }
    };
    let codes: BTreeSet<&str> = doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            for (status, response) in operation["responses"].as_object().unwrap() {
                let Ok(status) = status.parse::<u16>() else {
                    continue;
                };
                if status < 400 || (path == "/readyz" && status == 503) {
                    continue;
                }
                let response = resolve(response);
                let json = &response["content"]["application/json"];
                assert_eq!(
                    json["schema"]["$ref"], "#/components/schemas/ErrorBody",
                    "{method} {path} {status}"
                );
                let code = json["example"]["error"]["code"].as_str().unwrap();
                assert!(codes.contains(code), "{code}");
            }
        }
    }
}

#[tokio::test]
async fn the_docs_page_gets_the_whole_apis_document() {
    // A function binary's own /openapi.json has its routes; the docs page (served by the
    // web function) shows every function's: the copy of their document that the image
    // writes beside the app (`todo-local openapi --functions`).
    let dir = std::env::temp_dir().join(format!("todo-docs-{}", uuid::Uuid::new_v4()));
    let copy = dir.join(handlers::web::DOCUMENT_COPY);
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    let document = shared::http::document(handlers::ALL);
    std::fs::write(&copy, shared::http::openapi::to_json(&document, true)).unwrap();
    let mut app = function_app(&handlers::web::FUNCTION).await;
    app.router = app
        .router
        .layer(axum::Extension(handlers::web::WebApp::new(&dir)));
    let own = get_json(&app, "/openapi.json").await;
    assert!(own["paths"]["/config.json"].is_object());
    assert!(own["paths"]["/api/{user_id}/tasks"].is_null());
    let whole = get_json(&app, "/docs/openapi.json").await;
    let whole_routes = documented(&whole);
    for function in handlers::ALL {
        let (routes, _) = (function.api)().split_for_parts();
        assert!(
            routes_of(&routes).is_subset(&whole_routes),
            "{}",
            function.name
        );
    }
    assert!(
        whole["paths"]["/dev/token"].is_null(),
        "no function binary signs anyone in"
    );
    std::fs::remove_dir_all(dir).unwrap();

    // todo-local's has its development sign-in.
    let local = TestApp::local(|_| {}).await;
    let whole = get_json(&local, "/docs/openapi.json").await;
    assert!(whole["paths"]["/dev/token"]["post"].is_object());
}
