// The window's only door to the Rust side. Components and state modules talk to a `Backend`;
// `backend()` picks the Tauri implementation inside the app window and the in-memory mock in
// a plain browser (`npm run dev`) and in unit tests. Only this folder imports @tauri-apps/*.
import type { AppError } from './bindings/AppError';
import type { ErrorCode } from './bindings/ErrorCode';
import type { ConnectTarget } from './bindings/ConnectTarget';
import type { Enqueue } from './bindings/Enqueue';
import type { HostProfile } from './bindings/HostProfile';
import type { JobAction } from './bindings/JobAction';
import type { JobView } from './bindings/JobView';
import type { ListingChunk } from './bindings/ListingChunk';
import type { OverwriteReply } from './bindings/OverwriteReply';
import type { PromptAnswer } from './bindings/PromptAnswer';
import type { QueueAction } from './bindings/QueueAction';
import type { QueueTrouble } from './bindings/QueueTrouble';
import type { QueueTroubleChoice } from './bindings/QueueTroubleChoice';
import type { SaveHost } from './bindings/SaveHost';
import type { SessionInfo } from './bindings/SessionInfo';
import type { Settings } from './bindings/Settings';
import type { Side } from './bindings/Side';
import type { UiEvent } from './bindings/UiEvent';
import type { OsDragDropPayload } from '../util/drop';

export type { AppError } from './bindings/AppError';
export type { AuthMethod } from './bindings/AuthMethod';
export type { ConnectTarget } from './bindings/ConnectTarget';
export type { ConnectionState } from './bindings/ConnectionState';
export type { Direction } from './bindings/Direction';
export type { Enqueue } from './bindings/Enqueue';
export type { Entry } from './bindings/Entry';
export type { EntryKind } from './bindings/EntryKind';
export type { ErrorCode } from './bindings/ErrorCode';
export type { HostKeyChoice } from './bindings/HostKeyChoice';
export type { HostProfile } from './bindings/HostProfile';
export type { InteractiveField } from './bindings/InteractiveField';
export type { JobAction } from './bindings/JobAction';
export type { JobProgress } from './bindings/JobProgress';
export type { JobState } from './bindings/JobState';
export type { JobView } from './bindings/JobView';
export type { ListingChunk } from './bindings/ListingChunk';
export type { Overwrite } from './bindings/Overwrite';
export type { OverwriteReply } from './bindings/OverwriteReply';
export type { Prompt } from './bindings/Prompt';
export type { KnownHostKey } from './bindings/KnownHostKey';
export type { PromptAnswer } from './bindings/PromptAnswer';
export type { QueueAction } from './bindings/QueueAction';
export type { QueueTrouble } from './bindings/QueueTrouble';
export type { QueueTroubleChoice } from './bindings/QueueTroubleChoice';
export type { SaveHost } from './bindings/SaveHost';
export type { SessionInfo } from './bindings/SessionInfo';
export type { Settings } from './bindings/Settings';
export type { Side } from './bindings/Side';
export type { Theme } from './bindings/Theme';
export type { UiEvent } from './bindings/UiEvent';
export type { OsDragDropPayload } from '../util/drop';

/** One method per Tauri command (see src-tauri/src/ipc.rs), plus the event subscription. */
export interface Backend {
  /** Open the event channel; every `UiEvent` goes to `onEvent`, in order. */
  subscribe(onEvent: (event: UiEvent) => void): Promise<void>;
  /** OS file drags over the window (Tauri's drag-drop event); returns an unlisten function. */
  onOsDragDrop(handler: (event: OsDragDropPayload) => void): Promise<() => void>;

  hostsList(): Promise<HostProfile[]>;
  hostSave(req: SaveHost): Promise<HostProfile>;
  hostDelete(id: string): Promise<void>;
  hostDuplicate(id: string): Promise<HostProfile>;
  /** Import from ~/.ssh/config; the window re-reads `hostsList` afterwards. */
  hostsImport(): Promise<void>;

  connect(target: ConnectTarget): Promise<SessionInfo>;
  disconnect(sessionId: string): Promise<void>;
  answerPrompt(answer: PromptAnswer): Promise<void>;

