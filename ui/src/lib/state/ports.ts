// The narrow interfaces the state modules depend on, instead of the whole `AppState`: each
// module names only what it calls, so it can be built and tested on its own (the composition
// root, `app.svelte.ts`, wires the real ones together).
import type { AppError, Entry, SessionInfo } from '../backend';
import type { DropTarget, DropZone, PaneSide } from '../util/drop';
import type { ConfirmRequest, NameRequest } from './dialogs.svelte';

/** Where failures and short notes go (the error banner and the toast). */
export interface Reporter {
  showError(e: AppError): void;
  /** Takes the banner down (a new attempt starts). */
  dismissError(): void;
  notify(text: string): void;
}

/** Questions that wait for the person's answer (the modal dialogs). */
export interface Asker {
  confirm(req: Omit<ConfirmRequest, 'resolve'>): Promise<boolean>;
  askName(req: Omit<NameRequest, 'resolve'>): Promise<string | null>;
  askMode(entry: Entry, path: string): Promise<number | null>;
}

/** The session the remote pane and transfers work on, if any. */
export interface CurrentSession {
  readonly info: SessionInfo | null;
}

/** Copies between the panes (a pane's Enter on a file, F5). */
export interface Transferring {
  transfer(from: PaneSide, names?: string[]): Promise<void>;
}

/** What a row drag needs: where it may drop, and what a drop does. */
export interface DropHandler {
  zones(): DropZone[];
  dropRows(from: PaneSide, names: string[], target: DropTarget): Promise<void>;
}

/** A pane as transfers see it: what is picked in it, where it is, and its refresh. */
export interface TransferPane {
  readonly path: string;
  targets(): Entry[];
  fullPath(name: string): string;
  zone: (() => DropZone | null) | null;
  showsWorkOf(dest: string): boolean;
  requestRefresh(delayMs?: number): void;
}
