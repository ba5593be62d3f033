// A tiny static server for the mocked test build (ui/dist-e2e) that also
// paints the images behind the fake engine's library paths:
//   /mock-files/<encoded path with _WxH in its name>
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, normalize, resolve } from 'node:path';
import { paintLandscape } from './png.mjs';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
};

function hashText(text) {
  let h = 2166136261;
  for (let i = 0; i < text.length; i += 1) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

export function startServer(root, port = 0) {
  const base = resolve(root);
  const images = new Map();
  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (url.pathname.startsWith('/mock-files/')) {
        const path = decodeURIComponent(url.pathname.slice('/mock-files/'.length));
        const m = /([^/]+?)_(\d+)_(\d+)x(\d+)(\.thumb)?\.png$/.exec(path);
        if (!m) {
          res.writeHead(404).end();
          return;
        }
        // 64 landscapes per size and kind are plenty, and keep painting
        // (which shares this process with the test driver) cheap.
        const variant = hashText(`${m[1]}:${m[2]}`) % 64;
        const cacheKey = `${variant}_${m[3]}x${m[4]}${m[5] ?? ''}`;
        let png = images.get(cacheKey);
        if (!png) {
          const [w, h] = [Number(m[3]), Number(m[4])];
          const long = m[5] ? 320 : Math.min(1024, Math.max(w, h));
          const scale = long / Math.max(w, h);
          png = paintLandscape(`v${variant}`, Math.round(w * scale), Math.round(h * scale));
          images.set(cacheKey, png);
        }
        res.writeHead(200, { 'content-type': 'image/png', 'cache-control': 'no-store' });
        res.end(png);
        return;
      }
      const rel = normalize(decodeURIComponent(url.pathname)).replace(/^([/\\])+/, '');
      let file = join(base, rel || 'index.html');
      if (!file.startsWith(base)) {
        res.writeHead(403).end();
        return;
      }
      let body;
      try {
        body = await readFile(file);
      } catch {
        file = join(base, 'index.html');
        body = await readFile(file);
      }
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    } catch (err) {
      res.writeHead(500).end(String(err));
    }
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      ok({ server, url: `http://127.0.0.1:${address.port}` });
    });
  });
}

// `node tests/e2e/server.mjs [port]` serves the test build for a person to try.
if (import.meta.url === `file://${process.argv[1]}`) {
  const port = Number(process.argv[2] ?? 4178);
  const { url } = await startServer(new URL('../../test-results/dist-e2e', import.meta.url).pathname, port);
  console.log(`serving the mocked UI at ${url}`);
}
