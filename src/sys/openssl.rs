//! OpenSSL set-up and FFI the `openssl` crate lacks: a wiping allocator,
//! the secure heap, the legacy provider, PKCS#12 parsing that takes the
//! passphrase straight from its locked buffer, and signing contexts copied
//! from one set up per key.

use std::ffi::c_int;
use std::ptr;
use std::sync::atomic::Ordering;

use foreign_types::ForeignType;
use openssl::error::ErrorStack;
use openssl::md::MdRef;
use openssl::md_ctx::MdCtx;
use openssl::pkcs12::Pkcs12;
use openssl::pkey::{PKey, PKeyRef, Private};
use openssl::pkey_ctx::PkeyCtxRef;
use openssl::stack::Stack;
use openssl::x509::X509;

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
/// buffer (`pass_c`: the bytes and one NUL terminator, no other NUL). The
/// `openssl` crate's `Pkcs12::parse2` copies the passphrase into a heap
/// `CString` that is never wiped; this does not.
pub fn pkcs12_parse(der: &[u8], pass_c: &[u8]) -> Result<Pkcs12Contents, ErrorStack> {
    let terminated = pass_c
        .split_last()
        .is_some_and(|(last, rest)| *last == 0 && !rest.contains(&0));
    if !terminated {
        // A caller's bug; OpenSSL must never read past the slice.
        return Err(ErrorStack::get());
    }
    let p12 = Pkcs12::from_der(der)?;
    let mut pkey: *mut openssl_sys::EVP_PKEY = ptr::null_mut();
    let mut cert: *mut openssl_sys::X509 = ptr::null_mut();
    let mut ca: *mut openssl_sys::stack_st_X509 = ptr::null_mut();
    // SAFETY: `p12` is a valid PKCS12 object; `pass_c` is NUL-terminated with
    // no interior NUL (checked above) and outlives the call; the out
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

/// A digest-signing context set up once for a key (digest, padding, salt)
/// and copied for each signature. `EVP_DigestSignInit` looks up the
/// signature implementation and builds the key's provider context on every
/// call (9 % of an ES256 request under callgrind); `EVP_MD_CTX_copy_ex`
/// only duplicates them. The copy shares the key by reference, so no copy
/// of the private key is made, and it is freed (wiped) with the template.
pub struct SignTemplate(std::sync::Mutex<MdCtx>);

impl SignTemplate {
    /// A context for signing with `key` under `digest`, its key context
    /// set by `configure` (padding, salt). Only this constructor makes
    /// one, so a template is always initialised: OpenSSL 3.0's
    /// `EVP_DigestSign` crashes on a context that is not.
    pub fn new(
        key: &PKeyRef<Private>,
        digest: &MdRef,
        configure: impl FnOnce(&mut PkeyCtxRef<Private>) -> Result<(), ErrorStack>,
    ) -> Result<Self, ErrorStack> {
        let mut ctx = MdCtx::new()?;
        configure(ctx.digest_sign_init(Some(digest), key)?)?;
        Ok(Self(std::sync::Mutex::new(ctx)))
    }

    /// A context as the template's was when it was made, ready for one
    /// `digest_sign`.
    pub fn fresh(&self) -> Result<MdCtx, ErrorStack> {
        let fresh = MdCtx::new()?;
        // OpenSSL documents no concurrent copies from one context, so the
        // lock serialises them; a copy takes about a microsecond.
        let template = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // SAFETY: both pointers are live contexts owned by `MdCtx` values
        // that outlive the call; copy_ex reads `template` (held locked, so
        // unused elsewhere meanwhile) and replaces `fresh`'s state with
        // copies it owns, which `fresh`'s destructor frees.
        let rc = unsafe { openssl_sys::EVP_MD_CTX_copy_ex(fresh.as_ptr(), template.as_ptr()) };
        if rc == 1 {
            Ok(fresh)
        } else {
            Err(ErrorStack::get())
        }
    }
}

impl std::fmt::Debug for SignTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignTemplate(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::md::Md;
    use openssl::pkey::PKey;

    #[test]
    fn copies_of_a_template_each_sign_afresh() {
        let group =
            openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap();
        let key = PKey::from_ec_key(openssl::ec::EcKey::generate(&group).unwrap()).unwrap();
        let template = SignTemplate::new(&key, Md::sha256(), |_| Ok(())).unwrap();
        let sign = |msg: &[u8]| {
            let mut out = Vec::new();
            template
                .fresh()
                .unwrap()
                .digest_sign_to_vec(msg, &mut out)
                .unwrap();
            out
        };
        let (a, b) = (sign(b"one"), sign(b"one"));
        // ECDSA draws a fresh nonce: equal signatures would mean a copy
        // replayed state.
        assert_ne!(a, b);
        for (msg, sig) in [(&b"one"[..], &a), (b"one", &b), (b"two", &sign(b"two"))] {
            let mut v = MdCtx::new().unwrap();
            v.digest_verify_init(Some(Md::sha256()), &key).unwrap();
            assert!(v.digest_verify(msg, sig).unwrap());
        }
    }
}
