// Human-readable numbers for the panes and the queue: sizes, speeds, dates, ETAs, modes.

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** `1536` → `"1.5 KiB"`: binary units, three significant digits at most. */
export function humanSize(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '—';
  if (bytes < 1024) return `${bytes} B`;
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  const digits = v < 10 ? 1 : v < 100 ? 1 : 0;
  return `${v.toFixed(digits)} ${UNITS[u]}`;
}

/** Bytes per second as `"12.3 MiB/s"`. */
export function humanSpeed(bytesPerSec: number): string {
  if (!Number.isFinite(bytesPerSec) || bytesPerSec <= 0) return '—';
  return `${humanSize(Math.round(bytesPerSec))}/s`;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** Unix seconds as `"2024-05-01 13:45"` in local time (fixed width, sorts as it reads). */
export function formatDate(unixSecs: number | null | undefined): string {
  if (unixSecs === null || unixSecs === undefined || !Number.isFinite(unixSecs)) return '';
  const d = new Date(unixSecs * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Seconds left as `"42 s"`, `"3:05"`, `"1 h 02 m"`. */
export function formatEta(secs: number | null | undefined): string {
  if (secs === null || secs === undefined || !Number.isFinite(secs) || secs < 0) return '—';
  const s = Math.round(secs);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)}:${pad(s % 60)}`;
  const h = Math.floor(s / 3600);
  if (h >= 100) return '> 99 h';
  return `${h} h ${pad(Math.floor((s % 3600) / 60))} m`;
}

/** Whole percent of `done` in `total`, clamped to 0..100 (an empty job that finished is 100). */
export function percent(done: number, total: number, finished = false): number {
  if (total <= 0) return finished ? 100 : 0;
  return Math.max(0, Math.min(100, Math.floor((done / total) * 100)));
}

const TYPE_CHAR: Record<string, string> = { dir: 'd', link: 'l', file: '-', other: '?' };

/** `0o755` for a folder → `"drwxr-xr-x"`; unknown mode → `""`. */
export function permString(mode: number | null | undefined, kind = 'file'): string {
  if (mode === null || mode === undefined) return '';
  const bits = ['r', 'w', 'x'];
  let out = TYPE_CHAR[kind] ?? '-';
  for (let shift = 6; shift >= 0; shift -= 3) {
    for (let b = 0; b < 3; b++) {
      out += mode & (1 << (shift + 2 - b)) ? bits[b] : '-';
    }
  }
  // setuid, setgid, sticky
  const chars = out.split('');
  if (mode & 0o4000) chars[3] = chars[3] === 'x' ? 's' : 'S';
  if (mode & 0o2000) chars[6] = chars[6] === 'x' ? 's' : 'S';
  if (mode & 0o1000) chars[9] = chars[9] === 'x' ? 't' : 'T';
  return chars.join('');
}

/** `0o644` → `"644"` (the low 12 bits, three or four octal digits). */
export function octal(mode: number): string {
  const m = mode & 0o7777;
  return m > 0o777 ? m.toString(8).padStart(4, '0') : m.toString(8).padStart(3, '0');
}

/** `"755"` / `"0755"` → `0o755`; anything else → null. */
export function parseOctal(text: string): number | null {
  const t = text.trim();
  if (!/^[0-7]{3,4}$/.test(t)) return null;
  return parseInt(t, 8);
}

/** `"12 items"`, `"1 item"`. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
