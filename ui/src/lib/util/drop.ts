// Where a drop lands. Both OS file drops (Tauri's drag-drop event, in physical pixels) and
// row drags between the panes (pointer events, in CSS pixels) resolve through `dropTarget`:
// a folder row under the pointer, else the pane's current folder. Pure: the panes describe
// their geometry as `DropZone`s, so this is tested without a layout engine.
import type { Entry } from '../backend/bindings/Entry';
import { joinPath } from './paths';
import { isFolder } from './sort';

export type PaneSide = 'local' | 'remote';

export interface Rect {
  left: number;
  top: number;
  width: number;
  height: number;
}

export interface Point {
  x: number;
  y: number;
}

/** What a pane tells the drop logic about itself (CSS pixels, from getBoundingClientRect). */
export interface DropZone {
  side: PaneSide;
  /** The folder the pane shows. */
  dir: string;
  /** The whole pane. */
  pane: Rect;
  /** The scrolled list's viewport. */
  list: Rect;
  scrollTop: number;
  rowHeight: number;
  /** The rows as shown (filtered and sorted). */
  rows: readonly Entry[];
}

export interface DropTarget {
  side: PaneSide;
  /** The folder the files go into. */
  dir: string;
  /** The folder row under the pointer, if that is where they go. */
  row: string | null;
}

function inside(p: Point, r: Rect): boolean {
  return p.x >= r.left && p.x < r.left + r.width && p.y >= r.top && p.y < r.top + r.height;
}

/** The folder under `point` (CSS pixels), or null when it is over no pane. */
export function dropTarget(point: Point, zones: readonly DropZone[]): DropTarget | null {
  for (const z of zones) {
    if (!inside(point, z.pane)) continue;
    if (inside(point, z.list) && z.rowHeight > 0) {
      const index = Math.floor((point.y - z.list.top + z.scrollTop) / z.rowHeight);
      const entry = index >= 0 ? z.rows[index] : undefined;
      if (entry && isFolder(entry)) return { side: z.side, dir: joinPath(z.dir, entry.name), row: entry.name };
    }
    return { side: z.side, dir: z.dir, row: null };
  }
  return null;
}

/** Tauri's `DragDropEvent` payload, as `onDragDropEvent` delivers it (physical pixels). */
export type OsDragDropPayload =
  | { type: 'enter'; paths: string[]; position: Point }
  | { type: 'over'; position: Point }
  | { type: 'drop'; paths: string[]; position: Point }
  | { type: 'leave' };

export interface OsDrop {
  target: DropTarget;
  paths: string[];
}

/** Physical pixels (Tauri) → CSS pixels (the DOM). */
export function toCssPoint(position: Point, devicePixelRatio: number): Point {
  const ratio = devicePixelRatio > 0 ? devicePixelRatio : 1;
  return { x: position.x / ratio, y: position.y / ratio };
}

/** What an OS drop asks for: the files and the folder under the pointer; null if nothing. */
export function handleOsDrop(event: OsDragDropPayload, zones: readonly DropZone[], devicePixelRatio: number): OsDrop | null {
  if (event.type !== 'drop' || event.paths.length === 0) return null;
  const target = dropTarget(toCssPoint(event.position, devicePixelRatio), zones);
  if (!target) return null;
  return { target, paths: event.paths.slice() };
}

/** Where the pointer hovers during an OS drag (for highlighting), or null. */
export function hoverTarget(event: OsDragDropPayload, zones: readonly DropZone[], devicePixelRatio: number): DropTarget | null {
  if (event.type === 'leave') return null;
  if (event.type === 'drop') return null;
  return dropTarget(toCssPoint(event.position, devicePixelRatio), zones);
}
