// The connection to a server: connecting (and the password, passphrase, keyboard-interactive
// and host-key questions the backend asks meanwhile), the live session, its state as the
// top bar shows it, losing it, and connecting again. What the panes do when a session opens
// or ends goes through `SessionView`.
import { toAppError, type Backend, type ConnectTarget, type ConnectionState, type HostKeyChoice, type HostProfile, type Prompt, type SessionInfo, type UiEvent } from '../backend';
import type { CurrentSession, Reporter } from './ports';

export type SessionBackend = Pick<Backend, 'connect' | 'disconnect' | 'answerPrompt'>;
export type ConnectionEvent = Extract<UiEvent, { type: 'connection' }>;

/** What the window shows of a session (the panes). */
export interface SessionView {
  /** A session opened: show it (list its start folder; `profile` is its saved host). */
  opened(info: SessionInfo, profile: HostProfile | undefined): Promise<void>;
  /** The session ended: what it showed goes. */
  closed(): void;
  /** Back after a reconnect: what is shown may be stale. */
  resumed(): void;
}

export class SessionState implements CurrentSession {
  info = $state.raw<SessionInfo | null>(null);
  /** The connection shown in the top bar (also while connecting, before a session exists). */
  connection = $state<{ state: ConnectionState; label: string } | null>(null);
  connecting = $state(false);
  /** What was last connected to, and whether its connection was lost (not closed by the
   * person): the top bar then offers to reconnect. */
  lastTarget = $state.raw<ConnectTarget | null>(null);
  dropped = $state(false);
  /** The saved host being connected (for "remember in keyring"). */
  connectingProfile = $state<string | null>(null);
  /** The backend's open questions, oldest (the one on screen) first. */
  prompts = $state.raw<Prompt[]>([]);

  /** Sessions this window closed: their late events are ignored. */
  private closed = new Set<string>();
  private readonly backend: SessionBackend;
  private readonly reporter: Reporter;
  private readonly hosts: { find(id: string): HostProfile | undefined };
  private readonly view: SessionView;

  constructor(backend: SessionBackend, reporter: Reporter, hosts: { find(id: string): HostProfile | undefined }, view: SessionView) {
    this.backend = backend;
    this.reporter = reporter;
    this.hosts = hosts;
    this.view = view;
  }

  async connect(target: ConnectTarget): Promise<boolean> {
    if (this.connecting) return false;
    if (this.info) await this.disconnect();
    this.connecting = true;
    this.dropped = false;
    this.lastTarget = target;
    this.reporter.dismissError();
    this.connectingProfile = target.kind === 'profile' ? target.id : null;
    const label = target.kind === 'quick' ? target.address : (this.hosts.find(target.id)?.name ?? 'server');
    this.connection = { state: 'connecting', label };
    try {
      const info = await this.backend.connect(target);
      this.info = info;
      this.connection = { state: 'connected', label: info.label };
      await this.view.opened(info, info.profileId ? this.hosts.find(info.profileId) : undefined);
      return true;
    } catch (e) {
      const err = toAppError(e);
      this.connection = { state: 'disconnected', label };
      if (err.code !== 'cancelled') this.reporter.showError(err);
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
      this.reporter.showError({ code: 'config', message: 'Type an address to connect to, like user@example.com or user@example.com:2222.' });
      return;
    }
    await this.connect({ kind: 'quick', address: a });
  }

  async disconnect() {
    const s = this.info;
    if (!s) return;
    this.closed.add(s.sessionId);
    this.info = null;
    this.dropped = false;
    this.view.closed();
    this.connection = { state: 'disconnected', label: s.label };
    try {
      await this.backend.disconnect(s.sessionId);
    } catch (e) {
      this.reporter.showError(toAppError(e));
    }
  }

  /** A `connection` event: the session being made, or ours, changed state. */
  onConnection(e: ConnectionEvent) {
    if (this.closed.has(e.sessionId)) return;
    const mine = this.info?.sessionId === e.sessionId;
    // While connecting, the events are about the session being made; afterwards, only ours.
    if (!mine && !this.connecting) return;
    const before = this.connection?.state;
    this.connection = { state: e.state, label: e.label };
    // Errors while connecting come back from `connect` itself; these are a live session's.
    if (mine && e.error && e.error.code !== 'cancelled') {
      if (e.state === 'reconnecting') this.reporter.notify(e.error.message);
      else this.reporter.showError(e.error);
    }
    if (mine && e.state === 'disconnected') {
      // Lost (the server gave no way back): let the backend's session go, offer Reconnect.
      this.closed.add(e.sessionId);
      this.info = null;
      this.view.closed();
      this.dropped = true;
      void this.backend.disconnect(e.sessionId).catch(() => {});
    }
    if (mine && e.state === 'connected' && before === 'reconnecting') this.view.resumed();
  }

  /** The backend asks something (shown after the questions before it). */
  onPrompt(prompt: Prompt) {
    this.prompts = [...this.prompts, prompt];
  }

  private async answer(prompt: Prompt, send: () => Promise<void>) {
    this.prompts = this.prompts.filter((p) => p !== prompt);
    try {
      await send();
    } catch (e) {
      this.reporter.showError(toAppError(e));
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
}
