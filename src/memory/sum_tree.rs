//! A sum tree with a max tracker: the index of proportional prioritized replay.

use crate::{Error, Result};

/// A binary tree over `capacity` non-negative priorities in which every internal node holds the
/// sum of its children: `O(log n)` updates, `O(1)` total and `O(log n)` sampling proportional
/// to priority ([`find_prefix_sum`](SumTree::find_prefix_sum)). A parallel tree of maxima
/// gives the largest priority in `O(1)` ([`max`](SumTree::max)).
///
/// The leaves are padded to a power of two and stored in heap order (root at 1, children of
/// node `i` at `2i` and `2i + 1`), so the in-order leaves are the indices `0..capacity` in
/// order. Priorities and sums are `f64`: with a million leaves, `f32` sums lose the small
/// priorities. An update recomputes each ancestor from its two children (no running
/// differences), so sums do not drift however many updates are made.
///
/// # Examples
/// ```
/// use deepq::SumTree;
///
/// # fn main() -> deepq::Result<()> {
/// let mut tree = SumTree::new(4)?;
/// tree.set(0, 1.0)?;
/// tree.set(2, 3.0)?;
/// assert_eq!(tree.total(), 4.0);
/// assert_eq!(tree.max(), 3.0);
/// // Leaf 0 covers [0, 1), leaf 1 is empty, leaf 2 covers [1, 4).
/// assert_eq!(tree.find_prefix_sum(0.5), Some(0));
/// assert_eq!(tree.find_prefix_sum(1.0), Some(2));
/// assert!(tree.set(4, 1.0).is_err());
/// assert!(tree.set(1, -1.0).is_err());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SumTree {
    capacity: usize,
    /// The number of leaves, `capacity` rounded up to a power of two; leaf `i` is node
    /// `base + i`.
    base: usize,
    /// `sums[1]` is the root; `sums[0]` is unused.
    sums: Vec<f64>,
    /// The same shape as `sums`, holding maxima.
    maxes: Vec<f64>,
}

impl SumTree {
    /// A tree of `capacity` leaves, all of priority 0.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for `capacity == 0` or a capacity too large to allocate.
    pub fn new(capacity: usize) -> Result<Self> {
        let too_large = || Error::InvalidConfig {
            field: "capacity",
            value: capacity.to_string(),
            rule: "the sum tree could not be allocated",
        };
        if capacity == 0 {
            return Err(Error::InvalidConfig {
                field: "capacity",
                value: "0".into(),
                rule: "must be at least 1",
            });
        }
        let base = capacity.checked_next_power_of_two().ok_or_else(too_large)?;
        let nodes = base.checked_mul(2).ok_or_else(too_large)?;
        let zeros = || -> Result<Vec<f64>> {
            let mut v = Vec::new();
            v.try_reserve_exact(nodes).map_err(|_| too_large())?;
            v.resize(nodes, 0.0);
            Ok(v)
        };
        Ok(Self { capacity, base, sums: zeros()?, maxes: zeros()? })
    }

    /// The number of leaves.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The sum of all priorities.
    pub fn total(&self) -> f64 {
        self.sums[1]
    }

    /// The largest priority (0 when all are 0).
    pub fn max(&self) -> f64 {
        self.maxes[1]
    }

    /// The priority of leaf `index`, or `None` if `index >= capacity()`.
    pub fn get(&self, index: usize) -> Option<f64> {
        (index < self.capacity).then(|| self.sums[self.base + index])
    }

    /// Sets the priority of leaf `index` and updates its ancestors.
    ///
    /// # Errors
    /// [`Error::InvalidIndex`] for `index >= capacity()`, [`Error::InvalidPriority`] for a
    /// negative or non-finite priority, or one that would make the total infinite; the tree is
    /// then unchanged.
    pub fn set(&mut self, index: usize, priority: f64) -> Result<()> {
        if index >= self.capacity {
            return Err(Error::InvalidIndex { index, len: self.capacity });
        }
        if !(priority.is_finite() && priority >= 0.0) {
            return Err(Error::InvalidPriority { index, priority });
        }
        let previous = self.sums[self.base + index];
        self.update(index, priority);
        if !self.total().is_finite() {
            // Restoring the leaf recomputes its ancestors from their children: the tree is
            // bit for bit as before.
            self.update(index, previous);
            return Err(Error::InvalidPriority { index, priority });
        }
        Ok(())
    }

