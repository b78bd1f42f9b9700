//! The `churnlake` binary: mimalloc as the allocator, a tokio runtime with a bounded
//! blocking pool, the command line run on it, and the exit code of its result.

use churnlake::cli::{self, Cli};
use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Threads for blocking work: the object store reads and writes local files on tokio's
/// blocking pool, one task per read. At tokio's default of 512 threads a scan of a table with
/// hundreds of partitions starts hundreds of threads, each with its own allocator heap: a
/// simple count over 700 partitions took 6 s, nearly all of it in the kernel, and 1.7 GB.
const BLOCKING_THREADS: usize = 8;

/// mimalloc's `mi_option_purge_delay`: its index in `mi_option_t` of the mimalloc 3 sources
/// that libmimalloc-sys 0.1.49 builds (its Rust bindings name it only with a feature that
/// needs another crate). A test checks it still reads the option's documented default.
const MI_OPTION_PURGE_DELAY: i32 = 15;

unsafe extern "C" {
    #[cfg(test)]
    fn mi_option_get(option: i32) -> std::ffi::c_long;
    fn mi_option_set(option: i32, value: std::ffi::c_long);
}

/// How long freed memory waits before going back to the system, in milliseconds: 100
/// instead of mimalloc's default second. A build's stages free gigabytes that the next
/// stage's threads do not reuse (the l build peaked at 4.12 GiB with the default delay, 3.68
/// GiB at 0, at a 3 GiB memory limit), while purging at once costs the kernel time of
/// returning and faulting the pages again: at 0 a one-month l backfill spent 16.4 s of 30.8 s
/// in the kernel, at 100 ms 10.6 s of 26.8 s; a cold l build 111.3 s at 3.32 GiB (0) and
/// 102.4 s at 3.45 GiB (100).
const PURGE_DELAY_MS: std::ffi::c_long = 100;

/// Sets the purge delay; `MIMALLOC_PURGE_DELAY` in the environment still decides where it is
/// set.
fn purge_freed_memory_soon() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one of mimalloc's integer options; any value is valid.
        unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
    }
}

fn main() -> std::process::ExitCode {
    purge_freed_memory_soon();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(BLOCKING_THREADS)
        .build()
        .expect("a tokio runtime starts");
    runtime.block_on(async {
        match cli::run(cli).await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(error) => {
                cli::output::error(&error);
                std::process::ExitCode::from(error.exit_code() as u8)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_option_is_the_one_set() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        // SAFETY: reads and sets mimalloc's integer options.
        unsafe {
            assert_eq!(
                mi_option_get(MI_OPTION_PURGE_DELAY),
                1000,
                "mimalloc 3 documents a 1000 ms default purge delay"
            );
            purge_freed_memory_soon();
            assert_eq!(mi_option_get(MI_OPTION_PURGE_DELAY), PURGE_DELAY_MS);
        }
    }
}
