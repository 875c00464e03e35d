"""The SSRF guard: at subscription time by DNS, at delivery time on the connected socket."""

from __future__ import annotations

import http.server
import threading

import pytest
from sqlalchemy import select

from app.delivery import publishing
from app.extensions import db
from app.models import DeliveryLog, Subscription
from app.sinks.addresses import forbidden, networks
from app.usecases import subscriptions
from tests.receiver import Reply
from tests.support import run_jobs


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "a loopback address"),
        ("::1", "a loopback address"),
        ("10.1.2.3", "a private address"),
        ("172.16.0.9", "a private address"),
        ("192.168.1.1", "a private address"),
        ("100.64.0.1", "a private address"),
        ("169.254.169.254", "a cloud metadata address"),
        ("fd00:ec2::254", "a cloud metadata address"),
        ("169.254.1.1", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("::ffff:10.0.0.1", "a private address"),
        ("0.0.0.0", "a reserved address"),
        ("224.0.0.1", "a multicast address"),
        ("93.184.216.34", None),
        ("2606:4700::1", None),
    ],
)
def test_address_policy(address, why):
    assert forbidden(address, ()) == why


def test_allowed_networks_open_a_hole():
    assert forbidden("10.1.2.3", networks(["10.0.0.0/8"])) is None
    with pytest.raises(ValueError, match="not a CIDR"):
        networks(["ten"])


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/x", "http://localhost/x", "http://[::1]/x", "http://10.0.0.1/x"]
)
def test_subscribing_to_a_private_address_is_refused(ctx, url):
    ctx.config["DELIVERY_ALLOWED_NETWORKS"] = []
    with pytest.raises(subscriptions.SubscriptionError, match="DELIVERY_ALLOWED_NETWORKS"):
        subscriptions.create("example.event", url, "t")


def test_delivery_time_check_catches_what_dns_now_says(app, receiver):
    """A host that passed at subscription time but now resolves inside is refused, permanently."""
    from app import create_app

    with app.app_context():
        url = receiver.route("/inside").replace("127.0.0.1", "localhost")
        subscriptions.create("example.event", url, "t")  # allowed while the config allows loopback
    strict = create_app({**_config(app), "DELIVERY_ALLOWED_NETWORKS": []})
    with strict.app_context():
        publishing.publish("example.event", {})
        run_jobs(strict)
        (row,) = db.session.scalars(select(DeliveryLog)).all()
        assert not row.success and not row.retryable
        assert "refused to deliver to 127.0.0.1: a loopback address" in row.response_data
    assert receiver.received("/inside") == []


def test_a_redirect_into_a_forbidden_network_is_refused(ctx, receiver, jobs):
    hits: list[str] = []

    class Inside(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    inside = http.server.ThreadingHTTPServer(("127.0.0.2", 0), Inside)
    threading.Thread(target=inside.serve_forever, daemon=True).start()
    try:
        target = f"http://127.0.0.2:{inside.server_address[1]}/secret"
        ctx.config["DELIVERY_ALLOWED_NETWORKS"] = ["127.0.0.1/32"]
        url = receiver.route("/bounce", Reply(307, headers={"Location": target}))
        db.session.add(
            Subscription(
                event_name="example.event",
                recipient_url=url,
                verification_token="t",
                status=True,
                sink="http",
                store_id=0,
            )
        )
        db.session.commit()
        from app import sinks

        sinks.init_app(ctx)  # rebuild the sink with the stricter allow-list
        publishing.publish("example.event", {})
        jobs()
        (row,) = db.session.scalars(select(DeliveryLog)).all()
        assert not row.success and "127.0.0.2: a loopback address" in row.response_data
        assert hits == []
    finally:
        inside.shutdown()


def _config(app) -> dict:
    keys = (
        "TESTING",
        "INSTANCE_PATH",
        "SQLALCHEMY_DATABASE_URI",
        "REDIS_URL",
        "TOKEN_ENCRYPTION_KEYS",
    )
    return {k: app.config[k] for k in keys}
