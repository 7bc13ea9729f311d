"""The last word on what leaves this process in a span: errors keep their type, not their text,
and requests do not say who sent them.

An error's message can quote a value: PostgreSQL's `invalid input syntax for type integer:
"MRN-7316509"` or `Key (mrn)=(...) already exists`, a parser's complaint about a field.
The instrumentations put that message in the span status and in an `exception` event with
its stack trace (whose last line repeats it). Imported only when tracing is on.
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Status

# What an exception event may keep (semantic conventions); message and stacktrace go.
EXCEPTION_ATTRIBUTES = frozenset({"exception.type", "exception.escaped"})
# Who called: an IP address is a Safe Harbor identifier, and a user agent narrows a person down.
# The request instrumentation records them under old and new convention names.
CALLER_ATTRIBUTES = frozenset(
    {
        "net.peer.ip",
        "net.peer.port",
        "net.sock.peer.addr",
        "net.sock.peer.port",
        "client.address",
        "client.port",
        "network.peer.address",
        "network.peer.port",
        "http.client_ip",
        "http.user_agent",
        "user_agent.original",
    }
)


class RedactingSpanExporter(SpanExporter):
    """Hands spans to `inner` without error messages, stack traces or the caller's address."""

    def __init__(self, inner: SpanExporter) -> None:
        self._inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self._inner.export([_without_error_text(span) for span in spans])

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


def _without_error_text(span: ReadableSpan) -> ReadableSpan:
    """The span without error text, and without who called (see CALLER_ATTRIBUTES)."""
    attributes = span.attributes or {}
    if (
        span.status.description is None
        and not any(event.name == "exception" for event in span.events)
        and CALLER_ATTRIBUTES.isdisjoint(attributes)
    ):
        return span
    events = [
        Event(
            event.name,
            {key: value for key, value in (event.attributes or {}).items() if key in EXCEPTION_ATTRIBUTES},
            event.timestamp,
        )
        if event.name == "exception"
        else event
        for event in span.events
    ]
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes={key: value for key, value in attributes.items() if key not in CALLER_ATTRIBUTES},
        events=events,
        links=span.links,
        kind=span.kind,
        status=Status(span.status.status_code),
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )
