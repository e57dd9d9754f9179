import os
import pickle

import numpy as np

from azureml.core.run import Run
from mylib import get_alphas

run = Run.get_context()
rng = np.random.default_rng(0)
X = rng.normal(size=(200, 3))
y = X @ np.array([1.5, -2.0, 0.5]) + rng.normal(scale=0.1, size=200)
os.makedirs("./outputs", exist_ok=True)
for alpha in get_alphas():
    w = np.linalg.solve(X.T @ X + alpha * np.eye(3), X.T @ y)
    mse = float(np.mean((X @ w - y) ** 2))
    run.log("alpha", alpha)
    run.log("mse", mse)
    with open("outputs/ridge_{0:.2f}.pkl".format(alpha), "wb") as f:
        pickle.dump(w, f)
    print("alpha is {0:.2f}, and mse is {1:0.2f}".format(alpha, mse))
