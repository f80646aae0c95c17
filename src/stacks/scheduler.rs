//! The ready pool: each stack starts the moment its dependencies have succeeded, up to a
//! concurrency limit. A failure skips everything that depends on it, directly or not, and
//! lets independent branches finish.

use std::collections::BTreeMap;
use std::future::Future;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use crate::graph::StackGraph;

/// How one node of the graph ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion<T, E> {
    Done(T),
    Failed(E),
    /// Not run: `because` failed or was skipped.
    Skipped {
        because: String,
    },
}

/// Runs `run` for every node of `order` (dependencies first) with at most `max` at once.
/// Results come back in `order`.
pub async fn run<T, E, F, Fut>(
    graph: &StackGraph,
    order: &[String],
    max: usize,
    run: F,
) -> Vec<(String, Completion<T, E>)>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let max = max.max(1);
    let mut outcomes: BTreeMap<String, Completion<T, E>> = BTreeMap::new();
    let mut waiting: Vec<&String> = order.iter().collect();
    let mut running = FuturesUnordered::new();

    loop {
        // Settle what can be settled: skip nodes behind a failure, start ready ones.
        let mut i = 0;
        while i < waiting.len() {
            let name = waiting[i];
            let deps = graph.dependencies(name);
            if let Some(bad) = deps.iter().find(|d| {
                matches!(
                    outcomes.get(d.as_str()),
                    Some(Completion::Failed(_) | Completion::Skipped { .. })
                )
            }) {
                outcomes.insert(
                    name.clone(),
                    Completion::Skipped {
                        because: bad.clone(),
                    },
                );
                waiting.remove(i);
                continue;
            }
            let ready = deps
                .iter()
                .all(|d| matches!(outcomes.get(d.as_str()), Some(Completion::Done(_))));
            if ready && running.len() < max {
                let name = name.clone();
                let future = run(name.clone());
                running.push(async move { (name, future.await) });
                waiting.remove(i);
                continue;
            }
            i += 1;
        }
        match running.next().await {
            Some((name, result)) => {
                let outcome = match result {
                    Ok(value) => Completion::Done(value),
                    Err(reason) => Completion::Failed(reason),
                };
                outcomes.insert(name, outcome);
            }
            // Nothing runs and nothing could start: every node is settled (a node whose
            // dependency is not in `order` never becomes ready and is reported as skipped).
            None => break,
        }
    }
    for name in waiting {
        outcomes.insert(
            name.clone(),
            Completion::Skipped {
                because: "a dependency that is not part of this run".into(),
            },
        );
    }
    order
        .iter()
        .filter_map(|name| outcomes.remove(name).map(|o| (name.clone(), o)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::time::Duration;

    fn graph(edges: &[(&str, &[&str])]) -> (StackGraph, Vec<String>) {
        let owned: Vec<(String, Vec<String>)> = edges
            .iter()
            .map(|(n, d)| (n.to_string(), d.iter().map(|s| s.to_string()).collect()))
            .collect();
        let g = StackGraph::new(owned.iter().map(|(n, d)| (n.as_str(), d.as_slice())));
        (g, owned.into_iter().map(|(n, _)| n).collect())
    }

    async fn logged(log: &Mutex<Vec<String>>, name: String, fail: bool) -> Result<(), String> {
        tokio::time::sleep(Duration::from_millis(10)).await;
        log.lock().expect("lock").push(name.clone());
        if fail {
            Err(format!("{name} failed"))
        } else {
            Ok(())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_diamond_runs_its_middle_stacks_at_the_same_time() {
        let (g, order) = graph(&[
            ("net", &[]),
            ("db", &["net"]),
            ("iam", &["net"]),
            ("app", &["db", "iam"]),
        ]);
        let started = tokio::time::Instant::now();
        let spans: Mutex<Vec<(String, u128, u128)>> = Mutex::new(Vec::new());
        let results = run(&g, &order, 4, |name| {
            let spans = &spans;
            async move {
                let begin = started.elapsed().as_millis();
                tokio::time::sleep(Duration::from_millis(100)).await;
                spans
                    .lock()
                    .expect("lock")
                    .push((name, begin, started.elapsed().as_millis()));
                Ok::<_, String>(())
            }
        })
        .await;
        assert!(
            results
                .iter()
                .all(|(_, o)| *o == Completion::<(), String>::Done(()))
        );
        let spans = spans.into_inner().expect("spans");
        let span = |n: &str| {
            spans
                .iter()
                .find(|s| s.0 == n)
                .map(|s| (s.1, s.2))
                .expect("ran")
        };
        assert_eq!(span("net"), (0, 100));
        assert_eq!(span("db"), (100, 200));
        assert_eq!(span("iam"), (100, 200), "db and iam overlap");
        assert_eq!(span("app"), (200, 300));
    }

    #[tokio::test(start_paused = true)]
    async fn a_stack_starts_as_soon_as_its_own_dependencies_are_done() {
        // Not batches: `fast-child` need not wait for the slow sibling of its parent.
        let (g, order) = graph(&[("slow", &[]), ("fast", &[]), ("fast-child", &["fast"])]);
        let started = tokio::time::Instant::now();
        let begins: Mutex<BTreeMap<String, u128>> = Mutex::new(BTreeMap::new());
        run(&g, &order, 4, |name| {
            let begins = &begins;
            async move {
                begins
                    .lock()
                    .expect("lock")
                    .insert(name.clone(), started.elapsed().as_millis());
                let ms = if name == "slow" { 500 } else { 50 };
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Ok::<_, String>(())
            }
        })
        .await;
        assert_eq!(begins.into_inner().expect("begins")["fast-child"], 50);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_skips_exactly_its_dependents() {
        let (g, order) = graph(&[
            ("net", &[]),
            ("db", &["net"]),
            ("app", &["db"]),
            ("auth", &[]),
            ("web", &["auth"]),
        ]);
        let log = Mutex::new(Vec::new());
        let results = run(&g, &order, 2, |name| {
            let fail = name == "db";
            let log = &log;
            async move { logged(log, name, fail).await }
        })
        .await;
        let outcome = |n: &str| {
            results
                .iter()
                .find(|r| r.0 == n)
                .map(|r| r.1.clone())
                .expect("settled")
        };
        assert_eq!(outcome("net"), Completion::Done(()));
        assert_eq!(outcome("db"), Completion::Failed("db failed".into()));
        assert_eq!(
            outcome("app"),
            Completion::Skipped {
                because: "db".into()
            }
        );
        assert_eq!(outcome("auth"), Completion::Done(()));
        assert_eq!(outcome("web"), Completion::Done(()));
        let ran = log.into_inner().expect("log");
        assert!(!ran.contains(&"app".to_string()));
    }

    #[tokio::test(start_paused = true)]
    async fn concurrency_is_bounded() {
        let (g, order) = graph(&[("a", &[]), ("b", &[]), ("c", &[]), ("d", &[]), ("e", &[])]);
        let current = std::sync::atomic::AtomicUsize::new(0);
        let peak = std::sync::atomic::AtomicUsize::new(0);
        run(&g, &order, 2, |_| {
            let (current, peak) = (&current, &peak);
            async move {
                let now = current.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                peak.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(10)).await;
                current.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                Ok::<_, String>(())
            }
        })
        .await;
        assert_eq!(peak.load(std::sync::atomic::Ordering::SeqCst), 2);
    }
}
