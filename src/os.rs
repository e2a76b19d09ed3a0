//! Operating-system and OpenSSL FFI: the only module with `unsafe`.
//!
//! Each block is small and carries a `// SAFETY:` comment. Everything here
//! is wrapped in a safe function that the rest of the crate calls.

use std::ffi::c_int;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};

use foreign_types::ForeignType;
use openssl::error::ErrorStack;
use openssl::pkcs12::Pkcs12;
use openssl::pkey::{PKey, Private};
use openssl::stack::Stack;
use openssl::x509::X509;
use zeroize::Zeroize;

use crate::secret::Passphrase;

const PAGE: usize = 4096;

/// One page of memory that holds a secret: page-aligned so that locking it
/// and excluding it from core dumps affects nothing else, wiped and unlocked
/// on drop.
#[repr(C, align(4096))]
pub struct SecretPage {
    bytes: [u8; PAGE - 1],
    /// Whether `mlock` succeeded, for the locked-pages count.
    locked: bool,
}

static PAGES_LOCKED: AtomicUsize = AtomicUsize::new(0);
static PAGES_UNLOCKABLE: AtomicUsize = AtomicUsize::new(0);

impl SecretPage {
    /// A zeroed page, locked in RAM and marked `MADV_DONTDUMP` where the
    /// limits allow. Failure to lock is counted (see [`memory_lock_report`]),
    /// not fatal: a daemon that refuses to start under a small
    /// `RLIMIT_MEMLOCK` protects nobody.
    pub fn new_boxed() -> Box<Self> {
        let mut page = Box::new(SecretPage {
            bytes: [0; PAGE - 1],
            locked: false,
        });
        let addr = page.bytes.as_ptr() as *mut libc::c_void;
        // SAFETY: `addr` is the start of a live, page-aligned allocation of
        // exactly PAGE bytes (the struct) owned by `page`; mlock and madvise
        // only change paging attributes of that range.
        let locked = unsafe {
            libc::madvise(addr, PAGE, libc::MADV_DONTDUMP);
            libc::mlock(addr, PAGE) == 0
        };
        page.locked = locked;
        if locked {
            PAGES_LOCKED.fetch_add(1, Ordering::Relaxed);
        } else {
            PAGES_UNLOCKABLE.fetch_add(1, Ordering::Relaxed);
        }
        page
    }
}

impl std::ops::Deref for SecretPage {
    type Target = [u8; PAGE - 1];
    fn deref(&self) -> &Self::Target {
        &self.bytes
    }
}

impl std::ops::DerefMut for SecretPage {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.bytes
    }
}

impl Drop for SecretPage {
    fn drop(&mut self) {
        self.bytes.zeroize();
        PAGES_LOCKED.fetch_sub(usize::from(self.locked), Ordering::Relaxed);
        let addr = self.bytes.as_ptr() as *mut libc::c_void;
        // SAFETY: same range as locked in `new_boxed`, still owned by us; the
        // page is page-aligned and not shared with any other object.
        unsafe {
            libc::munlock(addr, PAGE);
            libc::madvise(addr, PAGE, libc::MADV_DODUMP);
        }
    }
}

/// How much of the stack [`scrub_stack`] overwrites: far more than the
/// deepest OpenSSL call chain that handles a passphrase (the PEM password
/// prompt's buffer sits about 17 KiB below a thread's first frame), far
/// less than any thread's stack (2 MiB).
const STACK_SCRUB_BYTES: usize = 64 * 1024;

/// Overwrites the stack below the caller's frame with zeros. Call it right
/// after a call that may have left secrets in its (now popped) frames:
/// OpenSSL's PEM password path copies the passphrase into an unwiped stack
/// buffer (`ui_read`'s `result`), and glibc keeps the stacks of ended
/// threads for reuse, so such residue would outlive Lock.
#[inline(never)]
pub fn scrub_stack() {
    let mut area = [0u8; STACK_SCRUB_BYTES];
    // Volatile writes: not removed as dead stores.
    area.zeroize();
    std::hint::black_box(&area);
}

/// How many secret pages are locked in RAM now, and how many could not be
/// locked since start (`RLIMIT_MEMLOCK` too small).
pub fn memory_lock_report() -> (usize, usize) {
    (
        PAGES_LOCKED.load(Ordering::Relaxed),
        PAGES_UNLOCKABLE.load(Ordering::Relaxed),
    )
}

