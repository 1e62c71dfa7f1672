// The composition root: builds the window's state modules, wires each to the narrow
// interfaces of the others it needs, and routes the backend's events to them. It also owns
// the two panes and which of them has the keyboard. Components take the part they use:
// `const { session, dialogs } = useApp()`.
import { toAppError, type Backend, type HostProfile, type SessionInfo, type UiEvent } from '../backend';
import type { PaneSide } from '../util/drop';
import { Dialogs } from './dialogs.svelte';
import { RowDrag } from './drag.svelte';
import { HostsState } from './hosts.svelte';
import { Notices } from './notices.svelte';
import { PaneState } from './pane.svelte';
import { QueueState } from './queue.svelte';
import { SessionState, type SessionView } from './session.svelte';
import { SettingsState } from './settings.svelte';
import { TransfersState } from './transfers.svelte';

export class AppState implements SessionView {
  readonly backend: Backend;
  ready = $state(false);
  /** The side that has the keyboard. */
  activeSide = $state<PaneSide>('local');

  readonly notices: Notices;
  readonly dialogs: Dialogs;
  readonly settings: SettingsState;
  readonly hosts: HostsState;
  readonly session: SessionState;
  readonly transfers: TransfersState;
  readonly queue: QueueState;
  readonly drag: RowDrag;
  readonly local: PaneState;
  readonly remote: PaneState;

  private unlistenDrop: (() => void) | null = null;

  constructor(backend: Backend) {
    this.backend = backend;
    this.notices = new Notices();
    this.dialogs = new Dialogs();
    this.settings = new SettingsState(backend, this.notices, (show) => {
      this.local.showHidden = show;
      this.remote.showHidden = show;
    });
    this.hosts = new HostsState(backend, this.notices, this.dialogs);
    this.session = new SessionState(backend, this.notices, this.hosts, this);
    this.transfers = new TransfersState(backend, this.session, this.notices, (side) => this.pane(side));
    this.queue = new QueueState(backend, this.notices, (job) => this.transfers.jobFinished(job));
    this.drag = new RowDrag(this.transfers);
    const paneDeps = { backend, session: this.session, reporter: this.notices, asker: this.dialogs, transfers: this.transfers };
    this.local = new PaneState(paneDeps, 'local');
    this.remote = new PaneState(paneDeps, 'remote');
  }

  pane(side: PaneSide): PaneState {
    return side === 'local' ? this.local : this.remote;
  }

  // -- start-up ----------------------------------------------------------------------------

  async init() {
    try {
      await this.backend.subscribe((e) => this.handleEvent(e));
    } catch (e) {
      this.notices.showError(toAppError(e));
    }
    await this.queue.loadTrouble();
    try {
      this.unlistenDrop = await this.backend.onOsDragDrop((e) => this.transfers.onOsDragDrop(e));
    } catch {
      /* No OS drops outside the app window. */
    }
    await Promise.all([this.hosts.load(), this.settings.load(), this.queue.load(), this.openHome()]);
    this.ready = true;
  }

  dispose() {
    this.unlistenDrop?.();
    this.queue.dispose();
    this.notices.dispose();
  }

  private async openHome() {
    try {
      await this.local.navigate(await this.backend.homeDir());
    } catch (e) {
      this.notices.showError(toAppError(e));
    }
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
        this.session.onPrompt(e.prompt);
        break;
      case 'connection':
        this.session.onConnection(e);
        break;
      case 'localChanged':
        if (this.local.shows(e.path)) this.local.requestRefresh(100);
        break;
      case 'sandbox':
        this.hosts.sandboxChanged(e.running);
        break;
    }
  }

  // -- what a session shows (SessionView) ---------------------------------------------------

  async opened(info: SessionInfo, profile: HostProfile | undefined) {
    this.dialogs.hostsOpen = false;
    const tasks: Promise<unknown>[] = [this.remote.navigate(info.startPath || null)];
    if (profile?.localStart) tasks.push(this.local.navigate(profile.localStart));
    this.activeSide = 'remote';
    await Promise.all(tasks);
    this.refocus();
  }

  closed() {
    this.remote.clear();
  }

  resumed() {
    void this.remote.refresh();
  }

  // -- across modules ----------------------------------------------------------------------

  /** Starts the sandbox server and connects to it. */
  async startSandbox() {
    const profile = await this.hosts.startSandbox();
    if (profile) await this.session.connect({ kind: 'profile', id: profile.id });
  }

  /** Gives the keyboard back to the active pane (after a dialog closes). */
  refocus() {
    queueMicrotask(() => this.pane(this.activeSide).focusList?.());
  }
}
