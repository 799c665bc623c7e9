//! A function's routes as one table: each entry names its method, its path and its
//! handler. The router is assembled from the table, and the same table is what the local
//! stack dispatches on and what the template check compares with `template.yaml`.

use std::collections::BTreeMap;

use axum::Router;
use axum::handler::Handler;
use axum::routing::{MethodRouter, get, post};
pub use http::Method;

/// A route as API Gateway matches it: method and path template.
pub type RouteKey = (Method, &'static str);

pub struct Route<S> {
    pub method: Method,
    pub path: &'static str,
    handler: MethodRouter<S>,
}

impl<S: Clone + Send + Sync + 'static> Route<S> {
    pub fn get<H: Handler<T, S>, T: 'static>(path: &'static str, handler: H) -> Self {
        Self {
            method: Method::GET,
            path,
            handler: get(handler),
        }
    }

    pub fn post<H: Handler<T, S>, T: 'static>(path: &'static str, handler: H) -> Self {
        Self {
            method: Method::POST,
            path,
            handler: post(handler),
        }
    }
}

/// The table's routes, one router; methods of the same path share its entry.
pub fn assemble<S: Clone + Send + Sync + 'static>(routes: Vec<Route<S>>) -> Router<S> {
    let mut by_path: BTreeMap<&'static str, MethodRouter<S>> = BTreeMap::new();
    for route in routes {
        let merged = match by_path.remove(route.path) {
            Some(existing) => existing.merge(route.handler),
            None => route.handler,
        };
        by_path.insert(route.path, merged);
    }
    by_path
        .into_iter()
        .fold(Router::new(), |router, (path, handler)| {
            router.route(path, handler)
        })
}

/// `(method, path)` of each route, for dispatch and checks.
pub fn table<S>(routes: &[Route<S>]) -> Vec<RouteKey> {
    routes.iter().map(|r| (r.method.clone(), r.path)).collect()
}
