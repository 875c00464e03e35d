"""A local Pub/Sub server speaking Google's real gRPC API, for the pubsub sink's tests.

Google's emulator needs Java and gcloud, which these machines do not have, so this is
a small stand-in at that boundary: a ``grpc.server`` answering the ``google.pubsub.v1``
Publisher (CreateTopic, GetTopic, DeleteTopic, Publish) and Subscriber
(CreateSubscription, Pull, Acknowledge, DeleteSubscription) services, with the wire
types of ``google.pubsub_v1.types``. The official client reaches it through
``PUBSUB_EMULATOR_HOST``. Every Publish is checked as the service checks it: the
routing header, a deadline, the topic's name and existence, 1 to 1,000 non-empty
messages, attribute and ordering-key limits, 10 MiB per request. A test can make it
answer an error status for a while (``fail``) or hold every Publish (``stall``).
"""

from __future__ import annotations

import re
import threading
import uuid
from collections import deque
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import grpc
from google.protobuf import empty_pb2
from google.pubsub_v1 import types

MAX_REQUEST_BYTES = 10 * 1024 * 1024
MAX_MESSAGES, MAX_ATTRIBUTES = 1000, 100
MAX_KEY_BYTES, MAX_VALUE_BYTES, MAX_ORDERING_KEY_BYTES = 256, 1024, 1024
NO_DEADLINE = 365 * 86400.0  # gRPC's server shows a call without a deadline as centuries left
_NAME = r"projects/(?P<project>[^/]+)/{kind}/(?P<id>(?!goog)[A-Za-z][A-Za-z0-9._~+%-]{{2,254}})"
TOPIC_NAME = re.compile(_NAME.format(kind="topics"))
SUBSCRIPTION_NAME = re.compile(_NAME.format(kind="subscriptions"))


class Refused(Exception):
    """A request the service refuses: aborts the RPC with ``code`` and ``message``."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass
class Seen:
    """One Publish that reached the fake: the request, its metadata and time remaining."""

    request: types.PublishRequest
    metadata: dict[str, str]
    time_remaining: float | None


@dataclass
class Queue:
    """A subscription's undelivered messages and those pulled but not acknowledged."""

    topic: str
    waiting: deque[types.PubsubMessage] = field(default_factory=deque)
    outstanding: dict[str, types.PubsubMessage] = field(default_factory=dict)