/// Process hardening that works unprivileged: not dumpable (no ptrace by
/// other same-uid processes, no core), `RLIMIT_CORE = 0`, and a umask that
/// makes every file and socket we create private by default.
pub fn harden_process() -> std::io::Result<()> {
    let no_core = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls with valid arguments; `no_core` outlives the call.
    unsafe {
        // First, so a failure below still leaves new files private.
        libc::umask(0o077);
        if libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if libc::setrlimit(libc::RLIMIT_CORE, &no_core) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

type MallocFn = unsafe extern "C" fn(usize, *const libc::c_char, c_int) -> *mut libc::c_void;
type ReallocFn =
    unsafe extern "C" fn(*mut libc::c_void, usize, *const libc::c_char, c_int) -> *mut libc::c_void;
type FreeFn = unsafe extern "C" fn(*mut libc::c_void, *const libc::c_char, c_int);

unsafe extern "C" {
    fn CRYPTO_secure_malloc_init(size: usize, minsize: usize) -> c_int;
    fn CRYPTO_set_mem_functions(m: MallocFn, r: ReallocFn, f: FreeFn) -> c_int;
}

unsafe extern "C" fn wiping_malloc(
    n: usize,
    _: *const libc::c_char,
    _: c_int,
) -> *mut libc::c_void {
    // SAFETY: plain malloc; OpenSSL owns the result and frees it through
    // `wiping_free`.
    unsafe { libc::malloc(n) }
}

/// Wipes a block that came from `wiping_malloc` (glibc malloc) and frees it.
///
/// # Safety
/// `p` is null or a live block from this allocator, not used afterwards.
unsafe fn wipe_and_free(p: *mut libc::c_void) {
    if p.is_null() {
        return;
    }
    // SAFETY: per this function's contract `p` is a live glibc block, so
    // malloc_usable_size is its whole usable size and all of it is ours to
    // overwrite before freeing.
    unsafe {
        libc::explicit_bzero(p, libc::malloc_usable_size(p));
        libc::free(p);
    }
}

unsafe extern "C" fn wiping_realloc(
    p: *mut libc::c_void,
    n: usize,
    _: *const libc::c_char,
    _: c_int,
) -> *mut libc::c_void {
    // SAFETY: OpenSSL passes null or a block from this allocator. Growing
    // copies into a new block and wipes the old one, so no stale copy is
    // left where realloc would have moved it.
    unsafe {
        if p.is_null() {
            return libc::malloc(n);
        }
        if n == 0 {
            wipe_and_free(p);
            return ptr::null_mut();
        }
        let q = libc::malloc(n);
        if q.is_null() {
            return q;
        }
        ptr::copy_nonoverlapping(
            p.cast::<u8>(),
            q.cast::<u8>(),
            libc::malloc_usable_size(p).min(n),
        );
        wipe_and_free(p);
        q
    }
}

unsafe extern "C" fn wiping_free(p: *mut libc::c_void, _: *const libc::c_char, _: c_int) {
    // SAFETY: OpenSSL frees only blocks it got from this allocator.
    unsafe { wipe_and_free(p) }
}

/// Makes OpenSSL wipe every heap block it frees. OpenSSL cleanses its key
/// structures, but transient buffers (decoded ASN.1 of a decrypted key,
/// for one) are freed as they are; with this, nothing it frees keeps key
/// bytes. Must run before OpenSSL's first allocation; false if too late.
pub fn install_wiping_allocator() -> bool {
    // SAFETY: the three functions form a consistent allocator over glibc
    // malloc; OpenSSL accepts them only before its first allocation.
    unsafe { CRYPTO_set_mem_functions(wiping_malloc, wiping_realloc, wiping_free) == 1 }
}

static SECURE_HEAP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether OpenSSL's secure heap was set up.
pub fn secure_heap_active() -> bool {
    SECURE_HEAP.load(Ordering::Relaxed)
}

/// Puts OpenSSL's private-key internals (bignums) in its secure heap: a
/// locked, non-dumped arena that is wiped on free. Must run before any key
/// is loaded. Returns false where the arena could not be set up.
///
/// OpenSSL answers 1 when the arena is set up and locked, 2 when it is set
/// up but `mlock` failed (RLIMIT_MEMLOCK): still guarded, wiped on free and
/// excluded from dumps, so both count as active; the second is logged.
pub fn init_openssl_secure_heap() -> bool {
    // SAFETY: called once at start-up before OpenSSL allocates key material;
    // size is a power of two and minsize divides it, as the API requires.
    let rc = unsafe { CRYPTO_secure_malloc_init(1 << 20, 32) };
    if rc == 2 {
        tracing::warn!(
            "OpenSSL secure heap is set up but could not be locked in RAM \
             (raise RLIMIT_MEMLOCK, e.g. LimitMEMLOCK= under systemd)"
        );
    }
    let ok = rc == 1 || rc == 2;
    SECURE_HEAP.store(ok, Ordering::Relaxed);
    ok
}

/// Loads OpenSSL's `legacy` provider (RC2 and 3DES in old PKCS#12 files, DES
/// in old PEM keys) beside the default one, for the life of the process.
pub fn load_legacy_provider() -> Result<(), ErrorStack> {
    let legacy = openssl::provider::Provider::try_load(None, "legacy", true)?;
    // Unloading would break later decryptions of legacy files; keep it.
    std::mem::forget(legacy);
    Ok(())
}

/// What a PKCS#12 bundle holds.
pub struct Pkcs12Contents {
    /// The private key.
    pub key: PKey<Private>,
    /// The certificate matching the key.
    pub cert: X509,
    /// Further certificates (the chain), in file order.
    pub chain: Vec<X509>,
}

/// Opens a PKCS#12 bundle with a passphrase taken straight from its locked
/// buffer. The `openssl` crate's `Pkcs12::parse2` copies the passphrase into
/// a heap `CString` that is never wiped; this does not.
pub fn pkcs12_parse(der: &[u8], pass: &Passphrase) -> Result<Pkcs12Contents, ErrorStack> {
    let p12 = Pkcs12::from_der(der)?;
    let pass_c = pass.expose_nul_terminated();
    let mut pkey: *mut openssl_sys::EVP_PKEY = ptr::null_mut();
    let mut cert: *mut openssl_sys::X509 = ptr::null_mut();
    let mut ca: *mut openssl_sys::stack_st_X509 = ptr::null_mut();
    // SAFETY: `p12` is a valid PKCS12 object; `pass_c` is NUL-terminated with
    // no interior NUL (Passphrase invariant) and outlives the call; the out
    // pointers are valid and receive owned objects (or stay null) that we
    // wrap exactly once below.
    let rc = unsafe {
        openssl_sys::PKCS12_parse(
            p12.as_ptr(),
            pass_c.as_ptr().cast(),
            &mut pkey,
            &mut cert,
            &mut ca,
        )
    };
    // SAFETY: each non-null pointer was returned owned by PKCS12_parse and is
    // wrapped once, so it is freed exactly once.
    let (pkey, cert, ca) = unsafe {
        (
            (!pkey.is_null()).then(|| PKey::<Private>::from_ptr(pkey)),
            (!cert.is_null()).then(|| X509::from_ptr(cert)),
            (!ca.is_null()).then(|| Stack::<X509>::from_ptr(ca)),
        )
    };
    if rc != 1 {
        return Err(ErrorStack::get());
    }
    match (pkey, cert) {
        (Some(key), Some(cert)) => Ok(Pkcs12Contents {
            key,
            cert,
            chain: ca.map(|s| s.into_iter().collect()).unwrap_or_default(),
        }),
        // A bundle without key or certificate: report it as a decode error.
        _ => Err(ErrorStack::get()),
    }
}

/// Takes an environment variable's value as a passphrase and wipes it from
/// the process: the bytes in the environment block (what
/// `/proc/self/environ` shows) are overwritten, then the variable is unset.
///
/// Must be called before any other thread exists: the environment is not
/// thread-safe. `Ok(None)` when the variable is not set.
pub fn take_env_secret(
    name: &str,
) -> Result<Option<Result<Passphrase, crate::secret::PassphraseError>>, std::ffi::NulError> {
    let cname = std::ffi::CString::new(name)?;
    // SAFETY: single-threaded by this function's contract. `getenv` returns a
    // pointer to the value inside the `NAME=value` string of the environment
    // block (or null). We copy the value into a locked buffer, unset the
    // variable (which only drops the pointer from `environ`: glibc never frees
    // the strings), then overwrite the whole `NAME=value` string, which starts
    // `name.len() + 1` bytes before the value and is still mapped.
    let taken = unsafe {
        let value = libc::getenv(cname.as_ptr());
        if value.is_null() {
            return Ok(None);
        }
        let len = libc::strlen(value);
        let pass = Passphrase::from_slice(std::slice::from_raw_parts(value.cast::<u8>(), len));
        libc::unsetenv(cname.as_ptr());
        let start = value.cast::<u8>().sub(name.len() + 1);
        std::slice::from_raw_parts_mut(start, name.len() + 1 + len).zeroize();
        pass
    };
    Ok(Some(taken))
}

/// The gid of a group given by name or number, if it exists.
pub fn group_id(name: &str) -> Option<u32> {
    if let Ok(gid) = name.parse::<u32>() {
        return Some(gid);
    }
    let cname = std::ffi::CString::new(name).ok()?;
    let mut grp: libc::group = unsafe_zeroed_group();
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut result: *mut libc::group = ptr::null_mut();
    // SAFETY: every pointer is valid for the call: `cname` is NUL-terminated,
    // `grp` and `result` are live locals, `buf` is a live buffer of the
    // length passed. getgrnam_r writes only into them.
    let rc = unsafe {
        libc::getgrnam_r(
            cname.as_ptr(),
            &mut grp,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    (rc == 0 && !result.is_null()).then_some(grp.gr_gid)
}

fn unsafe_zeroed_group() -> libc::group {
    // SAFETY: `libc::group` is a plain C struct of integers and pointers for
    // which all-zero bytes (null pointers) are a valid value.
    unsafe { std::mem::zeroed() }
}

/// `SO_PEERPIDFD` (Linux 6.5+): the asm-generic value, used by x86-64 and
/// aarch64.
const SO_PEERPIDFD: c_int = 77;

/// A pidfd for the process at the other end of a Unix socket, or `None`
/// where the kernel does not offer one (before 6.5).
pub fn peer_pidfd(socket: &impl std::os::fd::AsRawFd) -> Option<std::os::fd::OwnedFd> {
    let mut fd: c_int = -1;
    let mut len = std::mem::size_of::<c_int>() as libc::socklen_t;
    // SAFETY: `socket` is an open socket for the duration of the call; `fd`
    // and `len` are valid out-parameters of the size we pass.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_PEERPIDFD,
            (&raw mut fd).cast(),
            &mut len,
        )
    };
    if rc != 0 || fd < 0 {
        return None;
    }
    // SAFETY: the kernel returned a new pidfd that nothing else owns.
    Some(unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) })
}

