//! Linux eventfds: the one kind of file descriptor our waits sleep on, and the pollable fds we
//! hand to cqueues and to foreign main loops.

use std::sync::Mutex;

pub struct EventFd(i32);

impl EventFd {
    pub fn new() -> std::io::Result<Self> {
        Self::with_flags(libc::EFD_NONBLOCK | libc::EFD_CLOEXEC)
    }

    /// One whose reads block until it is signalled (see `read_blocking`).
    pub fn blocking() -> std::io::Result<Self> {
        Self::with_flags(libc::EFD_CLOEXEC)
    }

    fn with_flags(flags: i32) -> std::io::Result<Self> {
        let fd = unsafe { libc::eventfd(0, flags) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(EventFd(fd))
    }

    pub fn set_nonblocking(&self) {
        unsafe {
            let flags = libc::fcntl(self.0, libc::F_GETFL);
            libc::fcntl(self.0, libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
    }

    /// Sleep until signalled and reset it, in one call (a blocking eventfd only).
    pub fn read_blocking(&self) {
        let mut v: u64 = 0;
        while unsafe { libc::read(self.0, &mut v as *mut u64 as *mut libc::c_void, 8) } < 0
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR)
        {}
    }

    pub fn raw(&self) -> i32 {
        self.0
    }

    pub fn signal(&self) {
        let one: u64 = 1;
        unsafe { libc::write(self.0, &one as *const u64 as *const libc::c_void, 8) };
    }

    pub fn reset(&self) {
        let mut v: u64 = 0;
        unsafe { libc::read(self.0, &mut v as *mut u64 as *mut libc::c_void, 8) };
    }

    /// Sleep until the fd is readable or `timeout` (seconds; None = forever) passes; true if
    /// it is readable.
    pub fn wait(&self, timeout: Option<f64>) -> bool {
        let deadline = timeout.map(|t| std::time::Instant::now() + std::time::Duration::from_secs_f64(t.max(0.0)));
        loop {
            let ms = match deadline {
                None => -1,
                Some(d) => {
                    let left = d.saturating_duration_since(std::time::Instant::now());
                    // Round up so we never wake before the deadline.
                    left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32
                }
            };
            let mut p = libc::pollfd { fd: self.0, events: libc::POLLIN, revents: 0 };
            let r = unsafe { libc::poll(&mut p, 1, ms) };
            if r >= 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                return r > 0;
            }
        }
    }
}

impl Drop for EventFd {
    fn drop(&mut self) {
        unsafe { libc::close(self.0) };
    }
}

static POOL: Mutex<Vec<EventFd>> = Mutex::new(Vec::new());
const POOL_MAX: usize = 256;

pub fn acquire() -> std::io::Result<EventFd> {
    match POOL.lock().unwrap().pop() {
        Some(fd) => Ok(fd),
        None => EventFd::new(),
    }
}

pub fn release(fd: EventFd) {
    fd.reset();
    let mut pool = POOL.lock().unwrap();
    if pool.len() < POOL_MAX {
        pool.push(fd);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn signal_then_wait() {
        let fd = super::EventFd::new().unwrap();
        fd.signal();
        fd.wait(Some(1.0));
        fd.reset();
    }
}
