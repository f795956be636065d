#!/usr/bin/python3
"""An emulated BlueZ daemon (org.bluez) with heart-rate chest straps, for tests.

Why this exists: the hub reaches Bluetooth through btleplug -> bluez-async -> the `dbus` crate,
which talks to BlueZ over the D-Bus system bus. CI machines have no Bluetooth controller, so this
program plays BlueZ on a *private* bus (see `start`), with the objects, methods, properties and
signals that code path uses, and straps whose heart-rate notifications follow a documented,
deterministic pattern a test can check byte for byte. It can play several adapters (hci0, hci1,
...) that each hear the straps at their own signal strength, hold a limited number of
connections each, and can be removed or added while it runs (a USB dongle unplugged). README.md
is the interface contract.

It uses only dbus-python and PyGObject from Debian (python3-dbus, python3-gi); run it with
/usr/bin/python3. Logs go to stderr; stdout carries exactly one line, `READY`, once org.bluez is
owned (the `start` script waits for it).
"""

import argparse
import math
import os
import shutil
import signal
import sys

import dbus
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

BUS_NAME = "org.bluez"
OBJECT_MANAGER = "org.freedesktop.DBus.ObjectManager"
PROPERTIES = "org.freedesktop.DBus.Properties"
ADAPTER = "org.bluez.Adapter1"
DEVICE = "org.bluez.Device1"
GATT_SERVICE = "org.bluez.GattService1"
GATT_CHARACTERISTIC = "org.bluez.GattCharacteristic1"
GATT_DESCRIPTOR = "org.bluez.GattDescriptor1"
# The emulator's own control interface (not BlueZ's): tests remove and add adapters through it.
CONTROL_PATH = "/org/synchub/emulator"
CONTROL = "org.synchub.BluezEmulator1"
# What BlueZ answers when the controller refuses another LE connection: HCI status 0x09
# "Connection Limit Exceeded" becomes EMLINK in the kernel (bt_to_errno), and BlueZ's
# btd_error_le_errno maps EMLINK to this string inside org.bluez.Error.Failed.
CONNECTION_LIMIT_ERROR = "le-connection-concurrent-connection-limit"
# What BlueZ answers when its LE connection attempt is cancelled: here, a strap already
# connected through another adapter stops advertising, so it cannot be reached.
ABORTED_BY_LOCAL_ERROR = "le-connection-abort-by-local"
# How much weaker (dB) a strap sounds to each adapter further from the one nearest to it.
ADAPTER_DISTANCE_DB = 8


def adapter_path(index):
    return f"/org/bluez/hci{index}"


def adapter_address(index):
    return f"00:1A:7D:DA:71:{0x13 + index:02X}"

# How often a notifying Heart Rate Measurement characteristic emits a value.
NOTIFY_INTERVAL_MS = 1000
# A real connection takes a moment between Connect() returning and ServicesResolved; this keeps
# the client's "wait for ServicesResolved" path exercised instead of always finding it done.
SERVICES_RESOLVE_DELAY_MS = 100
# Advertisements of strap k are "heard" k * this after discovery starts, as a radio would.
DISCOVERY_STAGGER_MS = 50
# The keys BlueZ accepts in SetDiscoveryFilter; only UUIDs changes what the emulator reports.
DISCOVERY_FILTER_KEYS = [
    "UUIDs", "RSSI", "Pathloss", "Transport", "DuplicateData", "Discoverable", "Pattern",
]
# While discovering, each visible strap reports a new RSSI this often (DuplicateData style).
RSSI_INTERVAL_MS = 1000


def log(message):
    print(f"bluez-emulator: {message}", file=sys.stderr, flush=True)


def uuid16(short):
    return f"0000{short:04x}-0000-1000-8000-00805f9b34fb"


def byte_array(data):
    return dbus.Array([dbus.Byte(b) for b in data], signature="y")


class BluezError(dbus.DBusException):
    """A D-Bus error reply with one of BlueZ's own error names (org.bluez.Error.*)."""

    def __init__(self, name, message):
        super().__init__(message, name=f"org.bluez.Error.{name}")


# ---------------------------------------------------------------------------------------------
# The heart-rate pattern (README.md "Notification pattern" documents it; keep the two in step).
# ---------------------------------------------------------------------------------------------


def rr_base_ms(strap_number):
    """Mean RR interval of strap `strap_number` (1-based): 1000 ms, 800 ms, then 900, 850, ..."""
    if strap_number == 1:
        return 1000
    if strap_number == 2:
        return 800
    return max(600, 1000 - 50 * (strap_number - 1))


def heart_rate_bpm_from_rr_ms(rr_values_ms):
    """60000 * count / sum, rounded half up in integers (62.5 -> 63, as Rust's f64::round)."""
    total_ms = sum(rr_values_ms)
    return (2 * 60000 * len(rr_values_ms) + total_ms) // (2 * total_ms)


def rr_1024ths_from_ms(rr_ms):
    """rr_ms * 1024 / 1000 rounded half up (never an exact half: 1024/1000 = 128/125)."""
    return (2 * 1024 * rr_ms + 1000) // 2000


