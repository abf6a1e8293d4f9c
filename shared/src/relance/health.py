"""Health checks of the shared dependencies, for `/health`."""

import asyncpg
from aiokafka import AIOKafkaProducer
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client


def postgres_check(pool: asyncpg.Pool):
    async def check() -> None:
        await pool.fetchval("SELECT 1")

    return check


def kafka_check(producer: AIOKafkaProducer):
    async def check() -> None:
        await producer.client.fetch_all_metadata()

    return check


def temporal_check(client: Client):
    async def check() -> None:
        await client.workflow_service.get_system_info(GetSystemInfoRequest())

    return check


def broker_check(broker, timeout: float = 3.0):
    """For a FastStream broker: it answers a ping."""

    async def check() -> None:
        if not await broker.ping(timeout=timeout):
            raise ConnectionError("kafka broker unreachable")

    return check
