//! The settings the function shares with the server are accepted and
//! refused as the contract lists (`contract::settings`); the server's tests
//! run the same list against its binary.

use lambda::configuration::Settings;

use crate::support::lookup;

#[test]
fn shared_settings_mean_what_they_mean_on_the_server() {
    contract::settings::assert_targets_agree("the Lambda function", |environment| {
        Settings::from_lookup(lookup(environment)).is_ok()
    });
}