class HeartPattern:
    """The deterministic beat sequence of one strap and its Heart Rate Measurement packets.

    Beat n lasts rr_ms[n] = floor(base + 60 * sin(2*pi*0.1*t_n) + 0.5) milliseconds, where t_n is
    the start of beat n in seconds (t_0 = 0, t_{n+1} = t_n + rr_ms[n] / 1000): a 0.1 Hz
    breathing modulation of +-60 ms. Packet i (i = 0, 1, ...) carries the not-yet-sent beats
    that end at or before (i + 1) * 1000 ms of beat time; if there is none it carries the next
    beat anyway, so every packet has 1 to 3 RR values. The sequence continues across notify
    sessions and reconnections: packet i is always the same bytes.
    """

    def __init__(self, strap_number):
        self.base_ms = rr_base_ms(strap_number)
        self.next_beat_start_ms = 0
        self.packets_sent = 0

    def _upcoming_beat_ms(self):
        t_seconds = self.next_beat_start_ms / 1000.0
        # Rounded half up, floor(x + 0.5), so a Rust port gets the same integers.
        return math.floor(self.base_ms + 60.0 * math.sin(2.0 * math.pi * 0.1 * t_seconds) + 0.5)

    def _next_beat_ms(self):
        rr_ms = self._upcoming_beat_ms()
        self.next_beat_start_ms += rr_ms
        return rr_ms

    def next_packet(self):
        """Returns (packet bytes, rr_ms list, heart rate bpm) of the next notification."""
        window_end_ms = (self.packets_sent + 1) * 1000
        rr_values_ms = [self._next_beat_ms()]
        while len(rr_values_ms) < 3:
            if self.next_beat_start_ms + self._upcoming_beat_ms() > window_end_ms:
                break
            rr_values_ms.append(self._next_beat_ms())
        self.packets_sent += 1
        heart_rate_bpm = heart_rate_bpm_from_rr_ms(rr_values_ms)
        # Flags 0x16: heart rate as uint8, sensor contact supported and detected, RR present.
        packet = bytearray([0x16, heart_rate_bpm])
        for rr_ms in rr_values_ms:
            packet += rr_1024ths_from_ms(rr_ms).to_bytes(2, "little")
        return bytes(packet), rr_values_ms, heart_rate_bpm


# ---------------------------------------------------------------------------------------------
# Objects with org.freedesktop.DBus.Properties
# ---------------------------------------------------------------------------------------------


class PropertiesObject(dbus.service.Object):
    """A D-Bus object whose properties live in `self.props[interface][name]` (D-Bus typed)."""

    # (interface, property) pairs clients may Set, mapped to a method name that applies it.
    writable = {}

    def __init__(self, emulator, path):
        self.emulator = emulator
        self.path = path
        self.props = {}
        super().__init__(emulator.bus, path)

    def interfaces(self):
        """The interfaces as GetManagedObjects / InterfacesAdded report them."""
        result = dbus.Dictionary({}, signature="sa{sv}")
        for interface, props in self.props.items():
            result[interface] = dbus.Dictionary(props, signature="sv")
        result[PROPERTIES] = dbus.Dictionary({}, signature="sv")
        result["org.freedesktop.DBus.Introspectable"] = dbus.Dictionary({}, signature="sv")
        return result

    def update(self, interface, **changes):
        """Sets properties and emits one PropertiesChanged with those that really changed."""
        changed = dbus.Dictionary({}, signature="sv")
        for name, value in changes.items():
            if self.props[interface].get(name) != value or name == "Value":
                self.props[interface][name] = value
                changed[name] = value
        if changed:
            self.PropertiesChanged(interface, changed, dbus.Array([], signature="s"))

    @dbus.service.method(PROPERTIES, in_signature="ss", out_signature="v")
    def Get(self, interface, name):
        props = self.props.get(interface)
        if props is None:
            raise dbus.DBusException(
                f"No such interface '{interface}'",
                name="org.freedesktop.DBus.Error.InvalidArgs",
            )
        if name not in props:
            raise dbus.DBusException(
                f"No such property '{name}'", name="org.freedesktop.DBus.Error.InvalidArgs"
            )
        return props[name]

    @dbus.service.method(PROPERTIES, in_signature="s", out_signature="a{sv}")
    def GetAll(self, interface):
        props = self.props.get(interface)
        if props is None:
            raise dbus.DBusException(
                f"No such interface '{interface}'",
                name="org.freedesktop.DBus.Error.InvalidArgs",
            )
        return dbus.Dictionary(props, signature="sv")

    @dbus.service.method(PROPERTIES, in_signature="ssv", out_signature="")
    def Set(self, interface, name, value):
        setter = self.writable.get((interface, name))
        if setter is None:
            if name in self.props.get(interface, {}):
                raise dbus.DBusException(
                    f"Property '{name}' is not writable",
                    name="org.freedesktop.DBus.Error.PropertyReadOnly",
                )
            raise dbus.DBusException(
                f"No such property '{name}'", name="org.freedesktop.DBus.Error.InvalidArgs"
            )
        getattr(self, setter)(value)

    @dbus.service.signal(PROPERTIES, signature="sa{sv}as")
    def PropertiesChanged(self, interface, changed, invalidated):
        pass


