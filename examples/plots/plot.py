"""Execute Python Script: draw the points of dataframe1 (columns x, y, group) with matplotlib.

Two PNGs saved in the working directory become the step's python device output (and the run's
files `python_device/*.png`); the scatter plot also leaves in the result table as a
`data:image/png;base64,...` cell, which is how a web service hands an image to its client.
amlocal switches matplotlib to the Agg backend before this module is imported.
"""
import base64
import io

import matplotlib.pyplot as plt
import pandas as pd


def azureml_main(dataframe1=None, dataframe2=None):
    points = dataframe1
    figure, axes = plt.subplots(figsize=(6, 4.5))
    for group, members in points.groupby("group"):
        axes.scatter(members["x"], members["y"], label=str(group), alpha=0.8)
    axes.set_xlabel("x")
    axes.set_ylabel("y")
    axes.set_title(f"{len(points)} points")
    axes.legend()
    figure.savefig("scatter.png", dpi=80)
    encoded = io.BytesIO()
    figure.savefig(encoded, format="png", dpi=80)
    plt.close(figure)

    figure, axes = plt.subplots(figsize=(6, 3))
    axes.hist(points["y"], bins=12)
    axes.set_title("distribution of y")
    figure.savefig("histogram.png", dpi=80)
    plt.close(figure)

    image = "data:image/png;base64," + base64.b64encode(encoded.getvalue()).decode("ascii")
    print(f"plotted {len(points)} points in {points['group'].nunique()} groups; "
          f"scatter.png is {len(encoded.getvalue())} bytes")
    return pd.DataFrame({"points": [len(points)], "groups": [points["group"].nunique()],
                         "image": [image]}),
