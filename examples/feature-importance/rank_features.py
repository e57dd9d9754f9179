"""Execute Python Script: rank the features of scikit-learn's wine data with a random forest.

A Studio-style script: amlocal calls `azureml_main(dataframe1, dataframe2)` in the step's
container and the first frame it returns becomes the step's `result_dataset`. The wine data
(178 wines, 13 chemical measurements, 3 cultivars) ships inside scikit-learn, so nothing is
downloaded; the step runs without network.
"""
import pandas as pd
from sklearn.datasets import load_wine
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import cross_val_score


def azureml_main(dataframe1=None, dataframe2=None):
    wine = load_wine(as_frame=True)
    features, cultivar = wine.data, wine.target
    forest = RandomForestClassifier(n_estimators=300, random_state=7)
    accuracy = cross_val_score(forest, features, cultivar, cv=5).mean()
    forest.fit(features, cultivar)
    print(f"random forest on {len(features)} wines: {accuracy:.3f} cross-validated accuracy")

    # mean decrease in impurity, and its spread over the trees of the forest
    spread = pd.DataFrame([tree.feature_importances_ for tree in forest.estimators_]).std()
    ranking = pd.DataFrame({"feature": features.columns,
                            "importance": forest.feature_importances_,
                            "spread": spread.to_numpy()})
    ranking = ranking.sort_values("importance", ascending=False, ignore_index=True)
    ranking.insert(0, "rank", range(1, len(ranking) + 1))
    return ranking,
