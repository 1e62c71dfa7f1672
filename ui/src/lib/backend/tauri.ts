// The real backend: Tauri commands (`invoke`) and the one event `Channel`. Argument keys are
// camelCase (Tauri v2 converts the Rust commands' snake_case parameter names).
import { Channel, invoke } from '@tauri-apps/api/core';
import { getCurrentWebview } from '@tauri-apps/api/webview';
import type { Backend } from './index';
import { listingUntilDone, toAppError } from './index';
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

/** `invoke`, with rejections normalised to `AppError` (`{ code, message }`). */
async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    throw toAppError(e);
  }
}

export class TauriBackend implements Backend {
  // Kept alive for the window's lifetime: a dropped Channel stops delivering.
  private events: Channel<UiEvent> | null = null;

  async subscribe(onEvent: (event: UiEvent) => void): Promise<void> {
    const channel = new Channel<UiEvent>();
    channel.onmessage = onEvent;
    this.events = channel;
    await call<void>('subscribe', { channel: this.events });
  }

  async onOsDragDrop(handler: (event: OsDragDropPayload) => void): Promise<() => void> {
    return getCurrentWebview().onDragDropEvent((event) => {
      const p = event.payload;
      // PhysicalPosition is a class; hand on plain numbers.
      if (p.type === 'leave') handler({ type: 'leave' });
      else if (p.type === 'over') handler({ type: 'over', position: { x: p.position.x, y: p.position.y } });
      else handler({ type: p.type, paths: p.paths, position: { x: p.position.x, y: p.position.y } });
    });
  }

  hostsList() {
    return call<HostProfile[]>('hosts_list');
  }
  hostSave(req: SaveHost) {
    return call<HostProfile>('host_save', { req });
  }
  async hostDelete(id: string) {
    await call<void>('host_delete', { id });
  }
  hostDuplicate(id: string) {
    return call<HostProfile>('host_duplicate', { id });
  }
  async hostsImport() {
    await call<unknown>('hosts_import');
  }

  connect(target: ConnectTarget) {
    return call<SessionInfo>('connect', { target });
  }
  async disconnect(sessionId: string) {
    await call<void>('disconnect', { sessionId });
  }
  async answerPrompt(answer: PromptAnswer) {
    await call<void>('answer_prompt', { answer });
  }

  homeDir() {
    return call<string>('home_dir');
  }
  listDir(side: Side, path: string | null, onChunk: (chunk: ListingChunk) => void) {
    // The reply can overtake the channel's last chunks: wait for the one marked `done`.
    return listingUntilDone((deliver) => {
      const channel = new Channel<ListingChunk>();
      channel.onmessage = deliver;
      return call<string>('list_dir', { side, path, onChunk: channel });
    }, onChunk);
  }
  async makeDir(side: Side, path: string) {
    await call<void>('make_dir', { side, path });
  }
  async renameEntry(side: Side, from: string, to: string) {
    await call<void>('rename_entry', { side, from, to });
  }
  async deleteEntries(side: Side, paths: string[]) {
    await call<void>('delete_entries', { side, paths });
  }
  async changeMode(side: Side, path: string, mode: number) {
    await call<void>('change_mode', { side, path, mode });
  }
  async watchLocal(path: string) {
    await call<void>('watch_local', { path });
  }

  enqueue(req: Enqueue) {
    return call<number[]>('enqueue', { req });
  }
  async jobAction(id: number, action: JobAction) {
    await call<void>('job_action', { id, action });
  }
  async queueAction(action: QueueAction) {
    await call<void>('queue_action', { action });
  }
  jobsList() {
    return call<JobView[]>('jobs_list');
  }
  async answerOverwrite(reply: OverwriteReply) {
    await call<void>('answer_overwrite', { reply });
  }
  queueTrouble() {
    return call<QueueTrouble | null>('queue_trouble');
  }
  async queueTroubleAnswer(choice: QueueTroubleChoice) {
    await call<void>('queue_trouble_answer', { choice });
  }

  settingsGet() {
    return call<Settings>('settings_get');
  }
  async settingsSave(settings: Settings) {
    await call<void>('settings_save', { settings });
  }

  sandboxStart() {
    return call<HostProfile>('sandbox_start');
  }
  async sandboxStop() {
    await call<void>('sandbox_stop');
  }
}
