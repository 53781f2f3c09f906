"""The ltx-triton command: generate, serve, bench; gRPC and HTTP clients."""
