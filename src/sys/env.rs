//! Taking a secret out of the process environment.

use zeroize::Zeroize;

/// Takes an environment variable's value and wipes it from the process:
/// `keep` copies the value (into a locked buffer), then the bytes in the
/// environment block (what `/proc/self/environ` shows) are overwritten and
/// the variable is unset.
///
/// Must be called before any other thread exists: the environment is not
/// thread-safe. `Ok(None)` when the variable is not set.
pub fn take_env_secret<T>(
    name: &str,
    keep: impl FnOnce(&[u8]) -> T,
) -> Result<Option<T>, std::ffi::NulError> {
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
        let pass = keep(std::slice::from_raw_parts(value.cast::<u8>(), len));
        libc::unsetenv(cname.as_ptr());
        let start = value.cast::<u8>().sub(name.len() + 1);
        std::slice::from_raw_parts_mut(start, name.len() + 1 + len).zeroize();
        pass
    };
    Ok(Some(taken))
}
