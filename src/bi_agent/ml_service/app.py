"""Entry point: `uvicorn --factory bi_agent.ml_service.app:create_app`."""

from fastapi import FastAPI

from bi_agent.http.service import create_service
from bi_agent.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service(
        "ml-service",
        "BI-Agent ML service",
        "Model training, the model registry, batch predictions and KPI forecasts.",
        settings=settings,
    )
