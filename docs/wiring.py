"""Draw the kiosk's wiring diagram, docs/wiring.png, from the pins in the config.

    python docs/wiring.py                                   # the defaults -> docs/wiring.png
    python docs/wiring.py --config /etc/kiosk/kiosk.toml --out site-wiring.png

The pins are not copied here: they come from :mod:`kiosk.config`, loaded the way the kiosk
loads them (no ``--config``: the built-in defaults), and the I2C and UART pins from the same
constants the config checks use. So the picture follows the defaults, or a site's own file.

What was drawn is also stored in the PNG as JSON (text chunk ``wiring``): every wire with its
physical pin, BCM GPIO, device, terminal, colour and a point on the wire near the pin.
tests/test_wiring_doc.py checks it against the settings and against the pixels.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, PngImagePlugin

from kiosk import config
from kiosk.config.settings import I2C1_PINS, UART_PINS, UART_PORTS
from kiosk.fonts import unicode_font

OUT = Path(__file__).resolve().parent / "wiring.png"

# The 40-pin header of every Raspberry Pi since the B+: physical pin -> BCM GPIO number, or
# the supply on that pin.
HEADER: dict[int, int | str] = {
    1: "3V3", 2: "5V", 3: 2, 4: "5V", 5: 3, 6: "GND", 7: 4, 8: 14, 9: "GND", 10: 15,
    11: 17, 12: 18, 13: 27, 14: "GND", 15: 22, 16: 23, 17: "3V3", 18: 24, 19: 10, 20: "GND",
    21: 9, 22: 25, 23: 11, 24: 8, 25: "GND", 26: 7, 27: 0, 28: 1, 29: 5, 30: "GND",
    31: 6, 32: 12, 33: 13, 34: "GND", 35: 19, 36: 16, 37: 26, 38: 20, 39: "GND", 40: 21,
}
SUPPLY_NAMES = {"3V3": "3.3 V", "5V": "5 V", "GND": "GND"}
FUNCTIONS = {I2C1_PINS[0]: "SDA", I2C1_PINS[1]: "SCL", UART_PINS[0]: "TXD", UART_PINS[1]: "RXD"}

# Canvas, in pixels: 1600 wide, so that at README width (about 900 px) 24 px text stays legible.
WIDTH = 1600
PITCH = 46  # between two header rows
CX = WIDTH // 2
HEADER_HALF = 62  # half the header's width
TAG_GAP, TAG_W = 10, 162
LANE = 24  # between two parallel wires
BOX_W = 400  # a device, at most
MARGIN = 24
WIRE, HALO, HOP, DOT = 6, 14, 10, 8

WHITE, INK, GREY, PALE = (255, 255, 255), (33, 33, 33), (140, 140, 140), (244, 244, 240)
HEADER_INK = (40, 40, 40)
SUPPLY_COLOURS = {"5V": (211, 47, 47), "3V3": (239, 108, 0), "GND": INK}
SDA_COLOUR, SCL_COLOUR = (25, 103, 210), (123, 31, 162)
TXD_COLOUR, RXD_COLOUR = (130, 119, 23), (84, 110, 122)
BUZZER_COLOUR, BUTTON_COLOUR = (216, 27, 96), (0, 151, 167)
CABLE = (150, 150, 150)
RELAY_COLOURS = [(46, 125, 50), (121, 85, 72), (0, 105, 92), (93, 64, 55), (51, 105, 30)]


def row(pin: int) -> int:
    """The header row of a physical pin, 1 (pins 1 and 2) to 20 (pins 39 and 40)."""
    return (pin + 1) // 2


def side(pin: int) -> str:
    """Odd pins are on the row nearer the board's centre, drawn on the left."""
    return "left" if pin % 2 else "right"


def physical(bcm: int) -> int:
    """The physical pin that carries BCM GPIO ``bcm``."""
    return next(pin for pin, name in HEADER.items() if name == bcm)


def pin_name(pin: int) -> str:
    name = HEADER[pin]
    if isinstance(name, str):
        return SUPPLY_NAMES[name]
    return f"GPIO{name} {FUNCTIONS[name]}" if name in FUNCTIONS else f"GPIO{name}"


@dataclass(eq=False)
class Net:
    """One wire (or a wire that splits) from one header pin."""

    pin: int
    colour: tuple[int, int, int]
    legend: str
    role: str  # what it is for, e.g. "relays.lights", "thermometer.sda", "supply.GND"
    optional: bool = False
    terminals: list[Terminal] = field(default_factory=list)


@dataclass(eq=False)
class Terminal:
    label: str
    net: Net
    device: Device | None = None
    edge: str = "inner"  # facing the header, or "outer"
    y: float = 0.0

    @property
    def x(self) -> float:
        return self.device.edge_x(self.edge)


@dataclass(eq=False)
class Device:
    title: str
    lines: list[str]
    side: str
    terminals: list[Terminal] = field(default_factory=list)
    symbol: str = ""
    optional: bool = False
    footer: list[str] = field(default_factory=list)  # drawn where the box has room
    top: float = 0.0
    bottom: float = 0.0
    left: float = 0.0
    width: float = BOX_W

    def edge_x(self, edge: str) -> float:
        right = (edge == "inner") == (self.side == "left")
        return self.left + self.width if right else self.left

    def anchor(self) -> float:
        rows = [row(t.net.pin) for t in self.terminals
                if t.net.role.split(".")[0] != "supply" and side(t.net.pin) == self.side]
        return sum(rows) / len(rows) if rows else 10.0


