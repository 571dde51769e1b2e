// ustar headers as pg_basebackup writes them (src/port/tar.c): octal fields, "ustar\0" "00", a name of up
// to 100 bytes and a 155-byte prefix for longer paths, base-256 sizes beyond the octal field's 8 GiB.
// Read by GNU tar, by BaseStreamCheck and by PostgreSQL's own tools.

export const TAR_BLOCK = 512;

export interface TarEntry {
  /** Path inside the archive, '/'-separated, no leading "./"; a directory's without its trailing '/'. */
  path: string;
  type: 'file' | 'directory';
  /** Bytes of a file's content (0 for a directory). */
  size: number;
  /** Permission bits (st_mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch. */
  mtime: number;
}

/** The zero padding after `size` content bytes, up to the next 512-byte block. */
export function tarPadding(size: number): number {
  return (TAR_BLOCK - (size % TAR_BLOCK)) % TAR_BLOCK;
}

/** The two zero blocks that end an archive. */
export function tarTrailer(): Buffer {
  return Buffer.alloc(2 * TAR_BLOCK);
}

/** The 512-byte header of one entry. Throws when the path fits neither the name field nor name + prefix. */
export function tarHeader(entry: TarEntry): Buffer {
  const h = Buffer.alloc(TAR_BLOCK);
  const name = Buffer.from(entry.type === 'directory' ? `${entry.path}/` : entry.path, 'latin1');
  const [prefix, rest] = splitName(name);
  rest.copy(h, 0);
  octal(h, 100, 8, entry.mode & 0o7777);
  octal(h, 108, 8, entry.uid);
  octal(h, 116, 8, entry.gid);
  if (entry.size < 8 ** 11) {
    octal(h, 124, 12, entry.size);
  } else {
    // Base-256: the high bit of the first byte set, the value big-endian in the rest.
    h[124] = 0x80;
    let value = entry.size;
    for (let i = 135; i > 124; i--) {
      h[i] = value % 256;
      value = Math.floor(value / 256);
    }
  }
  octal(h, 136, 12, Math.max(0, Math.floor(entry.mtime)));
  h[156] = entry.type === 'directory' ? 0x35 : 0x30;
  h.write('ustar\0', 257, 'latin1');
  h.write('00', 263, 'latin1');
  h.write('postgres', 265, 'latin1');
  h.write('postgres', 297, 'latin1');
  prefix.copy(h, 345);
  // The checksum: the byte sum with its own field taken as spaces, six octal digits, NUL, space.
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < TAR_BLOCK; i++) sum += h[i]!;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}

function splitName(name: Buffer): [Buffer, Buffer] {
  if (name.length <= 100) return [Buffer.alloc(0), name];
  // Split at a '/' so that the prefix fits 155 bytes and the rest 100.
  for (let i = Math.min(155, name.length - 1); i > 0; i--) {
    if (name[i] === 0x2f && name.length - i - 1 <= 100) return [name.subarray(0, i), name.subarray(i + 1)];
  }
  throw new Error(`the path "${name.toString('latin1')}" is too long for a tar header (ustar takes 255 bytes split at a "/")`);
}

/** `value` in octal, zero-padded to the field's width less one, then NUL (as PostgreSQL's print_tar_number). */
function octal(h: Buffer, offset: number, width: number, value: number): void {
  h.write(`${value.toString(8).padStart(width - 1, '0')}\0`, offset, 'latin1');
}
