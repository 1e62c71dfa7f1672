// The window's state: saved hosts, the session and its connection state, the questions the
// backend asks while connecting, the error banner, settings, open dialogs, the two panes and
// the queue. Everything the backend says arrives through `handleEvent`.
import {
  toAppError,
  type AppError,
  type Backend,
  type ConnectTarget,
  type ConnectionState,
  type Direction,
  type Entry,
  type HostKeyChoice,
  type HostProfile,
  type JobView,
  type Prompt,
  type QueueTrouble,
  type SessionInfo,
  type Settings,
  type UiEvent,
} from '../backend';
import { handleOsDrop, hoverTarget, type DropTarget, type DropZone, type OsDragDropPayload, type PaneSide } from '../util/drop';
import { joinPath } from '../util/paths';
import { RowDrag } from './drag.svelte';
import { PaneState } from './pane.svelte';
import { QueueState } from './queue.svelte';

export interface ConfirmRequest {
  title: string;
  message: string;
  details?: string[];
  okLabel: string;
  danger?: boolean;
  resolve: (ok: boolean) => void;
}

export interface NameRequest {
  title: string;
  label: string;
  initial: string;
  okLabel: string;
  /** Preselect the name without its extension. */
  selectStem?: boolean;
  /** A reason the name is refused, or null. */
  validate?: (name: string) => string | null;
  resolve: (name: string | null) => void;
}

export interface ModeRequest {
  entry: Entry;
  path: string;
  resolve: (mode: number | null) => void;
}

export interface HostEditorRequest {
  profile: HostProfile;
  isNew: boolean;
}

export interface ContextMenuRequest {
  side: PaneSide;
  x: number;
  y: number;
}

export const DEFAULT_SETTINGS: Settings = { filesInFlight: 64, speedLimit: null, overwrite: 'ask', showHidden: false, theme: 'system' };

export function blankProfile(): HostProfile {
  return { id: '', name: '', host: '', port: 22, user: '', auth: 'auto', keyPath: null, localStart: null, remoteStart: null, hasSecret: false };
}

export function otherSide(side: PaneSide): PaneSide {
  return side === 'local' ? 'remote' : 'local';
}

export class AppState {
  readonly backend: Backend;
  ready = $state(false);
  hosts = $state.raw<HostProfile[]>([]);
  hostsLoaded = $state(false);
  session = $state.raw<SessionInfo | null>(null);
  /** The connection shown in the top bar (also while connecting, before a session exists). */
  connection = $state<{ state: ConnectionState; label: string } | null>(null);
  connecting = $state(false);
  /** What was last connected to, and whether its connection was lost (not closed by the
   * person): the top bar then offers to reconnect. */
  lastTarget = $state.raw<ConnectTarget | null>(null);
  dropped = $state(false);
  /** The saved host being connected (for "remember in keyring"). */
  connectingProfile = $state<string | null>(null);
  error = $state.raw<AppError | null>(null);
  notice = $state<string | null>(null);
  prompts = $state.raw<Prompt[]>([]);
  hostKeyChanged = $state.raw<AppError | null>(null);
  /** The queue database did not open: the window asks before anything is queued. */
  queueTrouble = $state.raw<QueueTrouble | null>(null);
  settings = $state.raw<Settings>(DEFAULT_SETTINGS);
  sandboxRunning = $state(false);
  /** The side that has the keyboard. */
  activeSide = $state<PaneSide>('local');

  hostEditor = $state.raw<HostEditorRequest | null>(null);
  confirmRequest = $state.raw<ConfirmRequest | null>(null);
  nameRequest = $state.raw<NameRequest | null>(null);
  modeRequest = $state.raw<ModeRequest | null>(null);
  contextMenu = $state.raw<ContextMenuRequest | null>(null);
  settingsOpen = $state(false);
  hostsOpen = $state(false);
  /** Where an OS drag hovers (highlight). */
  dropHover = $state.raw<DropTarget | null>(null);

  readonly local: PaneState;
  readonly remote: PaneState;
  readonly queue: QueueState;
  readonly drag: RowDrag;

  /** Sessions this window closed: their late events are ignored. */
  private closed = new Set<string>();
  private noticeTimer: ReturnType<typeof setTimeout> | null = null;
  private unlistenDrop: (() => void) | null = null;

  constructor(backend: Backend) {
    this.backend = backend;
    this.local = new PaneState(this, 'local');
    this.remote = new PaneState(this, 'remote');
    this.queue = new QueueState(this);
    this.drag = new RowDrag(this);
  }

