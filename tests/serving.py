"""Helpers of the serving tests: typed gRPC/HTTP calls that return the server's status, not just raise."""
from __future__ import annotations

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException


def grpc_inputs(arrays: dict[str, tuple[np.ndarray, str]]) -> list:
    inputs = []
    for name, (array, data_type) in arrays.items():
        tensor = grpcclient.InferInput(name, list(array.shape), data_type)
        tensor.set_data_from_numpy(array)
        inputs.append(tensor)
    return inputs


def grpc_unary(url: str, arrays: dict[str, tuple[np.ndarray, str]], parameters: dict | None = None, model: str = "pipeline_unary"):
    """(result, None) or (None, (status, message))."""
    client = grpcclient.InferenceServerClient(url)
    try:
        return client.infer(model, grpc_inputs(arrays), parameters=parameters, client_timeout=600), None
    except InferenceServerException as error:
        return None, (error.status(), error.message())
    finally:
        client.close()


def http_unary(url: str, arrays: dict[str, tuple[np.ndarray, str]], parameters: dict | None = None, model: str = "pipeline_unary"):
    client = httpclient.InferenceServerClient(url, network_timeout=600)
    inputs = []
    for name, (array, data_type) in arrays.items():
        tensor = httpclient.InferInput(name, list(array.shape), data_type)
        tensor.set_data_from_numpy(array, binary_data=True)
        inputs.append(tensor)
    try:
        return client.infer(model, inputs, parameters=parameters), None
    except InferenceServerException as error:
        return None, (error.status(), error.message())
    finally:
        client.close()


def text(value: str | bytes) -> tuple[np.ndarray, str]:
    return np.array([value.encode("utf-8") if isinstance(value, str) else value], dtype=np.object_), "BYTES"


def int32(*values: int) -> tuple[np.ndarray, str]:
    return np.array(values, dtype=np.int32), "INT32"