class Root(dbus.service.Object):
    """The object manager at `/`, as BlueZ has it."""

    def __init__(self, emulator):
        self.emulator = emulator
        super().__init__(emulator.bus, "/")

    @dbus.service.method(OBJECT_MANAGER, in_signature="", out_signature="a{oa{sa{sv}}}")
    def GetManagedObjects(self):
        return dbus.Dictionary(
            {path: obj.interfaces() for path, obj in self.emulator.managed.items()},
            signature="oa{sa{sv}}",
        )

    @dbus.service.signal(OBJECT_MANAGER, signature="oa{sa{sv}}")
    def InterfacesAdded(self, path, interfaces):
        pass

    @dbus.service.signal(OBJECT_MANAGER, signature="oas")
    def InterfacesRemoved(self, path, interfaces):
        pass


class PlainNode(dbus.service.Object):
    """An intermediate node (/org, /org/bluez) so introspection walks the tree as on BlueZ."""


class Adapter(PropertiesObject):
    """One Bluetooth controller, `/org/bluez/hciN`, with its own view of the straps it hears."""

    writable = {
        (ADAPTER, "Powered"): "set_powered",
        (ADAPTER, "Alias"): "set_alias",
        (ADAPTER, "Discoverable"): "set_discoverable",
        (ADAPTER, "Pairable"): "set_pairable",
    }

    def __init__(self, emulator, index):
        super().__init__(emulator, adapter_path(index))
        self.index = index
        self.name = f"hci{index}"
        self.props[ADAPTER] = {
            "Address": dbus.String(adapter_address(index)),
            "AddressType": dbus.String("public"),
            "Name": dbus.String("synchub-ci"),
            "Alias": dbus.String("synchub-ci"),
            "Class": dbus.UInt32(0x6C010C),
            "Powered": dbus.Boolean(True),
            "Discoverable": dbus.Boolean(False),
            "DiscoverableTimeout": dbus.UInt32(180),
            "Pairable": dbus.Boolean(False),
            "PairableTimeout": dbus.UInt32(0),
            "Discovering": dbus.Boolean(False),
            "UUIDs": dbus.Array([uuid16(0x1800), uuid16(0x1801)], signature="s"),
            "Modalias": dbus.String("usb:v1D6Bp0246d0542"),
            "Roles": dbus.Array(["central", "peripheral"], signature="s"),
        }
        # Discovery sessions by client unique name -> that client's filter UUIDs (lower case).
        self.discovery_sessions = {}
        self.discovery_filters = {}
        self.rssi_timer = None
        # This adapter's Device1 objects, by address: one per strap it hears (`--hear`).
        self.devices = {
            strap.address: Device(self, strap)
            for strap in emulator.straps
            if emulator.hears(index, strap.number)
        }

    def links_in_use(self):
        return sum(1 for device in self.devices.values() if device.connected)

    def set_powered(self, value):
        powered = bool(value)
        if not powered:
            self.discovery_sessions.clear()
            self._discovering_changed()
            for device in list(self.devices.values()):
                device.disconnect("adapter powered off")
        self.update(ADAPTER, Powered=dbus.Boolean(powered))

    def set_alias(self, value):
        self.update(ADAPTER, Alias=dbus.String(value))

    def set_discoverable(self, value):
        self.update(ADAPTER, Discoverable=dbus.Boolean(value))

    def set_pairable(self, value):
        self.update(ADAPTER, Pairable=dbus.Boolean(value))

    @dbus.service.method(ADAPTER, in_signature="a{sv}", out_signature="", sender_keyword="sender")
    def SetDiscoveryFilter(self, properties, sender=None):
        unknown = set(properties) - set(DISCOVERY_FILTER_KEYS)
        if unknown:
            raise BluezError("InvalidArguments", f"Unknown filter keys {sorted(unknown)}")
        uuids = [str(u).lower() for u in properties.get("UUIDs", [])]
        log(f"{self.name}: SetDiscoveryFilter from {sender}: {dict(properties)}")
        if uuids:
            self.discovery_filters[sender] = uuids
        else:
            self.discovery_filters.pop(sender, None)

    @dbus.service.method(ADAPTER, in_signature="", out_signature="", sender_keyword="sender")
    def StartDiscovery(self, sender=None):
        if not self.props[ADAPTER]["Powered"]:
            raise BluezError("NotReady", "Resource Not Ready")
        log(f"{self.name}: StartDiscovery from {sender}")
        self.discovery_sessions[sender] = True
        self._discovering_changed()
        for device in self.devices.values():
            if not device.exported and self._wanted(device):
                GLib.timeout_add(
                    DISCOVERY_STAGGER_MS * device.strap.number, self._discover, device
                )

    @dbus.service.method(ADAPTER, in_signature="", out_signature="", sender_keyword="sender")
    def StopDiscovery(self, sender=None):
        if sender not in self.discovery_sessions:
            raise BluezError("Failed", "No discovery started")
        log(f"{self.name}: StopDiscovery from {sender}")
        self.forget_client(sender)

    @dbus.service.method(ADAPTER, in_signature="o", out_signature="")
    def RemoveDevice(self, path):
        device = {device.path: device for device in self.devices.values()}.get(str(path))
        if device is None or not device.exported:
            raise BluezError("DoesNotExist", "Does Not Exist")
        log(f"RemoveDevice {path}")
        device.disconnect("removed")
        device.unexport()

    @dbus.service.method(ADAPTER, in_signature="", out_signature="as")
    def GetDiscoveryFilters(self):
        return dbus.Array(DISCOVERY_FILTER_KEYS, signature="s")

    def forget_client(self, sender):
        """Ends a client's discovery session, as BlueZ does on StopDiscovery or its exit."""
        self.discovery_filters.pop(sender, None)
        if self.discovery_sessions.pop(sender, None) is not None:
            self._discovering_changed()
        for device in self.devices.values():
            device.forget_client(sender)

    def remove(self):
        """The controller goes away (a dongle unplugged), in BlueZ's order: the kernel drops its
        connections (`Connected=false`), then BlueZ removes its devices and the adapter itself
        (`InterfacesRemoved`)."""
        self.discovery_sessions.clear()
        self.discovery_filters.clear()
        if self.rssi_timer is not None:
            GLib.source_remove(self.rssi_timer)
            self.rssi_timer = None
        for device in self.devices.values():
            device.disconnect("adapter removed")
        for device in self.devices.values():
            if device.exported:
                device.unexport()
        self.emulator.remove_managed(self)

    def _wanted(self, device):
        if not self.discovery_sessions:
            return False
        for sender in self.discovery_sessions:
            uuids = self.discovery_filters.get(sender)
            if not uuids or any(u in device.strap.advertised_uuids for u in uuids):
                return True
        return False

    def _discover(self, device):
        if not device.exported and self._wanted(device) and self.path in self.emulator.managed:
            log(f"{self.name}: discovered {device.strap.address} ({device.strap.name})")
            device.export()
        return False

    def _discovering_changed(self):
        discovering = bool(self.discovery_sessions)
        self.update(ADAPTER, Discovering=dbus.Boolean(discovering))
        if discovering and self.rssi_timer is None:
            self.rssi_timer = GLib.timeout_add(RSSI_INTERVAL_MS, self._rssi_tick)
        elif not discovering and self.rssi_timer is not None:
            GLib.source_remove(self.rssi_timer)
            self.rssi_timer = None

    def _rssi_tick(self):
        # A connected strap stops advertising, so no adapter hears a new RSSI from it.
        for device in self.devices.values():
            if device.exported and device.strap.link is None:
                device.advertise_rssi()
        return True


