#!/bin/sh
# Remakes the JPEG fixtures from src.png (see README.md). Needs Debian's
# libjpeg-turbo-progs and imagemagick.
set -eu
cd "$(dirname "$0")"
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
convert src.png "$t/src.ppm"
q="-quality 90"
cjpeg $q -sample 1x1 "$t/src.ppm" >b444.jpg
cjpeg $q -sample 2x1 "$t/src.ppm" >b422.jpg
cjpeg $q -sample 2x2 "$t/src.ppm" >b420.jpg
cjpeg $q -sample 1x2 "$t/src.ppm" >b440.jpg
cjpeg $q -sample 4x1 "$t/src.ppm" >b411.jpg
cjpeg $q -grayscale "$t/src.ppm" >grey.jpg
cjpeg $q -sample 2x2 -restart 1 "$t/src.ppm" >rst-row.jpg    # every MCU row: 12 MCUs, 3 intervals
cjpeg $q -sample 2x2 -restart 5B "$t/src.ppm" >rst-5.jpg     # every 5 MCUs: does not divide 12
cjpeg $q -grayscale -restart 7B "$t/src.ppm" >rst-grey.jpg
cjpeg $q -sample 2x2 -progressive "$t/src.ppm" >prog420.jpg
cjpeg $q -grayscale -progressive "$t/src.ppm" >proggrey.jpg
cjpeg $q -sample 1x1 -progressive "$t/src.ppm" >prog444.jpg
cjpeg $q -sample 2x2 -progressive -restart 3B "$t/src.ppm" >progrst.jpg
printf '0;\n1;\n2;\n' >"$t/seq.scans"
cjpeg $q -sample 2x2 -scans "$t/seq.scans" "$t/src.ppm" >multiscan.jpg
# ImageMagick writes CMYK as YCCK (Adobe transform 2). cmyk.jpg is the
# same file with the Adobe transform byte set to 0 (plain inverted CMYK):
# odd colours, but both decoders must read the bytes the same way.
convert src.png -quality 90 -colorspace CMYK ycck.jpg
python3 - <<'PY'
b = bytearray(open("ycck.jpg", "rb").read())
i = b.index(b"Adobe")
assert b[i + 11] == 2
b[i + 11] = 0
open("cmyk.jpg", "wb").write(b)
PY
cjpeg $q -arithmetic "$t/src.ppm" >arith.jpg
# 12-bit: b420.jpg with the SOF0 precision byte (after FF C0 and the
# 2-byte length) changed from 8 to 12.
python3 - <<'PY'
b = bytearray(open("b420.jpg", "rb").read())
i = b.index(b"\xff\xc0")
b[i + 4] = 12
open("12bit.jpg", "wb").write(b)
PY
