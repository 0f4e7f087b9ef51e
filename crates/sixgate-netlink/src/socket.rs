//! A minimal NETLINK_ROUTE socket: send one request, read the replies.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::NetlinkError;

pub(crate) const NLMSG_HDRLEN: usize = 16;
pub(crate) const IFINFOMSG_LEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
pub(crate) const RTM_NEWLINK: u16 = 16;
pub(crate) const RTM_GETLINK: u16 = 18;
pub(crate) const NLM_F_REQUEST: u16 = 0x1;
pub(crate) const NLM_F_ACK: u16 = 0x4;

pub(crate) fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// A netlink message under construction: header, ifinfomsg, attributes.
pub(crate) struct LinkRequest {
    buf: Vec<u8>,
}

impl LinkRequest {
    /// `RTM_*LINK` for interface `ifindex`.
    pub(crate) fn new(msg_type: u16, flags: u16, ifindex: u32) -> Self {
        let mut buf = vec![0u8; NLMSG_HDRLEN + IFINFOMSG_LEN];
        buf[4..6].copy_from_slice(&msg_type.to_ne_bytes());
        buf[6..8].copy_from_slice(&flags.to_ne_bytes());
        buf[8..12].copy_from_slice(&1u32.to_ne_bytes()); // sequence
                                                         // ifinfomsg: family AF_UNSPEC, type 0, index, flags 0, change 0.
        buf[NLMSG_HDRLEN + 4..NLMSG_HDRLEN + 8].copy_from_slice(&(ifindex as i32).to_ne_bytes());
        Self { buf }
    }

    /// Appends a u32 attribute.
    pub(crate) fn attr_u32(mut self, kind: u16, value: u32) -> Self {
        self.buf.extend_from_slice(&8u16.to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(&value.to_ne_bytes());
        self
    }

    fn finish(mut self) -> Vec<u8> {
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf
    }
}

fn io_err(what: &str) -> impl FnOnce(io::Error) -> NetlinkError + '_ {
    move |source| NetlinkError::Io {
        what: what.to_string(),
        source,
    }
}

/// Sends `req` and returns the payload of the first non-error reply (for a
/// GET) or `None` after a positive ACK. A negative ACK becomes an error.
pub(crate) fn transact(req: LinkRequest, what: &str) -> Result<Option<Vec<u8>>, NetlinkError> {
    // SAFETY: plain socket(2); the fd is owned right away.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    };
    if fd < 0 {
        return Err(io_err("opening a NETLINK_ROUTE socket")(
            io::Error::last_os_error(),
        ));
    }
    // SAFETY: fd is a fresh, valid descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let msg = req.finish();
    // SAFETY: msg is a valid buffer of msg.len() bytes; a zeroed
    // sockaddr_nl with nl_family set addresses the kernel.
    let sent = unsafe {
        let mut addr: libc::sockaddr_nl = std::mem::zeroed();
        addr.nl_family = libc::AF_NETLINK as u16;
        libc::sendto(
            fd.as_raw_fd(),
            msg.as_ptr().cast(),
            msg.len(),
            0,
            (&addr as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as u32,
        )
    };
    if sent < 0 {
        return Err(io_err(what)(io::Error::last_os_error()));
    }
    // Requests here get exactly one reply: the link (GET) or the ACK (SET).
    let mut buf = vec![0u8; 64 * 1024];
    // SAFETY: buf is writable for buf.len() bytes.
    let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n < 0 {
        return Err(io_err(what)(io::Error::last_os_error()));
    }
    let n = n as usize;
    if n < NLMSG_HDRLEN {
        return Err(NetlinkError::Protocol(format!("{n}-byte reply")));
    }
    let len = u32::from_ne_bytes(buf[0..4].try_into().unwrap()) as usize;
    let kind = u16::from_ne_bytes(buf[4..6].try_into().unwrap());
    if len < NLMSG_HDRLEN || len > n {
        return Err(NetlinkError::Protocol(format!("bad message length {len}")));
    }
    let body = &buf[NLMSG_HDRLEN..len];
    match kind {
        NLMSG_ERROR => {
            let code = body
                .get(0..4)
                .map(|b| i32::from_ne_bytes(b.try_into().unwrap()))
                .ok_or_else(|| NetlinkError::Protocol("short error message".into()))?;
            if code == 0 {
                Ok(None)
            } else {
                Err(io_err(what)(io::Error::from_raw_os_error(-code)))
            }
        }
        NLMSG_DONE => Ok(None),
        _ => Ok(Some(body.to_vec())),
    }
}

/// The attributes after the ifinfomsg of an `RTM_NEWLINK` reply, as
/// (type, payload) pairs.
pub(crate) fn link_attrs(body: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    let mut off = IFINFOMSG_LEN;
    while off + 4 <= body.len() {
        let len = u16::from_ne_bytes([body[off], body[off + 1]]) as usize;
        let kind = u16::from_ne_bytes([body[off + 2], body[off + 3]]) & 0x3fff;
        if len < 4 || off + len > body.len() {
            break;
        }
        out.push((kind, &body[off + 4..off + len]));
        off += align4(len);
    }
    out
}

/// The interface index of `ifname` in the calling thread's namespace.
pub(crate) fn ifindex(ifname: &str) -> Result<u32, NetlinkError> {
    let c = CString::new(ifname).map_err(|_| NetlinkError::NoSuchInterface(ifname.to_string()))?;
    // SAFETY: c is NUL-terminated.
    match unsafe { libc::if_nametoindex(c.as_ptr()) } {
        0 => Err(NetlinkError::NoSuchInterface(ifname.to_string())),
        i => Ok(i),
    }
}

/// The `RTM_NEWLINK` body (ifinfomsg + attributes) describing `ifname`.
pub(crate) fn get_link(ifname: &str) -> Result<Vec<u8>, NetlinkError> {
    let index = ifindex(ifname)?;
    transact(
        LinkRequest::new(RTM_GETLINK, NLM_F_REQUEST, index),
        &format!("reading link {ifname}"),
    )?
    .ok_or_else(|| NetlinkError::Protocol(format!("no reply for {ifname}")))
}