class Descriptor(PropertiesObject):
    def __init__(self, characteristic, handle, uuid, value):
        super().__init__(characteristic.emulator, f"{characteristic.path}/desc{handle:04x}")
        self.props[GATT_DESCRIPTOR] = {
            "UUID": dbus.String(uuid),
            "Characteristic": dbus.ObjectPath(characteristic.path),
            "Value": byte_array(value),
            "Flags": dbus.Array(["read", "write"], signature="s"),
            "Handle": dbus.UInt16(handle),
        }

    @dbus.service.method(GATT_DESCRIPTOR, in_signature="a{sv}", out_signature="ay")
    def ReadValue(self, options):
        offset = int(options.get("offset", 0))
        return byte_array(bytes(self.props[GATT_DESCRIPTOR]["Value"])[offset:])

    @dbus.service.method(GATT_DESCRIPTOR, in_signature="aya{sv}", out_signature="")
    def WriteValue(self, value, options):
        # BlueZ refuses direct writes to the CCCD; StartNotify is the way to subscribe.
        raise BluezError("NotPermitted", "Write not permitted")


class Characteristic(PropertiesObject):
    """A GATT characteristic; `on_start_notify` / `on_stop_notify` hook the strap's timers."""

    def __init__(self, service, handle, uuid, flags, value, read_value=None):
        super().__init__(service.emulator, f"{service.path}/char{handle:04x}")
        self.service = service
        self.uuid = uuid
        self.read_value = read_value
        self.notify_sessions = set()
        self.props[GATT_CHARACTERISTIC] = {
            "UUID": dbus.String(uuid),
            "Service": dbus.ObjectPath(service.path),
            "Value": byte_array(value),
            "Flags": dbus.Array(flags, signature="s"),
            "Handle": dbus.UInt16(handle),
            "MTU": dbus.UInt16(232),
        }
        if "notify" in flags or "indicate" in flags:
            self.props[GATT_CHARACTERISTIC]["Notifying"] = dbus.Boolean(False)
            self.props[GATT_CHARACTERISTIC]["NotifyAcquired"] = dbus.Boolean(False)
        self.descriptors = []
        if "notify" in flags:
            self.descriptors.append(Descriptor(self, handle + 2, uuid16(0x2902), b"\x00\x00"))

    def flags(self):
        return list(self.props[GATT_CHARACTERISTIC]["Flags"])

    def objects(self):
        return [self, *self.descriptors]

    def notify(self, value):
        """Emits a value change, which is how BlueZ delivers a notification to D-Bus clients."""
        self.update(GATT_CHARACTERISTIC, Value=byte_array(value))

    @dbus.service.method(GATT_CHARACTERISTIC, in_signature="a{sv}", out_signature="ay")
    def ReadValue(self, options):
        if "read" not in self.flags():
            raise BluezError("NotPermitted", "Read not permitted")
        value = self.read_value() if self.read_value else bytes(
            self.props[GATT_CHARACTERISTIC]["Value"]
        )
        self.props[GATT_CHARACTERISTIC]["Value"] = byte_array(value)
        offset = int(options.get("offset", 0))
        return byte_array(value[offset:])

    @dbus.service.method(GATT_CHARACTERISTIC, in_signature="aya{sv}", out_signature="")
    def WriteValue(self, value, options):
        flags = self.flags()
        if "write" not in flags and "write-without-response" not in flags:
            raise BluezError("NotPermitted", "Write not permitted")
        self.update(GATT_CHARACTERISTIC, Value=byte_array(bytes(value)))

    @dbus.service.method(
        GATT_CHARACTERISTIC, in_signature="", out_signature="", sender_keyword="sender"
    )
    def StartNotify(self, sender=None):
        flags = self.flags()
        if "notify" not in flags and "indicate" not in flags:
            raise BluezError("NotSupported", "Operation is not supported")
        if sender in self.notify_sessions:
            # BlueZ answers a repeated StartNotify from the same client with success.
            return
        log(f"StartNotify {self.uuid[4:8]} on {self.service.device.address} from {sender}")
        self.notify_sessions.add(sender)
        self.update(GATT_CHARACTERISTIC, Notifying=dbus.Boolean(True))
        self.service.device.notify_sessions_changed(self)

    @dbus.service.method(
        GATT_CHARACTERISTIC, in_signature="", out_signature="", sender_keyword="sender"
    )
    def StopNotify(self, sender=None):
        if sender not in self.notify_sessions:
            raise BluezError("Failed", "No notify session started")
        log(f"StopNotify {self.uuid[4:8]} on {self.service.device.address} from {sender}")
        self.forget_client(sender)

    def forget_client(self, sender):
        if sender in self.notify_sessions:
            self.notify_sessions.discard(sender)
            if not self.notify_sessions:
                self.update(GATT_CHARACTERISTIC, Notifying=dbus.Boolean(False))
            self.service.device.notify_sessions_changed(self)

    def end_all_sessions(self):
        if self.notify_sessions:
            self.notify_sessions.clear()
            self.update(GATT_CHARACTERISTIC, Notifying=dbus.Boolean(False))
            self.service.device.notify_sessions_changed(self)


