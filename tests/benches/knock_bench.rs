//! Benchmark, in one namespace-lab run (needs root):
//! 1. wall time of a 3-hit knock with no delay: `knock-cli` (raw and connect) against knock(1), median and
//!    p99 over interleaved runs, and their ratios;
//! 2. accuracy of a 50 ms inter-hit delay measured on the wire by a capture on the server: p50/p99 error,
//!    for `knock-cli` and, for comparison, knock(1).
//!
//! Processes are spawned straight into the client namespace (setns in the child before exec), so no
//! `ip netns exec` wrapper adds to the times. Run with `scripts/bench.sh` (release build).

#![cfg_attr(
    target_os = "linux",
    expect(unsafe_code, reason = "pre_exec (setns into the client namespace before exec), which std marks unsafe")
)]

// The namespace lab is Linux-only: elsewhere this benchmark builds to a program that says so.
#[cfg(target_os = "linux")]
fn main() {
    lab_bench::main();
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("this benchmark runs in the Linux namespace lab only");
}

#[cfg(target_os = "linux")]
mod lab_bench {
    use std::ffi::OsStr;
    use std::fs::File;
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    use knock_e2e::bins::knock_cli_path;
    use knock_e2e::{Lab, Packet};

    const LATENCY_RUNS: usize = 300;
    const WARMUP_RUNS: usize = 20;
    const DELAY_RUNS: usize = 40;
    const DELAY: Duration = Duration::from_millis(50);
    const KNOCK: &str = "/usr/bin/knock";

