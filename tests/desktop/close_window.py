"""Ask the window titled "Easel" to close, as a window manager's close
button does: an X ClientMessage WM_PROTOCOLS / WM_DELETE_WINDOW. (Xvfb runs
no window manager, and destroying the X window outright is not a close.)"""

import sys

from Xlib import X, display, protocol


def find(d, window, title):
    try:
        name = window.get_wm_name()
    except Exception:  # a window that vanished while we looked
        return None
    if name == title:
        return window
    for child in window.query_tree().children:
        found = find(d, child, title)
        if found is not None:
            return found
    return None


def main():
    title = sys.argv[1] if len(sys.argv) > 1 else "Easel"
    d = display.Display()
    window = find(d, d.screen().root, title)
    if window is None:
        print(f"no window titled {title!r}", file=sys.stderr)
        return 1
    protocols = d.intern_atom("WM_PROTOCOLS")
    delete = d.intern_atom("WM_DELETE_WINDOW")
    event = protocol.event.ClientMessage(
        window=window, client_type=protocols, data=(32, [delete, X.CurrentTime, 0, 0, 0])
    )
    window.send_event(event, event_mask=X.NoEventMask)
    d.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
