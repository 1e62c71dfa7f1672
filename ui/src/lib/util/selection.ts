// Multi-selection as file managers do it: click, Ctrl/Cmd+click toggles, Shift+click
// extends from the anchor, arrows move the cursor. Pure: rows are identified by name (unique
// within a folder) so the selection survives re-sorting and rows arriving.

export interface Selection {
  selected: ReadonlySet<string>;
  /** Where a Shift range starts. */
  anchor: string | null;
  /** The focused row (keyboard). */
  cursor: string | null;
}

export const emptySelection: Selection = { selected: new Set(), anchor: null, cursor: null };

export interface Modifiers {
  /** Ctrl on Linux/Windows, Cmd on macOS. */
  toggle: boolean;
  shift: boolean;
}

function range(names: readonly string[], from: number, to: number): string[] {
  const [lo, hi] = from <= to ? [from, to] : [to, from];
  return names.slice(lo, hi + 1);
}

/** The selection after clicking the row at `index` of `names` (the rows as shown). */
export function clickSelect(sel: Selection, names: readonly string[], index: number, mods: Modifiers): Selection {
  const name = names[index];
  if (name === undefined) return sel;
  if (mods.shift) {
    const anchorIdx = sel.anchor !== null ? names.indexOf(sel.anchor) : -1;
    const from = anchorIdx >= 0 ? anchorIdx : index;
    const picked = range(names, from, index);
    const selected = new Set(mods.toggle ? sel.selected : []);
    for (const n of picked) selected.add(n);
    return { selected, anchor: names[from], cursor: name };
  }
  if (mods.toggle) {
    const selected = new Set(sel.selected);
    if (selected.has(name)) selected.delete(name);
    else selected.add(name);
    return { selected, anchor: name, cursor: name };
  }
  return { selected: new Set([name]), anchor: name, cursor: name };
}

export type CursorMove = number | 'home' | 'end';

/** Arrow keys, Page Up/Down, Home/End: move the cursor; Shift extends from the anchor. */
export function moveCursor(sel: Selection, names: readonly string[], move: CursorMove, shift: boolean): Selection {
  if (names.length === 0) return sel;
  const cur = sel.cursor !== null ? names.indexOf(sel.cursor) : -1;
  let next: number;
  if (move === 'home') next = 0;
  else if (move === 'end') next = names.length - 1;
  else if (cur < 0) next = move > 0 ? 0 : names.length - 1;
  else next = Math.max(0, Math.min(names.length - 1, cur + move));
  const name = names[next];
  if (shift) {
    const anchorIdx = sel.anchor !== null ? names.indexOf(sel.anchor) : -1;
    const from = anchorIdx >= 0 ? anchorIdx : cur >= 0 ? cur : next;
    return { selected: new Set(range(names, from, next)), anchor: names[from], cursor: name };
  }
  return { selected: new Set([name]), anchor: name, cursor: name };
}

/** Select every row. */
export function selectAll(names: readonly string[], sel: Selection): Selection {
  return { selected: new Set(names), anchor: sel.anchor ?? names[0] ?? null, cursor: sel.cursor ?? names[0] ?? null };
}

/** Drop names that are no longer listed. */
export function pruneSelection(sel: Selection, present: ReadonlySet<string>): Selection {
  let changed = false;
  const selected = new Set<string>();
  for (const n of sel.selected) {
    if (present.has(n)) selected.add(n);
    else changed = true;
  }
  const anchor = sel.anchor !== null && present.has(sel.anchor) ? sel.anchor : null;
  const cursor = sel.cursor !== null && present.has(sel.cursor) ? sel.cursor : null;
  if (!changed && anchor === sel.anchor && cursor === sel.cursor) return sel;
  return { selected, anchor, cursor };
}
