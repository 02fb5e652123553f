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
    let post = {
        let handler = Arc::clone(&handler);
        warp::post()
            .and(warp::path::full())
            .and(warp::header::headers_cloned())
            .and(warp::body::stream())
            .then(move |path: FullPath, headers: HeaderMap, body| {
                let handler = Arc::clone(&handler);
                async move {
                    handler
                        .handle(&Method::POST, path.as_str(), &headers, into_body(body))
                        .await
                }
            })
    };
    let any_other =
        warp::method()
            .and(warp::path::full())
            .then(move |method: Method, path: FullPath| {
                let handler = Arc::clone(&handler);
                async move {
                    handler
                        .handle(
                            &method,
                            path.as_str(),
                            &HeaderMap::new(),
                            Empty::<Bytes>::new(),
                        )
                        .await
                }
            });
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
