"""The ML service (port 8000): training, the model registry, predictions and forecasts."""