@dataclass
class Plan:
    nets: list[Net]
    devices: list[Device]
    usb: list[tuple[str, list[str], bool]]  # (title, lines, optional) plugged into USB
    notes: list[str]
    source: str


# ------------------------------------------------------------------------------------------
# What connects to what, from the settings


def plan(settings: config.Settings, source: str) -> Plan:
    nets: list[Net] = []
    devices: list[Device] = []

    def wire(device: Device, label: str, net: Net) -> None:
        terminal = Terminal(label, net, device)
        net.terminals.append(terminal)
        device.terminals.append(terminal)
        if net not in nets:
            nets.append(net)

    relays = [(name, relay) for name, relay in settings.relays.items() if relay.enabled]
    if relays:
        high = [f"IN{n}" for n, (_, relay) in enumerate(relays, start=1) if relay.active_high]
        kinds = (["active-low"] if not high else ["active-high"] if len(high) == len(relays)
                 else ["active-low, but", f"{', '.join(high)} active-high"])
        board = Device("Relay board", kinds,
                       side=_majority([physical(r.pin) for _, r in relays]))
        for n, (name, relay) in enumerate(relays, start=1):
            colour = RELAY_COLOURS[(n - 1) % len(RELAY_COLOURS)]
            net = Net(physical(relay.pin), colour, f"{name} relay, IN{n} (GPIO{relay.pin})",
                      f"relays.{name}")
            wire(board, f"IN{n} {name}", net)
        _supply(board, "VCC", "5V")
        _supply(board, "GND", "GND")
        board.footer = [f"K{n}: {_LOADS.get(name, name)}" for n, (name, _) in
                        enumerate(relays, start=1)]
        devices.append(board)
    if settings.buzzer.enabled:
        b = settings.buzzer
        if b.active_high:
            buzzer = Device("Alarm buzzer", ["5 V buzzer, NPN:", "see Buzzer stage"],
                            side=side(physical(b.pin)), symbol="npn")
            wire(buzzer, "1 kΩ → B", Net(physical(b.pin), BUZZER_COLOUR,
                                         f"buzzer (GPIO{b.pin})", "buzzer"))
            _supply(buzzer, "buzzer +", "5V")
            _supply(buzzer, "E", "GND")
        else:
            buzzer = Device("Siren relay", ["active-low input"], side=side(physical(b.pin)))
            wire(buzzer, "IN", Net(physical(b.pin), BUZZER_COLOUR, f"siren relay (GPIO{b.pin})",
                                   "buzzer"))
            _supply(buzzer, "VCC", "5V")
            _supply(buzzer, "GND", "GND")
        devices.append(buzzer)
    if settings.panic_button.enabled:
        p = settings.panic_button
        button = Device("Panic button", ["normally open, to GND", "(internal pull-up)"],
                        side=side(physical(p.pin)), symbol="button")
        wire(button, "switch", Net(physical(p.pin), BUTTON_COLOUR,
                                   f"panic button (GPIO{p.pin})", "panic_button"))
        _supply(button, "switch", "GND")
        devices.append(button)
    t = settings.thermometer
    if t.enabled and t.bus == 1:
        sda, scl = (physical(pin) for pin in I2C1_PINS)
        mlx = Device("MLX90614", ["thermometer, GY-906", f"I2C address {t.address:#04x}"],
                     side=_majority([sda, scl]))
        wire(mlx, "SDA", Net(sda, SDA_COLOUR, f"I2C SDA (GPIO{I2C1_PINS[0]})",
                             "thermometer.sda"))
        wire(mlx, "SCL", Net(scl, SCL_COLOUR, f"I2C SCL (GPIO{I2C1_PINS[1]})",
                             "thermometer.scl"))
        _supply(mlx, "VIN", "3V3")
        _supply(mlx, "GND", "GND")
        devices.append(mlx)

    # The GPIO UART takes one serial device; the other one (or both) goes on USB.
    usb: list[tuple[str, list[str], bool]] = []
    if settings.camera.enabled:
        device = settings.camera.device
        node = f"/dev/video{device}" if isinstance(device, int) else device
        usb.append(("USB camera (UVC)", [f"any USB port: {node}"], False))
    scanner, modem = settings.scanner.port, settings.modem.port
    on_uart = "modem" if modem in UART_PORTS and scanner not in UART_PORTS else "scanner"
    if on_uart == "scanner" and (not scanner or scanner in UART_PORTS):
        txd, rxd = (physical(pin) for pin in UART_PINS)
        optional = not scanner
        gm65 = Device("GM65 QR scanner", ["optional" if optional else "on the UART",
                                          f"port {scanner or '/dev/serial0'}",
                                          f"{settings.scanner.baudrate} baud, 3.3 V logic"],
                      side=_majority([txd, rxd]), optional=optional)
        wire(gm65, "RX", Net(txd, TXD_COLOUR, f"UART TXD (GPIO{UART_PINS[0]}) → scanner RX",
                             "scanner.rx", optional))
        wire(gm65, "TX", Net(rxd, RXD_COLOUR, f"UART RXD (GPIO{UART_PINS[1]}) ← scanner TX",
                             "scanner.tx", optional))
        _supply(gm65, "5 V", "5V", optional)
        _supply(gm65, "GND", "GND", optional)
        devices.append(gm65)
    elif scanner:
        usb.append(("QR scanner", [f"USB: {scanner}"], False))
    if on_uart == "modem":
        txd, rxd = (physical(pin) for pin in UART_PINS)
        sim800 = Device("SIM800 modem", ["own 5 V 2 A supply,", "ground shared"],
                        side=_majority([txd, rxd]))
        wire(sim800, "RXD", Net(txd, TXD_COLOUR, f"UART TXD (GPIO{UART_PINS[0]}) → modem RXD",
                                "modem.rx"))
        wire(sim800, "TXD", Net(rxd, RXD_COLOUR, f"UART RXD (GPIO{UART_PINS[1]}) ← modem TXD",
                                "modem.tx"))
        _supply(sim800, "GND", "GND")
        devices.append(sim800)
    else:
        usb.append(("SIM800 GSM modem", ["USB serial: " + (modem or "/dev/ttyUSB0"),
                                         "own 5 V 2 A supply"], not modem))

    _assign_supplies(devices, nets)
    outputs = [relay for _, relay in relays] + ([settings.buzzer] if settings.buzzer.enabled
                                                 else [])
    held_high = sorted(o.pin for o in outputs if not o.active_high)
    held_low = sorted(o.pin for o in outputs if o.active_high)
    held = " and ".join(part for part in (
        held_high and f"GPIO{','.join(map(str, held_high))} high",
        held_low and f"GPIO{','.join(map(str, held_low))} low") if part)
    notes = [
        ("Active-low relay inputs switch on when the pin is low. " if held_high else "")
        + f"config.txt (written by install.sh) holds {held} from power-on, so nothing clicks "
        "while the Pi boots." if held else "",
        "Relay contacts: lights through their contactor; the gate lock on NO or NC as the "
        "site decides (fail-secure or fail-safe). Mains wiring: an electrician.",
        "GPIO pins take 3.3 V only: never 5 V into a pin. The modem has its own 5 V 2 A "
        "supply, never the Pi's pins.",
        "Then check every device: kiosk doctor --relays --buzzer",
    ]
    return Plan(nets, devices, usb, [n for n in notes if n], source)


