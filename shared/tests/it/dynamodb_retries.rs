//! Which DynamoDB calls the store sends again, against a stand-in endpoint
//! that answers each request as scripted: DynamoDB Local can neither throttle
//! nor fail with a 500 on demand. A write is sent again only after an answer
//! that proves it was not applied; a read after any passing failure, and,
//! when refused for its rate, as the next of the shared reads.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use harness::raw_http::{read_request, response};
use shared::{DynamoDbStore, Seed, Store};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

/// How the stand-in answers one request.
#[derive(Clone, Copy, Debug)]
enum Answer {
    /// Refused for its request rate: DynamoDB did not apply it.
    Throttled,
    /// DynamoDB's 500, which AWS documents as "may have succeeded".
    InternalError,
    /// Read the request, never answer (a stalled store).
    Stall,
    /// Success, with the item holding seed 5 (for a GetItem; a PutItem's
    /// answer body is ignored).
    Ok,
}

/// A loopback HTTP endpoint that counts the requests it received and
/// answers the n-th with `script[n]` (the last entry from then on).
struct ScriptedDynamoDb {
    endpoint: String,
    received: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl ScriptedDynamoDb {
    async fn start(script: &'static [Answer]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("address"));
        let received = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&received);
        let task = tokio::spawn(async move {
            while let Ok((connection, _)) = listener.accept().await {
                tokio::spawn(serve(connection, script, Arc::clone(&counter)));
            }
        });
        ScriptedDynamoDb {
            endpoint,
            received,
            task,
        }
    }

    fn received(&self) -> usize {
        self.received.load(Ordering::SeqCst)
    }

    fn store(&self, call_timeout: Duration) -> DynamoDbStore {
        let config = aws_sdk_dynamodb::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
            .http_client(shared::store::dynamodb::https_client());
        DynamoDbStore::new(config, "seed", call_timeout)
    }
}

impl Drop for ScriptedDynamoDb {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(mut connection: TcpStream, script: &'static [Answer], received: Arc<AtomicUsize>) {
    let mut buffer = Vec::new();
    while read_request(&mut connection, &mut buffer).await.is_some() {
        let n = received.fetch_add(1, Ordering::SeqCst);
        let answer = script[n.min(script.len() - 1)];
        let (status, error_type, body) = match answer {
            Answer::Stall => {
                // Hold the connection open, as a frozen process would.
                std::future::pending::<()>().await;
                unreachable!("pending never completes")
            }
            Answer::Throttled => (
                "400 Bad Request",
                "ProvisionedThroughputExceededException",
                r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"The level of configured provisioned throughput for the table was exceeded."}"#,
            ),
            Answer::InternalError => (
                "500 Internal Server Error",
                "InternalServerError",
                r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"Internal server error"}"#,
            ),
            Answer::Ok => (
                "200 OK",
                "",
                r#"{"Item":{"id":{"S":"seed"},"value":{"S":"5"}}}"#,
            ),
        };
        let mut headers = vec![("content-type", "application/x-amz-json-1.0")];
        if !error_type.is_empty() {
            headers.push(("x-amzn-ErrorType", error_type));
        }
        if connection
            .write_all(&response(status, &headers, body))
            .await
            .is_err()
        {
            return;
        }
    }
}

fn seed(literal: &str) -> Seed {
    Seed::from_integer_literal(literal).expect("a valid seed")
}

#[tokio::test]
async fn a_throttled_write_is_sent_again_until_it_is_applied() {
    use Answer::*;
    let dynamodb = ScriptedDynamoDb::start(&[Throttled, Throttled, Ok]).await;
    // Room for the SDK's jittered backoff after each refusal.
    let store = dynamodb.store(Duration::from_secs(10));
    store
        .put(&seed("7"))
        .await
        .expect("applied on the third try");
    assert_eq!(dynamodb.received(), 3);
}

#[tokio::test]
async fn a_write_that_stalls_is_sent_once_and_may_have_landed() {
    let dynamodb = ScriptedDynamoDb::start(&[Answer::Stall, Answer::Ok]).await;
    let store = dynamodb.store(Duration::from_secs(3));
    let error = store.put(&seed("7")).await.expect_err("no answer in time");
    assert!(error.write_may_have_landed(), "{error}");
    assert_eq!(dynamodb.received(), 1, "the stalled write was sent again");
}

#[tokio::test]
async fn a_write_that_failed_with_a_500_is_sent_once_and_may_have_landed() {
    let dynamodb = ScriptedDynamoDb::start(&[Answer::InternalError, Answer::Ok]).await;
    let store = dynamodb.store(Duration::from_secs(10));
    let error = store.put(&seed("7")).await.expect_err("the 500 is final");
    assert!(error.write_may_have_landed(), "{error}");
    assert_eq!(
        dynamodb.received(),
        1,
        "the write was sent again after a 500"
    );
}

#[tokio::test]
async fn a_read_that_stalls_is_sent_again_within_the_bound() {
    let dynamodb = ScriptedDynamoDb::start(&[Answer::Stall, Answer::Ok]).await;
    let store = dynamodb.store(Duration::from_secs(3));
    let value = store.get().await.expect("the second attempt answers");
    assert_eq!(value.as_str(), "5");
    assert_eq!(dynamodb.received(), 2);
}

#[tokio::test]
async fn a_read_refused_for_its_rate_more_often_than_the_sdk_tries_is_still_answered() {
    use Answer::*;
    let dynamodb = ScriptedDynamoDb::start(&[Throttled, Throttled, Throttled, Throttled, Ok]).await;
    let store = dynamodb.store(Duration::from_secs(3));
    let value = store
        .get()
        .await
        .expect("the read after the refusals answers");
    assert_eq!(value.as_str(), "5");
    assert_eq!(dynamodb.received(), 5);
}
