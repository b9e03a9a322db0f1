"""Training package for DBN: data synthesis, training, evaluation and ONNX export."""
