// Copying between the two panes: F5 and Enter on a file, rows dragged onto the other pane,
// files dropped from the OS onto the server pane, and what a finished job changes in the pane
// showing where it wrote. Jobs go to the backend's queue (`QueueState` shows them).
import { toAppError, type Backend, type Direction, type JobView } from '../backend';
import { handleOsDrop, hoverTarget, type DropTarget, type DropZone, type OsDragDropPayload, type PaneSide } from '../util/drop';
import type { CurrentSession, DropHandler, Reporter, TransferPane, Transferring } from './ports';

export type TransfersBackend = Pick<Backend, 'enqueue'>;

export function otherSide(side: PaneSide): PaneSide {
  return side === 'local' ? 'remote' : 'local';
}

const NO_SESSION = 'Connect to a server first: transfers go between this computer and the server.';

export class TransfersState implements Transferring, DropHandler {
  /** Where an OS drag hovers (highlight). */
  dropHover = $state.raw<DropTarget | null>(null);
  private readonly backend: TransfersBackend;
  private readonly session: CurrentSession;
  private readonly reporter: Reporter;
  private readonly pane: (side: PaneSide) => TransferPane;

  constructor(backend: TransfersBackend, session: CurrentSession, reporter: Reporter, pane: (side: PaneSide) => TransferPane) {
    this.backend = backend;
    this.session = session;
    this.reporter = reporter;
    this.pane = pane;
  }

  /** F5: copies `names` (default: the selection) of one pane into the other pane's folder. */
  async transfer(from: PaneSide, names?: string[]) {
    const src = this.pane(from);
    const dst = this.pane(otherSide(from));
    const picked = names ?? src.targets().map((e) => e.name);
    if (picked.length === 0) return;
    if (!this.session.info || !dst.path) {
      this.reporter.showError({ code: 'config', message: NO_SESSION });
      return;
    }
    await this.enqueue(from === 'local' ? 'upload' : 'download', picked.map((n) => src.fullPath(n)), dst.path);
  }

  async enqueue(direction: Direction, sources: string[], destDir: string): Promise<number[]> {
    const s = this.session.info;
    if (!s) {
      this.reporter.showError({ code: 'config', message: NO_SESSION });
      return [];
    }
    try {
      const ids = await this.backend.enqueue({ sessionId: s.sessionId, direction, sources, destDir });
      const what = sources.length === 1 ? `“${sources[0].split(/[\\/]/).pop()}”` : `${sources.length} items`;
      this.reporter.notify(`${direction === 'upload' ? 'Uploading' : 'Downloading'} ${what} to ${destDir}`);
      return ids;
    } catch (e) {
      this.reporter.showError(toAppError(e));
      return [];
    }
  }

  /** Drop zones of the panes on screen (for OS drops and row drags). */
  zones(): DropZone[] {
    const out: DropZone[] = [];
    for (const side of ['local', 'remote'] as const) {
      const z = this.pane(side).zone?.();
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
      this.reporter.notify(this.session.info ? 'Drop files on the server pane to upload them.' : 'Connect to a server, then drop files on its pane to upload them.');
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
    const [pane, dest] = job.direction === 'upload' ? [this.pane('remote'), job.remotePath] : [this.pane('local'), job.localPath];
    if (pane.showsWorkOf(dest)) pane.requestRefresh();
  }
}
