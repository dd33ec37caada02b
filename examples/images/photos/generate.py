"""Regenerate the example photos: small synthetic scenes written as PNG with
the standard library only (no image files are downloaded or shipped large)."""
import math, pathlib, random, struct, zlib

W, H = 320, 240
here = pathlib.Path(__file__).parent


def png(path, pixel):
    rows = bytearray()
    for y in range(H):
        rows.append(0)
        for x in range(W):
            rows.extend(max(0, min(255, int(c))) for c in pixel(x, y))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(rows), 9)) + chunk(b"IEND", b""))


def mix(a, b, t):
    return [a[i] + (b[i] - a[i]) * t for i in range(3)]


def sunset(x, y):
    sky = mix((255, 120, 60), (70, 40, 120), y / H)
    if y > H * 0.7:
        sky = mix((30, 40, 90), (10, 20, 50), (y - H * 0.7) / (H * 0.3))
    if math.hypot(x - W * 0.5, y - H * 0.68) < 40 and y < H * 0.7:
        sky = (255, 210, 120)
    return sky


def mountains(x, y):
    ridge = H * 0.55 - 60 * abs(math.sin(x / 45)) - 25 * math.sin(x / 17)
    snow = ridge + 18
    if y < ridge:
        return mix((140, 190, 240), (220, 235, 250), y / H)
    if y < snow and ridge < H * 0.45:
        return (245, 245, 250)
    return mix((70, 90, 80), (40, 60, 40), (y - ridge) / H)


def sea(x, y):
    if y < H * 0.45:
        return mix((120, 180, 235), (200, 225, 245), y / (H * 0.45))
    wave = 10 * math.sin(x / 12 + y / 5)
    return mix((30, 110, 160), (10, 50, 90), (y - H * 0.45) / (H * 0.55)) if wave < 8 else (220, 240, 250)


def forest(x, y):
    rng = random.Random(x // 24)
    height = H * (0.25 + 0.4 * rng.random())
    centre = (x // 24) * 24 + 12
    if y > height + abs(x - centre) * 2.2:
        return (30 + rng.randint(0, 40), 90 + rng.randint(0, 60), 40)
    return mix((250, 240, 200), (150, 200, 230), y / H)


def rings(x, y):
    d = math.hypot(x - W / 2, y - H / 2)
    t = (math.sin(d / 9) + 1) / 2
    return mix((240, 90, 120), (60, 80, 200), t)


def tiles(x, y):
    c = ((x // 40) + (y // 40)) % 2
    base = (235, 200, 70) if c else (60, 150, 140)
    return mix(base, (255, 255, 255), 0.25 * (x % 40) / 40)


for name, scene in [("sunset", sunset), ("mountains", mountains), ("sea", sea),
                    ("forest", forest), ("rings", rings), ("tiles", tiles)]:
    png(here / f"{name}.png", scene)