class FakePubSub:
    """The server, on a free loopback port; ``host`` is what PUBSUB_EMULATOR_HOST takes."""

    def __init__(self) -> None:
        self.topics: dict[str, types.Topic] = {}
        self.subscriptions: dict[str, Queue] = {}
        self.seen: list[Seen] = []
        self._published = 0
        self._failures: deque[grpc.StatusCode] = deque()
        self._flowing = threading.Event()
        self._flowing.set()
        self._lock = threading.Lock()
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=16),
            options=[("grpc.max_receive_message_length", 4 * MAX_REQUEST_BYTES)],
        )
        self._server.add_generic_rpc_handlers(self._handlers())
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self._server.start()

    @property
    def host(self) -> str:
        """``127.0.0.1:<port>``."""
        return f"127.0.0.1:{self.port}"

    def fail(self, code: grpc.StatusCode, times: int = 1) -> None:
        """Answer the next ``times`` Publish calls with ``code``, before any check."""
        with self._lock:
            self._failures.extend([code] * times)

    def stall(self) -> None:
        """Hold every Publish, unanswered, until ``restore()`` (or its caller gives up)."""
        self._flowing.clear()

    def restore(self) -> None:
        """Answer again."""
        with self._lock:
            self._failures.clear()
        self._flowing.set()

    def close(self) -> None:
        """Stop serving at once."""
        self._flowing.set()
        self._server.stop(None).wait()

    def _handlers(self) -> tuple[grpc.GenericRpcHandler, ...]:
        """The two services' methods, each with its request and response wire types."""
        empty = empty_pb2.Empty.SerializeToString
        publisher = {
            "CreateTopic": (self._create_topic, types.Topic, types.Topic.serialize),
            "GetTopic": (self._get_topic, types.GetTopicRequest, types.Topic.serialize),
            "DeleteTopic": (self._delete_topic, types.DeleteTopicRequest, empty),
            "Publish": (self._publish, types.PublishRequest, types.PublishResponse.serialize),
        }
        subscriber = {
            "CreateSubscription": (
                self._subscribe,
                types.Subscription,
                types.Subscription.serialize,
            ),
            "Pull": (self._pull, types.PullRequest, types.PullResponse.serialize),
            "Acknowledge": (self._acknowledge, types.AcknowledgeRequest, empty),
            "DeleteSubscription": (self._unsubscribe, types.DeleteSubscriptionRequest, empty),
        }
        return (
            _service("google.pubsub.v1.Publisher", publisher),
            _service("google.pubsub.v1.Subscriber", subscriber),
        )

    def _create_topic(self, topic: types.Topic, context: grpc.ServicerContext) -> types.Topic:
        _valid_name(TOPIC_NAME, topic.name, "topics")
        with self._lock:
            if topic.name in self.topics:
                raise Refused(grpc.StatusCode.ALREADY_EXISTS, "Resource already exists.")
            self.topics[topic.name] = topic
        return topic

    def _get_topic(self, request: types.GetTopicRequest, context: Any) -> types.Topic:
        with self._lock:
            return self._topic(request.topic)

    def _delete_topic(self, request: types.DeleteTopicRequest, context: Any) -> empty_pb2.Empty:
        with self._lock:
            self._topic(request.topic)
            del self.topics[request.topic]
        return empty_pb2.Empty()

    def _topic(self, name: str) -> types.Topic:
        """The topic called ``name``; INVALID_ARGUMENT or NOT_FOUND as the service says."""
        match = _valid_name(TOPIC_NAME, name, "topics")
        if name not in self.topics:
            raise Refused(
                grpc.StatusCode.NOT_FOUND, f"Resource not found (resource={match['id']})."
            )
        return self.topics[name]

    def _publish(
        self, request: types.PublishRequest, context: grpc.ServicerContext
    ) -> types.PublishResponse:
        metadata = {key: value for key, value in context.invocation_metadata()}
        with self._lock:
            self.seen.append(Seen(request, metadata, context.time_remaining()))
            failure = self._failures.popleft() if self._failures else None
        while not self._flowing.wait(0.05) and context.is_active():
            pass
        remaining = context.time_remaining()
        if not context.is_active() or (remaining is not None and remaining <= 0):
            return types.PublishResponse()  # the caller gave up while it was held: drop it
        if failure is not None:
            raise Refused(failure, f"the fake answers {failure.name} as it was told")
        _check_routing(request.topic, metadata, context)
        _check_messages(request)
        with self._lock:
            self._topic(request.topic)
            ids = [self._store(request.topic, message) for message in request.messages]
        return types.PublishResponse(message_ids=ids)

    def _store(self, topic: str, message: types.PubsubMessage) -> str:
        """Give ``message`` an id and a publish time, and a copy to each of the topic's queues."""
        stored = types.PubsubMessage.deserialize(types.PubsubMessage.serialize(message))
        self._published += 1
        stored.message_id, stored.publish_time = str(self._published), datetime.now(UTC)
        for queue in self.subscriptions.values():
            if queue.topic == topic:
                queue.waiting.append(stored)
        return stored.message_id

    def _subscribe(self, sub: types.Subscription, context: Any) -> types.Subscription:
        _valid_name(SUBSCRIPTION_NAME, sub.name, "subscriptions")
        with self._lock:
            self._topic(sub.topic)
            if sub.name in self.subscriptions:
                raise Refused(grpc.StatusCode.ALREADY_EXISTS, "Resource already exists.")
            self.subscriptions[sub.name] = Queue(sub.topic)
        return sub

    def _pull(self, request: types.PullRequest, context: Any) -> types.PullResponse:
        with self._lock:
            queue = self._queue(request.subscription)
            received = []
            while queue.waiting and len(received) < max(request.max_messages, 1):
                ack_id = uuid.uuid4().hex
                queue.outstanding[ack_id] = queue.waiting.popleft()
                received.append(
                    types.ReceivedMessage(ack_id=ack_id, message=queue.outstanding[ack_id])
                )
        return types.PullResponse(received_messages=received)

    def _acknowledge(self, request: types.AcknowledgeRequest, context: Any) -> empty_pb2.Empty:
        with self._lock:
            queue = self._queue(request.subscription)
            for ack_id in request.ack_ids:
                queue.outstanding.pop(ack_id, None)
        return empty_pb2.Empty()

    def _unsubscribe(self, request: types.DeleteSubscriptionRequest, context: Any) -> Any:
        with self._lock:
            self._queue(request.subscription)
            del self.subscriptions[request.subscription]
        return empty_pb2.Empty()

    def _queue(self, name: str) -> Queue:
        _valid_name(SUBSCRIPTION_NAME, name, "subscriptions")
        if name not in self.subscriptions:
            raise Refused(grpc.StatusCode.NOT_FOUND, f"Resource not found (resource={name}).")
        return self.subscriptions[name]


