"""Execute Python Script: fit `price ~ surface` on the listings of dataframe1 (the rows of the
query on `immo`) and return the model as one row for the `immo_model` table.

The model travels pickled in a text cell (base64), as Studio's tutorial kept it in its table.
`flag_use` says whether the fit is good enough to serve: R^2 on the listings at least THRESHOLD.
"""
import base64
import pickle

import pandas as pd
from sklearn.linear_model import LinearRegression

THRESHOLD = 0.6


def azureml_main(dataframe1=None, dataframe2=None):
    flats = dataframe1
    model = LinearRegression().fit(flats[["surface"]], flats["price"])
    r2 = float(model.score(flats[["surface"]], flats["price"]))
    usable = r2 >= THRESHOLD
    print(f"fitted on {len(flats)} listings: price = {model.coef_[0]:.1f} * surface "
          f"{model.intercept_:+.0f}; R^2 {r2:.4f}: {'usable' if usable else 'not used'}")
    return pd.DataFrame({"model": [base64.b64encode(pickle.dumps(model)).decode("ascii")],
                         "coef": [float(model.coef_[0])],
                         "intercept": [float(model.intercept_)],
                         "r2": [r2],
                         "flats": [len(flats)],
                         "flag_use": [bool(usable)],
                         "created": [pd.Timestamp.now(tz="UTC")]}),
