//! `SumTree` through the public API: sums and maxima after random updates, the prefix-sum
//! search against a linear scan, and zero-priority leaves never found.

use deepq::{Error, SumTree};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The leaf a linear scan finds: the smallest `i` with `p[0] + .. + p[i] > value`.
fn linear_scan(priorities: &[f64], value: f64) -> usize {
    let mut sum = 0.0;
    for (i, p) in priorities.iter().enumerate() {
        sum += p;
        if sum > value {
            return i;
        }
    }
    unreachable!("value {value} >= total {sum}")
}

#[test]
fn total_and_max_follow_random_updates() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let capacity = 37;
    let mut tree = SumTree::new(capacity).unwrap();
    let mut shadow = vec![0.0f64; capacity];
    for step in 0..2000 {
        let i = rng.random_range(0..capacity);
        let p = if rng.random_bool(0.25) { 0.0 } else { rng.random_range(0.0..100.0) };
        tree.set(i, p).unwrap();
        shadow[i] = p;
        if step % 50 == 0 {
            for (k, &expected) in shadow.iter().enumerate() {
                assert_eq!(tree.get(k), Some(expected));
            }
            let total: f64 = shadow.iter().sum();
            assert!((tree.total() - total).abs() <= 1e-10 * total, "{} vs {total}", tree.total());
            assert_eq!(tree.max(), shadow.iter().copied().fold(0.0, f64::max));
        }
    }
    assert_eq!(tree.get(capacity), None);
}

#[test]
fn prefix_search_returns_the_leaf_of_a_linear_scan_on_exact_values() {
    // Integer priorities and half-integer values: every sum is exact, so the tree and the scan
    // must agree on every value, including those next to the boundaries of zero leaves.
    let priorities = [3.0, 0.0, 1.0, 0.0, 0.0, 2.0, 5.0, 0.0, 1.0, 0.0, 4.0];
    let mut tree = SumTree::new(priorities.len()).unwrap();
    for (i, &p) in priorities.iter().enumerate() {
        tree.set(i, p).unwrap();
    }
    assert_eq!(tree.total(), 16.0);
    let mut v = 0.0;
    while v < tree.total() {
        assert_eq!(tree.find_prefix_sum(v), Some(linear_scan(&priorities, v)), "value {v}");
        v += 0.5;
    }
}

#[test]
fn prefix_search_matches_a_linear_scan_on_random_values() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for capacity in [1, 2, 5, 64, 1000] {
        let mut tree = SumTree::new(capacity).unwrap();
        let priorities: Vec<f64> = (0..capacity)
            .map(|_| if rng.random_bool(0.3) { 0.0 } else { rng.random_range(0.01..10.0) })
            .collect();
        let priorities = if priorities.iter().all(|&p| p == 0.0) { vec![1.0] } else { priorities };
        for (i, &p) in priorities.iter().enumerate() {
            tree.set(i, p).unwrap();
        }
        let total = tree.total();
        for _ in 0..2000 {
            let v = rng.random_range(0.0..total);
            // The tree adds in a different order than the scan: skip values within rounding of
            // a boundary.
            let mut sum = 0.0;
            let near_boundary = priorities.iter().any(|p| {
                sum += p;
                (sum - v).abs() < 1e-9 * total
            });
            if !near_boundary {
                assert_eq!(tree.find_prefix_sum(v), Some(linear_scan(&priorities, v)));
            }
        }
    }
}

#[test]
fn zero_priority_leaves_are_never_found() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let capacity = 50;
    let mut tree = SumTree::new(capacity).unwrap();
    for i in 0..capacity {
        tree.set(i, if i % 3 == 1 { 0.0 } else { rng.random_range(0.0..1.0) }).unwrap();
    }
    // Zero the first and last leaves too: out-of-range values must not land on them.
    tree.set(0, 0.0).unwrap();
    tree.set(capacity - 1, 0.0).unwrap();
    let total = tree.total();
    let mut boundaries = vec![-1.0, -0.0, 0.0, total, total * (1.0 + 1e-12), total + 1.0, 1e300];
    let mut sum = 0.0;
    for i in 0..capacity {
        sum += tree.get(i).unwrap();
        boundaries.extend([sum, sum * (1.0 - 1e-15), sum * (1.0 + 1e-15)]);
    }
    let random = (0..20_000).map(|_| rng.random_range(0.0..total));
    for v in boundaries.into_iter().chain(random) {
        let leaf = tree.find_prefix_sum(v).unwrap();
        assert!(tree.get(leaf).unwrap() > 0.0, "value {v} found zero leaf {leaf}");
    }
}

#[test]
fn an_all_zero_tree_finds_nothing() {
    let mut tree = SumTree::new(4).unwrap();
    assert_eq!(tree.find_prefix_sum(0.0), None);
    tree.set(2, 1.0).unwrap();
    assert_eq!(tree.find_prefix_sum(f64::NAN), None);
    assert_eq!(tree.find_prefix_sum(0.3), Some(2));
    tree.set(2, 0.0).unwrap();
    assert_eq!((tree.total(), tree.max()), (0.0, 0.0));
    assert_eq!(tree.find_prefix_sum(0.0), None);
}

#[test]
fn bad_input_is_an_error() {
    assert!(matches!(SumTree::new(0), Err(Error::InvalidConfig { field: "capacity", .. })));
    assert!(SumTree::new(usize::MAX).is_err());
    let mut tree = SumTree::new(3).unwrap();
    tree.set(0, 1.5).unwrap();
    let before = tree.clone();
    assert!(matches!(tree.set(3, 1.0), Err(Error::InvalidIndex { index: 3, len: 3 })));
    assert!(matches!(tree.set(1, -1.0), Err(Error::InvalidPriority { index: 1, .. })));
    assert!(tree.set(1, f64::NAN).is_err());
    assert!(tree.set(1, f64::INFINITY).is_err());
    assert_eq!(tree, before);
}

#[test]
fn a_priority_that_would_make_the_total_infinite_is_refused_and_changes_nothing() {
    // Issue 12, D9: two priorities of f64::MAX made the total infinite.
    let mut tree = SumTree::new(4).unwrap();
    tree.set(0, f64::MAX).unwrap();
    let before = tree.clone();
    assert!(matches!(tree.set(1, f64::MAX), Err(Error::InvalidPriority { index: 1, .. })));
    assert_eq!(tree, before);
    assert!(tree.total().is_finite());
    tree.set(1, 1.0).unwrap();
}
