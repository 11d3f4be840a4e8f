"""ONNX export (``onnx_export``: needs JAX + jax2onnx) and the serving runtime (``runtime``: numpy +
onnxruntime only). Import the submodule you need; this package imports nothing heavy."""
