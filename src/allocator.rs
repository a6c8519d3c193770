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
//! A process may also be given a bound on its heap ([`limit_heap`]): `serve` runs its
//! device server in a child process with one, so a client that asks for a tensor larger
//! than the machine can hold ends that process (the allocation fails at the bound, not
//! after the machine has swapped), and the supervising `serve` starts a fresh one. The
//! count costs one relaxed load per allocation when no bound is set.
//!
//! With `model::fast_block::gemm_into`'s one call into the `gemm` crate, this is the crate's
//! only unsafe code (`unsafe_code = "deny"` everywhere else): one call
//! into mimalloc's C API that sets the delay, made from `main` before any other thread
//! exists (mimalloc's option setters are not thread-safe), one that reads it back
//! (`purge_delay_ms`, for the test that checks the option's index), and the global
//! allocator's four methods, which pass each call to mimalloc unchanged.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering};

#[global_allocator]
static ALLOCATOR: BoundedHeap = BoundedHeap;

/// The heap bound in bytes (0: none), set once at the start of `main`.
static LIMIT: AtomicUsize = AtomicUsize::new(0);
/// Whether allocations are counted (only under a bound).
static COUNTING: AtomicBool = AtomicBool::new(false);
/// Bytes allocated since counting began (allocations made before it and freed after make
/// it a little low, never high).
static LIVE: AtomicIsize = AtomicIsize::new(0);

/// mimalloc, refusing an allocation that would take the live heap past [`LIMIT`].
struct BoundedHeap;

impl BoundedHeap {
    /// Counts `size` more bytes, or refuses them (and counts nothing) past the bound.
    fn take(size: usize) -> bool {
        if !COUNTING.load(Ordering::Relaxed) {
            return true;
        }
        let size = isize::try_from(size).unwrap_or(isize::MAX);
        let before = LIVE.fetch_add(size, Ordering::Relaxed);
        let limit = isize::try_from(LIMIT.load(Ordering::Relaxed)).unwrap_or(isize::MAX);
        if before.saturating_add(size) > limit {
            LIVE.fetch_sub(size, Ordering::Relaxed);
            return false;
        }
        true
    }

    fn give(size: usize) {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE.fetch_sub(
                isize::try_from(size).unwrap_or(isize::MAX),
                Ordering::Relaxed,
            );
        }
    }
}

// SAFETY: every method forwards to mimalloc's own GlobalAlloc with the caller's arguments
// unchanged; the bound only returns null (an allowed answer) before calling it.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for BoundedHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !Self::take(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's contract is passed on unchanged.
        let p = unsafe { mimalloc::MiMalloc.alloc(layout) };
        if p.is_null() {
            Self::give(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !Self::take(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: as above.
        let p = unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) };
        if p.is_null() {
            Self::give(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        Self::give(layout.size());
        // SAFETY: as above.
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let grows = new_size > layout.size();
        if grows && !Self::take(new_size - layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: as above.
        let p = unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) };
        match (p.is_null(), grows) {
            (true, true) => Self::give(new_size - layout.size()),
            (false, false) => Self::give(layout.size() - new_size),
            _ => {}
        }
        p
    }
}

/// Bounds this process's heap at `bytes` (0: no bound). Call at the start of `main`, before
/// any other thread exists. An allocation past the bound fails, which ends the process
/// ("memory allocation of N bytes failed").
pub fn limit_heap(bytes: usize) {
    LIMIT.store(bytes, Ordering::Relaxed);
    COUNTING.store(bytes > 0, Ordering::Relaxed);
}

/// The environment variable through which `serve` gives its device process a heap bound.
pub const HEAP_LIMIT_ENV: &str = "CW_HEAP_LIMIT_BYTES";

/// Applies the bound named by [`HEAP_LIMIT_ENV`], if any. Call at the start of `main`.
pub fn limit_heap_from_env() {
    if let Some(bytes) = std::env::var(HEAP_LIMIT_ENV)
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        limit_heap(bytes);
    }
}

/// Bytes the process holds on its heap now, when counting (under a bound).
pub fn live_heap_bytes() -> Option<usize> {
    COUNTING
        .load(Ordering::Relaxed)
        .then(|| usize::try_from(LIVE.load(Ordering::Relaxed)).unwrap_or(0))
}

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
