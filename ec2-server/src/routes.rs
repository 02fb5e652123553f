//! The warp side of the server: one filter that hands every request, whatever
//! its method and path, to the shared handler.

use std::convert::Infallible;

use bytes::{Buf, Bytes};
use futures_util::TryStreamExt;
use http::{HeaderMap, Method, Response};
use http_body::Frame;
use http_body_util::StreamBody;
use shared::SeedHandler;
use warp::path::FullPath;
use warp::Filter;

/// All routing and every answer live in [`SeedHandler`]; warp only extracts
/// the parts of the request it needs.
pub fn seed_routes(
    handler: SeedHandler,
) -> impl Filter<Extract = (Response<Bytes>,), Error = Infallible> + Clone + Send + Sync + 'static {
    warp::method()
        .and(warp::path::full())
        .and(warp::header::headers_cloned())
        .and(warp::body::stream())
        .then(
            move |method: Method, path: FullPath, headers: HeaderMap, body| {
                let handler = handler.clone();
                async move {
                    handler
                        .handle(&method, path.as_str(), &headers, into_body(body))
                        .await
                }
            },
        )
        .recover(|_rejection| async { Ok::<_, Infallible>(unreachable_rejection()) })
        .unify()
}

/// warp hands the body over as a stream of buffers; the handler reads an
/// `http_body::Body`, so its size limit and errors apply to every transport.
fn into_body<S, B>(stream: S) -> impl http_body::Body<Data = Bytes, Error = warp::Error>
where
    S: futures_util::Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    StreamBody::new(stream.map_ok(|mut chunk| Frame::data(chunk.copy_to_bytes(chunk.remaining()))))
}

/// None of the filters above rejects (any method, any path, the body taken
/// once), but warp's types allow it: answer like the handler would rather
/// than with warp's default page.
fn unreachable_rejection() -> Response<Bytes> {
    shared::ApiError::NotFound.into_response()
}
