"""Execute Python Script: predict prices for the surfaces of dataframe1 (the web service's
input) with the model of dataframe2 (the newest usable row of `immo_model`)."""
import base64
import pickle

import pandas as pd


def azureml_main(dataframe1=None, dataframe2=None):
    model = pickle.loads(base64.b64decode(dataframe2["model"][0]))
    surfaces = dataframe1[["surface"]].astype("float64")
    return pd.DataFrame({"surface": surfaces["surface"],
                         "price": model.predict(surfaces).round(0),
                         "model_flats": int(dataframe2["flats"][0])}),
