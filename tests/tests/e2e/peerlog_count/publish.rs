//! Publishing: the totals posted as JSON, and a receiver that never answers.

use super::*;

#[test]
fn post_sends_the_totals_and_a_receiver_that_was_down_gets_them_later() {
    let dir = tempdir("post");
    let log = dir.join("app.log");
    append(&log, "x ERROR\ny\n");
    let receiver_addr = sidecars_tests::free_loopback_addr();
    let url = format!("http://{receiver_addr}/stats");
    let mut follower = follow_log(&dir, &["--match", "errors=ERROR", "--post", &url]);
    follower.wait_log("msg=\"post failed; the next one carries the totals\"");
    append(&log, "z ERROR\n");
    let receiver = Target::start_on(&receiver_addr, |_| Reply::ok("thanks"));
    wait_until("a post with 3 lines", Duration::from_secs(10), || {
        receiver
            .hits()
            .iter()
            .any(|h| h.body == b"{\"lines\":3,\"matches\":{\"errors\":2},\"path\":\"/app.log\"}")
    });
    let hit = &receiver.hits()[0];
    assert_eq!(hit.method, "POST");
    assert!(hit
        .head
        .to_lowercase()
        .contains("content-type: application/json"));
    let doc: serde_json::Value = serde_json::from_slice(&hit.body).unwrap();
    assert!(
        doc["lines"].is_u64() && doc["matches"].is_object() && doc["path"] == "/app.log",
        "{doc}"
    );
    follower.wait_log("msg=\"post succeeded again\"");
}

/// A post to a receiver that accepts and never answers (its timeout is 5 s)
/// does not hold a SIGTERM up: the stop is bounded at one second.
#[test]
fn sigterm_during_a_post_that_never_gets_an_answer_stops_it_within_a_second() {
    let dir = tempdir("post-hang");
    append(&dir.join("app.log"), "x\n");
    let receiver = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/stats", receiver.local_addr().unwrap());
    let mut follower = follow_log(&dir, &["--post", &url]);
    // The post is in flight once its connection is taken; nothing answers it.
    let (_held, _) = receiver.accept().unwrap();
    follower.signal(libc::SIGTERM);
    let (code, took) = follower.wait_exit(Duration::from_secs(5));
    assert_eq!(code, 0);
    assert!(took < Duration::from_secs(1), "took {took:?}");
}
