// One file pane (local or remote): where it is, what it lists, how it sorts and filters, what
// is selected, and the file operations on it. Listings stream in chunks: the first rows show
// before the listing ends.
import { toAppError, type AppError, type Backend, type Entry, type Side } from '../backend';
import type { DropZone, PaneSide } from '../util/drop';
import { baseName, isInside, joinPath, parentPath, samePath } from '../util/paths';
import { clickSelect, emptySelection, moveCursor, pruneSelection, selectAll, type CursorMove, type Modifiers, type Selection } from '../util/selection';
import { comparator, isFolder, mergeSorted, sortEntries, type SortKey, type SortSpec } from '../util/sort';
import type { Asker, CurrentSession, Reporter, Transferring } from './ports';

/** Rows shown: hidden files (dot files) only when asked, and the quick filter. */
export function visibleRows(entries: readonly Entry[], filter: string, showHidden: boolean): readonly Entry[] {
  const f = filter.trim().toLowerCase();
  if (!f && showHidden) return entries;
  return entries.filter((e) => (showHidden || !e.name.startsWith('.')) && (!f || e.name.toLowerCase().includes(f)));
}

/** A name a person typed for a new folder or a rename, checked; null when fine. */
export function invalidName(name: string): string | null {
  if (!name.trim()) return 'The name is empty.';
  if (name === '.' || name === '..') return `"${name}" is not a valid name.`;
  if (name.includes('/') || name.includes('\0')) return 'A name cannot contain "/".';
  return null;
}

/** Refreshes asked for by events start at least this far apart. */
export const REFRESH_GAP_MS = 1000;
/** A burst of requests waits at most this long (after its first) for its refresh. */
export const REFRESH_MAX_WAIT_MS = 1000;

export type PaneBackend = Pick<Backend, 'listDir' | 'watchLocal' | 'makeDir' | 'renameEntry' | 'deleteEntries' | 'changeMode'>;

/** What a pane works with besides itself. */
export interface PaneDeps {
  backend: PaneBackend;
  session: CurrentSession;
  reporter: Reporter;
  asker: Asker;
  transfers: Transferring;
}

export class PaneState {
  /** The folder shown (absolute, as the backend resolved it). */
  path = $state('');
  /** What the path field holds (the path, or what is being typed). */
  pathInput = $state('');
  /** Every entry of the folder, sorted. */
  sorted = $state.raw<Entry[]>([]);
  loading = $state(false);
  /** Why the folder could not be listed (shown in the pane). */
  error = $state<AppError | null>(null);
  sort = $state<SortSpec>({ key: 'name', desc: false });
  filter = $state('');
  showHidden = $state(false);
  sel = $state.raw<Selection>(emptySelection);
  /** Set by the component: focuses the list; scrolls a row into view; describes geometry. */
  focusList: (() => void) | null = null;
  scrollToIndex: ((index: number) => void) | null = null;
  zone: (() => DropZone | null) | null = null;

  rows = $derived(visibleRows(this.sorted, this.filter, this.showHidden));
  names = $derived(this.rows.map((e) => e.name));
  selectedEntries = $derived(this.sel.selected.size === 0 ? [] : this.rows.filter((e) => this.sel.selected.has(e.name)));
  hiddenCount = $derived(this.showHidden ? 0 : this.sorted.reduce((n, e) => (e.name.startsWith('.') ? n + 1 : n), 0));

  private token = 0;
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;
  private refreshing = false;
  private refreshAgain = false;
  /** When the last refresh started and how long it took (ms), to space bursts out. */
  private lastRefreshAt = 0;
  private lastRefreshMs = 0;
  /** The first request the pending timer answers. */
  private firstRequestAt: number | null = null;
  /** Refreshes (for tests and the e2e log). */
  refreshCount = 0;

  private readonly deps: PaneDeps;
  readonly side: PaneSide;

  constructor(deps: PaneDeps, side: PaneSide) {
    this.deps = deps;
    this.side = side;
  }

  /** The backend's name for this pane, or null for a remote pane without a session. */
  backendSide(): Side | null {
    if (this.side === 'local') return { side: 'local' };
    const s = this.deps.session.info;
    return s ? { side: 'remote', sessionId: s.sessionId } : null;
  }

  get label(): string {
    return this.side === 'local' ? 'This computer' : (this.deps.session.info?.label ?? 'Server');
  }

  /** Drops the listing (the remote pane after a disconnect). */
  clear() {
    this.token++;
    this.path = '';
    this.pathInput = '';
    this.sorted = [];
    this.sel = emptySelection;
    this.loading = false;
    this.error = null;
  }

