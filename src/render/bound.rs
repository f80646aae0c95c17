//! Bounds on a render: time, memory and stack, so that no template can hang or crash the
//! tool.
//!
//! Tera has none of its own: a loop runs as long as it is told, a string doubled in a loop
//! grows until the allocator gives up (which aborts the process), and deep nesting
//! overflows the stack (which aborts too). None of these can be caught once they happen, so
//! each is kept from happening:
//! - the stack: the text is checked before Tera parses it (block nesting, tag length,
//!   imports that lead back to their template), and the render runs on threads whose stack
//!   is far larger than what the checked text can use;
//! - memory: every allocation of a render's threads is charged to its budget by the global
//!   allocator; a thread that would go over the limit is stopped *inside the allocator* (it
//!   sleeps there for good, holding no more than the limit), and the render fails;
//! - time: the caller waits with a deadline; past it, the render fails and its threads are
//!   stopped at their next allocation (every loop iteration of Tera's allocates).
//!
//! A stopped thread is never resumed: the CLI reports the error and exits. A long-lived
//! process (the fuzzer) keeps at most one budget's worth of memory per stopped render.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

/// What one render may use.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub time: Duration,
    /// Bytes the render's threads may hold at once.
    pub memory: usize,
    /// The stack of each render thread.
    pub stack: usize,
}

impl Default for Limits {
    /// A local render takes about 0.1 s and 20 MiB: the bounds are far above any real
    /// render and far below what hurts a CI runner.
    fn default() -> Self {
        Self {
            time: Duration::from_secs(20),
            memory: 256 << 20,
            stack: 64 << 20,
        }
    }
}

/// Why a render was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exceeded {
    Time(Duration),
    Memory(usize),
    /// No render thread could be started.
    NoThread,
}

/// A render's account: what its threads hold, and whether they must stop.
struct Budget {
    live: AtomicI64,
    limit: i64,
    over: AtomicBool,
    cancelled: AtomicBool,
    /// The stack of the threads the render starts.
    stack: usize,
}

thread_local! {
    /// The budget the current thread's allocations are charged to (null: none). A raw
    /// pointer because the allocator may not allocate or run destructors; it is set only
    /// while the thread holds an `Arc` of the budget (see `Charged`).
    static BUDGET: Cell<*const Budget> = const { Cell::new(std::ptr::null()) };
    /// What this thread has allocated (net) and how many calls since it last settled with
    /// the budget: the shared counter is touched once per `SETTLE_BYTES` or `SETTLE_CALLS`,
    /// not on every allocation (render threads allocate constantly, and an atomic shared by
    /// all of them on each call cost a fifth of a render).
    static PENDING: Cell<(i64, u32)> = const { Cell::new((0, 0)) };
}

/// Bytes a thread may be ahead of the budget before it settles: the limit is enforced to
/// within this much per render thread.
const SETTLE_BYTES: i64 = 256 << 10;
/// Calls between two looks at the budget: a thread that allocates and frees in a loop
/// (its net near zero) still sees a cancellation within this many allocations.
const SETTLE_CALLS: u32 = 512;

/// The process's allocator: the system's, with render threads' allocations charged.
pub struct Bounded;

// SAFETY: every call is passed to `System` unchanged; the only addition is bookkeeping that
// neither allocates nor unwinds (a thread over its budget sleeps instead of returning).
unsafe impl GlobalAlloc for Bounded {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        charge(layout.size());
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        charge(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        refund(layout.size());
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            charge(new_size - layout.size());
        } else {
            refund(layout.size() - new_size);
        }
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

fn current() -> *const Budget {
    // `try_with`: during a thread's teardown the slot may be gone; nothing is charged then.
    BUDGET.try_with(Cell::get).unwrap_or(std::ptr::null())
}

fn charge(bytes: usize) {
    let budget = current();
    if budget.is_null() {
        return;
    }
    let Ok((pending, calls)) = PENDING.try_with(|p| {
        let (pending, calls) = p.get();
        let next = (pending + bytes as i64, calls + 1);
        p.set(next);
        next
    }) else {
        return;
    };
    if pending < SETTLE_BYTES && calls < SETTLE_CALLS {
        return;
    }
    // SAFETY: non-null only while this thread holds an Arc of the budget (`Charged`).
    let budget = unsafe { &*budget };
    settle(budget, pending);
    if budget.over.load(Ordering::Relaxed) || budget.cancelled.load(Ordering::Relaxed) {
        stop_here();
    }
}

fn refund(bytes: usize) {
    let budget = current();
    if budget.is_null() {
        return;
    }
    let Ok(pending) = PENDING.try_with(|p| {
        let (pending, calls) = p.get();
        p.set((pending - bytes as i64, calls));
        pending - bytes as i64
    }) else {
        return;
    };
    if pending <= -SETTLE_BYTES {
        // SAFETY: as in `charge`.
        settle(unsafe { &*budget }, pending);
    }
}

/// Moves this thread's pending bytes to the budget, and marks it over when it is.
fn settle(budget: &Budget, pending: i64) {
    let _ = PENDING.try_with(|p| p.set((0, 0)));
    let live = budget.live.fetch_add(pending, Ordering::Relaxed) + pending;
    if live > budget.limit {
        budget.over.store(true, Ordering::Relaxed);
    }
}

/// A render thread that must stop sleeps here for good: returning null would abort the
/// process, unwinding out of an allocator is undefined. `sleep` allocates nothing.
fn stop_here() -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// Charges the current thread's allocations to `budget` until dropped.
struct Charged {
    _budget: Arc<Budget>,
}

impl Charged {
    fn new(budget: Arc<Budget>) -> Self {
        PENDING.with(|p| p.set((0, 0)));
        BUDGET.with(|slot| slot.set(Arc::as_ptr(&budget)));
        Self { _budget: budget }
    }
}

impl Drop for Charged {
    fn drop(&mut self) {
        // Cleared before the Arc is released: the pointer never outlives the budget.
        BUDGET.with(|slot| slot.set(std::ptr::null()));
    }
}

/// The budget of the render running on this thread, for the threads it starts.
#[derive(Clone)]
pub struct Inherited(Option<Arc<Budget>>);

/// What a thread started by a render needs to be charged to the same budget.
pub fn inherit() -> Inherited {
    let budget = current();
    if budget.is_null() {
        return Inherited(None);
    }
    // SAFETY: the pointer came from an Arc this thread still holds (`Charged`): the count
    // is raised before a new Arc is made from it.
    unsafe {
        Arc::increment_strong_count(budget);
        Inherited(Some(Arc::from_raw(budget)))
    }
}

impl Inherited {
    /// Runs `f` charged to the inherited budget (or to none).
    pub fn run<R>(self, f: impl FnOnce() -> R) -> R {
        let _charged = self.0.map(Charged::new);
        f()
    }