def _valid_name(pattern: re.Pattern[str], name: str, kind: str) -> re.Match[str]:
    """The match of a resource name, or INVALID_ARGUMENT as the service words it."""
    match = pattern.fullmatch(name)
    if not match:
        raise Refused(grpc.StatusCode.INVALID_ARGUMENT, f"Invalid [{kind}] name: (name={name})")
    return match


def _check_routing(topic: str, metadata: dict[str, str], context: grpc.ServicerContext) -> None:
    """The official client names the topic in a routing header and always sets a deadline."""
    params = parse_qs(metadata.get("x-goog-request-params", ""))
    if params.get("topic") != [topic]:
        raise Refused(grpc.StatusCode.INVALID_ARGUMENT, "x-goog-request-params lacks the topic")
    remaining = context.time_remaining()
    if remaining is None or remaining > NO_DEADLINE:
        raise Refused(
            grpc.StatusCode.INVALID_ARGUMENT, "the fake wants every Publish to have a deadline"
        )


def _check_messages(request: types.PublishRequest) -> None:
    """Refuse what Pub/Sub refuses, with INVALID_ARGUMENT and the service's reason."""
    size = types.PublishRequest.pb(request).ByteSize()
    if size > MAX_REQUEST_BYTES:
        _invalid(f"Request payload size exceeds the limit: {MAX_REQUEST_BYTES} bytes.")
    if not 1 <= len(request.messages) <= MAX_MESSAGES:
        _invalid(f"The value for message_count is {len(request.messages)}; it must be 1 to 1000.")
    for message in request.messages:
        if not message.data and not message.attributes:
            _invalid("Some messages are empty: each needs data or at least one attribute.")
        if len(message.attributes) > MAX_ATTRIBUTES:
            _invalid(f"A message has more than {MAX_ATTRIBUTES} attributes.")
        for key, value in message.attributes.items():
            if not 0 < len(key.encode()) <= MAX_KEY_BYTES or key.startswith("goog"):
                _invalid(f"The attribute key {key!r} is invalid.")
            if len(value.encode()) > MAX_VALUE_BYTES:
                _invalid(f"The value of attribute {key!r} is over {MAX_VALUE_BYTES} bytes.")
        if len(message.ordering_key.encode()) > MAX_ORDERING_KEY_BYTES:
            _invalid(f"An ordering key is over {MAX_ORDERING_KEY_BYTES} bytes.")


def _invalid(message: str) -> None:
    raise Refused(grpc.StatusCode.INVALID_ARGUMENT, message)


def _service(name: str, methods: dict[str, tuple]) -> grpc.GenericRpcHandler:
    """A generic handler for ``name`` whose methods turn ``Refused`` into a status."""
    handlers = {
        method: grpc.unary_unary_rpc_method_handler(
            _aborting(handler),
            request_deserializer=request_type.deserialize,
            response_serializer=encode,
        )
        for method, (handler, request_type, encode) in methods.items()
    }
    return grpc.method_handlers_generic_handler(name, handlers)


def _aborting(handler: Callable[[Any, grpc.ServicerContext], Any]) -> Callable:
    """``handler``, answering a ``Refused`` as its status, the way the service does."""

    def handle(request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return handler(request, context)
        except Refused as refused:
            context.abort(refused.code, refused.message)

    return handle