  /**
   * Opens `path` (null: the side's default). Rows appear as chunks arrive. `focus` names a
   * row to put the cursor on (the folder we came up from).
   */
  async navigate(path: string | null, focus?: string): Promise<boolean> {
    const side = this.backendSide();
    if (!side) return false;
    const token = ++this.token;
    const cmp = comparator(this.sort);
    const hadListing = this.path !== '';
    let first = true;
    this.loading = true;
    const onChunk = (chunk: { path: string; entries: Entry[]; done: boolean }) => {
      if (token !== this.token) return;
      if (first) {
        first = false;
        this.error = null;
        this.path = chunk.path;
        this.pathInput = chunk.path;
        this.sorted = [];
        this.filter = '';
        this.sel = focus ? { selected: new Set([focus]), anchor: focus, cursor: focus } : emptySelection;
        this.afterOpen();
      }
      if (chunk.entries.length) this.sorted = mergeSorted(this.sorted, sortEntries(chunk.entries, this.sort), cmp);
      if (focus && this.sel.cursor === focus) this.revealCursor();
      if (chunk.done) this.loading = false;
    };
    try {
      const resolved = await this.deps.backend.listDir(side, path, onChunk);
      if (token !== this.token) return false;
      if (first) {
        // No chunk at all: an empty folder from a backend that sends none.
        onChunk({ path: resolved, entries: [], done: true });
      }
      return true;
    } catch (e) {
      if (token !== this.token) return false;
      this.loading = false;
      const err = toAppError(e);
      this.pathInput = this.path;
      if (hadListing && first) this.deps.reporter.showError(err);
      else this.error = err;
      return false;
    }
  }

  private afterOpen() {
    if (this.side === 'local') {
      this.deps.backend.watchLocal(this.path).catch(() => {
        /* A folder that cannot be watched still lists; refresh with Ctrl+R. */
      });
    }
  }

  /**
   * Lists the folder again without blanking it: the new listing replaces the old one when it
   * is complete; the selection and the scroll position stay.
   */
  async refresh(): Promise<void> {
    const side = this.backendSide();
    if (!side || !this.path) return;
    if (this.refreshing) {
      this.refreshAgain = true;
      return;
    }
    this.refreshing = true;
    this.refreshCount++;
    this.lastRefreshAt = Date.now();
    const token = this.token;
    const path = this.path;
    const buffer: Entry[] = [];
    try {
      await this.deps.backend.listDir(side, path, (chunk) => {
        if (token !== this.token) return;
        buffer.push(...chunk.entries);
      });
      if (token === this.token) {
        this.sorted = sortEntries(buffer, this.sort);
        this.sel = pruneSelection(this.sel, new Set(buffer.map((e) => e.name)));
        this.error = null;
      }
    } catch (e) {
      if (token === this.token) {
        const err = toAppError(e);
        if (err.code === 'notFound') await this.navigate(parentPath(path));
        else this.deps.reporter.showError(err);
      }
    } finally {
      this.refreshing = false;
      this.lastRefreshMs = Date.now() - this.lastRefreshAt;
      if (this.refreshAgain) {
        this.refreshAgain = false;
        this.requestRefresh();
      }
    }
  }

