// Test images made on the fly (no big fixtures): a grey PNG and a grey JPEG (so any colour in the
// overlay is the heat map's), and the broken files the page must explain: not an image, a
// truncated JPEG, an SVG, a 100-megapixel PNG (header only) and an empty file.
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';

// A grey scene: light background, a dark disc and a bar, w x h.
function greyScene(width, height) {
  const data = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const dx = x - width * 0.4, dy = y - height * 0.45;
      let v = 200 - Math.round((60 * y) / height);
      if (dx * dx + dy * dy < (Math.min(width, height) * 0.25) ** 2) v = 40;
      if (x > width * 0.7 && x < width * 0.8) v = 90;
      data.set([v, v, v, 255], (y * width + x) * 4);
    }
  }
  return data;
}

export function greyPng(width = 48, height = 40) {
  const png = new PNG({ width, height });
  png.data = greyScene(width, height);
  return PNG.sync.write(png);
}

export function greyJpeg(width = 64, height = 48) {
  return jpeg.encode({ data: greyScene(width, height), width, height }, 90).data;
}

function crc32(bytes) {
  let crc = 0xffffffff;
  for (const b of bytes) {
    let c = (crc ^ b) & 0xff;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    crc = (crc >>> 8) ^ c;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

// A valid small PNG whose header says width x height: the engine must refuse it from the header
// alone, as it would a real 100-megapixel photo.
export function hugePngHeader(width = 10000, height = 10000) {
  const buf = Buffer.from(greyPng(8, 8));
  buf.writeUInt32BE(width, 16);
  buf.writeUInt32BE(height, 20);
  buf.writeUInt32BE(crc32(buf.subarray(12, 29)), 29);  // IHDR's CRC covers type + data
  return buf;
}

export function brokenFiles() {
  const jpg = greyJpeg(64, 48);
  return [
    { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('These are notes, not an image.\n'), expect: /not an image/i },
    { name: 'truncated.jpg', mimeType: 'image/jpeg', buffer: Buffer.from(jpg.subarray(0, Math.floor(jpg.length / 2))), expect: /truncated|corrupt/i },
    { name: 'drawing.svg', mimeType: 'image/svg+xml', buffer: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><circle r="4"/></svg>'), expect: /SVG/ },
    { name: 'panorama.png', mimeType: 'image/png', buffer: hugePngHeader(10000, 10000), expect: /10000x10000.*megapixels/ },
    { name: 'empty.png', mimeType: 'image/png', buffer: Buffer.alloc(0), expect: /empty/i },
  ];
}
