// Worker entry for readParquet(): decodes one row group of one column at a time with hyparquet (pure JS).
import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';

// hyparquet is an ES module; a native import() (hidden from the CommonJS transforms) loads it from either build.
const importEsm = new Function('url', 'return import(url)') as (url: string) => Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const { files, column } = workerData as { files: string[]; column: string };

async function* rowGroups() {
  const hp = await importEsm(pathToFileURL(require.resolve('hyparquet')).href);
  for (let f = 0; f < files.length; f++) {
    const file = await hp.asyncBufferFromFile(files[f]);
    const metadata = await hp.parquetMetadataAsync(file);
    const names: string[] = metadata.schema.slice(1).map((s: { name: string }) => s.name);
    if (!names.includes(column)) throw new Error(`${files[f]}: no column "${column}" (columns: ${names.join(', ')})`);
    let rowStart = 0;
    for (const rg of metadata.row_groups) {
      const rowEnd = rowStart + Number(rg.num_rows);
      const rows: Record<string, unknown>[] = await hp.parquetReadObjects({ file, metadata, columns: [column], rowStart, rowEnd });
      yield { file: f, rowStart, values: rows.map((r) => r[column]) };
      rowStart = rowEnd;
    }
  }
}

const it = rowGroups();
parentPort!.on('message', async () => {
  try {
    const r = await it.next();
    parentPort!.postMessage(r.done ? { done: true } : r.value);
  } catch (e) {
    parentPort!.postMessage({ error: (e as Error).message });
  }
});
