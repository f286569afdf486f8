"""Data-parallel logistic regression with NumPy gradients averaged by allreduce; the
Python twin of tests/train_step.c (same dataset, same blocks, same printout)."""

import numpy as np

import fmi

N, D, STEPS, LR, SEED = 601, 6, 100, 0.5, 20240607
MASK = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed):
        self.state = seed

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def uniform(self):
        return (self.next() >> 11) * 2.0 ** -53


def dataset():
    """The whole dataset, generated in the C program's order (labels in plain Python
    so that they are the C program's bit for bit)."""
    g = SplitMix64(SEED)
    wtrue = [4.0 * g.uniform() - 2.0 for _ in range(D)]
    X = np.empty((N, D))
    Y = np.empty(N)
    for i in range(N):
        s = 0.0
        for j in range(D):
            X[i, j] = 2.0 * g.uniform() - 1.0
            s += X[i, j] * wtrue[j]
        s += g.uniform() - 0.5
        Y[i] = 1.0 if s > 0.0 else 0.0
    return X, Y


def main():
    with fmi.Communicator.from_env() as comm:
        X, Y = dataset()
        lo, hi = comm.rank * N // comm.size, (comm.rank + 1) * N // comm.size
        Xl, Yl = X[lo:hi], Y[lo:hi]
        w = np.zeros(D)
        b = 0.0
        grad = np.empty(D + 1)
        for _ in range(STEPS):
            err = 1.0 / (1.0 + np.exp(-(Xl @ w + b))) - Yl
            grad[:D] = Xl.T @ err
            grad[D] = err.sum()
            comm.allreduce(grad, op=fmi.SUM, out=grad)  # in place, zero-copy
            w -= LR * grad[:D] / N
            b -= LR * grad[D] / N
        p = 1.0 / (1.0 + np.exp(-(Xl @ w + b)))
        loss = comm.allreduce(float(-np.sum(Yl * np.log(p) + (1.0 - Yl) * np.log(1.0 - p))))
        if comm.rank == 0:
            for j in range(D):
                print("W %d %.17g" % (j, w[j]))
            print("B %.17g" % b)
            print("LOSS %.17g" % (loss / N))


if __name__ == "__main__":
    main()
