"""A tiny random-weight LLaVA, built here, served by HF `transformers serve` on CPU, asked with the openai client.

    python3 -m pytest -q -p no:cacheprovider tests/peer

Skipped where transformers[serving], torch or openai is missing.
"""
import pathlib
import sys

import pytest

for module in ("torch", "transformers", "fastapi", "uvicorn", "openai", "PIL"):
    pytest.importorskip(module)

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from tiny_llava_server import TinyLlavaServer, png_data_url  # noqa: E402

import openai  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with TinyLlavaServer(tmp_path_factory.mktemp("tiny-llava-serve")) as running:
        yield running


def ask(client, server, url, **kwargs):
    messages = [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": url}},
        {"type": "text", "text": "what is 2 + 3 ?"},
    ]}]
    return client.chat.completions.create(model=server.model, messages=messages, **kwargs)


def test_chat_completion_with_an_image(server):
    client = openai.OpenAI(base_url=server.url, api_key="none", max_retries=0, timeout=60)
    answer = ask(client, server, png_data_url(), max_tokens=16, temperature=1.0, top_p=1.0, seed=7)
    assert len(answer.choices) == 1
    choice = answer.choices[0]
    assert isinstance(choice.message.content, str) and choice.message.content
    assert choice.finish_reason in ("length", "stop")
    assert 1 <= answer.usage.completion_tokens <= 16
    assert answer.usage.prompt_tokens == 31  # <s>USER: + 16 image tokens + the question + ASSISTANT:
    assert answer.model == server.model


def test_what_the_server_does_with_openai_fields(server):
    """The behaviour a client of this server must work around, pinned so an upgrade that changes it shows."""
    client = openai.OpenAI(base_url=server.url, api_key="none", max_retries=0, timeout=60)
    url = png_data_url()
    first = ask(client, server, url, n=4, max_tokens=8, seed=7, logprobs=True, top_logprobs=0)
    assert len(first.choices) == 1  # n is ignored
    assert first.choices[0].logprobs is None  # so are logprobs
    again = ask(client, server, url, max_tokens=8, seed=7)
    assert again.choices[0].message.content == first.choices[0].message.content  # seed reproduces
    jpeg = ask(client, server, png_data_url(fmt="JPEG"), max_tokens=8, seed=7)
    assert jpeg.choices[0].message.content
    with pytest.raises(openai.UnprocessableEntityError):  # fields outside OpenAI's schema: 422
        ask(client, server, url, max_tokens=8, extra_body={"top_k": -1})
    with pytest.raises(openai.BadRequestError):  # another model name than the one served: 400
        client.chat.completions.create(model="other", messages=[{"role": "user", "content": "hi"}], max_tokens=4)
    assert [m.id for m in client.models.list().data] == [server.model]
