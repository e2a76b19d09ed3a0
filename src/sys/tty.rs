//! Reading a secret from the terminal without echo.

/// Reads one line from the controlling terminal with echo off, straight
/// into `buf`; returns its length (the newline excluded). `prompt` is
/// written to the terminal first. Echo is restored whatever happens.
pub fn read_tty_no_echo(prompt: &str, buf: &mut [u8]) -> std::io::Result<usize> {
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;
    let mut tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")?;
    let fd = tty.as_raw_fd();
    // SAFETY: termios is plain data; tcgetattr fills it for an open fd.
    let mut saved: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: fd is open for the life of `tty`; `saved` is a valid pointer.
    if unsafe { libc::tcgetattr(fd, &mut saved) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut quiet = saved;
    quiet.c_lflag &= !(libc::ECHO | libc::ECHONL);
    quiet.c_lflag |= libc::ICANON;
    tty.write_all(prompt.as_bytes())?;
    tty.flush()?;
    // SAFETY: as above; `quiet` is a copy of a valid termios.
    if unsafe { libc::tcsetattr(fd, libc::TCSAFLUSH, &quiet) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut n = 0;
    let mut byte = [0u8; 1];
    let result = loop {
        match tty.read(&mut byte) {
            Ok(0) => break Ok(n),
            Ok(_) if byte[0] == b'\n' => break Ok(n),
            Ok(_) => {
                if n < buf.len() {
                    buf[n] = byte[0];
                }
                // Past the buffer the count still grows, so the caller
                // sees an over-long input instead of a silent cut.
                n += 1;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => break Err(e),
        }
    };
    zeroize::Zeroize::zeroize(&mut byte);
    // SAFETY: restores the settings read above on the same open fd.
    unsafe { libc::tcsetattr(fd, libc::TCSAFLUSH, &saved) };
    let _ = tty.write_all(b"\n");
    result.map(|n| n.min(buf.len()))
}