    /// [`set`](SumTree::set) without the checks, for callers that have validated the input.
    pub(crate) fn update(&mut self, index: usize, priority: f64) {
        debug_assert!(index < self.capacity && priority.is_finite() && priority >= 0.0);
        let mut node = self.base + index;
        self.sums[node] = priority;
        self.maxes[node] = priority;
        // The new values of the path are carried up in registers and only the siblings are
        // read: `left + right` is `right + left` bit for bit (IEEE addition commutes, and so
        // does `max` of non-NaN values), so each ancestor is exactly the sum of its children.
        let (mut sum, mut max) = (priority, priority);
        while node > 1 {
            let sibling = node ^ 1;
            sum += self.sums[sibling];
            max = max.max(self.maxes[sibling]);
            node /= 2;
            self.sums[node] = sum;
            self.maxes[node] = max;
        }
    }

    /// Sets leaves `0..leaves.len()` (the rest stay 0) and recomputes every internal node
    /// bottom-up, each from its two children exactly as [`update`](SumTree::update) does, so
    /// the tree is bit for bit the one the same leaves reached by updates.
    pub(crate) fn rebuild(&mut self, leaves: &[f64]) {
        debug_assert!(leaves.len() <= self.capacity);
        self.sums.fill(0.0);
        self.maxes.fill(0.0);
        for (i, &p) in leaves.iter().enumerate() {
            self.sums[self.base + i] = p;
            self.maxes[self.base + i] = p;
        }
        for node in (1..self.base).rev() {
            let (left, right) = (2 * node, 2 * node + 1);
            self.sums[node] = self.sums[left] + self.sums[right];
            self.maxes[node] = self.maxes[left].max(self.maxes[right]);
        }
    }

    /// [`find_prefix_sum`](SumTree::find_prefix_sum) of `N` values at once, the same leaves
    /// bit for bit: the descents are independent, so they go down the tree together, one level
    /// at a time, and their memory reads overlap instead of waiting on each other. `None` if
    /// `total()` is 0 or a value is NaN.
    pub(crate) fn find_prefix_sums<const N: usize>(&self, values: [f64; N]) -> Option<[usize; N]> {
        if self.total() <= 0.0 || values.iter().any(|v| v.is_nan()) {
            return None;
        }
        let mut value = values.map(|v| v.max(0.0));
        let mut node = [1usize; N];
        // Every descent is at the same depth, so they reach the leaves together.
        let mut width = 1;
        while width < self.base {
            for (node, value) in node.iter_mut().zip(&mut value) {
                let left = 2 * *node;
                let (l, r) = (self.sums[left], self.sums[left + 1]);
                // As in find_prefix_sum, without a branch: subtracting 0 going left leaves the
                // value as it is.
                let right = (*value >= l) & (r > 0.0); // no NaN here: the same test
                *value -= if right { l } else { 0.0 };
                *node = left + usize::from(right);
            }
            width *= 2;
        }
        Some(node.map(|n| n - self.base))
    }

