//! Two instances on one PostgreSQL database, with browsers: people who reach different
//! instances are in one call, and their media goes to the instance that holds the room.

use std::time::{Duration, Instant};

use super::call::{join, start_instant_meeting, wait_remote_tiles};
use super::sfu::{assert_sees_and_hears, selected_remote, start_browsers};
use super::sign_up;
use crate::instances::two_instances;

/// The UDP port of the media server whose address a page's connection selected.
async fn media_port(browser: &super::webdriver::Browser) -> u64 {
    let start = Instant::now();
    loop {
        let remote = selected_remote(browser).await;
        if let Some(port) = remote[1].as_u64() {
            return port;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no selected candidate pair: {remote}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn people_on_different_instances_share_one_call_through_the_instance_holding_the_room() {
    let (a, b) = two_instances(&[]).await;
    let browsers = start_browsers(2).await;
    let [host, guest] = &browsers[..] else {
        unreachable!()
    };
    sign_up(host, &a, "inst_host", "Ada Host").await;
    sign_up(guest, &b, "inst_guest", "Bo Guest").await;

    // The host starts the meeting through A (its room lives there); the guest opens the same
    // link through B.
    let meeting = start_instant_meeting(host, &a).await;
    host.click_css("#join-button").await;
    super::call::wait_state(host, "joined").await;
    join(guest, &b, &meeting, false).await;

    wait_remote_tiles(host, 1).await;
    wait_remote_tiles(guest, 1).await;
    assert_sees_and_hears(guest, "guest on B", &["Ada Host"]).await;
    assert_sees_and_hears(host, "host on A", &["Bo Guest"]).await;

    // Both send their media to one media server: A's, which holds the room.
    let (host_port, guest_port) = (media_port(host).await, media_port(guest).await);
    assert_eq!(
        host_port, guest_port,
        "both browsers use the media server of the instance that holds the room"
    );
    for b in browsers {
        b.quit().await;
    }
}
