#!/bin/sh
# Regenerate the IPC and image seeds from seedgen/ with weavelet itself (its IpcWriter
# and image encoders), then the GIF seed by hand. Run from anywhere; WEAVELET may name
# an already-built weavelet binary (else `cargo run -p weavelet-cli` builds one).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ -n "${WEAVELET:-}" ]; then
    "$WEAVELET" run "$here/seedgen"
else
    (cd "$here/../.." && cargo run -q -p weavelet-cli -- run tests/fuzz/seedgen)
fi
mkdir -p "$here/seeds/ipc" "$here/seeds/image_decode"
cp "$here/seedgen/out/table.arrow" "$here/seedgen/out/empty.arrow" "$here/seeds/ipc/"
cp "$here/seedgen/out/pic.png" "$here/seedgen/out/pic.jpg" "$here/seedgen/out/pic.webp" "$here/seeds/image_decode/"
# A 1 × 1 GIF89a: 2-colour global table, one image, LZW code size 2 (clear, 0, end).
printf 'GIF89a\001\000\001\000\200\000\000\377\000\000\000\000\377,\000\000\000\000\001\000\001\000\000\002\002D\001\000;' \
    > "$here/seeds/image_decode/pixel.gif"
