//! `fmi-calibrate`: the direct calibration yields positive finite numbers, and
//! `--write` updates the config file keeping every other key.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_fmi-calibrate");

struct TempFile(std::path::PathBuf);

impl TempFile {
    fn new(tag: &str) -> TempFile {
        TempFile(std::env::temp_dir().join(format!(
            "fmi-calibrate-test-{tag}-{}-{}.json",
            std::process::id(),
            fmi::auth::new_token().get(..12).unwrap_or("x")
        )))
    }
    fn s(&self) -> &str {
        self.0.to_str().expect("temp path is UTF-8")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

const FILE: &str = r#"{
  "backends": {
    "Redis": {"enabled": false, "host": "127.0.0.1", "port": 6379},
    "Direct": {"enabled": true, "max_timeout": 60000}
  },
  "model": {
    "FaaS": {"gib_second_price": 0.0000166667},
    "Direct": {"bandwidth": 400.0, "overhead": 0.34, "vm_price": 0.0134, "custom": "kept"},
    "Redis": {"bandwidth_single": 100.0, "overhead": 5.2}
  },
  "fault_tolerance": {"enabled": false}
}
"#;

fn calibrate(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env_remove("FMI_CHANNEL")
        .env_remove("FMI_REDIS_URL")
        .env_remove("FMI_S3_BUCKET")
        .env_remove("FMI_RENDEZVOUS")
        .output()
        .expect("run fmi-calibrate")
}

fn direct_row(stdout: &str) -> (f64, f64) {
    let row = stdout
        .lines()
        .find(|l| l.starts_with("direct "))
        .unwrap_or_else(|| panic!("no direct row in:\n{stdout}"));
    let nums: Vec<f64> = row
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().expect("a number"))
        .collect();
    assert_eq!(nums.len(), 4, "{row}");
    (nums[0], nums[1])
}

#[test]
fn direct_calibration_writes_the_file() {
    let f = TempFile::new("write");
    std::fs::write(&f.0, FILE).expect("write temp config");
    let out = calibrate(&[
        "--config",
        f.s(),
        "--channels",
        "direct",
        "--reps",
        "3",
        "--size",
        "8388608",
        "--write",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (overhead, bandwidth) = direct_row(&stdout);
    assert!(overhead.is_finite() && overhead > 0.0, "{stdout}");
    assert!(bandwidth.is_finite() && bandwidth > 0.0, "{stdout}");

    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&f.0).expect("read back"))
            .expect("still JSON");
    let d = &v["model"]["Direct"];
    let o = d["overhead"].as_f64().expect("overhead");
    let b = d["bandwidth"].as_f64().expect("bandwidth");
    assert!(o.is_finite() && o > 0.0 && b.is_finite() && b > 0.0, "{d}");
    assert!(o != 0.34 || b != 400.0, "unchanged: {d}");
    // everything else as it was, in its order
    assert_eq!(d["custom"], "kept");
    assert_eq!(d["vm_price"].as_f64(), Some(0.0134));
    assert_eq!(v["model"]["Redis"]["overhead"].as_f64(), Some(5.2));
    assert_eq!(v["fault_tolerance"]["enabled"], false);
    assert_eq!(v["backends"]["Direct"]["max_timeout"].as_u64(), Some(60000));
    let keys: Vec<&String> = d.as_object().expect("object").keys().collect();
    assert_eq!(
        keys,
        ["bandwidth", "overhead", "vm_price", "custom"],
        "key order"
    );
    let top: Vec<&String> = v.as_object().expect("object").keys().collect();
    assert_eq!(top, ["backends", "model", "fault_tolerance"]);
}

#[test]
fn write_creates_a_missing_file() {
    let f = TempFile::new("new");
    let out = calibrate(&[
        "--config",
        f.s(),
        "--channels",
        "direct",
        "--reps",
        "3",
        "--size",
        "8388608",
        "--write",
    ]);
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let cfg = fmi::config::Config::load(Some(f.s())).expect("the new file loads");
    let (o, b) = cfg.model.link(fmi::channel::store::ChannelKind::Direct);
    assert!(o > 0.0 && b > 0.0);
}

#[test]
fn unconfigured_and_bad_arguments_fail() {
    // asked for by name but not configured: listed with how, non-zero exit
    let out = calibrate(&["--channels", "s3"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(
        stdout.contains("s3       not configured: set FMI_S3_BUCKET"),
        "{stdout}"
    );
    for args in [
        &["--reps", "0"][..],
        &["--channels", "pigeon"],
        &["--write"],
        &["--bogus"],
    ] {
        let out = calibrate(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty());
    }
}
