"""Run a serialized engine on torch CUDA tensors: the ``trt`` backend's inference and ``--check``'s engine half.

GPU only, and not executed where this was written (no GPU TensorRT-RTX can target): it follows
NVIDIA's documented TensorRT 10 / TensorRT-RTX Python API (``deserialize_cuda_engine``,
``set_input_shape``, ``set_tensor_address``, ``execute_async_v3``). torch owns the device memory
and the CUDA streams; TensorRT only reads and writes through the addresses it is given.
"""
from __future__ import annotations

from .flavour import Flavour


class EngineLoadError(RuntimeError):
    """TensorRT would not deserialize the engine (another version, GPU or driver): rebuild it."""


class Engine:
    """A deserialized engine on CUDA GPU ``device``; ``runner()`` gives independent execution contexts."""

    def __init__(self, flavour: Flavour, data: bytes, device: int = 0):
        import torch

        self._torch = torch
        self.device = torch.device("cuda", device)
        trt = flavour.trt
        with torch.cuda.device(self.device):
            torch.empty(0, device=self.device)  # create torch's CUDA context first: TensorRT shares it
            self._runtime = trt.Runtime(flavour.logger)  # must outlive the engine
            self._engine = self._runtime.deserialize_cuda_engine(data)
        if self._engine is None:
            raise EngineLoadError(f"{flavour.label} could not load the engine on {torch.cuda.get_device_name(device)} "
                                  "(built by another version, or for another GPU; its log above says which)")
        names = [self._engine.get_tensor_name(i) for i in range(self._engine.num_io_tensors)]
        modes = {name: self._engine.get_tensor_mode(name) for name in names}
        inputs = [n for n in names if modes[n] == trt.TensorIOMode.INPUT]
        outputs = [n for n in names if modes[n] == trt.TensorIOMode.OUTPUT]
        if len(inputs) != 1 or len(outputs) != 1:
            raise EngineLoadError(f"the engine has inputs {inputs} and outputs {outputs}; a DBN engine has one "
                                  "of each: rebuild it with python -m vs_dvd.trt_build")
        self.input, self.output = inputs[0], outputs[0]

    def runner(self) -> Runner:
        """A new execution context with its own CUDA stream; use each from one thread at a time."""
        return Runner(self)


class Runner:
    """One execution context: the engine reads its input and writes its output in torch CUDA tensors, on the
    caller's current stream (no host round trip, no synchronisation)."""

    def __init__(self, engine: Engine):
        torch = engine._torch
        self._engine, self._torch = engine, torch
        with torch.cuda.device(engine.device):
            self._context = engine._engine.create_execution_context()
        if self._context is None:
            raise RuntimeError(f"TensorRT could not create an execution context on {engine.device} "
                               "(out of GPU memory?); lower num_streams")

    def __call__(self, batch):
        """A 1 x 15 x H x W CUDA tensor (five RGB frames, oldest first) -> the 1 x 3 x H x W float32 output."""
        torch, engine, context = self._torch, self._engine, self._context
        with torch.cuda.device(engine.device):
            stream = torch.cuda.current_stream(engine.device)
            batch = batch.to(engine.device, torch.float32).contiguous()
            if not context.set_input_shape(engine.input, tuple(batch.shape)):
                raise ValueError(f"input of shape {tuple(batch.shape)} is outside the engine's profile; "
                                 "build the engine for this size (trt_build --min-shape/--max-shape)")
            sharp = torch.empty(tuple(context.get_tensor_shape(engine.output)), dtype=torch.float32,
                                device=engine.device)
            context.set_tensor_address(engine.input, batch.data_ptr())
            context.set_tensor_address(engine.output, sharp.data_ptr())
            if not context.execute_async_v3(stream.cuda_stream):
                raise RuntimeError("TensorRT failed to enqueue the engine (its log above says why)")
            return sharp  # torch orders later work on this stream after the engine's
