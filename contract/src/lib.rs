//! docs/contract.md as a test suite, spoken over real HTTP.
//!
//! Every target (the warp server, the Lambda function under its emulator) and
//! every store run these same cases: a test crate calls [`contract_suite!`]
//! with a function that starts a fresh service and returns something that
//! dereferences to an [`Endpoint`]. Nothing here knows which target it tests.

pub mod cases;
pub mod client;
pub mod history;
pub mod linearizability;
pub mod raw;
pub mod settings;
pub mod telemetry;

pub use client::{socket_address, Endpoint, Reply};

/// Expands to one `#[tokio::test]` per case in [`cases`], each calling
/// `$start().await` for a service of its own. `$start` returns anything that
/// dereferences to an [`Endpoint`] and stops the service when dropped.
///
/// `contract_suite!(start, ignore = "needs X; ...")` marks every case
/// `#[ignore]`, for a target that needs more than the Rust toolchain.
///
/// `contract_suite!(in_order)` expands instead to every case as a
/// `&[(name, Case)]`, for a target too slow to start once per case (`sam
/// local`): the caller runs them one after another on one service.
#[macro_export]
macro_rules! contract_suite {
    (@cases [in_order]; $($case:ident),* $(,)?) => {{
        let cases: &[(&str, $crate::Case)] = &[$(
            (stringify!($case), {
                fn run(service: &$crate::Endpoint) -> $crate::CaseFuture<'_> {
                    ::std::boxed::Box::pin($crate::cases::$case(service))
                }
                run
            }),
        )*];
        cases
    }};
    (@cases [$start:path, ignore = $reason:literal]; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[ignore = $reason]
            async fn $case() {
                let service = $start().await;
                $crate::cases::$case(&*service).await;
            }
        )*
    };
    (@cases [$start:path]; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let service = $start().await;
                $crate::cases::$case(&*service).await;
            }
        )*
    };
    ($($how:tt)+) => {
        $crate::for_each_case! { @cases [$($how)+] }
    };
}

/// One contract case, run against a service.
pub type Case = for<'a> fn(&'a Endpoint) -> CaseFuture<'a>;
pub type CaseFuture<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>>;
