"""Drives an Aviary router with the real openai-python SDK, one line of JSON per check.

usage: python openai_sdk_check.py <base_url> <router_key> <model> <user> [<revoked_key> <budget_key> <scoped_key>]

Each line: {"check": name, "ok": bool, "requestId": id or null, "version": x-aviary-model-version, "detail": ...}.
The Node test reads the lines and matches the request ids with the router's outcome events.
"""

import json
import sys
import urllib.error
import urllib.request

import openai
from openai import OpenAI

base_url, key, model, user = sys.argv[1:5]
revoked, budget, scoped = (sys.argv[5:8] + [None, None, None])[:3]
client = OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=30)
weather = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
    "additionalProperties": False,
}
forecast = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "celsius": {"type": "number"}},
    "required": ["city", "celsius"],
    "additionalProperties": False,
}


def emit(check, ok, raw=None, detail=None):
    headers = raw.headers if raw is not None else {}
    print(
        json.dumps(
            {
                "check": check,
                "ok": bool(ok),
                "requestId": headers.get("x-aviary-request-id"),
                "version": headers.get("x-aviary-model-version"),
                "detail": detail,
            }
        ),
        flush=True,
    )


def run(check, fn):
    try:
        fn()
    except Exception as err:  # one failed check must not hide the others
        emit(check, False, detail=f"{type(err).__name__}: {err}")


def chat():
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": "What is a canary release?"}], user=user
    )
    c = raw.parse()
    emit("chat", "Answer from" in (c.choices[0].message.content or ""), raw)


def chat_stream():
    with client.chat.completions.with_streaming_response.create(
        model=model,
        messages=[{"role": "user", "content": "Stream a canary story"}],
        user=user,
        stream=True,
        stream_options={"include_usage": True},
    ) as raw:
        text = "".join((ch.choices[0].delta.content or "") for ch in raw.parse() if ch.choices)
        emit("chat.stream", "Answer from" in text, raw, len(text))


def responses():
    raw = client.responses.with_raw_response.create(model=model, input="What is a canary release?", user=user)
    r = raw.parse()
    emit("responses", "Answer from" in r.output_text, raw)


def responses_stream():
    with client.responses.with_streaming_response.create(
        model=model, input="Stream a canary story", user=user, stream=True
    ) as raw:
        types, text = [], ""
        for event in raw.parse():
            types.append(event.type)
            if event.type == "response.output_text.delta":
                text += event.delta
        emit("responses.stream", types[-1] == "response.completed" and "Answer from" in text, raw, len(text))


def responses_thread():
    # No user: the thread's turns are kept together by the response ids alone (one streamed turn),
    # and a stored response is read back at the version that stored it.
    versions = []
    raw = client.responses.with_raw_response.create(model=model, input="Start a thread")
    previous = raw.parse().id
    versions.append(raw.headers.get("x-aviary-model-version"))
    with client.responses.with_streaming_response.create(
        model=model, input="Go on", previous_response_id=previous, stream=True
    ) as streamed:
        for event in streamed.parse():
            if event.type == "response.completed":
                previous = event.response.id
        versions.append(streamed.headers.get("x-aviary-model-version"))
    raw = client.responses.with_raw_response.create(model=model, input="And?", previous_response_id=previous)
    last = raw.parse()
    versions.append(raw.headers.get("x-aviary-model-version"))
    got = client.responses.with_raw_response.retrieve(last.id)
    versions.append(got.headers.get("x-aviary-model-version"))
    read = got.parse()
    # The turn before is named by the id the client holds, in the answer and read back.
    ok = (
        len(set(versions)) == 1
        and read.id == last.id
        and last.id.startswith("resp_avr.")
        and last.previous_response_id == previous
        and read.previous_response_id == previous
    )
    emit("responses.thread", ok, detail=versions)


def conversation():
    # A conversation is held by the version it was created on; its turns (one streamed) and its
    # items are answered there.
    raw = client.conversations.with_raw_response.create(
        metadata={"topic": "order"}, extra_headers={"x-aviary-model": model}
    )
    conv = raw.parse()
    versions = [raw.headers.get("x-aviary-model-version")]
    first = client.responses.with_raw_response.create(model=model, input="My order is late", conversation=conv.id)
    versions.append(first.headers.get("x-aviary-model-version"))
    echoed = [first.parse().conversation.id]
    with client.responses.with_streaming_response.create(
        model=model, input="It was order 1234", conversation={"id": conv.id}, stream=True
    ) as streamed:
        for event in streamed.parse():
            if event.type == "response.completed":
                echoed.append(event.response.conversation.id)
        versions.append(streamed.headers.get("x-aviary-model-version"))
    items = client.conversations.items.list(conv.id).data
    deleted = client.conversations.delete(conv.id)
    ok = (
        conv.id.startswith("conv_avr.")
        and len(set(versions)) == 1
        and echoed == [conv.id, conv.id]
        and len(items) == 4
        and deleted.deleted
    )
    emit("conversation", ok, detail={"versions": versions, "items": len(items), "echoed": echoed})


