// Pane ordering: folders first always, then the chosen column, then the name.
import type { Entry } from '../backend/bindings/Entry';

export type SortKey = 'name' | 'size' | 'mtime' | 'mode';

export interface SortSpec {
  key: SortKey;
  desc: boolean;
}

// The person's language orders names, except the POSIX "C" locale (WebKitGTK started with
// LANG=C reports en-US-u-va-posix), which would put every capital before every small letter.
const systemLocale = new Intl.Collator().resolvedOptions().locale;
const collator = new Intl.Collator(/posix/i.test(systemLocale) ? 'en' : undefined, { numeric: true, sensitivity: 'base' });

/** A folder, or a link that points at one: the pane opens it and lists it first. */
export function isFolder(e: Pick<Entry, 'kind' | 'linkToDir'>): boolean {
  return e.kind === 'dir' || (e.kind === 'link' && e.linkToDir);
}

export function comparator(spec: SortSpec): (a: Entry, b: Entry) => number {
  const sign = spec.desc ? -1 : 1;
  const byName = (a: Entry, b: Entry) => collator.compare(a.name, b.name) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const byKey: (a: Entry, b: Entry) => number =
    spec.key === 'size'
      ? (a, b) => a.size - b.size
      : spec.key === 'mtime'
        ? (a, b) => (a.mtime ?? -Infinity) - (b.mtime ?? -Infinity)
        : spec.key === 'mode'
          ? (a, b) => (a.mode ?? -1) - (b.mode ?? -1)
          : byName;
  return (a, b) => {
    const fa = isFolder(a);
    const fb = isFolder(b);
    if (fa !== fb) return fa ? -1 : 1;
    const c = byKey(a, b);
    if (c !== 0 && !Number.isNaN(c)) return sign * c;
    return spec.key === 'name' ? 0 : byName(a, b);
  };
}

/** A sorted copy. */
export function sortEntries(entries: readonly Entry[], spec: SortSpec): Entry[] {
  return entries.slice().sort(comparator(spec));
}

/** Merge two lists already sorted by `cmp` (a listing chunk into what is shown), O(n). */
export function mergeSorted(a: readonly Entry[], b: readonly Entry[], cmp: (x: Entry, y: Entry) => number): Entry[] {
  if (a.length === 0) return b.slice();
  if (b.length === 0) return a.slice();
  const out: Entry[] = new Array(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length && j < b.length) out[k++] = cmp(a[i], b[j]) <= 0 ? a[i++] : b[j++];
  while (i < a.length) out[k++] = a[i++];
  while (j < b.length) out[k++] = b[j++];
  return out;
}
