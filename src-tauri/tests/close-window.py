#!/usr/bin/env python3
"""Closes a program's X window the way its close button does: sends it the ICCCM
WM_DELETE_WINDOW client message, which needs no window manager (Xvfb has none). libX11 through
ctypes, so the test needs no extra package.

    close-window.py PID TITLE     (DISPLAY from the environment)

Exits 0 after asking every window of process PID titled TITLE to close; 1 if there was none.
"""
import ctypes
import ctypes.util
import sys

c_ulong, c_long, c_int, c_uint = ctypes.c_ulong, ctypes.c_long, ctypes.c_int, ctypes.c_uint
Window = Atom = c_ulong
CLIENT_MESSAGE = 33
XA_CARDINAL = 6


class XClientMessageEvent(ctypes.Structure):
    _fields_ = [
        ("type", c_int),
        ("serial", c_ulong),
        ("send_event", c_int),
        ("display", ctypes.c_void_p),
        ("window", Window),
        ("message_type", Atom),
        ("format", c_int),
        ("l", c_long * 5),
    ]


class XEvent(ctypes.Union):
    _fields_ = [("xclient", XClientMessageEvent), ("pad", c_long * 24)]


x11 = ctypes.cdll.LoadLibrary(ctypes.util.find_library("X11") or "libX11.so.6")
x11.XOpenDisplay.restype = ctypes.c_void_p
x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
x11.XDefaultRootWindow.restype = Window
x11.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
x11.XInternAtom.restype = Atom
x11.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, c_int]
x11.XQueryTree.argtypes = [
    ctypes.c_void_p, Window, ctypes.POINTER(Window), ctypes.POINTER(Window),
    ctypes.POINTER(ctypes.POINTER(Window)), ctypes.POINTER(c_uint),
]
x11.XFetchName.argtypes = [ctypes.c_void_p, Window, ctypes.POINTER(ctypes.c_char_p)]
x11.XGetWindowProperty.argtypes = [
    ctypes.c_void_p, Window, Atom, c_long, c_long, c_int, Atom, ctypes.POINTER(Atom),
    ctypes.POINTER(c_int), ctypes.POINTER(c_ulong), ctypes.POINTER(c_ulong),
    ctypes.POINTER(ctypes.POINTER(c_ulong)),
]
x11.XSendEvent.argtypes = [ctypes.c_void_p, Window, c_int, c_long, ctypes.POINTER(XEvent)]
x11.XFree.argtypes = [ctypes.c_void_p]
x11.XFlush.argtypes = [ctypes.c_void_p]
x11.XCloseDisplay.argtypes = [ctypes.c_void_p]


def children(display, window):
    root, parent = Window(), Window()
    found, count = ctypes.POINTER(Window)(), c_uint()
    if not x11.XQueryTree(display, window, ctypes.byref(root), ctypes.byref(parent),
                          ctypes.byref(found), ctypes.byref(count)):
        return []
    result = [found[i] for i in range(count.value)]
    if found:
        x11.XFree(found)
    return result


def title(display, window):
    name = ctypes.c_char_p()
    if x11.XFetchName(display, window, ctypes.byref(name)) and name.value is not None:
        return name.value.decode("utf-8", "replace")
    return None


def pid(display, window, net_wm_pid):
    kind, fmt, items, after = Atom(), c_int(), c_ulong(), c_ulong()
    value = ctypes.POINTER(c_ulong)()
    status = x11.XGetWindowProperty(display, window, net_wm_pid, 0, 1, 0, XA_CARDINAL,
                                    ctypes.byref(kind), ctypes.byref(fmt), ctypes.byref(items),
                                    ctypes.byref(after), ctypes.byref(value))
    if status != 0 or items.value == 0 or not value:
        return None
    result = value[0]
    x11.XFree(value)
    return result


def main():
    wanted_pid, wanted_title = int(sys.argv[1]), sys.argv[2]
    display = x11.XOpenDisplay(None)
    if not display:
        sys.exit("cannot open the X display")
    intern = lambda name: x11.XInternAtom(display, name, 0)
    net_wm_pid, protocols, delete = intern(b"_NET_WM_PID"), intern(b"WM_PROTOCOLS"), intern(b"WM_DELETE_WINDOW")
    stack, closed = [x11.XDefaultRootWindow(display)], 0
    while stack:
        window = stack.pop()
        stack.extend(children(display, window))
        if title(display, window) == wanted_title and pid(display, window, net_wm_pid) == wanted_pid:
            event = XEvent()
            event.xclient.type = CLIENT_MESSAGE
            event.xclient.window = window
            event.xclient.message_type = protocols
            event.xclient.format = 32
            event.xclient.l[0] = delete
            event.xclient.l[1] = 0  # CurrentTime
            x11.XSendEvent(display, window, 0, 0, ctypes.byref(event))
            closed += 1
    x11.XFlush(display)
    x11.XCloseDisplay(display)
    print(f"asked {closed} window(s) to close")
    sys.exit(0 if closed else 1)


if __name__ == "__main__":
    main()
