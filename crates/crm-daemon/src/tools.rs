//! The Pacemaker command-line tools resource agents call to set node attributes —
//! `crm_attribute --promotion` (ocf:pacemaker:Stateful, most promotable agents),
//! `crm_master`, `attrd_updater` (ping, HealthCPU, SysInfo) and `crm_node -n` — served
//! by the `ferrosync` binary under those names (it looks at `argv[0]`) and talking to
//! this daemon's control socket.
//!
//! Agents find the tools through `HA_SBIN_DIR` (the OCF shell functions default it to
//! `/usr/sbin`, where Pacemaker's own tools would talk to a Pacemaker that is not
//! running) and `PATH`; the socket through [`SOCKET_ENV`]. The directory also links
//! Pacemaker's other tools (`cibadmin`, `crm_mon`, …) where they are installed, so
//! that `${HA_SBIN_DIR}/cibadmin` still names a program.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// The names the `ferrosync` binary answers to.
pub const TOOL_NAMES: &[&str] = &["crm_attribute", "crm_master", "crm_node", "attrd_updater"];

/// The control socket the tools talk to.
pub const SOCKET_ENV: &str = "FERROSYNC_CRM_SOCKET";

/// Where Pacemaker installs its tools (the OCF default of `HA_SBIN_DIR`).
const PACEMAKER_SBIN: &str = "/usr/sbin";

/// Prefixes of Pacemaker's other tools, linked from the tools directory when present.
const PACEMAKER_TOOL_PREFIXES: &[&str] = &["crm", "cib", "stonith_", "attrd_", "iso8601", "pacemaker"];

/// Where the tools come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolsSource {
    /// The `ferrosync` binary: linked under each tool name in `<state_dir>/sbin`.
    Binary(PathBuf),
    /// A directory that already holds them (a package's `/usr/lib/ferrosync/sbin`).
    Dir(PathBuf),
}

impl ToolsSource {
    /// The `ferrosync` binary: beside the running program (a build tree), in `../bin`
    /// (a package: `/usr/sbin/ferrosync-crmd`, `/usr/bin/ferrosync`), or `/usr/bin`.
    pub fn find() -> Option<ToolsSource> {
        let exe = std::env::current_exe().ok()?;
        let dir = exe.parent()?;
        [
            dir.join("ferrosync"),
            dir.join("../bin/ferrosync"),
            PathBuf::from("/usr/bin/ferrosync"),
        ]
        .into_iter()
        .find(|p| p.is_file())
        .map(ToolsSource::Binary)
    }
}

/// Makes the tools directory (for [`ToolsSource::Binary`]) and returns the agents'
/// environment: `HA_SBIN_DIR`, `PATH` with the directory first, and [`SOCKET_ENV`].
pub fn prepare(src: &ToolsSource, state_dir: &Path, socket: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let dir = match src {
        ToolsSource::Dir(d) => d.clone(),
        ToolsSource::Binary(bin) => {
            let dir = state_dir.join("sbin");
            link_tools(bin, &dir)?;
            dir
        }
    };
    let socket = std::path::absolute(socket).with_context(|| format!("absolute path of {}", socket.display()))?;
    let path =
        std::env::var("PATH").unwrap_or_else(|_| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    Ok(vec![
        ("HA_SBIN_DIR".into(), dir.display().to_string()),
        ("PATH".into(), format!("{}:{path}", dir.display())),
        (SOCKET_ENV.into(), socket.display().to_string()),
    ])
}

/// `dir` with a link to `bin` for each tool name and to Pacemaker's other tools in
/// [`PACEMAKER_SBIN`]; links left from an earlier start are replaced.
fn link_tools(bin: &Path, dir: &Path) -> anyhow::Result<()> {
    let bin = std::path::absolute(bin).with_context(|| format!("absolute path of {}", bin.display()))?;
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let mut links: Vec<(String, PathBuf)> = TOOL_NAMES.iter().map(|n| (n.to_string(), bin.clone())).collect();
    if let Ok(entries) = std::fs::read_dir(PACEMAKER_SBIN) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if PACEMAKER_TOOL_PREFIXES.iter().any(|p| name.starts_with(p)) && !TOOL_NAMES.contains(&name.as_str()) {
                links.push((name, e.path()));
            }
        }
    }
    for (name, target) in links {
        let link = dir.join(&name);
        match std::fs::symlink_metadata(&link) {
            Ok(m) if m.file_type().is_symlink() || m.is_file() => {
                std::fs::remove_file(&link).with_context(|| format!("remove {}", link.display()))?;
            }
            Ok(_) => anyhow::bail!("{} is in the way of a tool link", link.display()),
            Err(_) => {}
        }
        symlink(&target, &link).with_context(|| format!("link {} → {}", link.display(), target.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_source_links_every_tool_and_sets_the_environment() {
        let tmp = tempfile::tempdir().unwrap();
        let bin = tmp.path().join("ferrosync");
        std::fs::write(&bin, "#!/bin/sh\n").unwrap();
        let state = tmp.path().join("state");
        // A stale link from an earlier start is replaced.
        std::fs::create_dir_all(state.join("sbin")).unwrap();
        symlink("/nonexistent", state.join("sbin/crm_node")).unwrap();
        let env = prepare(&ToolsSource::Binary(bin.clone()), &state, Path::new("/run/x.sock")).unwrap();
        for name in TOOL_NAMES {
            assert_eq!(std::fs::read_link(state.join("sbin").join(name)).unwrap(), bin);
        }
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap();
        let dir = state.join("sbin").display().to_string();
        assert_eq!(get("HA_SBIN_DIR"), dir);
        assert!(get("PATH").starts_with(&format!("{dir}:")));
        assert_eq!(get(SOCKET_ENV), "/run/x.sock");
    }

    #[test]
    fn a_directory_in_the_way_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("sbin/crm_attribute")).unwrap();
        let err = prepare(
            &ToolsSource::Binary(tmp.path().join("ferrosync")),
            tmp.path(),
            Path::new("s"),
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("in the way"), "{err:#}");
    }

    #[test]
    fn dir_source_is_used_as_it_is() {
        let env = prepare(
            &ToolsSource::Dir("/usr/lib/ferrosync/sbin".into()),
            Path::new("/nonexistent"),
            Path::new("/s"),
        )
        .unwrap();
        assert!(env.contains(&("HA_SBIN_DIR".into(), "/usr/lib/ferrosync/sbin".into())));
    }
}