  /**
   * A refresh soon, coalescing bursts (1,000 jobs finishing into this folder are a handful of
   * listings, not 1,000): it waits until requests stop for `delayMs`, but not longer than
   * {@link REFRESH_MAX_WAIT_MS} after the first; requests during a refresh make one more
   * after it; and refreshes start at least {@link REFRESH_GAP_MS} apart (twice as far as the
   * last one took, for a folder that is slow to list).
   */
  requestRefresh(delayMs = 250) {
    const now = Date.now();
    this.firstRequestAt ??= now;
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    const gap = Math.max(REFRESH_GAP_MS, 2 * this.lastRefreshMs);
    const due = Math.max(Math.min(now + delayMs, this.firstRequestAt + REFRESH_MAX_WAIT_MS), this.lastRefreshAt + gap);
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      this.firstRequestAt = null;
      void this.refresh();
    }, due - now);
  }

  /** Whether `dir` is the folder this pane shows. */
  shows(dir: string): boolean {
    return this.path !== '' && samePath(this.path, dir);
  }

  /**
   * Whether what a job wrote at `dest` may show here: a file or a folder copied into the
   * folder shown (`dest` in it), a folder tree copied *into* `dest` when `dest` is the folder
   * shown (a tree job's destination is the folder it copies into until its first run pins
   * it), or the folder shown lies inside the tree.
   */
  showsWorkOf(dest: string): boolean {
    if (!this.path || !dest) return false;
    return samePath(this.path, dest) || samePath(this.path, parentPath(dest)) || isInside(this.path, dest);
  }

  // -- sorting, filtering --------------------------------------------------------------

  setSort(key: SortKey) {
    this.sort = this.sort.key === key ? { key, desc: !this.sort.desc } : { key, desc: false };
    this.sorted = sortEntries(this.sorted, this.sort);
  }

  toggleHidden() {
    this.showHidden = !this.showHidden;
  }

  // -- selection -----------------------------------------------------------------------

  click(index: number, mods: Modifiers) {
    this.sel = clickSelect(this.sel, this.names, index, mods);
  }

  move(by: CursorMove, shift: boolean) {
    this.sel = moveCursor(this.sel, this.names, by, shift);
    this.revealCursor();
  }

  selectAll() {
    this.sel = selectAll(this.names, this.sel);
  }

  /** Selects `names` only (a drag that starts on an unselected row). */
  selectOnly(name: string) {
    this.sel = { selected: new Set([name]), anchor: name, cursor: name };
  }

  revealCursor() {
    const c = this.sel.cursor;
    if (c === null) return;
    const i = this.names.indexOf(c);
    if (i >= 0) this.scrollToIndex?.(i);
  }

  /** The entries an action applies to: the selection, else the row under the cursor. */
  targets(): Entry[] {
    if (this.selectedEntries.length) return this.selectedEntries;
    const c = this.sel.cursor;
    const e = c !== null ? this.rows.find((r) => r.name === c) : undefined;
    return e ? [e] : [];
  }

  cursorEntry(): Entry | null {
    const c = this.sel.cursor;
    if (c !== null) {
      const e = this.rows.find((r) => r.name === c);
      if (e) return e;
    }
    return this.selectedEntries.length === 1 ? this.selectedEntries[0] : null;
  }

  fullPath(name: string): string {
    return joinPath(this.path, name);
  }

  // -- opening ---------------------------------------------------------------------------

  /** Enter / double-click: a folder opens; a file is copied to the other pane. */
  open(entry: Entry | null = this.cursorEntry()) {
    if (!entry) return;
    if (isFolder(entry)) void this.navigate(this.fullPath(entry.name));
    else void this.deps.transfers.transfer(this.side, [entry.name]);
  }

  up() {
    if (!this.path) return;
    const parent = parentPath(this.path);
    if (samePath(parent, this.path)) return;
    void this.navigate(parent, baseName(this.path));
  }

  /** Enter in the path field. */
  goToTyped() {
    const p = this.pathInput.trim();
    if (!p || samePath(p, this.path)) {
      this.pathInput = this.path;
      void this.refresh();
      return;
    }
    void this.navigate(p);
  }

  // -- operations ----------------------------------------------------------------------

  async newFolder() {
    const side = this.backendSide();
    if (!side || !this.path) return;
    const name = await this.deps.asker.askName({ title: 'New folder', label: 'Folder name', initial: 'New folder', okLabel: 'Create', validate: (n) => invalidName(n) ?? (this.sorted.some((e) => e.name === n) ? `"${n}" already exists here.` : null) });
    if (name === null) return;
    try {
      await this.deps.backend.makeDir(side, this.fullPath(name));
      await this.refresh();
      this.selectOnly(name);
      this.revealCursor();
    } catch (e) {
      this.deps.reporter.showError(toAppError(e));
    }
  }

  async rename() {
    const side = this.backendSide();
    const entry = this.cursorEntry();
    if (!side || !entry) return;
    const name = await this.deps.asker.askName({ title: `Rename “${entry.name}”`, label: 'New name', initial: entry.name, okLabel: 'Rename', selectStem: !isFolder(entry), validate: (n) => invalidName(n) ?? (n !== entry.name && this.sorted.some((e) => e.name === n) ? `"${n}" already exists here.` : null) });
    if (name === null || name === entry.name) return;
    try {
      await this.deps.backend.renameEntry(side, this.fullPath(entry.name), this.fullPath(name));
      await this.refresh();
      this.selectOnly(name);
      this.revealCursor();
    } catch (e) {
      this.deps.reporter.showError(toAppError(e));
    }
  }

  async deleteSelected() {
    const side = this.backendSide();
    const targets = this.targets();
    if (!side || targets.length === 0) return;
    const where = this.side === 'local' ? 'from this computer' : `from ${this.deps.session.info?.label ?? 'the server'}`;
    const what = targets.length === 1 ? `“${targets[0].name}”${isFolder(targets[0]) ? ' and everything in it' : ''}` : `${targets.length} items`;
    const ok = await this.deps.asker.confirm({
      title: 'Delete',
      message: `Delete ${what} ${where}? This cannot be undone.`,
      details: targets.length > 1 ? targets.slice(0, 8).map((e) => e.name).concat(targets.length > 8 ? [`… and ${targets.length - 8} more`] : []) : [],
      okLabel: 'Delete',
      danger: true,
    });
    if (!ok) return;
    try {
      await this.deps.backend.deleteEntries(side, targets.map((e) => this.fullPath(e.name)));
    } catch (e) {
      this.deps.reporter.showError(toAppError(e));
    }
    await this.refresh();
  }

  async chmod() {
    const side = this.backendSide();
    const entry = this.cursorEntry();
    if (!side || !entry) return;
    const mode = await this.deps.asker.askMode(entry, this.fullPath(entry.name));
    if (mode === null) return;
    try {
      await this.deps.backend.changeMode(side, this.fullPath(entry.name), mode);
    } catch (e) {
      this.deps.reporter.showError(toAppError(e));
    }
    await this.refresh();
  }

  async copyPath() {
    const targets = this.targets();
    const text = (targets.length ? targets.map((e) => this.fullPath(e.name)) : [this.path]).join('\n');
    try {
      await navigator.clipboard.writeText(text);
      this.deps.reporter.notify(targets.length > 1 ? `Copied ${targets.length} paths` : `Copied ${text}`);
    } catch {
      this.deps.reporter.showError({ code: 'unsupported', message: 'Could not copy to the clipboard. Select the path in the path field and copy it from there.' });
    }
  }
}
