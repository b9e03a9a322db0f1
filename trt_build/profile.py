"""The input sizes an engine accepts: min <= opt <= max, height x width, each a multiple of 8."""
from __future__ import annotations

from dataclasses import dataclass

from vs_dvd.basics import MULTIPLE, parse_size, round_up


def check_shape(shape: tuple[int, int], what: str = "shape") -> tuple[int, int]:
    """``shape`` as an (h, w) tuple of ints, or a ValueError that names it and the nearest valid one."""
    h, w = (int(v) for v in shape)
    if h <= 0 or w <= 0:
        raise ValueError(f"{what} {h}x{w}: height and width must be positive, e.g. 1088x1920")
    if h % MULTIPLE or w % MULTIPLE:
        raise ValueError(f"{what} {h}x{w}: height and width must be multiples of {MULTIPLE} (the DBN "
                         f"halves them three times); use {round_up(h)}x{round_up(w)}")
    return h, w


def parse_shape(text: str, what: str = "shape") -> tuple[int, int]:
    """``"720x1280"`` -> ``(720, 1280)``: height first, as everywhere in trt_build."""
    try:
        size = parse_size(text)
    except ValueError as e:
        raise ValueError(f"{what} {e}") from None
    return check_shape(size, what)


def format_shape(shape: tuple[int, int]) -> str:
    return f"{shape[0]}x{shape[1]}"


@dataclass(frozen=True)
class Profile:
    """TensorRT's optimisation profile for the N x 15 x H x W input; N is always 1."""

    min: tuple[int, int]
    opt: tuple[int, int]
    max: tuple[int, int]

    def __post_init__(self) -> None:
        for name in ("min", "opt", "max"):
            object.__setattr__(self, name, check_shape(getattr(self, name), f"{name} shape"))
        for axis, label in enumerate(("height", "width")):
            if not self.min[axis] <= self.opt[axis] <= self.max[axis]:
                raise ValueError(f"shape profile min {format_shape(self.min)}, opt {format_shape(self.opt)}, "
                                 f"max {format_shape(self.max)}: the {label}s must satisfy min <= opt <= max; "
                                 "widen --min-shape / --max-shape or change --opt-shape")

    @classmethod
    def static(cls, shape: tuple[int, int]) -> Profile:
        """Exactly one input size: the fastest engine (the plugin's cache builds ranges: backends.trt.profile_for)."""
        return cls(shape, shape, shape)

    @classmethod
    def from_dict(cls, fields: dict) -> Profile:
        """The inverse of ``to_dict``: a sidecar's ``profile`` field; ValueError (or KeyError) when it is not one."""
        return cls(*(tuple(fields[name]) for name in ("min", "opt", "max")))

    def accepts(self, shape: tuple[int, int]) -> bool:
        """Whether an engine with this profile runs inputs of ``shape`` (h, w)."""
        return all(low <= s <= high for low, s, high in zip(self.min, shape, self.max))

    @property
    def is_static(self) -> bool:
        return self.min == self.opt == self.max

    def to_dict(self) -> dict[str, list[int]]:
        """The sidecar's ``profile`` field: ``{"min": [h, w], "opt": [h, w], "max": [h, w]}``."""
        return {"min": list(self.min), "opt": list(self.opt), "max": list(self.max)}

    def __str__(self) -> str:
        if self.is_static:
            return format_shape(self.opt)
        return f"{format_shape(self.min)} to {format_shape(self.max)} (opt {format_shape(self.opt)})"