def embeddings():
    raw = client.embeddings.with_raw_response.create(model=model, input=["hello", "world"], user=user)
    e = raw.parse()
    emit("embeddings", len(e.data) == 2 and len(e.data[0].embedding) == 64, raw)


def completions():
    raw = client.completions.with_raw_response.create(model=model, prompt="Once upon a time", user=user, max_tokens=200)
    c = raw.parse()
    emit("completions", "Answer from" in c.choices[0].text, raw)


def completions_stream():
    with client.completions.with_streaming_response.create(
        model=model, prompt="Once", user=user, stream=True
    ) as raw:
        text = "".join(ch.choices[0].text for ch in raw.parse() if ch.choices)
        emit("completions.stream", "Answer from" in text, raw, len(text))


def models():
    m = client.models.retrieve(model)
    try:
        client.models.retrieve("no-such-model")
        missing = False
    except openai.NotFoundError:
        missing = True
    emit("models.retrieve", m.id == model and missing)


def tools():
    raw = client.chat.completions.with_raw_response.create(
        model=model,
        messages=[{"role": "user", "content": "Use get_weather for Oslo"}],
        tools=[{"type": "function", "function": {"name": "get_weather", "parameters": weather}}],
        user=user,
    )
    c = raw.parse()
    call = c.choices[0].message.tool_calls[0]
    emit("tools", c.choices[0].finish_reason == "tool_calls" and json.loads(call.function.arguments), raw)


def json_schema():
    raw = client.chat.completions.with_raw_response.create(
        model=model,
        messages=[{"role": "user", "content": "forecast for Oslo"}],
        response_format={"type": "json_schema", "json_schema": {"name": "forecast", "strict": True, "schema": forecast}},
        user=user,
    )
    c = raw.parse()
    emit("json_schema", set(json.loads(c.choices[0].message.content)) == {"city", "celsius"}, raw)


def errors():
    request = urllib.request.Request(
        f"{base_url}/chat/completions",
        data=json.dumps({"model": model, "messages": []}).encode(),
        headers={"content-type": "application/json"},
    )
    try:
        urllib.request.urlopen(request, timeout=10)
        emit("key.missing", False)
    except urllib.error.HTTPError as err:
        emit("key.missing", err.code == 401 and json.loads(err.read())["error"]["code"] == "missing_api_key")
    try:
        OpenAI(base_url=base_url, api_key="avr_wrong", max_retries=0).chat.completions.create(
            model=model, messages=[{"role": "user", "content": "hi"}]
        )
        emit("key.wrong", False)
    except openai.AuthenticationError as err:
        emit("key.wrong", err.code == "invalid_api_key")
    if revoked:
        try:
            OpenAI(base_url=base_url, api_key=revoked, max_retries=0).models.list()
            emit("key.revoked", False)
        except openai.AuthenticationError:
            emit("key.revoked", True)
    if budget:
        over = OpenAI(base_url=base_url, api_key=budget, max_retries=0)
        code = None
        for i in range(10):
            try:
                over.chat.completions.create(model=model, messages=[{"role": "user", "content": f"long {i}"}])
            except openai.RateLimitError as err:
                code = err.code
                break
        emit("key.over_budget", code == "insufficient_quota", detail=code)
    if scoped:
        try:
            OpenAI(base_url=base_url, api_key=scoped, max_retries=0).embeddings.create(model=model, input="x")
            emit("key.scope", False)
        except openai.PermissionDeniedError:
            emit("key.scope", True)


for name, fn in [
    ("chat", chat),
    ("chat.stream", chat_stream),
    ("responses", responses),
    ("responses.stream", responses_stream),
    ("responses.thread", responses_thread),
    ("conversation", conversation),
    ("embeddings", embeddings),
    ("completions", completions),
    ("completions.stream", completions_stream),
    ("models.retrieve", models),
    ("tools", tools),
    ("json_schema", json_schema),
    ("errors", errors),
]:
    run(name, fn)