class Service(PropertiesObject):
    def __init__(self, device, handle, uuid):
        super().__init__(device.emulator, f"{device.path}/service{handle:04x}")
        self.device = device
        self.handle = handle
        self.uuid = uuid
        self.characteristics = []
        self.props[GATT_SERVICE] = {
            "UUID": dbus.String(uuid),
            "Primary": dbus.Boolean(True),
            "Device": dbus.ObjectPath(device.path),
            "Includes": dbus.Array([], signature="o"),
            "Handle": dbus.UInt16(handle),
        }

    def add_characteristic(self, uuid, flags, value, read_value=None):
        handle = self.handle + 1 + 3 * len(self.characteristics)
        characteristic = Characteristic(self, handle, uuid, flags, value, read_value)
        self.characteristics.append(characteristic)
        return characteristic

    def objects(self):
        result = [self]
        for characteristic in self.characteristics:
            result.extend(characteristic.objects())
        return result


class HeartStrap:
    """One physical strap: its identity, its beat sequence and which adapter holds its link.

    Every adapter that hears it has its own `Device` object for it, as BlueZ has one
    `/org/bluez/hciN/dev_...` per adapter; the beat sequence belongs to the strap, so it
    continues whichever adapter the strap is connected through.
    """

    def __init__(self, emulator, number, name, address, manufacturer_id, model, manufacturer):
        self.number = number
        self.name = name
        self.address = address
        self.manufacturer_id = manufacturer_id
        self.model = model
        self.manufacturer = manufacturer
        self.pattern = HeartPattern(number)
        self.drops_left = emulator.options.drop_count if number == 1 else 0
        self.advertised_uuids = [uuid16(0x180D)]
        # The Device (of one adapter) this strap is connected through, if any: a strap holds
        # one connection at a time and stops advertising while connected.
        self.link = None


def strap_rssi_dbm(strap_number, adapter_index, adapter_count, wobble):
    """Signal strength of strap k as adapter a hears it (README.md "Straps").

    -55 dBm for strap 1, 5 dB weaker per strap up to strap 8, then the same again from strap 9
    (a room, not a corridor); heard loudest by adapter (k - 1) mod N and 8 dB weaker per
    adapter further round; wobbling by +-1 dB per advertisement.
    """
    nearest = -50 - 5 * ((strap_number - 1) % 8 + 1)
    distance = (adapter_index - (strap_number - 1)) % adapter_count
    return nearest - ADAPTER_DISTANCE_DB * distance + (wobble % 3) - 1