_LOADS = {"lights": "lights contactor", "gate_lock": "gate lock, NO or NC"}


def _majority(pins: list[int]) -> str:
    left = sum(1 for pin in pins if side(pin) == "left")
    return "left" if left * 2 >= len(pins) else "right"


def _supply(device: Device, label: str, kind: str, optional: bool | None = None) -> None:
    """Note that ``device`` needs ``kind``; the pin is chosen by :func:`_assign_supplies`."""
    device.terminals.append(Terminal(label, Net(0, SUPPLY_COLOURS[kind], kind,
                                                f"supply.{kind}",
                                                device.optional if optional is None
                                                else optional), device))


def _assign_supplies(devices: list[Device], nets: list[Net]) -> None:
    """Give each supply terminal a pin, device by device from the top of the header.

    A device takes the free pin nearest its own pins, on its side of the header if it can
    (a wire from the other side has to go over the top). With more needs than pins (5 V
    has two) a wire is shared, drawn as one that splits, preferably with a device on the
    same side.
    """
    supplies = {kind: [pin for pin, name in HEADER.items() if name == kind]
                for kind in SUPPLY_COLOURS}
    used: dict[int, Net] = {}
    for device in sorted(devices, key=Device.anchor):
        anchor = device.anchor()
        for terminal in device.terminals:
            if terminal.net.pin:
                continue
            kind = terminal.net.role.split(".")[1]

            def cost(pin: int, device=device, anchor=anchor) -> float:
                value = abs(row(pin) - anchor) + (0 if side(pin) == device.side else 15)
                if pin in used:
                    value += 100 - (10 if any(t.device.side == device.side
                                              for t in used[pin].terminals) else 0)
                return value

            pin = min(supplies[kind], key=cost)
            if pin in used:
                terminal.net = used[pin]
                terminal.net.optional = terminal.net.optional and device.optional
            else:
                terminal.net.pin = pin
                terminal.net.legend = SUPPLY_NAMES[kind]
                used[pin] = terminal.net
                nets.append(terminal.net)
            terminal.net.terminals.append(terminal)


# ------------------------------------------------------------------------------------------
# Where everything goes

TITLE_H = 38  # a device's title
LINE_H = 28  # each line under it
GAP = 10  # between two devices on one side, at least
PAD = 17  # above the first and below the last terminal facing the header


@dataclass
class Geometry:
    header_top: float
    tracks_top: float = 0.0


def pin_y(geo: Geometry, pin: int) -> float:
    return geo.header_top + PITCH * (row(pin) - 0.5)


def tag_edge(pin: int) -> float:
    """Where a wire leaves the pin's name tag, on the outer side."""
    offset = HEADER_HALF + TAG_GAP + TAG_W
    return CX - offset if side(pin) == "left" else CX + offset


def head_h(device: Device) -> float:
    return TITLE_H + LINE_H * len(device.lines) + 12


