use churnlake::cli::{self, Cli};
use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Threads for blocking work: the object store reads and writes local files on tokio's
/// blocking pool, one task per read. At tokio's default of 512 threads a scan of a table with
/// hundreds of partitions starts hundreds of threads, each with its own allocator heap: a
/// simple count over 700 partitions took 6 s, nearly all of it in the kernel, and 1.7 GB.
const BLOCKING_THREADS: usize = 8;

fn main() -> std::process::ExitCode {
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