  pane(side: PaneSide): PaneState {
    return side === 'local' ? this.local : this.remote;
  }

  // -- start-up ----------------------------------------------------------------------------

  async init() {
    try {
      await this.backend.subscribe((e) => this.handleEvent(e));
    } catch (e) {
      this.showError(toAppError(e));
    }
    try {
      this.queueTrouble = await this.backend.queueTrouble();
    } catch (e) {
      this.showError(toAppError(e));
    }
    try {
      this.unlistenDrop = await this.backend.onOsDragDrop((e) => this.onOsDragDrop(e));
    } catch {
      /* No OS drops outside the app window. */
    }
    await Promise.all([this.loadHosts(), this.loadSettings(), this.queue.load(), this.openHome()]);
    this.ready = true;
  }

  dispose() {
    this.unlistenDrop?.();
    this.queue.dispose();
    if (this.noticeTimer) clearTimeout(this.noticeTimer);
  }

  private async openHome() {
    try {
      await this.local.navigate(await this.backend.homeDir());
    } catch (e) {
      this.showError(toAppError(e));
    }
  }

  async loadHosts() {
    try {
      this.hosts = await this.backend.hostsList();
    } catch (e) {
      this.showError(toAppError(e));
    }
    this.hostsLoaded = true;
  }

  private async loadSettings() {
    try {
      this.applySettings(await this.backend.settingsGet());
    } catch (e) {
      this.showError(toAppError(e));
    }
  }

  private applySettings(s: Settings) {
    const hiddenChanged = s.showHidden !== this.settings.showHidden;
    this.settings = s;
    if (hiddenChanged || !this.ready) {
      this.local.showHidden = s.showHidden;
      this.remote.showHidden = s.showHidden;
    }
  }

  // -- messages ----------------------------------------------------------------------------

  showError(e: AppError) {
    if (e.code === 'hostKeyChanged') {
      this.hostKeyChanged = e;
      return;
    }
    this.error = e;
  }

  dismissError() {
    this.error = null;
  }

  notify(text: string) {
    this.notice = text;
    if (this.noticeTimer) clearTimeout(this.noticeTimer);
    this.noticeTimer = setTimeout(() => (this.notice = null), 3500);
  }

  // -- events ------------------------------------------------------------------------------

  handleEvent(e: UiEvent) {
    switch (e.type) {
      case 'jobs':
      case 'jobsRemoved':
      case 'progress':
      case 'retryScheduled':
      case 'overwriteAsked':
        this.queue.handle(e);
        break;
      case 'prompt':
        this.prompts = [...this.prompts, e.prompt];
        break;
      case 'connection':
        this.onConnection(e);
        break;
      case 'localChanged':
        if (this.local.shows(e.path)) this.local.requestRefresh(100);
        break;
      case 'sandbox':
        this.sandboxRunning = e.running;
        void this.loadHosts();
        break;
    }
  }

  private onConnection(e: Extract<UiEvent, { type: 'connection' }>) {
    if (this.closed.has(e.sessionId)) return;
    const mine = this.session?.sessionId === e.sessionId;
    // While connecting, the events are about the session being made; afterwards, only ours.
    if (!mine && !this.connecting) return;
    const before = this.connection?.state;
    this.connection = { state: e.state, label: e.label };
    // Errors while connecting come back from `connect` itself; these are a live session's.
    if (mine && e.error && e.error.code !== 'cancelled') {
      if (e.state === 'reconnecting') this.notify(e.error.message);
      else this.showError(e.error);
    }
    if (mine && e.state === 'disconnected') {
      // Lost (the server gave no way back): let the backend's session go, offer Reconnect.
      this.closed.add(e.sessionId);
      this.session = null;
      this.remote.clear();
      this.dropped = true;
      void this.backend.disconnect(e.sessionId).catch(() => {});
    }
    if (mine && e.state === 'connected' && before === 'reconnecting') {
      // Back after a reconnect: what is shown may be stale.
      void this.remote.refresh();
    }
  }

  // -- hosts -------------------------------------------------------------------------------

  editHost(profile: HostProfile | null) {
    this.hostEditor = profile ? { profile: { ...profile }, isNew: false } : { profile: blankProfile(), isNew: true };
  }

  /** Saves from the editor; `secret` undefined leaves the keyring alone. */
  async saveHost(profile: HostProfile, secret: string | null): Promise<boolean> {
    try {
      const saved = await this.backend.hostSave({ profile, secret });
      await this.loadHosts();
      this.hostEditor = null;
      this.notify(`Saved “${saved?.name ?? profile.name}”`);
      return true;
    } catch (e) {
      this.showError(toAppError(e));
      return false;
    }
  }

  async deleteHost(h: HostProfile) {
    const ok = await this.confirm({ title: 'Delete saved host', message: `Delete “${h.name}” (${h.user ? `${h.user}@` : ''}${h.host})? Its stored password or passphrase is removed from the keyring too.`, okLabel: 'Delete', danger: true });
    if (!ok) return;
    try {
      await this.backend.hostDelete(h.id);
    } catch (e) {
      this.showError(toAppError(e));
    }
    await this.loadHosts();
  }

  async duplicateHost(h: HostProfile) {
    try {
      await this.backend.hostDuplicate(h.id);
    } catch (e) {
      this.showError(toAppError(e));
    }
    await this.loadHosts();
  }

  async importHosts() {
    const before = this.hosts.length;
    try {
      await this.backend.hostsImport();
    } catch (e) {
      this.showError(toAppError(e));
      return;
    }
    await this.loadHosts();
    const added = this.hosts.length - before;
    this.notify(added > 0 ? `Imported ${added} host${added === 1 ? '' : 's'} from ~/.ssh/config` : 'No new hosts in ~/.ssh/config');
  }

  async startSandbox() {
    try {
      const profile = await this.backend.sandboxStart();
      this.sandboxRunning = true;
      await this.loadHosts();
      await this.connect({ kind: 'profile', id: profile.id });
    } catch (e) {
      this.showError(toAppError(e));
    }
  }

  // -- connecting --------------------------------------------------------------------------

  async connect(target: ConnectTarget): Promise<boolean> {
    if (this.connecting) return false;
    if (this.session) await this.disconnect();
    this.connecting = true;
    this.dropped = false;
    this.lastTarget = target;
    this.error = null;
    this.connectingProfile = target.kind === 'profile' ? target.id : null;
    const label = target.kind === 'quick' ? target.address : (this.hosts.find((h) => h.id === target.id)?.name ?? 'server');
    this.connection = { state: 'connecting', label };
    try {
      const info = await this.backend.connect(target);
      this.session = info;
      this.connection = { state: 'connected', label: info.label };
      this.hostsOpen = false;
      const profile = info.profileId ? this.hosts.find((h) => h.id === info.profileId) : undefined;
      const tasks: Promise<unknown>[] = [this.remote.navigate(info.startPath || null)];
      if (profile?.localStart) tasks.push(this.local.navigate(profile.localStart));
      this.activeSide = 'remote';
      await Promise.all(tasks);
      this.refocus();
      return true;
    } catch (e) {
      const err = toAppError(e);
      this.connection = { state: 'disconnected', label };
      if (err.code !== 'cancelled') this.showError(err);
      return false;
    } finally {
      this.connecting = false;
      this.connectingProfile = null;
      this.prompts = [];
    }
  }

  /** Connect again to what was last connected (after the connection was lost). */
  async reconnect(): Promise<boolean> {
    return this.lastTarget ? this.connect(this.lastTarget) : false;
  }

  async quickConnect(address: string) {
    const a = address.trim();
    if (!a) {
      this.showError({ code: 'config', message: 'Type an address to connect to, like user@example.com or user@example.com:2222.' });
      return;
    }
    await this.connect({ kind: 'quick', address: a });
  }

  async disconnect() {
    const s = this.session;
    if (!s) return;
    this.closed.add(s.sessionId);
    this.session = null;
    this.dropped = false;
    this.remote.clear();
    this.connection = { state: 'disconnected', label: s.label };
    try {
      await this.backend.disconnect(s.sessionId);
    } catch (e) {
      this.showError(toAppError(e));
    }
  }

  private async answer(prompt: Prompt, send: () => Promise<void>) {
    this.prompts = this.prompts.filter((p) => p !== prompt);
    try {
      await send();
    } catch (e) {
      this.showError(toAppError(e));
    }
  }

  answerHostKey(prompt: Extract<Prompt, { kind: 'hostKeyUnknown' }>, decision: HostKeyChoice) {
    return this.answer(prompt, () => this.backend.answerPrompt({ kind: 'hostKey', id: prompt.id, decision }));
  }

  answerSecret(prompt: Extract<Prompt, { kind: 'password' | 'passphrase' }>, value: string | null, remember: boolean) {
    return this.answer(prompt, () => this.backend.answerPrompt({ kind: 'secret', id: prompt.id, value, remember }));
  }

  answerInteractive(prompt: Extract<Prompt, { kind: 'keyboardInteractive' }>, answers: string[] | null) {
    return this.answer(prompt, () => this.backend.answerPrompt({ kind: 'interactive', id: prompt.id, answers }));
  }