def place(plan_: Plan, geo: Geometry) -> None:
    """Put each device beside its pins, top to bottom on each side, and decide its edges.

    A terminal faces the header (inner edge) when its pin is on that side and near the
    device's other pins; it then sits level with its pin where it can, so the wire is
    straight. Otherwise its wire goes round the outside (outer edge), which crosses fewer
    wires; an outer wire from a pin on the same side leaves the header at the pin's height,
    so that height must be free of devices, or the terminal turns inward after all.
    """
    forced: set[int] = set()
    for _ in range(10):
        changed = False
        for which in ("left", "right"):
            column = sorted((d for d in plan_.devices if d.side == which), key=Device.anchor)
            _stack(geo, column, forced)
            for device in column:
                for terminal in device.terminals:
                    if (terminal.edge == "outer" and side(terminal.net.pin) == which
                            and _blocked(column, pin_y(geo, terminal.net.pin))):
                        forced.add(id(terminal))
                        changed = True
        if not changed:
            return


def _stack(geo: Geometry, column: list[Device], forced: set[int]) -> None:
    floor = -1e9
    for device in column:
        anchor = device.anchor()
        for terminal in device.terminals:
            near = side(terminal.net.pin) == device.side and abs(
                row(terminal.net.pin) - anchor) <= 3
            terminal.edge = "inner" if near or id(terminal) in forced else "outer"
        inner = sorted((t for t in device.terminals if t.edge == "inner"),
                       key=lambda t: row(t.net.pin))
        outer = sorted((t for t in device.terminals if t.edge == "outer"), key=_from_above)
        y = -1e9
        for terminal in inner:
            y = max(pin_y(geo, terminal.net.pin), y + PITCH, floor + PAD)
            terminal.y = y
        if inner:
            device.top = inner[0].y - PAD
        else:
            device.top = max(floor, geo.header_top + PITCH * (anchor - 1))
        for n, terminal in enumerate(outer):
            terminal.y = device.top + head_h(device) + PITCH * (n + 0.5)
        device.bottom = max([device.top + head_h(device) + PITCH * len(outer) + 6]
                            + [t.y + PAD for t in inner])
        floor = device.bottom + GAP


def _from_above(terminal: Terminal) -> tuple[int, int]:
    """Outer wires coming over the top first, then the others by the height of their pin."""
    return (side(terminal.net.pin) == terminal.device.side, row(terminal.net.pin))


def _blocked(column: list[Device], y: float) -> bool:
    return any(d.top - 6 <= y <= d.bottom + 6 for d in column)


def size_boxes(plan_: Plan, order: dict) -> None:
    """Each side's boxes between the inner lanes and the outer lanes, as wide as fits."""
    for which in ("left", "right"):
        inner = LANE * (len(order[(which, "inner")]) + 1) + 8
        outer = LANE * (len(order[(which, "outer")]) + 1) + MARGIN
        room = abs(tag_edge(1 if which == "left" else 2) - (0 if which == "left" else WIDTH))
        width = min(BOX_W, room - inner - outer)
        for device in plan_.devices:
            if device.side != which:
                continue
            device.width = width
            device.left = (tag_edge(1) - inner - width if which == "left"
                           else tag_edge(2) + inner)


# ------------------------------------------------------------------------------------------
# Routing: every wire is horizontal and vertical segments


@dataclass(eq=False)
class Segment:
    net: Net
    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def horizontal(self) -> bool:
        return self.y1 == self.y2


def _parts(geo: Geometry, net: Net) -> tuple[list, list, list, bool]:
    """A net's terminals: inner and outer on its pin's side, across, and if it is straight."""
    here = side(net.pin)
    inner = [t for t in net.terminals if t.device.side == here and t.edge == "inner"]
    outer = [t for t in net.terminals if t.device.side == here and t.edge == "outer"]
    across = [t for t in net.terminals if t.device.side != here]
    straight = (len(inner) == 1 and not outer and not across
                and inner[0].y == pin_y(geo, net.pin))
    return inner, outer, across, straight


def lane_groups(plan_: Plan, geo: Geometry) -> dict[tuple[str, str], list[Net]]:
    """The nets that need a lane: (side, "inner"/"outer") beside the boxes, ("top", "top")."""
    groups: dict[tuple[str, str], list[Net]] = {
        (s, z): [] for s in ("left", "right") for z in ("inner", "outer")}
    groups[("top", "top")] = []
    for net in plan_.nets:
        here = side(net.pin)
        inner, outer, across, straight = _parts(geo, net)
        if (inner or across) and not straight:
            groups[(here, "inner")].append(net)
        if outer:
            groups[(here, "outer")].append(net)
        if across:
            groups[("top", "top")].append(net)
            groups[(across[0].device.side, "outer")].append(net)
    return groups


