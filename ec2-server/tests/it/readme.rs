//! The README's "Trying it" commands, run as a newcomer would run them
//! against the server they just started: each curl line answers the status
//! (and body) its comment says.

use crate::support::process;

/// The lines of the first `sh` block under `heading` in README.md, with
/// continuation lines joined.
fn commands_under(heading: &str) -> Vec<String> {
    let section = harness::docs::section("README.md", heading);
    let block = section
        .split_once("```sh\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .map(|(block, _)| block)
        .unwrap_or_else(|| panic!("no sh block under {heading:?}"));
    block
        .replace("\\\n", " ")
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs curl (apt); ./scripts/test runs it"]
async fn the_readmes_curl_commands_answer_what_their_comments_say() {
    let server = process::start(&[], &[]).await;
    let commands = commands_under("## Trying it in thirty seconds");
    assert!(commands.len() >= 5, "too few commands: {commands:?}");
    for line in commands {
        let (command, comment) = line.split_once(" # ").unwrap_or((&line, ""));
        let command = command.replace("localhost:8080", &server.address.to_string());
        let output = tokio::process::Command::new("bash")
            .args(["-c", &command])
            .output()
            .await
            .expect("bash runs");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "{command}: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let status = text
            .lines()
            .next()
            .and_then(|line| line.split_whitespace().nth(1))
            .unwrap_or_else(|| panic!("{command}: no status line in {text:?}"));
        let comment = comment.trim();
        let expected = comment
            .get(..3)
            .filter(|code| code.bytes().all(|b| b.is_ascii_digit()));
        match expected {
            Some(code) => assert_eq!(status, code, "{command}: {text}"),
            None => assert!(status.starts_with('2'), "{command}: {text}"),
        }
        if let Some(body) = comment.strip_prefix("200, body ") {
            let body = body.split_whitespace().next().unwrap_or_default();
            assert!(
                text.trim_end().ends_with(body),
                "{command}: expected body {body}: {text}"
            );
        }
    }
}