  // -- settings ----------------------------------------------------------------------------

  async saveSettings(s: Settings): Promise<boolean> {
    try {
      await this.backend.settingsSave(s);
      this.applySettings(s);
      this.settingsOpen = false;
      return true;
    } catch (e) {
      this.showError(toAppError(e));
      return false;
    }
  }

  // -- dialogs as promises -----------------------------------------------------------------

  confirm(req: Omit<ConfirmRequest, 'resolve'>): Promise<boolean> {
    return new Promise((resolve) => {
      this.confirmRequest = { ...req, resolve };
    });
  }

  askName(req: Omit<NameRequest, 'resolve'>): Promise<string | null> {
    return new Promise((resolve) => {
      this.nameRequest = { ...req, resolve };
    });
  }

  askMode(entry: Entry, path: string): Promise<number | null> {
    return new Promise((resolve) => {
      this.modeRequest = { entry, path, resolve };
    });
  }

  /** Gives the keyboard back to the active pane (after a dialog closes). */
  refocus() {
    queueMicrotask(() => this.pane(this.activeSide).focusList?.());
  }

  // -- transfers ---------------------------------------------------------------------------

  /** F5: copies `names` (default: the selection) of one pane into the other pane's folder. */
  async transfer(from: PaneSide, names?: string[]) {
    const src = this.pane(from);
    const dst = this.pane(otherSide(from));
    const picked = names ?? src.targets().map((e) => e.name);
    if (picked.length === 0) return;
    if (!this.session || !dst.path) {
      this.showError({ code: 'config', message: 'Connect to a server first: transfers go between this computer and the server.' });
      return;
    }
    await this.enqueue(from === 'local' ? 'upload' : 'download', picked.map((n) => src.fullPath(n)), dst.path);
  }

  async enqueue(direction: Direction, sources: string[], destDir: string): Promise<number[]> {
    const s = this.session;
    if (!s) {
      this.showError({ code: 'config', message: 'Connect to a server first: transfers go between this computer and the server.' });
      return [];
    }
    try {
      const ids = await this.backend.enqueue({ sessionId: s.sessionId, direction, sources, destDir });
      const what = sources.length === 1 ? `“${sources[0].split(/[\\/]/).pop()}”` : `${sources.length} items`;
      this.notify(`${direction === 'upload' ? 'Uploading' : 'Downloading'} ${what} to ${destDir}`);
      return ids;
    } catch (e) {
      this.showError(toAppError(e));
      return [];
    }
  }

  /** Drop zones of the panes on screen (for OS drops and row drags). */
  zones(): DropZone[] {
    const out: DropZone[] = [];
    for (const p of [this.local, this.remote]) {
      const z = p.zone?.();
      if (z) out.push(z);
    }
    return out;
  }

  /** Rows dragged from one pane and dropped on a folder of the other. */
  async dropRows(from: PaneSide, names: string[], target: DropTarget) {
    if (target.side === from || names.length === 0) return;
    const src = this.pane(from);
    await this.enqueue(from === 'local' ? 'upload' : 'download', names.map((n) => src.fullPath(n)), target.dir);
  }

  /** Tauri's drag-drop event: files from the OS dropped on the window. */
  async onOsDragDrop(event: OsDragDropPayload) {
    const ratio = typeof window !== 'undefined' ? window.devicePixelRatio || 1 : 1;
    if (event.type !== 'drop') {
      this.dropHover = hoverTarget(event, this.zones(), ratio);
      return;
    }
    this.dropHover = null;
    const drop = handleOsDrop(event, this.zones(), ratio);
    if (!drop) return;
    if (drop.target.side !== 'remote') {
      this.notify(this.session ? 'Drop files on the server pane to upload them.' : 'Connect to a server, then drop files on its pane to upload them.');
      return;
    }
    await this.enqueue('upload', drop.paths, drop.target.dir);
  }

  /**
   * A job stopped (done, failed or cancelled — the last two may leave files behind): the
   * pane showing where it wrote lists again, once per burst of finishing jobs. The local pane
   * is also refreshed by its watcher; this covers a folder that cannot be watched.
   */
  jobFinished(job: JobView) {
    const [pane, dest] = job.direction === 'upload' ? [this.remote, job.remotePath] : [this.local, job.localPath];
    if (pane.showsWorkOf(dest)) pane.requestRefresh();
  }

  /** Full path of a name in a pane (context menu, tests). */
  pathIn(side: PaneSide, name: string): string {
    return joinPath(this.pane(side).path, name);
  }
}