def route(plan_: Plan, geo: Geometry, order: dict) -> list[Segment]:
    """Every wire's segments, with the lanes taken in ``order`` (group -> nets)."""
    segments: list[Segment] = []

    def lane_x(which: str, zone: str, net: Net) -> float:
        n = order[(which, zone)].index(net) + 1
        if zone == "inner":
            return tag_edge(1) - LANE * n if which == "left" else tag_edge(2) + LANE * n
        column = [d for d in plan_.devices if d.side == which]
        if which == "left":
            return min(d.left for d in column) - LANE * n
        return max(d.left + d.width for d in column) + LANE * n

    def add(net: Net, *points: tuple[float, float]) -> None:
        for (x1, y1), (x2, y2) in itertools.pairwise(points):
            if (x1, y1) != (x2, y2):
                segments.append(Segment(net, x1, y1, x2, y2))

    for net in plan_.nets:
        here = side(net.pin)
        py, te = pin_y(geo, net.pin), tag_edge(net.pin)
        inner, outer, across, straight = _parts(geo, net)
        if straight:
            add(net, (te, py), (inner[0].x, py))
            continue
        if inner or across:
            x = lane_x(here, "inner", net)
            track = geo.tracks_top - LANE * order[("top", "top")].index(net) if across else None
            ys = [py] + [t.y for t in inner] + ([track] if across else [])
            add(net, (te, py), (x, py))
            add(net, (x, min(ys)), (x, max(ys)))
            for terminal in inner:
                add(net, (x, terminal.y), (terminal.x, terminal.y))
            if across:
                far = lane_x(across[0].device.side, "outer", net)
                add(net, (x, track), (far, track), (far, max(t.y for t in across)))
                for terminal in across:
                    add(net, (far, terminal.y), (terminal.x, terminal.y))
        if outer:
            x = lane_x(here, "outer", net)
            ys = [py] + [t.y for t in outer]
            add(net, (te, py), (x, py))
            add(net, (x, min(ys)), (x, max(ys)))
            for terminal in outer:
                add(net, (x, terminal.y), (terminal.x, terminal.y))
    return segments


def crossings(segments: list[Segment]) -> list[tuple[Segment, float]]:
    """Each horizontal segment with the x where another wire's vertical crosses it."""
    found = []
    verticals = [s for s in segments if not s.horizontal]
    for h in (s for s in segments if s.horizontal):
        lo, hi = sorted((h.x1, h.x2))
        for v in verticals:
            top, bottom = sorted((v.y1, v.y2))
            if v.net is not h.net and lo < v.x1 < hi and top < h.y1 < bottom:
                found.append((h, v.x1))
    return found


def optimise(plan_: Plan, geo: Geometry) -> tuple[dict, list[Segment]]:
    """Lane orders with the fewest crossings: every order of each group in turn."""
    order = lane_groups(plan_, geo)
    size_boxes(plan_, order)
    best = route(plan_, geo, order)
    score = len(crossings(best))
    for _ in range(3):
        for key, nets in order.items():
            if not 2 <= len(nets) <= 6:
                continue
            for candidate in itertools.permutations(nets):
                trial = {**order, key: list(candidate)}
                segments = route(plan_, geo, trial)
                if len(crossings(segments)) < score:
                    order, best, score = trial, segments, len(crossings(segments))
    return order, best


# ------------------------------------------------------------------------------------------
# Drawing


class Fonts:
    def __init__(self) -> None:
        path = str(unicode_font())
        self.title = ImageFont.truetype(path, 44)
        self.big = ImageFont.truetype(path, 28)
        self.text = ImageFont.truetype(path, 24)
        self.small = ImageFont.truetype(path, 22)


def render(plan_: Plan) -> tuple[Image.Image, list[dict]]:
    fonts = Fonts()
    geo = Geometry(header_top=0.0)
    place(plan_, geo)
    tops = [d.top for d in plan_.devices] + [-PITCH / 2]
    geo.tracks_top = min(tops) - 34
    order, segments = optimise(plan_, geo)
    highest = geo.tracks_top - LANE * max(len(order[("top", "top")]) - 1, 0)
    dy = 150 - highest  # room for the title
    geo.header_top += dy
    geo.tracks_top += dy
    for device in plan_.devices:
        device.top += dy
        device.bottom += dy
        for terminal in device.terminals:
            terminal.y += dy
    for segment in segments:
        segment.y1 += dy
        segment.y2 += dy

    image = Image.new("RGB", (WIDTH, 4000), WHITE)
    draw = ImageDraw.Draw(image)
    draw.text((MARGIN, 24), "Gatehouse kiosk: wiring", font=fonts.title, fill=INK,
              stroke_width=1, stroke_fill=INK)
    draw.text((MARGIN, 84), plan_.source, font=fonts.text, fill=(90, 90, 90))
    _draw_header(draw, geo, plan_, fonts)
    for device in plan_.devices:
        _draw_device(draw, device, fonts)
    _draw_wires(draw, segments)
    _draw_tags(draw, geo, plan_, fonts)
    for device in plan_.devices:
        _draw_terminals(draw, device, fonts)
    bottom = max([pin_y(geo, 39) + PITCH / 2 + 8] + [d.bottom for d in plan_.devices]
                 + [max(s.y1, s.y2) for s in segments])
    right = [d for d in plan_.devices if d.side == "right"]
    inset_at = (max(d.bottom for d in right) + 40) if right else None
    npn = next((d for d in plan_.devices if d.symbol == "npn"), None)
    if npn:
        gpio = pin_name(npn.terminals[0].net.pin) + f" (pin {npn.terminals[0].net.pin})"
        if inset_at is not None and inset_at + 280 < bottom:
            _draw_buzzer_stage(draw, min(right[0].left, WIDTH - 460), inset_at, gpio, fonts)
        else:
            bottom = _draw_buzzer_stage(draw, CX - 200, bottom + 30, gpio, fonts)
    y = _draw_usb(draw, plan_, bottom + 40, fonts)
    y = _draw_legend(draw, plan_, y + 30, fonts)
    y = _draw_notes(draw, plan_, y + 16, fonts)
    image = image.crop((0, 0, WIDTH, int(y + 24)))

    drawn = []
    for net in plan_.nets:
        name = HEADER[net.pin]
        probe_x = tag_edge(net.pin) + (-12 if side(net.pin) == "left" else 12)
        drawn.append({
            "pin": net.pin, "bcm": name if isinstance(name, int) else None,
            "supply": name if isinstance(name, str) else None, "role": net.role,
            "optional": net.optional, "colour": list(net.colour),
            "terminals": [f"{t.device.title}: {t.label}" for t in net.terminals],
            "probe": [round(probe_x), round(pin_y(geo, net.pin))],
        })
    return image, drawn


