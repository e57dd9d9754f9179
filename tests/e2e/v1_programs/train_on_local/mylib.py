import numpy as np


def get_alphas():
    return np.arange(0.0, 1.0, 0.2)
