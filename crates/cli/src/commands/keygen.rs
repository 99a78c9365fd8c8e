//! `ferrosync keygen`: writes the cluster's shared secret like `corosync-keygen`: 256 random
//! bytes from the OS, readable by the owner only (mode 0400).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;

/// Size of the key, as corosync-keygen writes it.
pub const KEY_LEN: usize = 256;

#[derive(Args, Debug)]
pub struct KeygenArgs {
    /// Where to write the key.
    #[arg(
        short = 'k',
        long = "key-file",
        value_name = "FILE",
        default_value = "/etc/ferrosync/authkey"
    )]
    key_file: PathBuf,
    /// Replace an existing key (every node must then get the new one).
    #[arg(long)]
    force: bool,
}

pub fn run(args: KeygenArgs, json: bool) -> Result<()> {
    write_key(&args.key_file, args.force)?;
    if json {
        println!(
            "{}",
            serde_json::json!({"key_file": args.key_file, "bytes": KEY_LEN, "mode": "0400"})
        );
        return Ok(());
    }
    println!(
        "Wrote {KEY_LEN}-byte key to {} (mode 0400). Copy it to every node.",
        args.key_file.display()
    );
    Ok(())
}

fn write_key(path: &Path, force: bool) -> Result<()> {
    let mut key = [0u8; KEY_LEN];
    getrandom::getrandom(&mut key).context("read random bytes from the OS")?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    if force && path.exists() {
        std::fs::remove_file(path).with_context(|| format!("remove old key {}", path.display()))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o400)
        .open(path)
        .with_context(|| {
            if path.exists() {
                format!("{} already exists (use --force to replace it)", path.display())
            } else {
                format!("create {}", path.display())
            }
        })?;
    f.write_all(&key).with_context(|| format!("write {}", path.display()))?;
    f.sync_all().with_context(|| format!("sync {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn writes_256_random_bytes_mode_0400_and_refuses_to_overwrite() {
        let dir = std::env::temp_dir().join(format!("ferrosync-keygen-{}", std::process::id()));
        let path = dir.join("sub/authkey");
        write_key(&path, false).unwrap();
        let first = std::fs::read(&path).unwrap();
        assert_eq!(first.len(), KEY_LEN);
        assert!(first.iter().any(|&b| b != 0));
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o400);
        let err = write_key(&path, false).unwrap_err().to_string();
        assert!(err.contains("already exists"), "{err}");
        write_key(&path, true).unwrap();
        assert_ne!(std::fs::read(&path).unwrap(), first);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
