"""The platform's producers put a client's events on the partition any Kafka client would
(murmur2 of the key, as the Java client and aiokafka's default do): a consumer in another
language, or a replay by a bare client, sees one client's events in one partition."""

from uuid import uuid4

from aiokafka.partitioner import DefaultPartitioner

from relance.kafka import KeyHashPartitioner, new_producer


def test_each_key_goes_to_the_partition_the_default_partitioner_picks() -> None:
    ours, default = KeyHashPartitioner(), DefaultPartitioner()
    keys = [str(uuid4()).encode() for _ in range(500)]
    for count in (1, 3, 12, 24):
        partitions = list(range(count))
        for key in keys + keys:  # the second time from the remembered hash
            assert ours(key, partitions, partitions) == default(key, partitions, partitions)


def test_a_message_without_a_key_goes_to_an_available_partition() -> None:
    assert KeyHashPartitioner()(None, [0, 1, 2], [2]) == 2


async def test_the_platform_producer_uses_it() -> None:
    producer = new_producer("127.0.0.1:1")  # not started: no broker needed
    assert isinstance(producer._partitioner, KeyHashPartitioner)
