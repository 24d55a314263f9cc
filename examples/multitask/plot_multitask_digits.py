"""
=========================================================
Multitask learning and progressive networks on digits
=========================================================

Two tasks on scikit-learn's 8x8 handwritten digits, from two different sets
of images: name the digit (task 0: 900 images, all labelled) and tell odd
digits from even ones (task 1: other images, only a few labelled). Knowing
which digit an image shows makes its parity easy, so a network that learns
both can reuse for task 1 what it learnt from task 0.

- :class:`~sktransfer.MultiTaskClassifier` learns both at once: shared layers
  and one head per task. The two data sets are stacked row-wise; ``y`` has one
  column per task, with ``-1`` where a row has no label for that task.
- :class:`~sktransfer.ProgressiveNetClassifier` learns them one after the
  other: the column of task 0 is frozen, and the new column of task 1 reads
  its hidden layers through lateral connections, so task 0 never changes.
"""

# %%
# Data: two tasks, two sets of images
# -----------------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits

from sktransfer import MultiTaskClassifier, ProgressiveNetClassifier

X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)
order = np.random.RandomState(0).permutation(len(X))
X0, y0 = X[order[:900]], y[order[:900]]  # task 0: which digit (0-9)
X1, y1 = X[order[900:]], y[order[900:]] % 2  # task 1: odd (1) or even (0)
train1, test1 = np.arange(400), np.arange(400, len(X1))
print(f"task 0: {len(X0)} labelled images; task 1: up to 400 training images, "
      f"{len(test1)} test images")

# %%
# Multitask vs single task, as task 1 gets more labels
# ----------------------------------------------------
# The rows of task 0 have ``-1`` in task 1's column and the rows of task 1
# have ``-1`` in task 0's column. The single-task baseline is the same
# estimator fitted on the task-1 rows alone, with a 1-D ``y``. Accuracies are
# averaged over three seeds.
sizes = [10, 20, 40, 80]
seeds = [0, 1, 2]
single = np.zeros((len(sizes), len(seeds)))
multi = np.zeros((len(sizes), len(seeds)))
for i, n in enumerate(sizes):
    rows = train1[:n]
    X_both = np.vstack([X0, X1[rows]])
    Y_both = np.full((len(X_both), 2), -1)
    Y_both[: len(X0), 0] = y0
    Y_both[len(X0) :, 1] = y1[rows]
    for j, seed in enumerate(seeds):
        clf = MultiTaskClassifier(max_epochs=200, random_state=seed).fit(X1[rows], y1[rows])
        single[i, j] = clf.score(X1[test1], y1[test1])
        mt = MultiTaskClassifier(max_epochs=40, random_state=seed).fit(X_both, Y_both)
        multi[i, j] = np.mean(mt.predict(X1[test1])[:, 1] == y1[test1])
    print(f"{n:3d} task-1 rows: single task {single[i].mean():.3f}, "
          f"multitask {multi[i].mean():.3f}")

fig, ax = plt.subplots(figsize=(5, 3.5))
ax.errorbar(sizes, single.mean(1), single.std(1), marker="o", capsize=3, label="single task")
ax.errorbar(sizes, multi.mean(1), multi.std(1), marker="s", capsize=3,
            label="multitask (with digit names)")
ax.set_xscale("log")
ax.minorticks_off()
ax.set_xticks(sizes, [str(n) for n in sizes])
ax.set_xlabel("labelled images of task 1 (odd or even)")
ax.set_ylabel("task-1 test accuracy")
ax.legend()
fig.tight_layout()
plt.show()

# %%
# ``predict`` returns one column per task and ``predict_proba`` a list with
# one array per task (here 10 digit classes, then 2 parity classes).
print(mt.predict(X1[test1][:3]))
print([p.shape for p in mt.predict_proba(X1[test1][:3])])

# %%
# Progressive network: task 0, then task 1
# ----------------------------------------
# Each task is one fitted estimator; the second takes the first as
# ``previous``. The first estimator is never modified, so its predictions
# are exactly what they were.
col0 = ProgressiveNetClassifier(max_epochs=50, random_state=0).fit(X0, y0)
before = col0.predict(X0)
for n in (20, 80):
    rows = train1[:n]
    col1 = ProgressiveNetClassifier(previous=col0, max_epochs=50, random_state=0)
    col1.fit(X1[rows], y1[rows])
    scratch = ProgressiveNetClassifier(max_epochs=50, random_state=0).fit(X1[rows], y1[rows])
    print(f"task 1 with {n} rows: progressive {col1.score(X1[test1], y1[test1]):.3f}, "
          f"from scratch {scratch.score(X1[test1], y1[test1]):.3f}")
print("task-0 predictions unchanged:", np.array_equal(before, col0.predict(X0)))
