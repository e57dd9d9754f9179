"""Execute Python Script: fit `price ~ surface` on the flats of dataframe1 and score it on
dataframe2.

Only one table leaves the module, so the model travels pickled inside it, as in Studio
(`pickle.dumps(model)`); base64 keeps the cell a plain string that Parquet and JSON both carry.
"""
import base64
import pickle

import pandas as pd
from sklearn.linear_model import LinearRegression


def azureml_main(dataframe1=None, dataframe2=None):
    flats, check = dataframe1, dataframe2
    model = LinearRegression().fit(flats[["surface"]], flats["price"])
    score = model.score(check[["surface"]], check["price"])  # R^2 on the fixed check table
    print(f"fitted on {len(flats)} flats: price = {model.coef_[0]:.1f} * surface "
          f"{model.intercept_:+.0f}; R^2 on {len(check)} check flats: {score:.4f}")
    return pd.DataFrame({"model": [base64.b64encode(pickle.dumps(model)).decode("ascii")],
                         "coef": [float(model.coef_[0])],
                         "intercept": [float(model.intercept_)],
                         "score": [float(score)],
                         "flats": [len(flats)]}),
