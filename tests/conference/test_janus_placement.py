"""conference/janus/placement.py: one VideoRoom per session on the emptier of two real Janus
instances, the choice kept in the database, rooms recorded, made again after a Janus forgot
them, released at the end; an instance that does not answer is passed over."""

from __future__ import annotations

import asyncio

import pytest
from proctorbot.conference.janus import videoroom
from proctorbot.conference.janus.client import JanusClient
from proctorbot.conference.janus.placement import (
    InstanceLoad,
    JanusRooms,
    NoJanusInstance,
    choose_instance,
    room_id_for,
)

from tests.conference import janus_fixture
from tests.conference.janus_fixture import free_port
from tests.scheduling import test_postgres_jobstore

janus_network = janus_fixture.janus_network
janus_factory = janus_fixture.janus_factory
postgres_url = test_postgres_jobstore.postgres_url

pytestmark = pytest.mark.timeout(90)


def test_choice_by_load() -> None:
    loads = [
        InstanceLoad("a", rooms=3, participants=9),
        InstanceLoad("b", rooms=2, participants=20),
        InstanceLoad("c", rooms=2, participants=4),
        InstanceLoad("d", rooms=0, participants=-1),  # did not answer
    ]
    assert choose_instance(loads, max_rooms=10).url == "c"
    assert choose_instance(loads, max_rooms=3).url == "c"
    assert choose_instance(loads, max_rooms=2) is None
    assert choose_instance(loads[:1], max_rooms=3) is None
    assert room_id_for("s-1") == room_id_for("s-1") != room_id_for("s-2")
    assert 0 < room_id_for("s-1") < 2**53


async def rooms_on(url: str) -> dict[int, videoroom.RoomInfo]:
    async with JanusClient(url) as client:
        handle = await (await client.create_session()).attach()
        return {room.room: room for room in await videoroom.list_rooms(handle)}


async def test_the_emptier_instance_gets_the_room(app_context, janus_factory, tmp_path) -> None:
    first, second = janus_factory(), janus_factory()
    settings = app_context.settings.model_copy(deep=True)
    settings.janus.urls = [first.url, second.url]
    settings.janus.record_dir = str(tmp_path / "janus-rec")
    rooms = JanusRooms(app_context.db, settings)

    one = await rooms.place("session-one")
    assert one.url == first.url  # both empty: the first listed
    two = await rooms.place("session-two")
    assert two.url == second.url  # the first holds a room now
    assert two.rec_dir == str(tmp_path / "janus-rec" / "session-two")

    # another web node (a second placement object on the same database) finds the same
    other_node = JanusRooms(app_context.db, settings)
    assert await other_node.place("session-two") == two
    loads = {load.url: load for load in await other_node.loads()}
    assert loads[first.url].rooms == 1 and loads[second.url].rooms == 1

    made = (await rooms_on(second.url))[two.room]
    assert made.record and made.rec_dir == two.rec_dir
    assert two.room not in await rooms_on(first.url)

    # Janus restarted and forgot the room: placing again makes it again, same place
    async with JanusClient(second.url) as client:
        await videoroom.destroy_room(await (await client.create_session()).attach(), two.room)
    assert await rooms.place("session-two") == two
    assert two.room in await rooms_on(second.url)

    await rooms.release("session-two")
    assert await rooms.lookup("session-two") is None
    assert two.room not in await rooms_on(second.url)
    # the second instance is the emptier again
    assert (await rooms.place("session-three")).url == second.url


async def test_an_instance_that_does_not_answer_is_passed_over(app_context, janus_factory) -> None:
    alive = janus_factory()
    settings = app_context.settings.model_copy(deep=True)
    dead = f"http://127.0.0.1:{free_port()}/janus"
    settings.janus.urls = [dead, alive.url]
    rooms = JanusRooms(app_context.db, settings)
    assert (await rooms.place("session-x")).url == alive.url
    settings.janus.urls = [dead]
    with pytest.raises(NoJanusInstance, match="no answer"):
        await JanusRooms(app_context.db, settings).place("session-y")


@pytest.fixture(params=["sqlite", "postgresql"])
def placement_db(request, app_context):
    """The placement's database: the test's SQLite, or a throwaway PostgreSQL cluster."""
    if request.param == "sqlite":
        yield app_context
        return
    from proctorbot.context import AppContext

    settings = app_context.settings.model_copy(deep=True)
    settings.database_url = request.getfixturevalue("postgres_url")
    context = AppContext.build(settings)
    try:
        yield context
    finally:
        context.engine.dispose()


async def test_two_nodes_placing_one_session_at_once_agree(placement_db, janus_factory) -> None:
    first, second = janus_factory(), janus_factory()
    settings = placement_db.settings.model_copy(deep=True)
    settings.janus.urls = [first.url, second.url]
    await JanusRooms(placement_db.db, settings).place("busy-session")  # first has a room
    nodes = [JanusRooms(placement_db.db, settings) for _ in range(3)]
    places = await asyncio.gather(*(node.place("contested") for node in nodes))
    assert len(set(places)) == 1 and places[0].url == second.url
    loads = {load.url: load.rooms for load in await nodes[0].loads()}
    assert loads == {first.url: 1, second.url: 1}
