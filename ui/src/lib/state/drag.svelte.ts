// Dragging rows from one pane to the other with pointer events (HTML5 drag and drop is
// unreliable in WebKitGTK while Tauri handles OS drops). A drag starts after the pointer
// moves a few pixels; the drop target resolves like an OS drop (`dropTarget`).
import { dropTarget, type DropTarget, type PaneSide } from '../util/drop';
import type { DropHandler } from './ports';

const THRESHOLD_PX = 5;

export class RowDrag {
  from = $state<PaneSide | null>(null);
  names = $state.raw<string[]>([]);
  active = $state(false);
  x = $state(0);
  y = $state(0);
  target = $state.raw<DropTarget | null>(null);
  /** True for the click that follows a drop (it must not change the selection). */
  suppressClick = false;
  private startX = 0;
  private startY = 0;
  private readonly drops: DropHandler;

  constructor(drops: DropHandler) {
    this.drops = drops;
  }

  /** Pointer pressed on a row: a drag may follow. */
  press(from: PaneSide, names: string[], x: number, y: number) {
    this.from = from;
    this.names = names;
    this.startX = x;
    this.startY = y;
    this.active = false;
    this.target = null;
  }

  /** Pointer moved with `buttons` held; with none held the press is over (its release was
   * lost, e.g. when a double-click replaced the row under the pointer), so no drag. */
  move(x: number, y: number, buttons: number) {
    if (this.from === null) return;
    if (buttons === 0) {
      this.cancel();
      return;
    }
    if (!this.active && Math.hypot(x - this.startX, y - this.startY) < THRESHOLD_PX) return;
    this.active = true;
    this.x = x;
    this.y = y;
    this.target = dropTarget({ x, y }, this.drops.zones());
  }

  /** Pointer released: drops onto the other pane if over it. True when a drag happened. */
  release(x: number, y: number): boolean {
    const from = this.from;
    const names = this.names;
    const wasActive = this.active;
    const target = wasActive ? dropTarget({ x, y }, this.drops.zones()) : null;
    this.cancel();
    if (wasActive) {
      this.suppressClick = true;
      setTimeout(() => (this.suppressClick = false), 0);
    }
    if (from !== null && target && target.side !== from) void this.drops.dropRows(from, names, target);
    return wasActive;
  }

  cancel() {
    this.from = null;
    this.names = [];
    this.active = false;
    this.target = null;
  }

  /** Whether the drag is over a drop target that would accept it. */
  get accepting(): boolean {
    return this.active && this.target !== null && this.target.side !== this.from;
  }
}
