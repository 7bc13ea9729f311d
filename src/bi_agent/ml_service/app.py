"""Entry point: `uvicorn --factory bi_agent.ml_service.app:create_app`."""

from fastapi import APIRouter, FastAPI

from bi_agent.http.service import create_service
from bi_agent.ml_service.routes import forecast, models, predictions, training
from bi_agent.settings import Settings

# The hottest route, predict, is matched first; paths do not overlap otherwise.
ROUTERS: list[APIRouter] = [predictions.router, models.router, training.router, forecast.router]


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service(
        "ml-service",
        "BI-Agent ML service",
        "Model training, the model registry, batch predictions and KPI forecasts.",
        routers=ROUTERS,
        settings=settings,
        body_limits=lambda resolved: [predictions.PREDICT_BODY_LIMIT],
    )