def _draw_header(draw, geo: Geometry, plan_: Plan, fonts: Fonts) -> None:
    top = geo.header_top
    draw.rounded_rectangle((CX - HEADER_HALF, top - 10, CX + HEADER_HALF, top + PITCH * 20 + 10),
                           14, fill=HEADER_INK)
    used = {net.pin for net in plan_.nets}
    for pin in HEADER:
        x, y = (CX - 20 if side(pin) == "left" else CX + 20), pin_y(geo, pin)
        colour = (236, 196, 64) if pin in used else (120, 120, 120)
        shape = draw.rectangle if pin == 1 else draw.ellipse  # pin 1 has the square pad
        shape((x - 11, y - 11, x + 11, y + 11), fill=colour)
        number = str(pin)
        width = draw.textlength(number, font=fonts.small)
        nx = CX - 36 - width if side(pin) == "left" else CX + 36
        draw.text((nx, y - 13), number, font=fonts.small, fill=WHITE)
    caption = "Raspberry Pi header (pin 1: square pad)"
    draw.text((CX - draw.textlength(caption, font=fonts.small) / 2, top - 44), caption,
              font=fonts.small, fill=INK)


def _draw_tags(draw, geo: Geometry, plan_: Plan, fonts: Fonts) -> None:
    colours = {net.pin: net.colour for net in plan_.nets}
    for pin in HEADER:
        y, edge = pin_y(geo, pin), tag_edge(pin)
        left = edge if side(pin) == "left" else edge - TAG_W
        label = pin_name(pin)
        if pin in colours:
            draw.rounded_rectangle((left, y - 18, left + TAG_W, y + 18), 10, fill=colours[pin])
            font = fonts.text
            if draw.textlength(label, font=font) > TAG_W - 16:
                font = fonts.small
            width = draw.textlength(label, font=font)
            draw.text((left + (TAG_W - width) / 2, y - font.size * 0.62), label, font=font,
                      fill=WHITE, stroke_width=1, stroke_fill=colours[pin])
        else:
            width = draw.textlength(label, font=fonts.small)
            draw.text((left + (TAG_W - width) / 2, y - 13), label, font=fonts.small,
                      fill=(150, 150, 150))


def _label_zone(device: Device, fonts: Fonts) -> float:
    """Width of the strip along the inner edge where terminal labels (or a symbol) go."""
    if device.symbol == "button":
        return 84
    labels = [t.label for t in device.terminals if t.edge == "inner"]
    dummy = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    return max([dummy.textlength(label, font=fonts.small) for label in labels] + [0]) + 24


def _draw_device(draw, device: Device, fonts: Fonts) -> None:
    left, right = device.left, device.left + device.width
    draw.rounded_rectangle((left, device.top, right, device.bottom), 16, fill=PALE,
                           outline=GREY if device.optional else INK, width=3)
    zone = _label_zone(device, fonts)
    x = left + 16 if device.side == "left" else left + zone + 12
    if device.side == "left":
        limit = right - zone - 4
    else:
        limit = right - 12
    draw.text((x, device.top + 8), device.title, font=fonts.big, fill=INK, stroke_width=1,
              stroke_fill=INK)
    for n, line in enumerate(device.lines):
        draw.text((x, device.top + TITLE_H + 8 + n * LINE_H), line, font=fonts.small,
                  fill=(70, 70, 70))
    widest = max([draw.textlength(device.title, font=fonts.big)]
                 + [draw.textlength(line, font=fonts.small) for line in device.lines])
    if x + widest > limit + 1:
        print(f"wiring.py: {device.title}: its text is {x + widest - limit:.0f} px too wide for "
              "the box", file=sys.stderr)
    if device.symbol == "button":
        _draw_button(draw, device)
    _draw_footer(draw, device, fonts)


def _draw_footer(draw, device: Device, fonts: Fonts) -> None:
    """The footer lines, across the box below its last outer terminal, if they fit there."""
    outer = [t.y for t in device.terminals if t.edge == "outer"]
    top = max(outer + [device.top + head_h(device) - PITCH / 2]) + PITCH / 2 + 4
    labels = [t.y for t in device.terminals if t.edge == "inner" and t.y > top]
    bottom = min(labels + [device.bottom]) - 20
    if not device.footer or top + LINE_H * len(device.footer) > bottom:
        return
    for n, line in enumerate(device.footer):
        draw.text((device.left + 16, top + n * LINE_H), line, font=fonts.small, fill=(70, 70, 70))


