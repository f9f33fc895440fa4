"""Device endpoints beside the core contract: serial-scanner codes, and simulator controls.

The UI owns the camera but not the serial scanner (the core owns every port), so it
collects scanner codes here. The ``/sim`` routes exist only on simulated hardware: they are
the far side of the simulated devices, for the simulator's hardware panel and for tests.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field

router = APIRouter(prefix="/api/v1")


def core(request: Request):
    return request.app.state.core


def simulated(request: Request):
    core = request.app.state.core
    if not (core.hw and core.hw.sim):
        raise HTTPException(404, "not simulated hardware")
    return core


Core = Annotated[object, Depends(core)]
SimCore = Annotated[object, Depends(simulated)]


@router.get("/scanner")
def scanner_codes(core: Core, after: Annotated[int, Query(ge=0)] = 0):
    """Codes the serial scanner read after sequence number ``after`` (newest last)."""
    return {"codes": core.scanned.after(after)}


class TemperatureIn(BaseModel):
    celsius: float = Field(ge=20, le=45)


class ButtonIn(BaseModel):
    action: Literal["press", "release"]


class ScanIn(BaseModel):
    code: str = Field(min_length=1, max_length=512)


class FaultsIn(BaseModel):
    """Faults to switch on (true) or off (false); a field left out stays as it is."""

    thermometer_unplugged: bool | None = None
    modem_silent: bool | None = None


@router.get("/sim/state")
def sim_state(core: SimCore):
    sim, hw = core.hw.sim, core.hw
    return {
        "relays": {name: relay.is_active for name, relay in hw.relays.items()},
        "buzzer": bool(hw.buzzer and hw.buzzer.output.value),
        "buzzer_pattern": hw.buzzer.pattern.steps if hw.buzzer and hw.buzzer.pattern else None,
        "temperature_c": sim.thermometer_bus.object_c,
        "button_pressed": bool(hw.panic_button and hw.panic_button.is_pressed),
        "sms": [{"number": number, "text": text} for number, text in sim.modem.sent[-10:]],
        "faults": _faults(sim),
    }


def _faults(sim) -> dict[str, bool]:
    return {"thermometer_unplugged": sim.thermometer_bus.unplugged,
            "modem_silent": sim.modem.silent}


@router.post("/sim/faults")
def sim_faults(body: FaultsIn, core: SimCore):
    """A loose sensor wire or a modem without power, for as long as a test or a soak needs."""
    sim = core.hw.sim
    if body.thermometer_unplugged is not None:
        sim.thermometer_bus.unplugged = body.thermometer_unplugged
    if body.modem_silent is not None:
        sim.modem.silent = body.modem_silent
    return _faults(sim)


@router.post("/sim/temperature")
def sim_temperature(body: TemperatureIn, core: SimCore):
    core.hw.sim.thermometer_bus.object_c = body.celsius
    return {"temperature_c": body.celsius}


@router.post("/sim/button")
def sim_button(body: ButtonIn, core: SimCore):
    pin = core.settings.panic_button.pin
    if body.action == "press":
        core.hw.sim.press_button(pin)
    else:
        core.hw.sim.release_button(pin)
    return {"pressed": body.action == "press"}


@router.post("/sim/scan")
def sim_scan(body: ScanIn, core: SimCore):
    core.hw.sim.scanner.scan(body.code)
    return {"sent": body.code}
