//! SPEC.md as a test suite, spoken over real HTTP.
//!
//! Every target (the warp server, the Lambda function under its emulator) and
//! every store run these same cases: a test crate calls [`contract_suite!`]
//! with a function that starts a fresh service and returns something that
//! dereferences to an [`Endpoint`]. Nothing here knows which target it tests.

pub mod cases;
pub mod client;
pub mod raw;
pub mod settings;

pub use client::{Endpoint, Reply};

/// Expands to one `#[tokio::test]` per case in [`cases`], each calling
/// `$start().await` for a service of its own. `$start` returns anything that
/// dereferences to an [`Endpoint`] and stops the service when dropped.
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
        $crate::contract_suite! {@cases [$($how)+];
            get_answers_zero_before_any_post,
            post_then_get_round_trips,
            post_with_form_content_type_is_parsed_as_json,
            post_with_any_content_type_is_parsed_as_json,
            negative_zero_is_stored_as_zero,
            other_members_are_ignored,
            big_integers_round_trip_exactly,
            head_answers_like_get_without_a_body,
            options_lists_the_allowed_methods,
            other_methods_get_405_with_allow,
            unknown_methods_get_405_with_allow,
            other_paths_get_404,
            an_encoded_slash_is_not_the_root,
            malformed_bodies_get_400_and_change_nothing,
            non_integer_nums_get_400_and_change_nothing,
            duplicate_num_gets_400,
            one_digit_over_the_limit_gets_400,
            body_of_exactly_64_kib_is_read,
            body_over_64_kib_gets_413,
            chunked_body_over_64_kib_gets_413,
            concurrent_posts_and_gets_never_see_an_unstored_value
        }
    };
}

/// One contract case, run against a service.
pub type Case = for<'a> fn(&'a Endpoint) -> CaseFuture<'a>;
pub type CaseFuture<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>>;
