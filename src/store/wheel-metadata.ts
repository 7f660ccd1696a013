/**
 * A wheel's `Requires-Python`, read from the end of the file — pure. A wheel is a zip whose
 * `*.dist-info/` files come last (PEP 427 asks for it, and the tools that make wheels do it), so the
 * tail holding the central directory usually holds METADATA too: the pip index reads only that much
 * of each new wheel, never the whole file.
 */
import { inflateRawSync } from 'node:zlib';

export type WheelMetadataRead =
  /** METADATA was found; `requiresPython` is absent when the wheel declares none. */
  | { kind: 'found'; requiresPython?: string }
  /** The tail is too short: read this many last bytes and try again. */
  | { kind: 'need'; lastBytes: number }
  /** Not a zip this reader understands (Zip64, no METADATA, a compression other than deflate). */
  | { kind: 'unreadable'; why: string };

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

/** What the last `tail.length` bytes of a wheel of `size` bytes say about its Requires-Python. */
export function readRequiresPython(tail: Buffer, size: number): WheelMetadataRead {
  const start = size - tail.length;
  let eocd = -1;
  for (let i = tail.length - 22; i >= Math.max(0, tail.length - 22 - 0xffff); i--) {
    if (tail.readUInt32LE(i) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) return start > 0 ? { kind: 'need', lastBytes: Math.min(size, 22 + 0xffff) } : { kind: 'unreadable', why: 'no end of central directory' };
  const entries = tail.readUInt16LE(eocd + 10);
  const directory = tail.readUInt32LE(eocd + 16);
  if (directory === 0xffffffff || entries === 0xffff) return { kind: 'unreadable', why: 'a Zip64 archive' };
  if (directory < start) return { kind: 'need', lastBytes: size - directory };

  for (let p = directory - start, n = 0; n < entries && p + 46 <= tail.length; n++) {
    if (tail.readUInt32LE(p) !== CENTRAL) return { kind: 'unreadable', why: 'a damaged central directory' };
    const method = tail.readUInt16LE(p + 10);
    const compressed = tail.readUInt32LE(p + 20);
    const nameLength = tail.readUInt16LE(p + 28);
    const local = tail.readUInt32LE(p + 42);
    const name = tail.toString('utf8', p + 46, p + 46 + nameLength);
    p += 46 + nameLength + tail.readUInt16LE(p + 30) + tail.readUInt16LE(p + 32);
    if (!/^[^/]+\.dist-info\/METADATA$/.test(name)) continue;
    if (local < start) return { kind: 'need', lastBytes: size - local };
    const at = local - start;
    if (tail.readUInt32LE(at) !== LOCAL) return { kind: 'unreadable', why: 'a damaged local header' };
    const data = at + 30 + tail.readUInt16LE(at + 26) + tail.readUInt16LE(at + 28);
    const raw = tail.subarray(data, data + compressed);
    if (method !== 0 && method !== 8) return { kind: 'unreadable', why: `METADATA compressed with method ${method}` };
    return { kind: 'found', requiresPython: requiresPythonOf((method === 8 ? inflateRawSync(raw) : raw).toString('utf8')) };
  }
  return { kind: 'unreadable', why: 'no *.dist-info/METADATA' };
}

/** The `Requires-Python:` header of a METADATA file (headers end at the first empty line). */
export function requiresPythonOf(metadata: string): string | undefined {
  for (const line of metadata.split(/\r?\n/)) {
    if (line === '') break;
    const match = /^requires-python:\s*(.*?)\s*$/i.exec(line);
    if (match) return match[1] || undefined;
  }
  return undefined;
}
