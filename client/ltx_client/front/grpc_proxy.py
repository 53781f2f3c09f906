"""gRPC front proxy: a message over the limit is refused by gRPC itself (RESOURCE_EXHAUSTED, "Received message
larger than max") before tritonserver sees it; every call is otherwise passed through as raw bytes: unary and
streaming alike, with its metadata, deadline and cancellation, and the upstream status and trailers.

tritonserver accepts gRPC messages up to 2 GB and has no flag to lower that (2.51, and still in 2.6x).
"""
from __future__ import annotations

import grpc
import grpc.aio

# Set by the channel or the transport, never forwarded as metadata.
RESERVED_METADATA = frozenset({"user-agent", "content-type", "te", "host", "grpc-timeout", "grpc-encoding",
                               "grpc-accept-encoding"})
# Never passed on: with `triton_grpc_error: true` tritonserver 2.51 ends a stream at its first error with that
# error's status, and such a refusal beside generations segfaults it now and then (a cancellation race, fixed
# upstream after 2.51: triton-inference-server/server #7840, #8078), every request in flight with it. Without
# the header the error is a message in the stream, which stays open.
DROPPED_METADATA = frozenset({"triton_grpc_error"})
UNLIMITED = -1


def forwarded_metadata(context: grpc.aio.ServicerContext) -> list[tuple[str, str | bytes]]:
    return [(key, value) for key, value in (context.invocation_metadata() or ())
            if not key.startswith(":") and key.lower() not in RESERVED_METADATA | DROPPED_METADATA]


class PassThrough(grpc.GenericRpcHandler):
    """Every method, as a bidirectional stream of raw messages (on the wire a unary call is a stream of one)."""

    def __init__(self, channel: grpc.aio.Channel):
        self.channel = channel

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        method = handler_call_details.method
        channel = self.channel

        async def relay(requests, context: grpc.aio.ServicerContext):
            call = channel.stream_stream(method)(requests, metadata=forwarded_metadata(context),
                                                  timeout=context.time_remaining())
            try:
                async for response in call:
                    yield response
                context.set_trailing_metadata(tuple(await call.trailing_metadata() or ()))
            except grpc.aio.AioRpcError as error:
                details = error.details() or ""
                if error.code() == grpc.StatusCode.UNAVAILABLE and "failed to connect" in details:
                    details = f"tritonserver is not up behind this port (starting, or restarting after a crash): {details}"
                await context.abort(error.code(), details, error.trailing_metadata() or ())
            finally:
                call.cancel()  # a no-op once finished; stops the upstream call when the client cancelled

        return grpc.stream_stream_rpc_method_handler(relay)


def make_server(upstream: str, address: str, limit: int) -> tuple[grpc.aio.Server, grpc.aio.Channel]:
    """A server on `address` relaying to `upstream` (host:port of tritonserver's gRPC endpoint); messages to it are
    at most `limit` bytes, messages from tritonserver any size."""
    # Reconnect backoff at most 0.5 s (gRPC's default grows to 120 s): after a restart of tritonserver (14 s on
    # the tiny model) the channel had backed off, and refused calls for up to a minute after it was ready. (The
    # minimum, also each attempt's connect timeout, keeps its default.)
    channel = grpc.aio.insecure_channel(upstream, options=[("grpc.max_receive_message_length", UNLIMITED),
                                                           ("grpc.max_send_message_length", UNLIMITED),
                                                           ("grpc.initial_reconnect_backoff_ms", 100),
                                                           ("grpc.max_reconnect_backoff_ms", 500)])
    server = grpc.aio.server(options=[("grpc.max_receive_message_length", limit),
                                      ("grpc.max_send_message_length", UNLIMITED)])
    server.add_generic_rpc_handlers((PassThrough(channel),))
    if server.add_insecure_port(address) == 0:
        raise OSError(f"cannot listen on {address}")
    return server, channel
