#!/usr/bin/env bash
# Fetches the Dear ImGui 1.90.1 sources (Debian 13's `imgui` source package) into
# build/_deps/imgui-1.90.1 through a private apt configuration: the mirror is read from this
# machine's own sources and the system's apt state is not touched. Skips if already there.
# Elsewhere: point the CMake variable IMGUI_DIR at any ImGui 1.90.1+ checkout instead.
# 1.90 rather than Debian 12's 1.86: it queues key events between frames and its own Tab and
# Enter reach every control, so the app needs no key workarounds of its own (web/app/keyboard.h).
set -euo pipefail
cd "$(dirname "$0")/.."
dest=build/_deps/imgui-1.90.1
if [ -f $dest/imgui.cpp ] && [ -f $dest/backends/imgui_impl_opengl3.cpp ]; then exit 0; fi

d=build/_deps/apt-src-trixie; mkdir -p $d/lists/partial $d/cache/archives/partial $d/dl
MIRROR=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[ -n "$MIRROR" ] || MIRROR=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list)
KEY=/usr/share/keyrings/debian-archive-keyring.gpg
printf 'deb-src [signed-by=%s] %s trixie main\n' $KEY "$MIRROR" > $d/sources.list
O=(-o Dir::Etc::SourceList=$PWD/$d/sources.list -o Dir::Etc::SourceParts=/dev/null
   -o Dir::State::Lists=$PWD/$d/lists -o Dir::Cache=$PWD/$d/cache -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
apt-get "${O[@]}" update -qq
rm -f $d/dl/imgui_*
(cd $d/dl && apt-get "${O[@]}" source --download-only imgui >/dev/null)
orig=$(ls $d/dl/imgui_*.orig.tar.* | head -1)
tmp=$d/unpack; rm -rf $tmp $dest && mkdir -p $tmp
tar xf "$orig" -C $tmp
mv $tmp/*/ $dest && rm -rf $tmp
test -f $dest/imgui.cpp || { echo "web/deps.sh: imgui sources not found in $orig" >&2; exit 1; }
grep -q 'IMGUI_VERSION *"1\.90\.1"' $dest/imgui.h || echo "web/deps.sh: note: $dest/imgui.h is not 1.90.1" >&2
echo "deps: Dear ImGui $(basename "$orig") in $dest"
