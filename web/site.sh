#!/usr/bin/env bash
# Lays out the page's files in the static site (called by tools/build.sh after the wasm build):
#   index.html, page.js, style.css        the explorer (app: gradcam_app.mjs + .wasm)
#   embed.html, embed.css, widget.js, widget_renderer.js   the <gradcam-view> widget and its page
#   samples/index.json                    the gallery's file names (from assets/samples)
#   fonts/DejaVuSans.ttf                  the UI font, if Debian's fonts-dejavu-core is installed
# The shaders in shaders/ are compiled into the app and inlined into widget_renderer.js here, so
# there is one copy of them. Every path is relative: the folder can be copied to any static host.
# Usage: web/site.sh build/site
set -euo pipefail
cd "$(dirname "$0")/.."
site=${1:?usage: web/site.sh SITE_DIR}
mkdir -p "$site/samples" "$site/fonts"

if [ ! -f build/wasm/gradcam_app.wasm ] && [ -f build/wasm/build.ninja ]; then
  # A build folder configured before web/web.cmake existed: configure it again, build the app.
  export NODE_PATH=${NODE_PATH:-/usr/share/nodejs}
  emcmake cmake -S . -B build/wasm >/dev/null
  ninja -C build/wasm gradcam_app
fi
for f in build/wasm/gradcam_app.mjs build/wasm/gradcam_app.wasm; do
  [ -f "$f" ] || { echo "web/site.sh: $f is missing: run web/deps.sh, then tools/build.sh wasm" >&2; exit 1; }
done
cp build/wasm/gradcam_app.mjs build/wasm/gradcam_app.wasm web/index.html web/page.js web/style.css \
   web/embed.html web/embed.css web/widget.js "$site/"

# The JS API's Keras reader and h5wasm (HDF5 in WebAssembly; NIST's notice and HDF5's BSD-style
# licence in h5wasm/LICENSE.txt), served from the site itself: the page's CSP allows no other origin. The ES
# module build embeds its wasm; it is downloaded only when a Keras file is loaded.
[ -f node_modules/h5wasm/dist/esm/hdf5_hl.js ] || { echo "web/site.sh: node_modules/h5wasm is missing: run tools/deps.sh (npm install)" >&2; exit 1; }
cp engine/js/keras.mjs "$site/"
mkdir -p "$site/h5wasm"
cp node_modules/h5wasm/dist/esm/hdf5_hl.js node_modules/h5wasm/dist/esm/hdf5_util.js "$site/h5wasm/"
cp node_modules/h5wasm/LICENSE.txt "$site/h5wasm/"
echo '{"type": "module"}' > "$site/h5wasm/package.json"  # Node then reads them as ES modules, without a warning

# widget_renderer.js with the shaders inlined at its /*@SHADERS@*/ marker.
node - "$site/widget_renderer.js" <<'JS'
const fs = require('fs');
const out = process.argv[2];
const src = fs.readFileSync('web/widget_renderer.js', 'utf8');
const shaders = {
  vertex: fs.readFileSync('shaders/fullscreen.vert', 'utf8'),
  fragment: fs.readFileSync('shaders/heatmap.frag', 'utf8'),
};
const marker = '/*@SHADERS@*/ null';
if (!src.includes(marker)) throw new Error(`web/widget_renderer.js has no ${marker} marker`);
fs.writeFileSync(out, src.replace(marker, () => JSON.stringify(shaders)));
JS

# The gallery: every sample image, in name order.
node -e '
const fs = require("fs");
const names = fs.readdirSync("assets/samples").filter((n) => /\.(jpe?g|png|bmp|gif)$/i.test(n)).sort();
fs.writeFileSync(process.argv[1], JSON.stringify(names) + "\n");
' "$site/samples/index.json"

font=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
if [ -f $font ]; then
  cp $font "$site/fonts/"
  [ -f /usr/share/doc/fonts-dejavu-core/copyright ] && cp /usr/share/doc/fonts-dejavu-core/copyright "$site/fonts/DejaVu-LICENSE.txt"
fi
