//! Memory that holds secrets: locked, undumpable, wiped pages, and
//! scrubbing the stack after calls that leave secrets in their frames.

use std::sync::atomic::{AtomicUsize, Ordering};

use zeroize::Zeroize;

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

/// Fixes glibc's mmap threshold at its default (128 KiB), so large buffers
/// (scrypt's 16–32 MiB working memory for a key decryption) are mapped and
/// returned to the system when freed. Left dynamic, glibc raises the
/// threshold after the first such free, later ones come from the thread's
/// malloc arena, and each arena keeps them resident: ten scrypt keys kept
/// about 100 MiB (docs/benchmarks.md, "How cost grows"). Returns whether
/// glibc accepted the setting.
pub fn fix_mmap_threshold() -> bool {
    // SAFETY: mallopt only changes allocator parameters; it is called once,
    // at start-up, before any thread is spawned.
    unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024) == 1 }
}