class Device(PropertiesObject):
    """A strap as one adapter sees it: org.bluez.Device1 plus, while connected, its GATT tree."""

    writable = {
        (DEVICE, "Trusted"): "set_trusted",
        (DEVICE, "Blocked"): "set_blocked",
        (DEVICE, "Alias"): "set_alias",
    }

    def __init__(self, adapter, strap):
        self.adapter = adapter
        self.strap = strap
        self.address = strap.address
        self.exported = False
        self.connected = False
        self.services = []
        self.heart_rate_timer = None
        self.drop_timer = None
        self.rssi_ticks = 0
        self.emulator = adapter.emulator
        self.path = f"{adapter.path}/dev_{strap.address.replace(':', '_')}"
        self.props = {
            DEVICE: {
                "Address": dbus.String(strap.address),
                "AddressType": dbus.String("public"),
                "Name": dbus.String(strap.name),
                "Alias": dbus.String(strap.name),
                "Appearance": dbus.UInt16(0x0341),  # Heart Rate Sensor: Heart Rate Belt
                "Icon": dbus.String("unknown"),
                "Paired": dbus.Boolean(False),
                "Bonded": dbus.Boolean(False),
                "Trusted": dbus.Boolean(False),
                "Blocked": dbus.Boolean(False),
                "LegacyPairing": dbus.Boolean(False),
                "RSSI": dbus.Int16(self.rssi_dbm()),
                "TxPower": dbus.Int16(0),
                "Connected": dbus.Boolean(False),
                "UUIDs": dbus.Array(strap.advertised_uuids, signature="s"),
                "Adapter": dbus.ObjectPath(adapter.path),
                "ManufacturerData": dbus.Dictionary(
                    {
                        dbus.UInt16(strap.manufacturer_id): dbus.Array(
                            [dbus.Byte(0)], signature="y"
                        )
                    },
                    signature="qv",
                ),
                "ServicesResolved": dbus.Boolean(False),
            }
        }
        # Not on the bus until discovered (`export`), so skip PropertiesObject.__init__.
        dbus.service.Object.__init__(self)

    def rssi_dbm(self):
        return strap_rssi_dbm(
            self.strap.number, self.adapter.index, self.emulator.options.adapters, self.rssi_ticks
        )

    def export(self):
        self.add_to_connection(self.emulator.bus, self.path)
        self.exported = True
        self.emulator.add_managed(self)

    def unexport(self):
        self.emulator.remove_managed(self)
        self.exported = False

    def advertise_rssi(self):
        self.rssi_ticks += 1
        self.update(DEVICE, RSSI=dbus.Int16(self.rssi_dbm()))

    def set_trusted(self, value):
        self.update(DEVICE, Trusted=dbus.Boolean(value))

    def set_blocked(self, value):
        self.update(DEVICE, Blocked=dbus.Boolean(value))

    def set_alias(self, value):
        self.update(DEVICE, Alias=dbus.String(value or self.strap.name))

    # -- connection ---------------------------------------------------------------------------

    @dbus.service.method(DEVICE, in_signature="", out_signature="", sender_keyword="sender")
    def Connect(self, sender=None):
        if not self.adapter.props[ADAPTER]["Powered"]:
            raise BluezError("NotReady", "Resource Not Ready")
        if self.connected:
            return
        if self.strap.link is not None:
            log(
                f"{self.adapter.name}: Connect {self.address} refused: connected through "
                f"{self.strap.link.adapter.name}, so it does not advertise"
            )
            raise BluezError("Failed", ABORTED_BY_LOCAL_ERROR)
        limit = self.emulator.options.links_per_adapter
        if limit and self.adapter.links_in_use() >= limit:
            log(
                f"{self.adapter.name}: Connect {self.address} refused: {limit} links in use "
                "(--links-per-adapter)"
            )
            raise BluezError("Failed", CONNECTION_LIMIT_ERROR)
        log(f"{self.adapter.name}: Connect {self.address} from {sender}")
        self.connected = True
        self.strap.link = self
        self.update(DEVICE, Connected=dbus.Boolean(True))
        GLib.timeout_add(SERVICES_RESOLVE_DELAY_MS, self._resolve_services)
        if self.strap.drops_left != 0 and self.emulator.options.drop_after_secs is not None:
            self.drop_timer = GLib.timeout_add(
                int(self.emulator.options.drop_after_secs * 1000), self._drop
            )

    @dbus.service.method(DEVICE, in_signature="", out_signature="", sender_keyword="sender")
    def Disconnect(self, sender=None):
        if not self.connected:
            raise BluezError("NotConnected", "Not Connected")
        log(f"{self.adapter.name}: Disconnect {self.address} from {sender}")
        self.disconnect("Disconnect()")

    @dbus.service.method(DEVICE, in_signature="", out_signature="")
    def Pair(self):
        raise BluezError("NotSupported", "Pairing is not emulated")

    @dbus.service.method(DEVICE, in_signature="", out_signature="")
    def CancelPairing(self):
        raise BluezError("DoesNotExist", "No pairing in progress")

    @dbus.service.method(DEVICE, in_signature="s", out_signature="")
    def ConnectProfile(self, uuid):
        raise BluezError("NotSupported", "Profiles are not emulated")

    @dbus.service.method(DEVICE, in_signature="s", out_signature="")
    def DisconnectProfile(self, uuid):
        raise BluezError("NotSupported", "Profiles are not emulated")

    def _resolve_services(self):
        if not self.connected or self.services:
            return False
        self.services = self._build_services()
        for service in self.services:
            for obj in service.objects():
                self.emulator.add_managed(obj)
        all_uuids = sorted({s.uuid for s in self.services} | set(self.strap.advertised_uuids))
        self.update(DEVICE, UUIDs=dbus.Array(all_uuids, signature="s"))
        self.update(DEVICE, ServicesResolved=dbus.Boolean(True))
        log(f"{self.adapter.name}: services resolved on {self.address}")
        return False

    def _build_services(self):
        info = Service(self, 0x000A, uuid16(0x180A))
        info.add_characteristic(uuid16(0x2A29), ["read"], self.strap.manufacturer.encode())
        info.add_characteristic(uuid16(0x2A24), ["read"], self.strap.model.encode())
        heart = Service(self, 0x0010, uuid16(0x180D))
        self.heart_rate_measurement = heart.add_characteristic(uuid16(0x2A37), ["notify"], b"")
        heart.add_characteristic(uuid16(0x2A38), ["read"], b"\x01")  # body sensor location: chest
        battery = Service(self, 0x0020, uuid16(0x180F))
        self.battery_level = battery.add_characteristic(
            uuid16(0x2A19),
            ["read", "notify"],
            bytes([self.emulator.options.battery]),
        )
        return [info, heart, battery]

    def _drop(self):
        self.drop_timer = None
        if self.connected:
            if self.strap.drops_left > 0:
                self.strap.drops_left -= 1
            log(f"{self.address} drops the connection on its own (--drop-after-secs)")
            self.disconnect("link lost")
        return False

    def disconnect(self, reason):
        """Tears the connection down in BlueZ's order: notify sessions, services, Connected."""
        if not self.connected:
            return
        if self.drop_timer is not None:
            GLib.source_remove(self.drop_timer)
            self.drop_timer = None
        for service in self.services:
            for characteristic in service.characteristics:
                characteristic.end_all_sessions()
        self.update(DEVICE, ServicesResolved=dbus.Boolean(False))
        for service in reversed(self.services):
            for obj in reversed(service.objects()):
                self.emulator.remove_managed(obj)
        self.services = []
        self.connected = False
        if self.strap.link is self:
            self.strap.link = None
        self.update(DEVICE, Connected=dbus.Boolean(False))
        log(f"{self.adapter.name}: {self.address} disconnected ({reason})")

    # -- notifications ------------------------------------------------------------------------

    def notify_sessions_changed(self, characteristic):
        if characteristic is not self.heart_rate_measurement:
            return
        wanted = bool(characteristic.notify_sessions)
        if wanted and self.heart_rate_timer is None:
            self.heart_rate_timer = GLib.timeout_add(NOTIFY_INTERVAL_MS, self._heart_rate_tick)
        elif not wanted and self.heart_rate_timer is not None:
            GLib.source_remove(self.heart_rate_timer)
            self.heart_rate_timer = None

    def _heart_rate_tick(self):
        if not self.connected or not self.heart_rate_measurement.notify_sessions:
            self.heart_rate_timer = None
            return False
        pattern = self.strap.pattern
        packet, rr_values_ms, heart_rate_bpm = pattern.next_packet()
        log(
            f"{self.address} packet {pattern.packets_sent - 1}: {packet.hex()} "
            f"(HR {heart_rate_bpm}, RR {rr_values_ms} ms, via {self.adapter.name})"
        )
        self.heart_rate_measurement.notify(packet)
        return True

    def forget_client(self, sender):
        for service in self.services:
            for characteristic in service.characteristics:
                characteristic.forget_client(sender)


