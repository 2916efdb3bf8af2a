//! [ssr] The server's CPU-heavy work (Argon2, zxcvbn) on a fixed set of threads of its own, each
//! holding Argon2's 19 MiB of working memory from its first hash on and reusing it.
//!
//! Why not tokio's blocking pool: its threads come and go (up to 512), and each hash allocated
//! and freed 19 MiB on whichever thread ran it. glibc keeps freed memory in per-thread arenas,
//! so a flood of logins left hundreds of megabytes resident that no later hash reused (926 MiB
//! after 139 hashes and 3,000 refused logins, `scripts/bench-memory` at 6f91270). Here the memory
//! is bounded by construction: threads × 19 MiB, allocated once, never freed while they run.

use argon2::Block;
use std::{
    panic::AssertUnwindSafe,
    sync::{
        atomic::{AtomicUsize, Ordering},
        mpsc, Arc, Mutex, PoisonError,
    },
    time::Instant,
};

/// Argon2's working memory, kept by one thread for every hash it computes.
#[derive(Default)]
pub struct Memory(Vec<Block>);

impl Memory {
    /// `count` blocks of 1 KiB. Grows on first use (or for a stored hash that needs more than
    /// any before it) and is then reused as is.
    pub fn blocks(&mut self, count: usize) -> &mut [Block] {
        if self.0.len() < count {
            self.0.resize(count, Block::default());
        }
        &mut self.0[..count]
    }
}

type Job = Box<dyn FnOnce(&mut Memory) + Send>;

/// The threads, fed in order from one queue. Dropping this ends them once the queue is done.
pub struct Workers {
    jobs: mpsc::Sender<Job>,
    /// Jobs sent and not yet started.
    waiting: Arc<AtomicUsize>,
}

/// The worker threads have stopped (only while the server shuts down).
#[derive(Debug, thiserror::Error)]
#[error("the worker threads have stopped")]
pub struct Stopped;

impl Workers {
    pub fn start(threads: usize) -> std::io::Result<Self> {
        let threads = threads.max(1);
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for n in 0..threads {
            let receiver = Arc::clone(&receiver);
            std::thread::Builder::new()
                .name(format!("cpu-{n}"))
                .spawn(move || {
                    let mut memory = Memory::default();
                    loop {
                        // The lock is held only while waiting for the next job.
                        let job = receiver
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .recv();
                        let Ok(job) = job else { return };
                        // A job that panics fails its own request (its reply is dropped), not
                        // the thread that everyone's later work needs.
                        let _ = std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut memory)));
                    }
                })?;
        }
        Ok(Self {
            jobs: sender,
            waiting: Arc::default(),
        })
    }

    /// Jobs waiting for a thread now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Runs `work` on a worker thread, after the work queued before it. If the caller stops
    /// waiting first (its client went away), the work is skipped when its turn comes.
    pub async fn run<T, F>(&self, work: F) -> Result<T, Stopped>
    where
        F: FnOnce(&mut Memory) -> T + Send + 'static,
        T: Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let (waiting, sent) = (Arc::clone(&self.waiting), Instant::now());
        waiting.fetch_add(1, Ordering::Relaxed);
        let job: Job = Box::new(move |memory| {
            waiting.fetch_sub(1, Ordering::Relaxed);
            crate::telemetry::metrics::hash_waited(sent.elapsed());
            if !reply.is_closed() {
                let _ = reply.send(work(memory));
            }
        });
        self.jobs.send(job).map_err(|_| {
            self.waiting.fetch_sub(1, Ordering::Relaxed);
            Stopped
        })?;
        answer.await.map_err(|_| Stopped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn work_never_runs_on_more_threads_at_once_than_there_are_workers() {
        let workers = Workers::start(2).unwrap();
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let jobs = (0..8).map(|_| {
            let (running, most) = (running.clone(), most.clone());
            workers.run(move |_| {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(20));
                running.fetch_sub(1, Ordering::SeqCst);
            })
        });
        for outcome in futures::future::join_all(jobs).await {
            outcome.unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn each_thread_keeps_its_memory_for_the_next_job() {
        let workers = Workers::start(1).unwrap();
        let first = workers
            .run(|memory| memory.blocks(1024).as_ptr() as usize)
            .await
            .unwrap();
        let second = workers
            .run(|memory| memory.blocks(1024).as_ptr() as usize)
            .await
            .unwrap();
        assert_eq!(first, second, "the same allocation, reused");
    }

    #[tokio::test]
    async fn a_panicking_job_fails_alone_and_the_thread_goes_on() {
        let workers = Workers::start(1).unwrap();
        assert!(workers.run(|_| panic!("boom")).await.is_err());
        assert_eq!(workers.run(|_| 7).await.unwrap(), 7);
    }

    #[tokio::test]
    async fn work_whose_caller_stopped_waiting_is_skipped() {
        let workers = Arc::new(Workers::start(1).unwrap());
        let ran = Arc::new(AtomicUsize::new(0));
        let (hold, held) = std::sync::mpsc::channel::<()>();
        // Occupy the one thread, queue work behind it, and give up on that work.
        let occupier = workers.clone();
        let blocker = tokio::spawn(async move { occupier.run(move |_| held.recv()).await });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let counted = ran.clone();
        let gave_up = tokio::time::timeout(
            std::time::Duration::from_millis(20),
            workers.run(move |_| counted.fetch_add(1, Ordering::SeqCst)),
        )
        .await;
        assert!(gave_up.is_err(), "the work was still queued");
        hold.send(()).unwrap();
        blocker.await.unwrap().unwrap().unwrap();
        // Work queued after the abandoned work has run, so its turn has come and gone.
        workers.run(|_| ()).await.unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 0);
    }
}
