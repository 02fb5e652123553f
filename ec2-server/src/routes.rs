//! The warp side of the server: one filter that hands every request to the
//! shared handler.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::{Buf, Bytes};
use futures_util::TryStreamExt;
use http::{HeaderMap, Method, Response};
use http_body::Frame;
use http_body_util::{Empty, StreamBody};
use shared::SeedHandler;
use warp::path::FullPath;
use warp::Filter;

/// All routing lives in [`SeedHandler`]. It reads headers and body for a POST
/// only, so only a POST pays for copying its headers out.
pub fn seed_routes(
    handler: SeedHandler,
) -> impl Filter<Extract = (Response<Bytes>,), Error = Infallible> + Clone + Send + Sync + 'static {
    // Each request's future owns a reference: one count, not a copy.
    let handler = Arc::new(handler);
    let with_handler = warp::any().map(move || Arc::clone(&handler));
    let post = warp::post()
        .and(with_handler.clone())
        .and(warp::path::full())
        .and(warp::header::headers_cloned())
        .and(warp::body::stream())
        .then(
            |handler: Arc<SeedHandler>, path: FullPath, headers: HeaderMap, body| async move {
                let body = into_body(body);
                handler
                    .handle(&Method::POST, path.as_str(), &headers, body)
                    .await
            },
        );
    let any_other = warp::method()
        .and(with_handler)
        .and(warp::path::full())
        .then(
            |method: Method, handler: Arc<SeedHandler>, path: FullPath| async move {
                let (headers, body) = (HeaderMap::new(), Empty::<Bytes>::new());
                handler.handle(&method, path.as_str(), &headers, body).await
            },
        );
    // `any_other` takes every method: the whole never rejects (`Infallible`).
    post.or(any_other).unify()
}

/// warp's body stream as the `http_body::Body` every transport gives.
fn into_body<S, B>(stream: S) -> impl http_body::Body<Data = Bytes, Error = warp::Error>
where
    S: futures_util::Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    StreamBody::new(stream.map_ok(|mut chunk| Frame::data(chunk.copy_to_bytes(chunk.remaining()))))
}