def _draw_button(draw, device: Device) -> None:
    """A push button between the two terminals, in the label strip."""
    a, b = sorted(device.terminals, key=lambda t: t.y)
    x = a.x + (42 if device.side == "right" else -42)
    for terminal in (a, b):
        draw.line((terminal.x, terminal.y, x, terminal.y), fill=INK, width=3)
        draw.ellipse((x - 7, terminal.y - 7, x + 7, terminal.y + 7), outline=INK, width=3,
                     fill=WHITE)
    lever = x + (20 if device.side == "right" else -20)
    mid = (a.y + b.y) / 2
    draw.line((lever, a.y - 6, lever, b.y + 6), fill=INK, width=4)
    draw.line((lever, mid, lever + (18 if device.side == "right" else -18), mid), fill=INK,
              width=4)


def _draw_terminals(draw, device: Device, fonts: Fonts) -> None:
    for terminal in device.terminals:
        if device.symbol != "button":
            width = draw.textlength(terminal.label, font=fonts.small)
            x = terminal.x + 14 if terminal.x == device.left else terminal.x - 14 - width
            draw.text((x, terminal.y - 13), terminal.label, font=fonts.small, fill=INK)
        draw.ellipse((terminal.x - 8, terminal.y - 8, terminal.x + 8, terminal.y + 8),
                     fill=terminal.net.colour, outline=WHITE, width=2)


def _draw_wires(draw, segments: list[Segment]) -> None:
    hops: dict[int, list[float]] = {}
    for h, x in crossings(segments):
        hops.setdefault(id(h), []).append(x)
    for s in segments:
        if not s.horizontal:
            _line(draw, s.net, s.x1, s.y1, s.x2, s.y2)
    for s in segments:
        if not s.horizontal:
            continue
        lo, hi = sorted((s.x1, s.x2))
        start = lo
        for x in sorted(hops.get(id(s), [])):
            draw.line((x - HOP - 4, s.y1, x + HOP + 4, s.y1), fill=WHITE, width=HALO)
            _line(draw, s.net, start, s.y1, x - HOP, s.y1)
            draw.arc((x - HOP, s.y1 - HOP, x + HOP, s.y1 + HOP), 180, 360, fill=s.net.colour,
                     width=WIRE)
            start = x + HOP
        _line(draw, s.net, start, s.y1, hi, s.y1)
    # A dot where a wire splits: a point of one wire where three or more segments meet, or
    # a stub leaving the middle of a vertical.
    for s in segments:
        if s.horizontal:
            continue
        top, bottom = sorted((s.y1, s.y2))
        for other in segments:
            if (other.net is s.net and other.horizontal and s.x1 in (other.x1, other.x2)
                    and top < other.y1 < bottom):
                draw.ellipse((s.x1 - DOT, other.y1 - DOT, s.x1 + DOT, other.y1 + DOT),
                             fill=s.net.colour)


def _line(draw, net: Net, x1: float, y1: float, x2: float, y2: float) -> None:
    """A wire from one point to another, dashed if the device is optional."""
    length = abs(x2 - x1) + abs(y2 - y1)
    if not length:
        return
    if net.optional:
        dash = 16
        ux, uy = (x2 - x1) / length, (y2 - y1) / length
        for start in range(0, int(length), 2 * dash):
            end = min(start + dash, length)
            draw.line((x1 + ux * start, y1 + uy * start, x1 + ux * end, y1 + uy * end),
                      fill=net.colour, width=WIRE)
    else:
        draw.line((x1, y1, x2, y2), fill=net.colour, width=WIRE)
    r = WIRE / 2 - 0.5  # square ends, so that corners join cleanly
    for x, y in ((x1, y1), (x2, y2)):
        draw.rectangle((x - r, y - r, x + r, y + r), fill=net.colour)


def _draw_buzzer_stage(draw, left: float, top: float, gpio: str, fonts: Fonts) -> float:
    """How the buzzer is driven, as a small schematic; returns its bottom."""
    draw.text((left, top), "Buzzer stage", font=fonts.big, fill=INK, stroke_width=1,
              stroke_fill=INK)
    pen = {"fill": INK, "width": 3}
    yb = top + 190  # the base
    qx = left + 250  # the transistor
    cx = qx + 14  # collector and emitter leads
    draw.text((left, yb - 34), gpio, font=fonts.small, fill=INK)
    draw.line((left, yb, left + 90, yb), fill=BUZZER_COLOUR, width=WIRE)
    draw.line((left + 90, yb, qx - 14, yb), **pen)
    draw.rectangle((left + 100, yb - 11, left + 160, yb + 11), outline=INK, width=3, fill=WHITE)
    draw.text((left + 104, yb + 18), "1 kΩ", font=fonts.small, fill=INK)
    draw.ellipse((qx - 34, yb - 34, qx + 34, yb + 34), outline=INK, width=3)
    draw.line((qx - 14, yb - 20, qx - 14, yb + 20), fill=INK, width=5)
    draw.line((qx - 14, yb - 8, cx, yb - 26), **pen)
    draw.line((qx - 14, yb + 8, cx, yb + 26), **pen)
    draw.polygon([(cx + 2, yb + 28), (cx - 12, yb + 27), (cx - 4, yb + 15)], fill=INK)
    draw.text((cx + 30, yb - 14), "NPN (2N2222)", font=fonts.small, fill=INK)
    draw.text((cx - 36, yb - 64), "C", font=fonts.small, fill=INK)
    draw.text((cx + 10, yb + 30), "E", font=fonts.small, fill=INK)
    draw.line((cx, yb - 26, cx, yb - 56), **pen)
    draw.rectangle((cx - 16, yb - 116, cx + 16, yb - 56), outline=INK, width=3, fill=WHITE)
    draw.text((cx + 26, yb - 126), "+", font=fonts.small, fill=INK)
    draw.text((cx + 26, yb - 76), "−", font=fonts.small, fill=INK)
    draw.text((cx + 48, yb - 100), "buzzer", font=fonts.small, fill=INK)
    draw.line((cx, yb - 116, cx, yb - 140), fill=SUPPLY_COLOURS["5V"], width=WIRE)
    draw.text((cx - 60, yb - 150), "5 V", font=fonts.small, fill=INK)
    draw.line((cx, yb + 26, cx, yb + 70), fill=INK, width=WIRE)
    draw.text((cx - 60, yb + 50), "GND", font=fonts.small, fill=INK)
    return yb + 76