STRAP_PROFILES = {
    1: ("Polar H10 A1B2C3D4", "A0:9E:1A:A1:B2:C3", 0x006B, "H10", "Polar Electro Oy"),
    2: ("Garmin HRM-Dual", "C8:3E:99:4D:A1:02", 0x0087, "HRM-Dual", "Garmin"),
}


def strap_profile(number):
    if number in STRAP_PROFILES:
        return STRAP_PROFILES[number]
    return (
        f"Polar H10 A1B2C3{number:02X}",
        f"A0:9E:1A:00:00:{number:02X}",
        0x006B,
        "H10",
        "Polar Electro Oy",
    )


class Control(dbus.service.Object):
    """The emulator's own knobs (not part of BlueZ): remove or add an adapter while running.

    `dbus-send --bus=ADDRESS --print-reply --dest=org.bluez /org/synchub/emulator
    org.synchub.BluezEmulator1.RemoveAdapter string:hci1`
    """

    def __init__(self, emulator):
        self.emulator = emulator
        super().__init__(emulator.bus, CONTROL_PATH)

    @dbus.service.method(CONTROL, in_signature="s", out_signature="")
    def RemoveAdapter(self, name):
        self.emulator.remove_adapter(parse_adapter_name(name))

    @dbus.service.method(CONTROL, in_signature="s", out_signature="")
    def AddAdapter(self, name):
        self.emulator.add_adapter(parse_adapter_name(name))


def parse_adapter_name(name):
    name = str(name)
    if not name.startswith("hci") or not name[3:].isdigit():
        raise BluezError("InvalidArguments", f"'{name}' is not an adapter name like hci1")
    return int(name[3:])


class Emulator:
    def __init__(self, bus, options):
        self.bus = bus
        self.options = options
        self.managed = {}
        self.root = Root(self)
        self.nodes = [PlainNode(bus, "/org"), PlainNode(bus, "/org/bluez")]
        self.straps = [
            HeartStrap(self, number, *strap_profile(number))
            for number in range(1, options.straps + 1)
        ]
        self.adapters = {}
        for index in range(options.adapters):
            self.adapters[index] = Adapter(self, index)
            self.add_managed(self.adapters[index], announce=False)
        self.control = Control(self)
        bus.add_signal_receiver(
            self._name_owner_changed,
            signal_name="NameOwnerChanged",
            dbus_interface="org.freedesktop.DBus",
            bus_name="org.freedesktop.DBus",
            path="/org/freedesktop/DBus",
        )

    def hears(self, adapter_index, strap_number):
        """Whether an adapter hears a strap: every strap unless `--hear` says otherwise."""
        heard = self.options.hear.get(adapter_index)
        return heard is None or strap_number in heard

    def remove_adapter(self, index):
        adapter = self.adapters.pop(index, None)
        if adapter is None:
            raise BluezError("DoesNotExist", f"hci{index} does not exist")
        log(f"hci{index} removed (its straps are disconnected)")
        adapter.remove()

    def add_adapter(self, index):
        if index in self.adapters:
            raise BluezError("AlreadyExists", f"hci{index} already exists")
        adapter = Adapter(self, index)
        self.adapters[index] = adapter
        self.add_managed(adapter)
        log(f"hci{index} added")

    def add_managed(self, obj, announce=True):
        self.managed[obj.path] = obj
        if announce:
            self.root.InterfacesAdded(dbus.ObjectPath(obj.path), obj.interfaces())

    def remove_managed(self, obj):
        if self.managed.pop(obj.path, None) is None:
            return
        interfaces = dbus.Array(list(obj.interfaces().keys()), signature="s")
        obj.remove_from_connection()
        self.root.InterfacesRemoved(dbus.ObjectPath(obj.path), interfaces)

    def _name_owner_changed(self, name, old_owner, new_owner):
        # A client that leaves the bus loses its discovery and notify sessions, as on BlueZ.
        if name.startswith(":") and old_owner and not new_owner:
            log(f"{name} left the bus: its discovery and notify sessions end")
            for adapter in self.adapters.values():
                adapter.forget_client(name)


