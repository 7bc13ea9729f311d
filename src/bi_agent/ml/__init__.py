"""Machine-learning domain: features, pipelines, training, the model registry, artifacts and predictions.

Nothing here imports FastAPI or Celery: the ML service, the `train_model` task and the
`bi-agent models` commands call the same functions.
"""

import os

# Set before scikit-learn loads its OpenMP runtime, which reads it once. By default OpenMP
# threads spin for a while after each parallel region (the trees of a prediction); in a
# service they spin on the CPUs that the next request needs for decoding its JSON, which
# made a 10,000-row predict over HTTP 0.38 of the in-process speed instead of 0.53 on two
# CPUs (bench/predict_speed.py). Sleeping threads cost a parallel region a few microseconds.
# An operator's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
