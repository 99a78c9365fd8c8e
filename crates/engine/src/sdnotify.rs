//! systemd's readiness protocol (`sd_notify`): with `Type=notify`, systemd starts the
//! daemon in the foreground and waits for `READY=1` on the datagram socket named by
//! `$NOTIFY_SOCKET` (a path, or an abstract name written `@name`). Without the variable
//! (not under systemd) every call does nothing.

use std::io;
use std::os::unix::net::UnixDatagram;

/// Sends `state` (newline-separated `KEY=VALUE` lines) to `$NOTIFY_SOCKET` if it is set.
pub fn notify(state: &str) -> io::Result<bool> {
    match std::env::var_os("NOTIFY_SOCKET") {
        Some(addr) => notify_to(&addr.to_string_lossy(), state).map(|()| true),
        None => Ok(false),
    }
}

/// Sends `state` to the notification socket `addr` (`@name` for an abstract one).
pub fn notify_to(addr: &str, state: &str) -> io::Result<()> {
    let socket = UnixDatagram::unbound()?;
    match addr.strip_prefix('@') {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            let sa = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
            socket.send_to_addr(state.as_bytes(), &sa)?;
        }
        None => {
            socket.send_to(state.as_bytes(), addr)?;
        }
    }
    Ok(())
}

/// `READY=1` with a status line and the main pid (the daemon does not fork under systemd).
pub fn ready(status: &str) -> io::Result<bool> {
    notify(&format!("READY=1\nSTATUS={status}\nMAINPID={}", std::process::id()))
}

/// `STOPPING=1`: the daemon is leaving the ring.
pub fn stopping() -> io::Result<bool> {
    notify("STOPPING=1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_reach_a_path_socket_and_an_abstract_one() {
        let dir = std::env::temp_dir().join(format!("sdnotify-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify");
        let rx = UnixDatagram::bind(&path).unwrap();
        notify_to(path.to_str().unwrap(), "READY=1\nSTATUS=ok").unwrap();
        let mut buf = [0u8; 256];
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\nSTATUS=ok");

        use std::os::linux::net::SocketAddrExt;
        let name = format!("sdnotify-test-{}", std::process::id());
        let sa = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let arx = UnixDatagram::bind_addr(&sa).unwrap();
        notify_to(&format!("@{name}"), "STOPPING=1").unwrap();
        let n = arx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"STOPPING=1");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_socket_is_an_error_not_a_panic() {
        assert!(notify_to("/nonexistent/notify", "READY=1").is_err());
    }
}