def print_pattern(strap_number, count):
    pattern = HeartPattern(strap_number)
    for index in range(count):
        packet, rr_values_ms, heart_rate_bpm = pattern.next_packet()
        rr_1024ths = [rr_1024ths_from_ms(rr) for rr in rr_values_ms]
        print(
            f"{index:3d}  {packet.hex(' ')}  HR {heart_rate_bpm}  RR ms {rr_values_ms}"
            f"  RR 1/1024 s {rr_1024ths}"
        )


def parse_hearing(specs):
    """`["1=3,5-7", "0=1-4"]` -> {1: {3, 5, 6, 7}, 0: {1, 2, 3, 4}}."""
    hearing = {}
    for spec in specs:
        adapter, _, straps = spec.partition("=")
        if not adapter.isdigit():
            raise ValueError(f"'{spec}' should look like 1=3,5-7 (adapter index = strap numbers)")
        heard = hearing.setdefault(int(adapter), set())
        for part in filter(None, straps.split(",")):
            first, _, last = part.partition("-")
            if not first.isdigit() or (last and not last.isdigit()):
                raise ValueError(f"'{part}' in '{spec}' is not a strap number or a range like 5-7")
            heard.update(range(int(first), int(last or first) + 1))
    return hearing


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--address", help="D-Bus address of the bus to serve on")
    parser.add_argument("--straps", type=int, default=2)
    parser.add_argument("--drop-after-secs", type=float, default=None)
    parser.add_argument("--drop-count", type=int, default=1)
    parser.add_argument("--battery", type=int, default=85)
    parser.add_argument("--remove-on-exit", help="directory to delete when the emulator exits")
    parser.add_argument(
        "--print-pattern",
        type=int,
        metavar="N",
        help="print the first N heart-rate packets of --strap and exit (no bus needed)",
    )
    parser.add_argument("--strap", type=int, default=1)
    parser.add_argument("--adapters", type=int, default=1)
    parser.add_argument("--links-per-adapter", type=int, default=0)
    parser.add_argument(
        "--hear",
        action="append",
        default=[],
        metavar="A=STRAPS",
        help="adapter hciA hears only these straps, e.g. 1=3,5-7 (default: every strap)",
    )
    options = parser.parse_args(argv)
    if not 1 <= options.adapters <= 16:
        parser.error("--adapters must be 1..16")
    if options.links_per_adapter < 0:
        parser.error("--links-per-adapter must be 0 (no limit) or more")
    try:
        options.hear = parse_hearing(options.hear)
    except ValueError as error:
        parser.error(f"--hear: {error}")
    if not 0 <= options.battery <= 100:
        parser.error("--battery must be 0..100")
    if options.straps < 0 or options.straps > 99:
        parser.error("--straps must be 0..99")
    if options.print_pattern is None and not options.address:
        parser.error("--address is required")
    return options


def main(argv):
    options = parse_args(argv)
    if options.print_pattern is not None:
        print_pattern(options.strap, options.print_pattern)
        return 0

    DBusGMainLoop(set_as_default=True)
    loop = GLib.MainLoop()
    bus = dbus.bus.BusConnection(options.address)
    bus.set_exit_on_disconnect(False)
    bus.call_on_disconnection(lambda _connection: loop.quit())

    emulator = Emulator(bus, options)
    # Owning the name last means a client that sees org.bluez also sees the adapter. The BusName
    # must stay referenced: dropping it releases the name.
    bus_name = dbus.service.BusName(BUS_NAME, bus, do_not_queue=True)  # noqa: F841

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, signum, lambda: (loop.quit(), False)[1])

    log(
        f"serving {BUS_NAME} on {options.address}: "
        + ", ".join(f"hci{index}" for index in emulator.adapters)
        + "; "
        + ", ".join(f"{strap.name} {strap.address}" for strap in emulator.straps)
    )
    print("READY", flush=True)
    try:
        loop.run()
    finally:
        if options.remove_on_exit:
            shutil.rmtree(options.remove_on_exit, ignore_errors=True)
        log("stopped")
        # Leave without running destructors: BusName.__del__ would call the bus daemon, which
        # may already be gone, and block for the D-Bus timeout. The bus drops the name anyway.
        os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
