// Which dialogs are open and what they ask. The three questions that answer a promise
// (confirm, a name, a mode) queue: a second one asked while the first is on screen waits
// behind it instead of replacing it (and leaving its caller waiting forever). The other
// dialogs are plain open/closed flags or the request they were opened with.
import type { Entry, HostProfile } from '../backend';
import type { PaneSide } from '../util/drop';
import type { Asker } from './ports';

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

export function blankProfile(): HostProfile {
  return { id: '', name: '', host: '', port: 22, user: '', auth: 'auto', keyPath: null, localStart: null, remoteStart: null, hasSecret: false };
}

/** One kind of question: the one on screen (`current`) and those waiting behind it. */
export class QuestionQueue<V, R extends { resolve: (value: V) => void }> {
  current = $state.raw<R | null>(null);
  private waiting: R[] = [];

  /** Asks `req` (shown now, or when the ones before it are answered). */
  ask(req: Omit<R, 'resolve'>): Promise<V> {
    return new Promise<V>((resolve) => {
      const full = { ...req, resolve } as R;
      if (this.current) this.waiting.push(full);
      else this.current = full;
    });
  }

  /** Answers `req` (on screen or waiting) with `value`; the next waiting one shows. */
  settle(req: R, value: V) {
    if (this.current === req) this.current = this.waiting.shift() ?? null;
    else {
      const i = this.waiting.indexOf(req);
      if (i < 0) return;
      this.waiting.splice(i, 1);
    }
    req.resolve(value);
  }

  /** How many are asked and not answered (the one on screen included). */
  get pending(): number {
    return (this.current ? 1 : 0) + this.waiting.length;
  }
}

export class Dialogs implements Asker {
  readonly confirms = new QuestionQueue<boolean, ConfirmRequest>();
  readonly names = new QuestionQueue<string | null, NameRequest>();
  readonly modes = new QuestionQueue<number | null, ModeRequest>();
  hostEditor = $state.raw<HostEditorRequest | null>(null);
  contextMenu = $state.raw<ContextMenuRequest | null>(null);
  settingsOpen = $state(false);
  hostsOpen = $state(false);

  confirm(req: Omit<ConfirmRequest, 'resolve'>): Promise<boolean> {
    return this.confirms.ask(req);
  }

  askName(req: Omit<NameRequest, 'resolve'>): Promise<string | null> {
    return this.names.ask(req);
  }

  askMode(entry: Entry, path: string): Promise<number | null> {
    return this.modes.ask({ entry, path });
  }

  /** Whether a question waits on screen (the keyboard belongs to it, not to a pane). */
  get asking(): boolean {
    return this.confirms.current !== null || this.names.current !== null || this.modes.current !== null;
  }

  /** Opens the host editor on a copy of `profile`, or on a new blank one. */
  editHost(profile: HostProfile | null) {
    this.hostEditor = profile ? { profile: { ...profile }, isNew: false } : { profile: blankProfile(), isNew: true };
  }
}
