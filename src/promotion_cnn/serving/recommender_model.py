"""The recommender's MLflow pyfunc model as code (MLflow's "models from code": the model object is not pickled).

``registry.log_recommender`` logs this file as the model; loading the model runs it, with the package from the
model's ``code/`` folder on the path and the recommender and its parameters as artifacts.
"""

from mlflow.models import set_model

from promotion_cnn.serving.scorer import RecommenderPyfunc

set_model(RecommenderPyfunc())
