//! API Gateway's routing, off AWS: each request goes, untouched, to the function whose
//! route table has its path — for the local stack and the tests that drive the gateway
//! as a client sees it.

use std::sync::Arc;

use axum::Router;
use axum::response::IntoResponse as _;
use gateway::http::routes::RouteKey;

/// Routes each request, untouched, to the function whose route table matches its path —
/// what API Gateway does in front of the Lambda functions. (Dispatching with axum routes
/// instead would hand the function router the dispatcher's own path parameters.)
#[derive(Clone)]
pub struct Dispatch {
    paths: Arc<matchit::Router<usize>>,
    functions: Arc<Vec<Router>>,
}

impl Dispatch {
    pub fn new(functions: Vec<(Vec<RouteKey>, Router)>) -> Self {
        let mut paths = matchit::Router::new();
        let mut routers = Vec::new();
        for (index, (routes, router)) in functions.into_iter().enumerate() {
            // A path two methods of one function share is inserted once; a path of two
            // functions is a conflict, as it would be in API Gateway.
            let unique: std::collections::BTreeSet<&str> =
                routes.iter().map(|(_, path)| *path).collect();
            for path in unique {
                paths
                    .insert(path, index)
                    .unwrap_or_else(|e| panic!("{path} is routed twice: {e}"));
            }
            routers.push(router);
        }
        Self {
            paths: Arc::new(paths),
            functions: Arc::new(routers),
        }
    }
}

impl tower::Service<axum::extract::Request> for Dispatch {
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: axum::extract::Request) -> Self::Future {
        use tower::ServiceExt as _;
        let router = self
            .paths
            .at(request.uri().path())
            .ok()
            .map(|found| self.functions[*found.value].clone());
        Box::pin(async move {
            match router {
                Some(router) => router.oneshot(request).await,
                None => Ok(axum::http::StatusCode::NOT_FOUND.into_response()),
            }
        })
    }
}