    /// The leaf whose interval contains `value`: the smallest `i` with
    /// `priority(0) + .. + priority(i) > value`, where leaf `i` covers
    /// `[sum of priorities before i, that sum + priority(i))`.
    ///
    /// With `value` uniform in `[0, total())`, leaf `i` is returned with probability
    /// `priority(i) / total()`. A leaf of priority 0 is never returned: a `value` below 0 gives
    /// the first leaf of positive priority, a `value` at or above `total()` (as rounding may
    /// produce) the last one. `None` if `total()` is 0 or `value` is NaN.
    pub fn find_prefix_sum(&self, value: f64) -> Option<usize> {
        if self.total() <= 0.0 || value.is_nan() {
            return None;
        }
        let mut value = value.max(0.0);
        let mut node = 1;
        while node < self.base {
            let (left, right) = (2 * node, 2 * node + 1);
            // Go left if the value falls there, or if the right subtree is empty; the subtree
            // entered always has a positive sum, so the leaf reached has a positive priority.
            if value < self.sums[left] || self.sums[right] <= 0.0 {
                node = left;
            } else {
                value -= self.sums[left];
                node = right;
            }
        }
        Some(node - self.base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn check_invariants(tree: &SumTree) {
        for node in 1..tree.base {
            let (l, r) = (2 * node, 2 * node + 1);
            assert_eq!(tree.sums[node], tree.sums[l] + tree.sums[r], "sum at node {node}");
            assert_eq!(tree.maxes[node], tree.maxes[l].max(tree.maxes[r]), "max at node {node}");
        }
        for pad in tree.capacity..tree.base {
            assert_eq!(tree.sums[tree.base + pad], 0.0, "padding leaf {pad}");
        }
    }

    #[test]
    fn descents_together_find_the_same_leaves_as_one_at_a_time() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for capacity in [1, 2, 5, 64, 1000] {
            let mut tree = SumTree::new(capacity).unwrap();
            for i in 0..capacity {
                // Some leaves stay 0, which no descent may reach.
                if rng.random_bool(0.8) {
                    tree.set(i, rng.random_range(0.0..10.0)).unwrap();
                }
            }
            if tree.total() == 0.0 {
                tree.set(0, 1.0).unwrap();
            }
            let total = tree.total();
            for _ in 0..50 {
                let mut values: [f64; 8] = [0.0; 8];
                for v in &mut values {
                    *v = rng.random_range(-0.1 * total..1.1 * total);
                }
                values[0] = total; // at the top edge, as rounding may give
                let together = tree.find_prefix_sums(values).unwrap();
                let alone = values.map(|v| tree.find_prefix_sum(v).unwrap());
                assert_eq!(together, alone, "capacity {capacity}, values {values:?}");
            }
            assert_eq!(tree.find_prefix_sums([0.0, f64::NAN]), None);
        }
        assert_eq!(SumTree::new(4).unwrap().find_prefix_sums([0.5]), None);
    }

    #[test]
    fn every_internal_node_is_the_sum_of_its_children_after_random_updates() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for capacity in [1, 2, 3, 7, 8, 100] {
            let mut tree = SumTree::new(capacity).unwrap();
            let mut shadow = vec![0.0f64; capacity];
            for _ in 0..500 {
                let i = rng.random_range(0..capacity);
                let p = if rng.random_bool(0.2) { 0.0 } else { rng.random_range(0.0..10.0) };
                tree.set(i, p).unwrap();
                shadow[i] = p;
                check_invariants(&tree);
            }
            let max = shadow.iter().copied().fold(0.0, f64::max);
            assert_eq!(tree.max(), max);
            let total: f64 = shadow.iter().sum();
            assert!((tree.total() - total).abs() <= 1e-9 * total.max(1.0));
        }
    }

    #[test]
    fn padding_to_a_power_of_two() {
        let tree = SumTree::new(5).unwrap();
        assert_eq!(tree.base, 8);
        assert_eq!(tree.sums.len(), 16);
        assert_eq!(SumTree::new(1).unwrap().base, 1);
    }

    #[test]
    fn single_leaf() {
        let mut tree = SumTree::new(1).unwrap();
        assert_eq!(tree.find_prefix_sum(0.0), None);
        tree.set(0, 2.0).unwrap();
        assert_eq!(tree.find_prefix_sum(1.9), Some(0));
        assert_eq!(tree.find_prefix_sum(7.0), Some(0));
    }

    #[test]
    fn rejected_sets_leave_the_tree_unchanged() {
        let mut tree = SumTree::new(3).unwrap();
        tree.set(1, 2.0).unwrap();
        let before = tree.clone();
        assert!(matches!(tree.set(3, 1.0), Err(Error::InvalidIndex { index: 3, len: 3 })));
        assert!(matches!(tree.set(0, f64::NAN), Err(Error::InvalidPriority { index: 0, .. })));
        assert!(tree.set(0, f64::INFINITY).is_err());
        assert!(tree.set(0, -0.5).is_err());
        assert_eq!(tree, before);
    }
}
