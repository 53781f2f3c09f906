"""The front proxies `ltx-triton serve` puts before tritonserver: they cap the size of a request's body (HTTP) or
message (gRPC), which tritonserver 2.51 does not, and pass everything else through unchanged."""