  homeDir(): Promise<string>;
  /**
   * Streams the listing to `onChunk`; resolves with the resolved absolute path once every
   * chunk has been delivered (the last one says `done`), never before.
   */
  listDir(side: Side, path: string | null, onChunk: (chunk: ListingChunk) => void): Promise<string>;
  makeDir(side: Side, path: string): Promise<void>;
  renameEntry(side: Side, from: string, to: string): Promise<void>;
  deleteEntries(side: Side, paths: string[]): Promise<void>;
  changeMode(side: Side, path: string, mode: number): Promise<void>;
  watchLocal(path: string): Promise<void>;

  enqueue(req: Enqueue): Promise<number[]>;
  jobAction(id: number, action: JobAction): Promise<void>;
  queueAction(action: QueueAction): Promise<void>;
  jobsList(): Promise<JobView[]>;
  answerOverwrite(reply: OverwriteReply): Promise<void>;
  /** Why the queue database did not open at startup, or `null` when it did. */
  queueTrouble(): Promise<QueueTrouble | null>;
  /** Move it aside / try again (both restart the app) or quit. */
  queueTroubleAnswer(choice: QueueTroubleChoice): Promise<void>;

  settingsGet(): Promise<Settings>;
  settingsSave(settings: Settings): Promise<void>;

  sandboxStart(): Promise<HostProfile>;
  sandboxStop(): Promise<void>;
}

/** Every code Rust sends (a missing or extra one does not type-check: the generated
 * `ErrorCode` union is the list). */
const ERROR_CODES: Record<ErrorCode, true> = {
  network: true,
  auth: true,
  hostKeyUnknown: true,
  hostKeyChanged: true,
  notFound: true,
  permissionDenied: true,
  wrongType: true,
  localIo: true,
  diskFull: true,
  remote: true,
  protocol: true,
  unsupported: true,
  config: true,
  cancelled: true,
  keyring: true,
  internal: true,
};

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CODES, code);
}

/**
 * Any rejection as `{ code, message }`. Tauri rejects with the command's `AppError`; anything
 * else (a string from Tauri itself, an exception in the window) is `internal`.
 */
export function toAppError(e: unknown): AppError {
  if (e && typeof e === 'object' && 'message' in e) {
    const o = e as { code?: unknown; message?: unknown };
    return { code: isErrorCode(o.code) ? o.code : 'internal', message: String(o.message) };
  }
  if (typeof e === 'string') return { code: 'internal', message: e };
  return { code: 'internal', message: 'Something went wrong (no details were given).' };
}

/** How long a listing that has answered may wait for its last chunk before it gives up. */
export const LAST_CHUNK_WAIT_MS = 10_000;

/**
 * A listing over a transport whose chunks may arrive after the call's answer: Tauri sends a
 * command's reply and its channel's messages separately (and fetches a big message later),
 * so `invoke` can resolve while the last chunks of 1,000 rows are still on their way — a
 * refresh that took the answer as "complete" showed 98 of 1,000 files, or none. `start`
 * makes the call, handing chunks to the function it is given; the promise returned here
 * resolves when the answer *and* the chunk marked `done` have both arrived (or
 * {@link LAST_CHUNK_WAIT_MS} after the answer if that chunk never comes), and rejects as
 * soon as the call does.
 */
export function listingUntilDone(
  start: (deliver: (chunk: ListingChunk) => void) => Promise<string>,
  onChunk: (chunk: ListingChunk) => void,
): Promise<string> {
  let sawDone = false;
  let lastChunk: (() => void) | null = null;
  const reply = start((chunk) => {
    onChunk(chunk);
    if (chunk.done) {
      sawDone = true;
      lastChunk?.();
    }
  });
  return reply.then(
    (path) =>
      sawDone
        ? path
        : new Promise<string>((resolve) => {
            const timer = setTimeout(() => resolve(path), LAST_CHUNK_WAIT_MS);
            lastChunk = () => {
              clearTimeout(timer);
              resolve(path);
            };
          }),
  );
}

export function inTauri(): boolean {
  return typeof window !== 'undefined' && '__TAURI_INTERNALS__' in window;
}

let chosen: Backend | null = null;

/** The Tauri backend inside the app window, else an in-memory mock. */
export async function backend(): Promise<Backend> {
  if (chosen) return chosen;
  if (inTauri()) {
    const { TauriBackend } = await import('./tauri');
    chosen = new TauriBackend();
  } else {
    const { MockBackend } = await import('./mock');
    chosen = new MockBackend({ demo: true });
  }
  return chosen;
}