    /// The stack size for a thread of this render: a render's threads get the large one.
    pub fn stack(&self) -> Option<usize> {
        self.0.as_ref().map(|budget| budget.stack)
    }
}

/// Runs `work` on its own thread under `limits`. `Err` when it ran out of time or memory;
/// its threads are then stopped where they are and never resumed.
pub fn run<T: Send + 'static>(
    limits: Limits,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Exceeded> {
    let budget = Arc::new(Budget {
        live: AtomicI64::new(0),
        limit: i64::try_from(limits.memory).unwrap_or(i64::MAX),
        over: AtomicBool::new(false),
        cancelled: AtomicBool::new(false),
        stack: limits.stack,
    });
    let (sender, receiver) = mpsc::sync_channel(1);
    let charged = budget.clone();
    let spawned = std::thread::Builder::new()
        .name("render".into())
        .stack_size(limits.stack)
        .spawn(move || {
            let _charged = Charged::new(charged);
            let _ = sender.send(work());
        });
    let Ok(handle) = spawned else {
        return Err(Exceeded::NoThread);
    };
    let started = Instant::now();
    loop {
        match receiver.recv_timeout(Duration::from_millis(10)) {
            Ok(value) => return Ok(value),
            Err(mpsc::RecvTimeoutError::Disconnected) => match handle.join() {
                // A panic in the render is a bug: keep its message and location.
                Err(panic) => std::panic::resume_unwind(panic),
                Ok(()) => return Err(Exceeded::Time(started.elapsed())),
            },
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if budget.over.load(Ordering::Relaxed) {
            budget.cancelled.store(true, Ordering::Relaxed);
            return Err(Exceeded::Memory(limits.memory));
        }
        if started.elapsed() >= limits.time {
            budget.cancelled.store(true, Ordering::Relaxed);
            return Err(Exceeded::Time(limits.time));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Limits {
        Limits {
            time: Duration::from_millis(500),
            memory: 8 << 20,
            stack: 8 << 20,
        }
    }

    #[test]
    fn a_render_within_its_bounds_returns_its_value() {
        assert_eq!(run(small(), || vec![1u8; 1 << 20].len()), Ok(1 << 20));
    }

    #[test]
    fn growing_past_the_memory_limit_stops_the_thread_and_fails() {
        let outcome = run(small(), || {
            let mut s = String::from("ab");
            for _ in 0..64 {
                s = s.clone() + &s;
            }
            s.len()
        });
        assert_eq!(outcome, Err(Exceeded::Memory(8 << 20)));
    }

    #[test]
    fn running_past_the_deadline_fails_and_stops_the_thread_at_its_next_allocation() {
        let stopped = Arc::new(AtomicBool::new(true));
        let flag = stopped.clone();
        let outcome = run(small(), move || {
            loop {
                flag.store(false, Ordering::Relaxed);
                let _ = std::hint::black_box(vec![0u8; 64]);
                flag.store(true, Ordering::Relaxed);
            }
        });
        assert_eq!(outcome, Err(Exceeded::Time(Duration::from_millis(500))));
        std::thread::sleep(Duration::from_millis(50));
        // Stopped inside the allocation, so the flag stays false from then on.
        assert!(!stopped.load(Ordering::Relaxed));
        std::thread::sleep(Duration::from_millis(50));
        assert!(!stopped.load(Ordering::Relaxed));
    }

    #[test]
    fn threads_a_render_starts_are_charged_to_its_budget() {
        let outcome = run(small(), || {
            let inherited = inherit();
            std::thread::scope(|scope| {
                scope
                    .spawn(move || inherited.run(|| vec![0u8; 16 << 20].len()))
                    .join()
                    .ok()
            })
        });
        assert_eq!(outcome, Err(Exceeded::Memory(8 << 20)));
    }

    #[test]
    fn allocations_outside_a_render_are_never_charged() {
        assert!(current().is_null());
        assert_eq!(vec![0u8; 64 << 20].len(), 64 << 20);
        assert!(inherit().0.is_none());
    }
}
