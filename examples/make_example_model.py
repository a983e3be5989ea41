"""Builds the bundled example model: Celsius in, Fahrenheit and Kelvin out.

Small enough to commit (a few KB) and easy to check by eye: 100 °C is 212 °F
and 373.15 K. The batch dimension is dynamic, so any number of readings fits.
Run: ``python examples/make_example_model.py`` (writes examples/models/temperature/1/).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import openvino as ov
import openvino.opset13 as ops


def build() -> ov.Model:
    celsius = ops.parameter([-1], ov.Type.f32, name="celsius")
    fahrenheit = ops.add(ops.multiply(celsius, ops.constant(np.float32(1.8))), ops.constant(np.float32(32.0)))
    kelvin = ops.add(celsius, ops.constant(np.float32(273.15)))
    fahrenheit.output(0).set_names({"fahrenheit"})
    kelvin.output(0).set_names({"kelvin"})
    return ov.Model([ops.result(fahrenheit), ops.result(kelvin)], [celsius], "temperature")


def main(target: Path) -> None:
    folder = target / "1"
    folder.mkdir(parents=True, exist_ok=True)
    ov.save_model(build(), folder / "model.xml", compress_to_fp16=False)
    print(f"wrote {folder / 'model.xml'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "models" / "temperature")