    /// A command whose process joins the client namespace before exec.
    fn in_client_ns(lab: &Lab, program: impl AsRef<OsStr>, args: &[String]) -> Command {
        let ns = File::open(format!("/run/netns/{}", lab.client_ns())).expect("client namespace handle");
        let mut cmd = Command::new(program);
        cmd.args(args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        // SAFETY: setns(2) is async-signal-safe; the fd stays open (moved into the closure) until exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        cmd
    }

    struct Variant {
        name: String,
        program: String,
        args: Vec<String>,
        times: Vec<Duration>,
    }

    fn time_once(lab: &Lab, variant: &Variant) -> Duration {
        let mut cmd = in_client_ns(lab, &variant.program, &variant.args);
        let started = Instant::now();
        let status = cmd.status().expect("spawn");
        let took = started.elapsed();
        assert!(status.success(), "{} exited with {status}", variant.name);
        took
    }

    fn percentile(sorted: &[Duration], p: f64) -> Duration {
        let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }

    fn ms(d: Duration) -> f64 {
        d.as_secs_f64() * 1000.0
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    /// The knock-cli builds to measure: the static release binary when `KNOCK_CLI_STATIC` names it (as
    /// `scripts/bench.sh` does), and the dynamically linked build from target/release.
    fn knock_cli_builds(dynamic: &str) -> Vec<(&'static str, String)> {
        let mut builds = Vec::new();
        if let Ok(path) = std::env::var("KNOCK_CLI_STATIC") {
            builds.push(("static", path));
        }
        builds.push(("dynamic", dynamic.to_owned()));
        builds
    }

    fn latency(lab: &Lab, knock_cli: &str, server: &str) {
        let mut variants = vec![Variant {
            name: "knock(1)".into(),
            program: KNOCK.into(),
            args: strings(&[server, "7000", "8000", "9000"]),
            times: vec![],
        }];
        for (build, path) in knock_cli_builds(knock_cli) {
            for method in ["raw", "connect"] {
                variants.push(Variant {
                    name: format!("knock-cli {method} ({build})"),
                    program: path.clone(),
                    args: strings(&["knock", "--method", method, server, "7000", "8000", "9000"]),
                    times: vec![],
                });
            }
        }
        for variant in &variants {
            for _ in 0..WARMUP_RUNS {
                time_once(lab, variant);
            }
        }
        // Interleaved, so drift in machine load falls on every variant alike.
        for _ in 0..LATENCY_RUNS {
            for variant in &mut variants {
                let took = time_once(lab, variant);
                variant.times.push(took);
            }
        }
        for v in &mut variants {
            v.times.sort();
        }
        let base_median = percentile(&variants[0].times, 0.5);
        let base_p99 = percentile(&variants[0].times, 0.99);
        println!("\n3-hit knock, no delay, {LATENCY_RUNS} interleaved runs each (process spawn to exit):");
        println!("{:<28} {:>10} {:>10} {:>15} {:>12}", "client", "median ms", "p99 ms", "median ratio", "p99 ratio");
        for v in &variants {
            let median = percentile(&v.times, 0.5);
            let p99 = percentile(&v.times, 0.99);
            println!(
                "{:<28} {:>10.3} {:>10.3} {:>15.3} {:>12.3}",
                v.name,
                ms(median),
                ms(p99),
                median.as_secs_f64() / base_median.as_secs_f64(),
                p99.as_secs_f64() / base_p99.as_secs_f64()
            );
        }
    }

    /// Gaps between consecutive hits of each 3-hit knock to `ports`, from server-side capture timestamps.
    fn gaps(lab: &Lab, packets: &[Packet], ports: [u16; 3]) -> Vec<Duration> {
        let hits: Vec<Packet> =
            lab.client_to_server(packets).into_iter().filter(|p| p.is_syn() && ports.contains(&p.dst_port)).collect();
        assert_eq!(hits.len(), DELAY_RUNS * 3, "one SYN per hit on the wire");
        hits.chunks(3)
            .flat_map(|knock| {
                assert_eq!([knock[0].dst_port, knock[1].dst_port, knock[2].dst_port], ports, "hits in order");
                [knock[1].ts - knock[0].ts, knock[2].ts - knock[1].ts]
            })
            .collect()
    }

    fn report_delay(name: &str, gaps: &[Duration]) {
        let mut errors: Vec<Duration> = gaps.iter().map(|g| g.abs_diff(DELAY)).collect();
        errors.sort();
        println!(
            "{:<20} {:>8} {:>12.3} {:>12.3} {:>12.3}",
            name,
            gaps.len(),
            ms(percentile(&errors, 0.5)),
            ms(percentile(&errors, 0.99)),
            ms(*errors.last().expect("gaps measured"))
        );
    }

    fn delay_accuracy(lab: &Lab, knock_cli: &str, server: &str) {
        let capture = lab.start_capture("tcp").expect("tcpdump starts");
        let delay_ms = DELAY.as_millis().to_string();
        let ours = Variant {
            name: "knock-cli".into(),
            program: knock_cli.into(),
            args: strings(&["knock", "-d", &delay_ms, server, "7000", "8000", "9000"]),
            times: vec![],
        };
        let theirs = Variant {
            name: "knock(1)".into(),
            program: KNOCK.into(),
            args: strings(&["-d", &delay_ms, server, "7001", "8001", "9001"]),
            times: vec![],
        };
        for _ in 0..DELAY_RUNS {
            time_once(lab, &ours);
            time_once(lab, &theirs);
        }
        let packets = capture.stop().expect("capture");
        println!(
            "\n{} ms inter-hit delay, measured on the wire (server-side capture), {DELAY_RUNS} 3-hit knocks:",
            DELAY.as_millis()
        );
        println!("{:<20} {:>8} {:>12} {:>12} {:>12}", "client", "gaps", "p50 err ms", "p99 err ms", "max err ms");
        report_delay("knock-cli", &gaps(lab, &packets, [7000, 8000, 9000]));
        report_delay("knock(1)", &gaps(lab, &packets, [7001, 8001, 9001]));
    }

    pub fn main() {
        // `cargo bench` passes --bench; any other argument is a filter we do not support: run everything.
        let lab = Lab::new("bench").unwrap_or_else(|e| panic!("the benchmark needs the namespace lab (root): {e}"));
        let knock_cli = knock_cli_path();
        let knock_cli = knock_cli.to_str().expect("utf-8 path").to_owned();
        let server = lab.server_v4().to_string();
        println!("knock-cli: {knock_cli}\nknock(1):  {KNOCK}\nserver:    {server} (lab namespace, veth)");
        latency(&lab, &knock_cli, &server);
        delay_accuracy(&lab, &knock_cli, &server);
    }
}
