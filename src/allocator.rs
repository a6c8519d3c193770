//! The process's memory allocator: mimalloc, told to keep freed memory for a while.
//!
//! A training step frees and reallocates hundreds of megabytes of activations and patch
//! matrices. glibc's allocator maps blocks that large afresh and unmaps them on free, so
//! every step paid again for page faults on new memory (the reference step ran 1.9x faster
//! with glibc's trim/top-pad variables set). mimalloc reuses freed memory, but by default
//! returns ("purges") what stays free for a second, and a step's biggest buffers are reused
//! only once per step, so they were purged and faulted in again: `bench` measured 1,070
//! views/s with the default delay and 1,360 with a 30 s one, same binary, same session.
//!
//! So mimalloc is the `#[global_allocator]`, and `keep_freed_memory` sets its purge delay
//! to `PURGE_DELAY_MS` (30 s): longer than any step, short enough that an idle window gives
//! its memory back.
//!
//! This is the crate's only unsafe code (`unsafe_code = "deny"` everywhere else): one call
//! into mimalloc's C API that sets the delay, made from `main` before any other thread
//! exists (mimalloc's option setters are not thread-safe), and one that reads it back
//! (`purge_delay_ms`, for the test that checks the option's index).

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc v3's `mi_option_purge_delay` (its position in `mi_option_e`, mimalloc.h);
/// libmimalloc-sys exports no constant for it.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How long freed memory stays mapped before mimalloc returns it to the OS: longer than
/// any training step, short enough that an idle window gives its memory back.
pub const PURGE_DELAY_MS: i64 = 30_000;

/// Keeps freed memory mapped for [`PURGE_DELAY_MS`]. Call once, at the start of `main`.
pub fn keep_freed_memory() {
    // SAFETY: mi_option_set only stores an integer in mimalloc's option table; it is
    // called before the program starts any thread, so nothing reads the table meanwhile.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_set(PURGE_DELAY, PURGE_DELAY_MS as _);
    }
}

/// The purge delay mimalloc is using now, in milliseconds.
pub fn purge_delay_ms() -> i64 {
    // SAFETY: reads an integer from mimalloc's option table.
    #[allow(unsafe_code)]
    let value = unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) };
    #[allow(clippy::useless_conversion)] // c_long is i64 here but i32 on Windows
    i64::from(value)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_option_index_is_mimallocs_purge_delay() {
        // v3's documented default (options.c) is 1,000 ms: reading it proves the index.
        // Tests never call keep_freed_memory, so the default is what they see.
        assert_eq!(super::purge_delay_ms(), 1_000);
    }
}
