//! The setup socket: abstract `AF_UNIX` stream names as libqb builds them, peer
//! credentials, and the one-byte notifications.

use std::io;
use std::os::fd::AsFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};

use nix::sys::socket::{getsockopt, send, setsockopt, sockopt, MsgFlags};

/// Longest service name: libqb clients refuse names longer than `NAME_MAX - 20`, and the
/// name must fit `sun_path` after the leading NUL.
pub const MAX_SERVICE_NAME: usize = 107;

/// Credentials of the process at the other end of a setup socket (`SO_PEERCRED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Credentials {
    pub pid: u32,
    pub uid: u32,
    pub gid: u32,
}

/// Checks that `name` can be a libqb service name.
pub fn valid_service_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_SERVICE_NAME && !name.bytes().any(|b| b == 0 || b == b'/')
}

/// The abstract address libqb clients connect to: `"\0" + name`, NUL-padded to the full
/// 108-byte `sun_path` (clients pass `QB_SUN_LEN` = `sizeof(struct sockaddr_un)`).
pub fn abstract_addr(name: &str) -> io::Result<SocketAddr> {
    if !valid_service_name(name) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid service name {name:?}"),
        ));
    }
    let mut padded = [0u8; MAX_SERVICE_NAME];
    padded[..name.len()].copy_from_slice(name.as_bytes());
    SocketAddr::from_abstract_name(padded)
}

/// A non-blocking listener on the service's abstract name.
pub fn bind(name: &str) -> io::Result<UnixListener> {
    let l = UnixListener::bind_addr(&abstract_addr(name)?)?;
    l.set_nonblocking(true)?;
    Ok(l)
}

/// A blocking connection to the service's abstract name, with `SO_PASSCRED` set as libqb
/// clients do.
pub fn connect(name: &str) -> io::Result<UnixStream> {
    let s = UnixStream::connect_addr(&abstract_addr(name)?)?;
    setsockopt(&s, sockopt::PassCred, &true)?;
    Ok(s)
}

/// `SO_PEERCRED` of a connected stream.
pub fn peer_credentials(fd: &impl AsFd) -> io::Result<Credentials> {
    let c = getsockopt(fd, sockopt::PeerCredentials)?;
    Ok(Credentials {
        pid: c.pid() as u32,
        uid: c.uid(),
        gid: c.gid(),
    })
}

/// Writes one notification byte without blocking and without SIGPIPE. `Ok(false)` when the
/// socket buffer is full.
/// Sends up to `count` notification bytes in one call (a stream socket: the peer reads
/// them one at a time, as if sent singly); returns how many went out (0 when full).
pub fn send_notify_bytes(fd: &impl AsFd, count: usize) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    const ONES: [u8; 512] = [1u8; 512];
    let raw = fd.as_fd().as_raw_fd();
    match send(
        raw,
        &ONES[..count.min(ONES.len())],
        MsgFlags::MSG_NOSIGNAL | MsgFlags::MSG_DONTWAIT,
    ) {
        Ok(n) => Ok(n),
        Err(nix::errno::Errno::EAGAIN) => Ok(0),
        Err(e) => Err(e.into()),
    }
}

pub fn send_notify_byte(fd: &impl AsFd) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    let raw = fd.as_fd().as_raw_fd();
    match send(raw, &[1u8], MsgFlags::MSG_NOSIGNAL | MsgFlags::MSG_DONTWAIT) {
        Ok(1) => Ok(true),
        Ok(_) | Err(nix::errno::Errno::EAGAIN) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_are_checked() {
        assert!(valid_service_name("cmap"));
        assert!(!valid_service_name(""));
        assert!(!valid_service_name("a/b"));
        assert!(!valid_service_name(&"x".repeat(108)));
        assert!(abstract_addr("a\0b").is_err());
    }

    #[test]
    fn padded_abstract_name_round_trip() {
        let name = format!("ipc-listener-test-{}", std::process::id());
        let l = bind(&name).unwrap();
        let addr = l.local_addr().unwrap();
        let got = addr.as_abstract_name().unwrap();
        assert_eq!(got.len(), MAX_SERVICE_NAME);
        assert!(got.starts_with(name.as_bytes()) && got[name.len()..].iter().all(|&b| b == 0));
        let c = connect(&name).unwrap();
        let (s, _) = l.accept().unwrap();
        let me = peer_credentials(&s).unwrap();
        assert_eq!(me.pid, std::process::id());
        assert!(send_notify_byte(&s).unwrap());
        drop(c);
    }
}
