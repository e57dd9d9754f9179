"""Execute Python Script: predict prices for the surfaces of dataframe1 (the web service's input)
with the model pickled in dataframe2 (the registered model table that src/train.py returned)."""
import base64
import pickle

import pandas as pd


def azureml_main(dataframe1=None, dataframe2=None):
    model = pickle.loads(base64.b64decode(dataframe2["model"][0]))
    surfaces = dataframe1[["surface"]].astype("float64")
    prices = model.predict(surfaces)
    return pd.DataFrame({"surface": surfaces["surface"], "price": prices.round(0)}),
