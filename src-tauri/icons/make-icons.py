#!/usr/bin/env python3
"""Draws Sync Hub's app icon — a small mandala: twelve petals around a bloom, the projector's
colours — and writes every size Tauri's bundler asks for (RGBA PNGs, a multi-size ICO for
Windows, an ICNS for macOS).

Needs Pillow (`pip install pillow`). Run from anywhere: python3 src-tauri/icons/make-icons.py
The PNG/ICO/ICNS files it writes are committed, so building the app needs no Python.
"""
import math
import pathlib

from PIL import Image, ImageDraw

HERE = pathlib.Path(__file__).resolve().parent
# Drawn large and scaled down, so small sizes come out anti-aliased.
CANVAS = 1024

BACKGROUND = (18, 24, 38, 255)
PETAL_OUTER = (64, 196, 170, 255)  # coherent green-teal
PETAL_INNER = (120, 150, 230, 255)  # calm blue
BLOOM = (250, 204, 92, 255)  # the group's bloom
RING = (250, 204, 92, 160)


def petal(draw, centre, angle, distance, length, width, fill):
    """An ellipse-like petal pointing away from the centre, as a polygon."""
    cx, cy = centre
    points = []
    for step in range(64):
        t = step / 64 * 2 * math.pi
        # A lens shape: along the petal (u) and across it (v).
        u = distance + length / 2 * (1 + math.cos(t))
        v = width / 2 * math.sin(t) * math.sin((1 + math.cos(t)) / 2 * math.pi) ** 0.6
        x = cx + u * math.cos(angle) - v * math.sin(angle)
        y = cy + u * math.sin(angle) + v * math.cos(angle)
        points.append((x, y))
    draw.polygon(points, fill=fill)


def mandala():
    image = Image.new("RGBA", (CANVAS, CANVAS), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    margin = CANVAS * 0.04
    draw.rounded_rectangle(
        (margin, margin, CANVAS - margin, CANVAS - margin), radius=CANVAS * 0.22, fill=BACKGROUND
    )
    centre = (CANVAS / 2, CANVAS / 2)
    for index in range(12):
        angle = index / 12 * 2 * math.pi - math.pi / 2
        petal(draw, centre, angle, CANVAS * 0.12, CANVAS * 0.30, CANVAS * 0.15, PETAL_OUTER)
    for index in range(12):
        angle = (index + 0.5) / 12 * 2 * math.pi - math.pi / 2
        petal(draw, centre, angle, CANVAS * 0.10, CANVAS * 0.18, CANVAS * 0.10, PETAL_INNER)
    ring = CANVAS * 0.115
    draw.ellipse(
        (centre[0] - ring, centre[1] - ring, centre[0] + ring, centre[1] + ring),
        outline=RING,
        width=int(CANVAS * 0.012),
    )
    bloom = CANVAS * 0.085
    draw.ellipse(
        (centre[0] - bloom, centre[1] - bloom, centre[0] + bloom, centre[1] + bloom), fill=BLOOM
    )
    return image


def main():
    image = mandala()

    def sized(pixels):
        return image.resize((pixels, pixels), Image.LANCZOS)

    for name, pixels in [
        ("32x32.png", 32),
        ("64x64.png", 64),
        ("128x128.png", 128),
        ("128x128@2x.png", 256),
        ("icon.png", 512),
    ]:
        sized(pixels).save(HERE / name)
    sized(256).save(
        HERE / "icon.ico", sizes=[(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (256, 256)]
    )
    sized(1024).save(HERE / "icon.icns")


if __name__ == "__main__":
    main()
