//! The Debian package: `packaging/build-deb.sh` (cargo-deb) over the debug binaries, then
//! its contents checked after `dpkg-deb -x`: binaries that run, the systemd unit, the
//! default file, man pages. Skipped when cargo-deb is missing (`.ci/packages` installs it).

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn the_deb_holds_working_binaries_the_unit_and_the_man_pages() {
    if !Command::new("cargo")
        .args(["deb", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        eprintln!("SKIP: cargo-deb not installed (cargo install cargo-deb)");
        return;
    }
    let bins = PathBuf::from(env!("CARGO_BIN_EXE_ferrosync"));
    for b in ["ferrosyncd", "ferrosync-crmd"] {
        let p = bins.with_file_name(b);
        assert!(
            p.exists(),
            "{} missing: cargo build -p engine -p crm-daemon",
            p.display()
        );
    }
    let out = Command::new("bash")
        .arg(root().join("packaging/build-deb.sh"))
        .env("NO_BUILD", "1")
        .env("PROFILE", "dev")
        .output()
        .unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "build-deb.sh failed:\n{log}");
    let deb = log
        .lines()
        .rev()
        .find(|l| l.trim_end().ends_with(".deb"))
        .map(|l| root().join(l.trim()))
        .unwrap_or_else(|| panic!("no .deb named in:\n{log}"));
    let info = Command::new("dpkg-deb").arg("-I").arg(&deb).output().unwrap();
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(info.contains("Package: ferrosync"), "{info}");

    let dir = std::env::temp_dir().join(format!("ferrosync-deb-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    assert!(Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(&dir)
        .status()
        .unwrap()
        .success());
    for f in [
        "usr/sbin/ferrosyncd",
        "usr/sbin/ferrosync-crmd",
        "usr/bin/ferrosync",
        "usr/bin/ferrosync-simulate",
        "lib/systemd/system/ferrosyncd.service",
        "lib/systemd/system/ferrosync-crmd.service",
        "etc/default/ferrosyncd",
        "etc/default/ferrosync-crmd",
        "usr/share/man/man8/ferrosyncd.8.gz",
        "usr/share/man/man8/ferrosync-crmd.8.gz",
        "usr/share/man/man1/ferrosync.1.gz",
        "usr/share/man/man1/ferrosync-status.1.gz",
        "usr/share/man/man1/ferrosync-cmap-get.1.gz",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing from the package");
    }
    // The packaged daemon checks a configuration.
    let conf = dir.join("test.conf");
    std::fs::write(
        &conf,
        "totem {\n version: 2\n cluster_name: deb\n transport: udpu\n}\nnodelist {\n node {\n  ring0_addr: 127.0.0.1\n  nodeid: 1\n }\n}\n",
    )
    .unwrap();
    let t = Command::new(dir.join("usr/sbin/ferrosyncd"))
        .arg("-t")
        .arg("-c")
        .arg(&conf)
        .output()
        .unwrap();
    assert!(t.status.success(), "{}", String::from_utf8_lossy(&t.stderr));
    let unit = std::fs::read_to_string(dir.join("lib/systemd/system/ferrosyncd.service")).unwrap();
    assert!(
        unit.contains("Type=notify") && unit.contains("ExecStart=/usr/sbin/ferrosyncd -f"),
        "{unit}"
    );
    let crm_unit = std::fs::read_to_string(dir.join("lib/systemd/system/ferrosync-crmd.service")).unwrap();
    assert!(
        crm_unit.contains("Requires=ferrosyncd.service") && crm_unit.contains("ExecStart=/usr/sbin/ferrosync-crmd"),
        "{crm_unit}"
    );
    // The packaged resource manager answers (its usage, without a cluster).
    let h = Command::new(dir.join("usr/sbin/ferrosync-crmd"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(h.status.success() && String::from_utf8_lossy(&h.stdout).contains("--tools"));
    // The packaged lean simulator answers with crm_simulate's options.
    let s = Command::new(dir.join("usr/bin/ferrosync-simulate"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(s.status.success() && String::from_utf8_lossy(&s.stdout).contains("--xml FILE"));
    // systemd's own checker, where it exists (the man page references are not installed;
    // the CRM unit's dependency on ferrosyncd.service is resolved beside it).
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        let units = dir.join("units");
        std::fs::create_dir_all(&units).unwrap();
        for (name, text) in [("ferrosyncd.service", &unit), ("ferrosync-crmd.service", &crm_unit)] {
            let mut text = text.clone();
            for exe in ["ferrosyncd", "ferrosync-crmd"] {
                let from = format!("/usr/sbin/{exe} ");
                let to = format!("{} ", dir.join("usr/sbin").join(exe).display());
                text = text.replace(&from, &to);
            }
            std::fs::write(units.join(name), text).unwrap();
        }
        for name in ["ferrosyncd.service", "ferrosync-crmd.service"] {
            let v = Command::new("systemd-analyze")
                .arg("verify")
                .arg(units.join(name))
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&v.stderr);
            let problems: Vec<&str> = text.lines().filter(|l| !l.contains("man ")).collect();
            assert!(problems.is_empty(), "systemd-analyze verify {name}: {text}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
