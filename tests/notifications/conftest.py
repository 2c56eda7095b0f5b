import pytest
from pydantic import SecretStr

from tests.notifications.fake_bot_api import FakeBotApi


@pytest.fixture
async def fake_api():
    api = await FakeBotApi().start()
    yield api
    await api.stop()


@pytest.fixture
def tg_settings(settings, fake_api):
    settings.telegram.token = SecretStr(fake_api.token)
    settings.telegram.base_url = fake_api.base_url
    settings.telegram.base_file_url = fake_api.base_file_url
    return settings
