"""A labelled sheet of image columns (the docs pictures of toy-world edits)."""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
SCALE, PAD, HEAD = 4, 6, 34


def draw_sheet(out, names, columns) -> None:
    """Save a sheet to ``out``: one titled column per (name, images (N, R, R, 3) in [-1, 1])."""
    from styleclip_jax.io.images import to_uint8

    n, size = len(columns[0]), columns[0].shape[1] * SCALE
    font = ImageFont.truetype(FONT, 13)
    sheet = Image.new("RGB", (len(columns) * (size + PAD) + PAD, HEAD + n * (size + PAD) + PAD), "white")
    draw = ImageDraw.Draw(sheet)
    for j, (name, images) in enumerate(zip(names, columns)):
        x = PAD + j * (size + PAD)
        draw.text((x, 8), name, fill="black", font=font)
        for i, img in enumerate(to_uint8(images)):
            sheet.paste(Image.fromarray(img).resize((size, size), Image.NEAREST), (x, HEAD + i * (size + PAD)))
    sheet.save(out)
    print(f"-> {out}")
