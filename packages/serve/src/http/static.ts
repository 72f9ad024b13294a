// The chat page's files (packages/serve/static), found next to the sources (src/http) or the build (dist).
import fs from 'node:fs';
import path from 'node:path';

const FILES: [route: string, file: string, type: string][] = [
  ['/', 'index.html', 'text/html; charset=utf-8'],
  ['/chat.js', 'chat.js', 'text/javascript; charset=utf-8'],
  ['/chat.css', 'chat.css', 'text/css; charset=utf-8'],
];

export function staticDir(): string {
  const tries = [path.join(__dirname, '..', '..', 'static'), path.join(__dirname, '..', 'static')];
  const d = tries.find((t) => fs.existsSync(path.join(t, 'index.html')));
  if (!d) throw new Error(`@stellar/serve: the chat page (static/index.html) is not in ${tries.join(' or ')}`);
  return d;
}

/** Each file's route, content type and bytes, read once. */
export function staticFiles(): { route: string; type: string; body: Buffer }[] {
  const d = staticDir();
  return FILES.map(([route, file, type]) => ({ route, type, body: fs.readFileSync(path.join(d, file)) }));
}
