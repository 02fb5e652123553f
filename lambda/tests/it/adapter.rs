//! The adapter in-process: each event fixture, read by lambda_http as the
//! runtime reads it, answered by `lambda::adapter::serve` and checked with
//! the contract's assertions. Fast enough to run every contract row through
//! every shape; `events` runs the real bootstrap end to end.

use serde_json::json;

use crate::support::events::{every_spec_row, write_protection, Shape, SHAPES};
use crate::support::InProcess;

#[test]
fn every_spec_row_through_every_shape() {
    for shape in SHAPES {
        every_spec_row(shape, InProcess::new(&[]).through(shape));
    }
}

#[test]
fn with_a_write_token_posts_need_it_through_every_shape() {
    for shape in SHAPES {
        let function = InProcess::new(&[("SEED_WRITE_TOKEN", "lambda-t0ken")]);
        write_protection(shape, "lambda-t0ken", function.through(shape));
    }
}

#[test]
fn the_alb_health_check_is_answered_as_a_get() {
    let function = InProcess::new(&[]);
    let event: serde_json::Value =
        serde_json::from_str(include_str!("../events/alb-health-check.json")).expect("JSON");
    assert_eq!(function.answer(&event).assert_seed("health check"), "0");
}

#[test]
fn an_http_api_stage_is_removed_from_the_path() {
    let function = InProcess::new(&[]);
    let mut event = Shape::HttpV2.fixture();
    event["requestContext"]["stage"] = json!("dev");
    for (path, status) in [
        ("/dev/", 200),
        ("/dev", 200),
        ("/dev/x", 404),
        ("/devx", 404),
    ] {
        event["rawPath"] = json!(path);
        event["requestContext"]["http"]["path"] = json!(path);
        let reply = function.answer(&event);
        assert_eq!(
            reply.status.as_u16(),
            status,
            "GET {path} on stage dev: {reply:?}"
        );
    }
}
