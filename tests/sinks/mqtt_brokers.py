"""Test helpers for the mqtt sink: a consumer of the shared Mosquitto, and a private one.

The shared Mosquitto (127.0.0.1:1883, anonymous) is never reconfigured: a test that
needs passwords, an ACL or a packet size limit starts its own ``PrivateMosquitto`` on a
spare port, from a config in a temporary directory.
"""

from __future__ import annotations

import os
import queue
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import paho.mqtt.client as paho
from cloudevents.core.base import BaseCloudEvent
from cloudevents.core.bindings.http import HTTPMessage, from_binary_event
from paho.mqtt.enums import CallbackAPIVersion

from tests import tls

SHARED = ("127.0.0.1", 1883)
MOSQUITTO = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")


def reachable(address: tuple[str, int]) -> bool:
    """Whether something accepts TCP connections at ``address``."""
    try:
        socket.create_connection(address, timeout=2).close()
        return True
    except OSError:
        return False


class Consumer:
    """A paho MQTT 5 client subscribed (SUBACK received) to one unique topic of a broker."""

    def __init__(
        self,
        address: tuple[str, int] = SHARED,
        login: tuple[str, str] | None = None,
        prefix: str = "async-events-test",
    ) -> None:
        self.topic = f"{prefix}/{uuid.uuid4().hex}/orders"
        self.messages: queue.Queue[paho.MQTTMessage] = queue.Queue()
        subscribed = queue.Queue()
        self._client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        self._client.on_message = lambda _c, _u, message: self.messages.put(message)
        self._client.on_subscribe = lambda *args: subscribed.put(args)
        if login:
            self._client.username_pw_set(*login)
        self._client.connect(*address)
        self._client.loop_start()
        self._client.subscribe(self.topic, qos=2)
        subscribed.get(timeout=5)

    def next(self, timeout: float = 5.0) -> paho.MQTTMessage:
        """The next message on the topic; queue.Empty if none comes in time."""
        return self.messages.get(timeout=timeout)

    def close(self) -> None:
        """Disconnect."""
        self._client.disconnect()
        self._client.loop_stop()


def cloudevent(message: paho.MQTTMessage) -> BaseCloudEvent:
    """Read a binary-mode MQTT 5 message with the CloudEvents SDK (2.x has no MQTT binding).

    The MQTT binding's user properties carry the attributes by name; the SDK's HTTP
    binary reader takes them as ``ce-`` headers, and the Content Type property as
    content-type (our attribute values hold no ``%``, which HTTP headers would decode).
    """
    props = message.properties
    headers = {f"ce-{name}": value for name, value in props.UserProperty}
    headers["content-type"] = props.ContentType
    return from_binary_event(HTTPMessage(headers, bytes(message.payload)))


class PrivateMosquitto:
    """A Mosquitto of our own with a password file, an ACL and a packet size limit.

    ``user`` may publish under ``allowed/``; nobody may publish anywhere else. It listens
    on ``port`` in plain TCP and on ``tls_port`` with a certificate for 127.0.0.1 that
    the CA in ``ca_file`` signed.
    """

    def __init__(self, directory: Path, user: str, password: str, max_packet: int) -> None:
        self.port, self.tls_port = _free_port(), _free_port()
        issued = tls.issue(directory)
        self.ca_file, cert, key = issued.ca, issued.cert, issued.key
        passwords, acl = directory / "passwords", directory / "acl"
        passwords.touch()
        subprocess.run(["mosquitto_passwd", "-b", str(passwords), user, password], check=True)
        acl.write_text(f"user {user}\ntopic readwrite allowed/#\n")
        conf = directory / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous false\n"
            f"password_file {passwords}\nacl_file {acl}\nmax_packet_size {max_packet}\n"
            f"persistence false\nuser {_user()}\n"
            f"listener {self.tls_port} 127.0.0.1\ncertfile {cert}\nkeyfile {key}\n"
        )
        self._process = subprocess.Popen(
            [str(MOSQUITTO), "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self._wait()

    def _wait(self) -> None:
        give_up = time.monotonic() + 10
        while not all(reachable(("127.0.0.1", p)) for p in (self.port, self.tls_port)):
            if self._process.poll() is not None or time.monotonic() > give_up:
                raise RuntimeError("the private mosquitto did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the broker (it is this test's own)."""
        self._process.terminate()
        self._process.wait(10)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _user() -> str:
    """Run as ourselves: mosquitto started by root would otherwise drop to 'mosquitto'."""
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name