/// Whether the process behind `pidfd` is still running (so a pid read
/// before this check still named it: a pid is not reused while its process
/// lives).
pub fn pidfd_alive(pidfd: &std::os::fd::OwnedFd) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: signal 0 only checks for existence; the pidfd is open.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            0,
            ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    // EPERM means the process exists but belongs to another uid and we lack
    // CAP_KILL: it is alive. Only ESRCH (exited) means the pid may be reused.
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Lowers the calling thread's scheduling priority (nice +5), so that under
/// CPU saturation the scheduler favours the threads that answer requests.
/// Raising niceness needs no privilege; failure only costs latency.
pub fn lower_current_thread_priority() {
    // SAFETY: gettid has no preconditions; setpriority on our own thread id
    // only changes this thread's nice value.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 5);
    }
}

/// The mount id (`statx` `STATX_MNT_ID`) of the file `path` names,
/// following symlinks (and `/proc/PID/exe`'s magic link): which mount the
/// file was reached through. `None` where the kernel does not report it.
pub fn mount_id(path: &std::path::Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: statx is plain data; all-zero is a valid value.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is NUL-terminated and outlives the call; `stx` is a valid
    // out-parameter of the right type.
    let rc = unsafe { libc::statx(libc::AT_FDCWD, c.as_ptr(), 0, libc::STATX_MNT_ID, &mut stx) };
    (rc == 0 && stx.stx_mask & libc::STATX_MNT_ID != 0).then_some(stx.stx_mnt_id)
}

