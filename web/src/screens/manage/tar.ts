/** A .tar.gz of files picked in the browser (a source folder), made with the browser's own gzip. */

const enc = new TextEncoder();

function header(name: string, size: number): Uint8Array {
  const h = new Uint8Array(512);
  let prefix = '';
  let base = name;
  if (enc.encode(name).length > 100) {
    const cut = name.lastIndexOf('/', 154);
    prefix = name.slice(0, cut);
    base = name.slice(cut + 1);
  }
  const put = (s: string, off: number, len: number) => h.set(enc.encode(s).subarray(0, len), off);
  const oct = (n: number, len: number) => n.toString(8).padStart(len - 1, '0') + '\0';
  put(base, 0, 100);
  put(oct(0o644, 8), 100, 8);
  put(oct(0, 8), 108, 8);
  put(oct(0, 8), 116, 8);
  put(oct(size, 12), 124, 12);
  put(oct(Math.floor(Date.now() / 1000), 12), 136, 12);
  put('        ', 148, 8);
  put('0', 156, 1);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  put(prefix, 345, 155);
  let sum = 0;
  for (const b of h) sum += b;
  put(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
  return h;
}

/** Paths are taken relative to the picked folder; `.git` and `node_modules` are left out. */
export async function tarGz(files: { path: string; file: Blob }[]): Promise<Blob> {
  const parts: BlobPart[] = [];
  for (const { path, file } of files) {
    if (/(^|\/)(\.git|node_modules)(\/|$)/.test(path)) continue;
    parts.push(header(path, file.size) as BlobPart, file);
    const pad = (512 - (file.size % 512)) % 512;
    if (pad) parts.push(new Uint8Array(pad) as BlobPart);
  }
  parts.push(new Uint8Array(1024) as BlobPart);
  const gz = new Blob(parts).stream().pipeThrough(new CompressionStream('gzip'));
  return new Response(gz).blob();
}

/** The picked folder's files with paths below the folder itself (`webkitRelativePath` minus its first part). */
export function folderFiles(list: FileList): { path: string; file: Blob }[] {
  return [...list].map((f) => ({ path: (f.webkitRelativePath || f.name).split('/').slice(1).join('/') || f.name, file: f }));
}
