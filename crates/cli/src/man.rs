//! Man pages generated from the command-line definitions (clap), so they never drift from
//! `--help`: `ferrosync man DIR` writes `ferrosync.1` and `ferrosync-<sub>.1` for every
//! visible subcommand, nested ones included (`ferrosync-cmap-get.1`).

use std::path::Path;

use anyhow::{Context, Result};

/// Writes the page of `cmd` and of each visible subcommand, recursively.
pub fn write_all(cmd: clap::Command, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let mut cmd = cmd;
    cmd.build();
    write_tree(&cmd, "ferrosync", "ferrosync", dir)
}

/// `name`: the page's file name (`ferrosync-cmap-get`); `shown`: how it is typed
/// (`ferrosync cmap get`).
fn write_tree(cmd: &clap::Command, name: &str, shown: &str, dir: &Path) -> Result<()> {
    let page = cmd.clone().name(name.to_owned()).display_name(shown.to_owned());
    let mut out = Vec::new();
    clap_mangen::Man::new(page).section("1").render(&mut out)?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, out).with_context(|| format!("write {}", path.display()))?;
    // clap's generated `help` subcommands have no page of their own.
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        let sub_name = sub.get_name();
        write_tree(sub, &format!("{name}-{sub_name}"), &format!("{shown} {sub_name}"), dir)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_visible_command_gets_a_page_naming_its_options() {
        let cmd = clap::Command::new("ferrosync")
            .subcommand(
                clap::Command::new("quorum")
                    .subcommand(clap::Command::new("set-votes").arg(clap::Arg::new("node").long("node"))),
            )
            .subcommand(clap::Command::new("secret").hide(true));
        let dir = std::env::temp_dir().join(format!("ferrosync-man-test-{}", std::process::id()));
        write_all(cmd, &dir).unwrap();
        let mut pages: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        pages.sort();
        assert_eq!(
            pages,
            ["ferrosync-quorum-set-votes.1", "ferrosync-quorum.1", "ferrosync.1"]
        );
        let page = std::fs::read_to_string(dir.join("ferrosync-quorum-set-votes.1")).unwrap();
        assert!(
            page.contains("ferrosync quorum set\\-votes") || page.contains("ferrosync quorum set-votes"),
            "{page}"
        );
        assert!(page.contains("node"), "{page}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