def _draw_usb(draw, plan_: Plan, y: float, fonts: Fonts) -> float:
    """The Pi's USB ports and what is plugged into them."""
    if not plan_.usb:
        return y
    hub_w, hub_h, box_w = 250, 84, 400
    box_h = 60 + LINE_H * max(len(lines) + optional for _, lines, optional in plan_.usb)
    draw.rounded_rectangle((CX - hub_w / 2, y, CX + hub_w / 2, y + hub_h), 14, fill=HEADER_INK)
    label = "Pi's USB ports"
    draw.text((CX - draw.textlength(label, font=fonts.big) / 2, y + 24), label, font=fonts.big,
              fill=WHITE)
    for n, (title, lines, optional) in enumerate(plan_.usb):
        on_left = n % 2 == 0
        left = CX - hub_w / 2 - 80 - box_w if on_left else CX + hub_w / 2 + 80
        top = y + (n // 2) * (box_h + 24)
        draw.rounded_rectangle((left, top, left + box_w, top + box_h), 16, fill=PALE,
                               outline=GREY if optional else INK, width=3)
        draw.text((left + 16, top + 8), title, font=fonts.big, fill=INK, stroke_width=1,
                  stroke_fill=INK)
        for k, line in enumerate((["optional"] if optional else []) + lines):
            draw.text((left + 16, top + 46 + k * LINE_H), line, font=fonts.small,
                      fill=(70, 70, 70))
        cable = Net(0, CABLE, "", "usb", optional)
        a = left + box_w if on_left else left
        b = CX - hub_w / 2 if on_left else CX + hub_w / 2
        _line(draw, cable, a, top + 30, b, top + 30)
    return y + max(hub_h, ((len(plan_.usb) + 1) // 2) * (box_h + 24))


def _draw_legend(draw, plan_: Plan, y: float, fonts: Fonts) -> float:
    entries: dict[tuple[tuple[int, int, int], str], bool] = {}
    for net in plan_.nets:  # dashed only if every wire of that kind is optional
        key = (net.colour, net.legend)
        entries[key] = entries.get(key, True) and net.optional
    entries[(CABLE, "USB cable")] = False
    draw.text((MARGIN, y), "Wire colours (dashed: optional device)", font=fonts.big, fill=INK,
              stroke_width=1, stroke_fill=INK)
    y += 46
    columns = 2
    width = (WIDTH - 2 * MARGIN) / columns
    for n, ((colour, legend), optional) in enumerate(entries.items()):
        x, yy = MARGIN + (n % columns) * width, y + (n // columns) * 36
        _line(draw, Net(0, colour, "", "", optional), x, yy + 15, x + 64, yy + 15)
        draw.text((x + 80, yy), legend, font=fonts.small, fill=INK)
    return y + ((len(entries) + columns - 1) // columns) * 36


def _draw_notes(draw, plan_: Plan, y: float, fonts: Fonts) -> float:
    for note in plan_.notes:
        draw.ellipse((MARGIN + 4, y + 10, MARGIN + 14, y + 20), fill=INK)
        for line in _wrap(draw, note, fonts.small, WIDTH - 2 * MARGIN - 30):
            draw.text((MARGIN + 30, y), line, font=fonts.small, fill=INK)
            y += 30
        y += 8
    return y


def _wrap(draw, text: str, font, width: float) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        trial = f"{line} {word}".strip()
        if draw.textlength(trial, font=font) <= width or not line:
            line = trial
        else:
            lines.append(line)
            line = word
    return [*lines, line] if line else lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", metavar="PATH",
                        help="a kiosk.toml (default: the built-in defaults)")
    parser.add_argument("--out", metavar="PNG", default=str(OUT), help=f"default: {OUT}")
    args = parser.parse_args(argv)
    try:
        settings = config.load(args.config)
    except config.ConfigError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return 2
    source = (f"Pins from {args.config} (BCM numbers)" if args.config else
              "Default pins (BCM numbers; change them in /etc/kiosk/kiosk.toml, then draw "
              "again with --config)")
    image, drawn = render(plan(settings, source))
    info = PngImagePlugin.PngInfo()
    info.add_text("wiring", json.dumps(drawn))
    image.save(args.out, pnginfo=info, optimize=True)
    print(f"wrote {args.out} ({image.width}x{image.height}, {len(drawn)} wires)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