/// The effective uid of this process.
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Sends SIGKILL to every process in the process group `pgid` (an `exec`
/// passphrase command and whatever it started). A group that is already
/// gone is fine.
pub fn kill_process_group(pgid: u32) {
    let Ok(pgid) = libc::pid_t::try_from(pgid) else {
        return;
    };
    if pgid <= 1 {
        return; // never 0 (our own group) or init's
    }
    // SAFETY: plain syscall; pgid is a positive group id of a child we
    // started with its own process group.
    unsafe {
        libc::killpg(pgid, libc::SIGKILL);
    }
}

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

/// The effective gid of this process.
pub fn effective_gid() -> u32 {
    // SAFETY: getegid has no preconditions and cannot fail.
    unsafe { libc::getegid() }
}

/// Whether child `pid` has exited, without reaping it (`waitid` with
/// `WNOWAIT`): its pid, and so its process group id, cannot be reused
/// until the caller reaps it, so killing the group stays safe until then.
pub fn child_exited_unreaped(pid: u32) -> std::io::Result<bool> {
    let id = libc::id_t::from(pid);
    // SAFETY: siginfo_t is plain data, zeroed as waitid(2) asks for WNOHANG
    // (si_pid stays 0 when no child changed state).
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer to `info`; P_PID with a pid of our own child.
    let rc = unsafe {
        libc::waitid(
            libc::P_PID,
            id,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: after a successful waitid the pid field is initialised.
    Ok(unsafe { info.si_pid() } != 0)
}
