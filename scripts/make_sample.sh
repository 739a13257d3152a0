#!/bin/bash
# Generate the demo videos with ffmpeg's synthetic sources (nothing is downloaded).
# Usage: scripts/make_sample.sh OUT_DIR
set -euo pipefail
out="${1:-demo/media}"
mkdir -p "$out"
font=$(fc-match -f '%{file}' 'DejaVu Sans:bold' 2>/dev/null || true)
text() { if [ -n "$font" ]; then echo ",drawtext=fontfile=$font:text='$1':fontsize=64:fontcolor=white:box=1:boxcolor=black@0.6:x=(w-tw)/2:y=h-th-40"; fi; }
ff() { ffmpeg -v error -y -nostdin "$@"; }
# 1) three shots with hard cuts, on-screen text and a tone
ff -f lavfi -i "testsrc2=size=1280x720:rate=25:duration=4" \
   -f lavfi -i "smptebars=size=1280x720:rate=25:duration=4" \
   -f lavfi -i "cellauto=s=1280x720:rate=25:rule=110,trim=duration=4,format=yuv420p" \
   -f lavfi -i "sine=frequency=440:duration=12" \
   -filter_complex "[0:v]null$(text 'HARBOUR SUNSET')[a];[1:v]null$(text 'HARBOUR SUNSET')[b];[2:v]null$(text 'HARBOUR SUNSET')[c];[a][b][c]concat=n=3:v=1:a=0[v]" \
   -map "[v]" -map 3:a -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac -shortest \
   -metadata title="Demo harbour montage" "$out/harbour_montage.mp4"
# 2) a dark, silent, static night shot with a dissolve into a second shot
ff -f lavfi -i "color=c=0x101018:size=640x360:rate=25:duration=5,noise=alls=8:allf=t" \
   -f lavfi -i "testsrc=size=640x360:rate=25:duration=5" \
   -filter_complex "[0:v][1:v]xfade=transition=dissolve:duration=1:offset=3,format=yuv420p[v]" \
   -map "[v]" -c:v libx264 -preset veryfast -metadata title="Night street" "$out/night_street.mp4"
# 3) a narrated kitchen clip: speech synthesised with espeak-ng over a test pattern
tmp=$(mktemp -d)
espeak-ng -s 150 -w "$tmp/speech.wav" "Welcome to the bakery. Today we bake a simple country loaf. \
Knead the dough for ten minutes, then let it rise until it doubles. \
Keep the finished loaf in a cloth bag, so the crust stays crisp for days."
ff -f lavfi -i "testsrc2=size=640x360:rate=25" -i "$tmp/speech.wav" \
   -map 0:v -map 1:a -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac -shortest \
   -metadata title="Baking a country loaf" "$out/bakery_lesson.mp4"
rm -rf "$tmp"
echo "$out"
