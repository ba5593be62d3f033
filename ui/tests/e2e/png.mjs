// A minimal PNG encoder and a landscape painter for the fake engine's images
// (the test server renders a picture for every library path the UI asks for).
import { deflateSync } from 'node:zlib';

const CRC_TABLE = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** Encode 8-bit RGB pixels (row-major, 3 bytes each) as a PNG file. */
export function encodePng(width, height, rgb) {
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y += 1) {
    raw[y * (width * 3 + 1)] = 0; // filter: none
    rgb.copy(raw, y * (width * 3 + 1) + 1, y * width * 3, (y + 1) * width * 3);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 3 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function hash(text) {
  let h = 2166136261;
  for (let i = 0; i < text.length; i += 1) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

function rng(seed) {
  let s = seed || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) % 100000) / 100000;
  };
}

const mix = (a, b, t) => a + (b - a) * t;
const hsl = (h, s, l) => {
  const f = (n) => {
    const k = (n + h / 30) % 12;
    const a = s * Math.min(l, 1 - l);
    return l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1));
  };
  return [f(0) * 255, f(8) * 255, f(4) * 255];
};

/** A small painted landscape (sky, sun, three ridges), different for each key. */
export function paintLandscape(key, width, height) {
  const r = rng(hash(key));
  const hue = r() * 360;
  const skyTop = hsl(hue, 0.55, 0.35 + r() * 0.2);
  const skyLow = hsl((hue + 40) % 360, 0.7, 0.7 + r() * 0.15);
  const sun = hsl((hue + 60) % 360, 0.9, 0.85);
  const sunX = 0.2 + r() * 0.6;
  const sunY = 0.2 + r() * 0.25;
  const sunR = 0.06 + r() * 0.05;
  const ridges = [0, 1, 2].map((i) => ({
    base: 0.5 + i * 0.14 + r() * 0.05,
    amp: 0.05 + r() * 0.07,
    freq: 2 + r() * 5,
    phase: r() * 6.28,
    color: hsl((hue + 180 + i * 12) % 360, 0.35 - i * 0.08, 0.42 - i * 0.12),
  }));
  const rgb = Buffer.alloc(width * height * 3);
  const aspect = width / height;
  for (let y = 0; y < height; y += 1) {
    const v = y / height;
    for (let x = 0; x < width; x += 1) {
      const u = x / width;
      let c = [mix(skyTop[0], skyLow[0], v), mix(skyTop[1], skyLow[1], v), mix(skyTop[2], skyLow[2], v)];
      const dx = (u - sunX) * aspect;
      const dy = v - sunY;
      const d = Math.sqrt(dx * dx + dy * dy);
      if (d < sunR) c = sun;
      else if (d < sunR * 2.2) {
        const t = (1 - (d - sunR) / (sunR * 1.2)) * 0.35;
        c = [mix(c[0], sun[0], t), mix(c[1], sun[1], t), mix(c[2], sun[2], t)];
      }
      for (const ridge of ridges) {
        const top =
          ridge.base -
          ridge.amp * Math.sin(u * ridge.freq + ridge.phase) -
          ridge.amp * 0.4 * Math.sin(u * ridge.freq * 3.1 + ridge.phase * 2);
        if (v > top) c = ridge.color;
      }
      const o = (y * width + x) * 3;
      rgb[o] = c[0];
      rgb[o + 1] = c[1];
      rgb[o + 2] = c[2];
    }
  }
  return encodePng(width, height, rgb);
}
