//! The sandbox's own accept loop. `axum::serve` cannot close one connection on request;
//! this loop gives every connection a switch a handler can pull to drop it unanswered,
//! which is how the "dropped connection" fault is real at the TCP level.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::response::Response;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tower::ServiceExt as _;

/// Request extension: closes the connection this request arrived on.
#[derive(Clone)]
pub struct DropConnection(Arc<Notify>);

impl DropConnection {
    /// Closes the connection; the response is never sent.
    pub async fn drop_now(&self) -> Response {
        self.0.notify_one();
        std::future::pending().await
    }
}

pub async fn serve(listener: TcpListener, app: Router, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    continue;
                }
            },
            () = &mut shutdown => return,
        };
        let kill = Arc::new(Notify::new());
        let app = app.clone();
        let switch = DropConnection(kill.clone());
        let service = hyper::service::service_fn(
            move |mut request: hyper::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(switch.clone());
                let app = app.clone();
                async move {
                    Ok::<_, Infallible>(
                        app.oneshot(request.map(axum::body::Body::new))
                            .await
                            .unwrap_or_else(|never| match never {}),
                    )
                }
            },
        );
        tokio::spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = connection => {}
                () = kill.notified() => {} // dropping the connection closes the socket
            }
        });
    }
}
