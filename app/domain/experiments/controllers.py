"""Experiment routes under ``/v1/admin/experiments`` (org admins, like the prompt versions they vary)."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, get, patch, post
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from app.domain.experiments.deps import experiment_dependencies
from app.domain.experiments.schemas import ExperimentIn, ExperimentOut, ExperimentResults, ExperimentUpdate
from app.domain.experiments.services import ExperimentService
from app.lib.auth import is_admin


class ExperimentController(Controller):
    dependencies = experiment_dependencies
    path = "/admin/experiments"
    tags = ["Experiments"]
    guards = [is_admin]

    @get("/", summary="The org's experiments on the tutor prompt, newest first")
    async def list_experiments(self, experiment_service: ExperimentService) -> list[ExperimentOut]:
        return await experiment_service.list()

    @post("/", status_code=HTTP_201_CREATED, summary="Create an experiment (a draft): variants, target, rollout")
    async def create_experiment(self, data: ExperimentIn, experiment_service: ExperimentService) -> ExperimentOut:
        return await experiment_service.create(data)

    @get("/{experiment_id:uuid}", summary="One experiment")
    async def get_experiment(self, experiment_id: UUID, experiment_service: ExperimentService) -> ExperimentOut:
        return await experiment_service.get(experiment_id)

    @patch(
        "/{experiment_id:uuid}",
        summary="Change an experiment: variants and course while draft, the rollout also while running",
    )
    async def update_experiment(
        self, experiment_id: UUID, data: ExperimentUpdate, experiment_service: ExperimentService
    ) -> ExperimentOut:
        return await experiment_service.update(experiment_id, data)

    @post("/{experiment_id:uuid}/start", status_code=HTTP_200_OK, summary="Start an experiment (one per target)")
    async def start_experiment(self, experiment_id: UUID, experiment_service: ExperimentService) -> ExperimentOut:
        return await experiment_service.start(experiment_id)

    @post("/{experiment_id:uuid}/stop", status_code=HTTP_200_OK, summary="Stop a running experiment (for good)")
    async def stop_experiment(self, experiment_id: UUID, experiment_service: ExperimentService) -> ExperimentOut:
        return await experiment_service.stop(experiment_id)

    @get(
        "/{experiment_id:uuid}/results",
        summary="Results per arm (control first): tokens, ratings, hint escalation, guardrails, with 95% intervals",
    )
    async def experiment_results(self, experiment_id: UUID, experiment_service: ExperimentService) -> ExperimentResults:
        return await experiment_service.results(experiment_id)
