//! A function's routes as one table: each entry names its method, its path and its
//! handler. The router is assembled from the table, and the same table is what the local
//! stack dispatches on and what the template check compares with `template.yaml`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::handler::Handler;
use axum::routing::{MethodRouter, get, post};
use axum::{Router, middleware};
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

/// How a function's errors are rendered: in the envelope its callers already parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Envelope {
    /// The payer-authentication API's (merchants).
    PayerAuth,
    /// The card-issuance API's (card programs).
    CardIssuance,
    /// Each caller's own: the card-issuance envelope for a card program's key, the
    /// payer-authentication one for anyone else (routes every tenant calls).
    CallersOwn,
    /// Pages, for the browser.
    BrowserPage,
}

/// A function's whole router: its route table, fallbacks for an unknown route or method,
/// its state, the envelope its errors are rendered in, and the span every request's log
/// lines carry.
pub fn router<S>(routes: Vec<Route<Arc<S>>>, state: Arc<S>, envelope: Envelope) -> Router
where
    S: super::HasTenants + Send + Sync + 'static,
{
    let routed = assemble(routes)
        .fallback(super::route_not_found)
        .method_not_allowed_fallback(super::method_not_allowed)
        .with_state(state.clone());
    let enveloped = match envelope {
        Envelope::PayerAuth => routed.layer(middleware::map_response(super::payer_auth_envelope)),
        Envelope::CardIssuance => {
            routed.layer(middleware::map_response(super::card_issuance_envelope))
        }
        Envelope::BrowserPage => routed.layer(middleware::map_response(super::browser_page)),
        Envelope::CallersOwn => routed.layer(middleware::from_fn_with_state(
            state,
            super::callers_own_envelope::<S>,
        )),
    };
    enveloped.layer(middleware::from_fn(super::request_span))
}
