//! Driving the app in a test harness while its work (knocks, notifications) runs on background threads.

use std::time::{Duration, Instant};

use client_gui::KnockGui;
use egui_kittest::Harness;

/// Steps the app until `done` holds or 10 s pass (then fails), and two frames more.
pub fn step_until(harness: &mut Harness<'static, KnockGui>, mut done: impl FnMut(&KnockGui) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done(harness.state()) {
        assert!(Instant::now() < deadline, "timed out waiting for the app");
        harness.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    harness.run_steps(2);
}
